#!/bin/sh
# vnvme-target and vnvme-perf as a user runs them: TAP output.
# Usage: test_perf.sh TARGET PERF
target=$1 perf=$2
dir=$(mktemp -d /tmp/vnvme-perf-test-XXXXXX)
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; [ -f "$dir/out" ] && sed 's/^/# /' "$dir/out"; }
cleanup() { [ -n "$tpid" ] && kill -9 "$tpid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start_target() {
	cat > "$dir/conf.json" <<JSON
{ "controllers": [ { "socket": "$dir/nvme%d", "count": 2, "queues": 2, "qdepth": 64,
    "namespaces": [ { "backend": "ram", "size": "8M" } ] } ] }
JSON
	# --daemonize returns once both sockets are served: no polling for them.
	"$target" --config "$dir/conf.json" --log warn --daemonize --pidfile "$dir/target.pid" \
		> "$dir/target.log" 2>&1
	tpid=$(cat "$dir/target.pid" 2>/dev/null)
}
# The target's exit status, once it is gone (it is not our child).
wait_gone() {
	for i in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
json_check() { # file python-expression-on-r
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# Bad command lines: exit 2 and a message that says what is wanted.
bad_target() { # expected-substring args...
	want=$1; shift
	"$target" "$@" > "$dir/out" 2>&1; rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$want" "$dir/out"; then ok "vnvme-target $* is refused: $want"
	else nok "vnvme-target $* (rc $rc)"; fi
}
bad_target "no controller" --size 1G
bad_target "size such as" --socket "$dir/x" --size 1Q
bad_target "null, ram or file" --socket "$dir/x" --backend tape
bad_target "1..1024" --socket "$dir/x" --queues 0
bad_target "2..65536" --socket "$dir/x" --qdepth 1
bad_target "512 or 4096" --socket "$dir/x" --lba 1000
bad_target "needs --file" --socket "$dir/x" --backend file
bad_target "needs --backend file" --socket "$dir/x" --file /tmp/x.img
bad_target "exclude each other" --socket "$dir/x" --config "$dir/none.json"
bad_target "list such as" --socket "$dir/x" --cpus 1-
bad_target "VVVV:DDDD" --socket "$dir/x" --pci-id 12345
bad_target "open file descriptor" --socket "$dir/x" --ready-fd 9

# Sizes that are surely a mistake: refused with a hint, not one 512-byte block.
timeout 30 "$target" --socket "$dir/x" --size 1000 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "size 1000 is not a multiple of the LBA size 512 (sizes take a unit" "$dir/out"; then
	ok "--size 1000 is refused: not a multiple of the LBA size"; else nok "--size 1000 (rc $rc)"; fi
timeout 30 "$target" --socket "$dir/x" --size 64k > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "below 1 MiB, surely a mistake" "$dir/out"; then
	ok "--size 64k is refused as surely a mistake"; else nok "--size 64k (rc $rc)"; fi
printf '{\n  "controllers": [\n    { "socket": "x" ,, }\n  ]\n}\n' > "$dir/syntax.json"
"$target" --config "$dir/syntax.json" > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "syntax.json: line 3, column 22" "$dir/out"; then
	ok "a JSON syntax error is placed by line and column"; else nok "JSON syntax error (rc $rc)"; fi

# Readiness: --daemonize fails with the reason, or returns with the socket served.
: > "$dir/plain"
timeout 30 "$target" --socket "$dir/plain/nvme0" --size 1M --daemonize > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "plain/nvme0" "$dir/out"; then
	ok "--daemonize exits 1 with the reason when the target cannot start"; else nok "--daemonize failing (rc $rc)"; fi
mkfifo "$dir/ready"
"$target" --socket "$dir/rfd" --size 64M --log warn --ready-fd 3 3> "$dir/ready" > "$dir/rfd.log" 2>&1 &
rpid=$!
read -r word < "$dir/ready"
if [ "$word" = "ready" ] && "$perf" --socket "$dir/rfd" --ios 1000 --quiet > "$dir/out" 2>&1; then
	ok "--ready-fd says ready once the socket is served"; else nok "--ready-fd (read '$word')"; fi
kill "$rpid"; wait "$rpid"

# A file backend the size makes larger says so.
truncate -s 2M "$dir/grow.img"
timeout 30 "$target" --socket "$dir/grow" --backend file --file "$dir/grow.img" --size 4M --log warn \
	--daemonize --pidfile "$dir/grow.pid" > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "growing .*grow.img from 2097152 to 4194304 bytes" "$dir/out"; then
	ok "a file the size grows is said"; else nok "file growth (rc $rc)"; fi
# Every read of a file cut short fails: errors, and no IOPS from them.
truncate -s 0 "$dir/grow.img"
"$perf" --socket "$dir/grow" --bs 4k --ios 2000 --json --quiet > "$dir/out" 2> "$dir/err"; rc=$?
if [ $rc -eq 1 ] && json_check "$dir/out" 'r["errors"] > 0 and r["read"]["ios"] == 0 and r["read"]["iops"] == 0 and r["read"]["bw_bytes"] == 0'; then
	ok "failed I/Os are errors, not IOPS"; else nok "failed I/Os counted (rc $rc)"; cat "$dir/out" | sed 's/^/# /'; fi
kill "$(cat "$dir/grow.pid")"
"$target" --config "$dir/none.json" > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "none.json" "$dir/out"; then ok "a missing config file is named"; else nok "missing config (rc $rc)"; fi
: > "$dir/regular"
"$target" --socket "$dir/regular" --size 1M > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "not a socket" "$dir/out"; then ok "a file in the socket's place is not clobbered"; else nok "clobber (rc $rc)"; fi

start_target
if [ -S "$dir/nvme0" ] && [ -S "$dir/nvme1" ] && [ -n "$tpid" ]; then ok "target serves two sockets from a JSON config"; else nok "target serves two sockets"; fi
kill -USR1 "$tpid"
for i in $(seq 50); do grep -q "^poller" "$dir/target.log" && break; sleep 0.1; done
if grep -q "^poller" "$dir/target.log"; then ok "kill -USR1 \$(cat --pidfile) prints the target's counters"; else nok "SIGUSR1 to the --pidfile's PID"; fi

if "$perf" --socket "$dir/nvme0" --socket "$dir/nvme1" --verify --bs 4k --quiet > "$dir/out" 2>&1 &&
	grep -q "verify_mismatches=0" "$dir/out" && grep -q "^vnvme-perf: verify bs=4096" "$dir/out"; then
	ok "verify over two devices at once finds no mismatch"
else
	nok "verify over two devices"
fi
# The counters again, now with I/O: each controller's p50 and p99 service
# times (non-zero: its deleted queues' samples stay in its total).
kill -USR1 "$tpid"
svc='^nvme0: .* io [1-9][0-9]* .* p50 [1-9][0-9]* ns p99 [1-9][0-9]* ns$'
for i in $(seq 50); do grep -q "$svc" "$dir/target.log" && break; sleep 0.1; done
if grep -q "$svc" "$dir/target.log"; then ok "SIGUSR1 after I/O prints p50 and p99 service times"
else nok "SIGUSR1 after I/O: p50 and p99"; grep "^nvme0" "$dir/target.log" | sed 's/^/# /'; fi

if "$perf" --socket "$dir/nvme0" --rw randrw --mix 50 --bs 512 --qd 8 --jobs 2 --runtime 1 --json --quiet > "$dir/out" 2>"$dir/err" &&
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["read"]["ios"] > 0 and r["write"]["ios"] > 0 and r["errors"] == 0 and r["read"]["lat_ns"]["percentiles"]["99"] >= r["read"]["lat_ns"]["min"]' "$dir/out"; then
	ok "randrw with two jobs prints well-formed JSON with reads and writes"
else
	nok "randrw JSON"
fi

# Every completion counted once whatever the batch: latencies go to the
# histogram in runs of equal ones (one update per run), which reads and
# writes mixed break up; ios is the histogram's count.
for b in 1 7 32; do
	if "$perf" --socket "$dir/nvme0" --rw randrw --mix 50 --bs 512 --qd 24 --batch $b --ios 20000 --json --quiet > "$dir/out" 2>"$dir/err" &&
		json_check "$dir/out" 'r["read"]["ios"] + r["write"]["ios"] == 20000 and r["config"]["batch"] == '$b' and r["errors"] == 0 and r["read"]["lat_ns"]["min"] <= r["read"]["lat_ns"]["mean"] <= r["read"]["lat_ns"]["max"]'; then
		ok "--batch $b: each of 20000 mixed I/Os is one latency sample"
	else
		nok "--batch $b: samples"
	fi
done
"$perf" --socket "$dir/nvme0" --batch 0 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q -- "--batch wants 1..65535" "$dir/out"; then ok "--batch 0 is refused with exit 2"; else nok "--batch 0 (rc $rc)"; fi

# The default ring: --qd and a quarter rounded up to 32, at most MQES + 1
# (qdepth 64 here); --queue-size as given.
for qs in "16 32" "40 64" "8:9 9"; do
	set -- $qs; qd=${1%%:*}; want=$2; extra=
	case $1 in *:*) extra="--queue-size ${1#*:}";; esac
	if "$perf" --socket "$dir/nvme0" --bs 512 --qd $qd $extra --ios 2000 --json --quiet > "$dir/out" 2>"$dir/err" &&
		json_check "$dir/out" 'r["config"]["queue_size"] == '$want' and r["read"]["ios"] == 2000'; then
		ok "--qd $qd $extra: a ring of $want entries"
	else
		nok "--qd $qd $extra: ring $want"
	fi
done

# --timeline: the intervals' IOPS add up to the run's I/Os, on a grid of MS.
if "$perf" --socket "$dir/nvme0" --bs 512 --qd 8 --runtime 1 --timeline 100 --json --quiet > "$dir/out" 2>"$dir/err" &&
	json_check "$dir/out" '(lambda t, e: t["interval_ms"] == 100 and 9 <= len(e) <= 12 and not t["truncated"] and all(b > a for a, b in zip(e, e[1:])) and abs(sum(v * (b - a) for v, a, b in zip(t["iops"], [0] + e, e)) - r["read"]["ios"]) <= 0.001 * r["read"]["ios"] + 1 and r["read"]["ios"] > 0)(r["timeline"], r["timeline"]["end_s"])'; then
	ok "--timeline 100 --json: about 10 intervals whose I/Os add up to the run's"
else
	nok "--timeline JSON"
fi
"$perf" --socket "$dir/nvme0" --bs 512 --qd 8 --runtime 1 --timeline 100 > "$dir/out" 2>"$dir/err"
if [ "$(grep -cE '^\[ +0\.[0-9]{3}s\] [0-9.]+M IOPS' "$dir/err")" -ge 5 ]; then
	ok "--timeline 100 prints a progress line every 100 ms"
else
	nok "--timeline progress lines"; sed 's/^/# /' "$dir/err"
fi
"$perf" --socket "$dir/nvme0" --timeline 5 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q -- "--timeline wants milliseconds, 10..3600000" "$dir/out"; then ok "--timeline 5 is refused with exit 2"; else nok "--timeline 5 (rc $rc)"; fi

if "$perf" --help | grep -q "uio_pci_generic (DMA from hugepages, as root) or vfio-pci"; then
	ok "--help names both PCI drivers of --pci"; else nok "--pci help"; fi
"$perf" --socket "$dir/nvme0" --bs 100 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "multiple of 512" "$dir/out"; then ok "a bad --bs is refused with exit 2"; else nok "bad --bs (rc $rc)"; fi

timeout 30 "$perf" --socket "$dir/nvme0" --bs 256k --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "more than the controller takes in one command: 128 KiB (its MDTS)" "$dir/out"; then
	ok "a --bs above the controller's MDTS is refused before the run, naming the limit"; else nok "--bs 256k (rc $rc)"; fi
timeout 30 "$perf" --socket "$dir/nvme0" --mix 50 --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "\-\-mix is the read share of --rw randrw" "$dir/out"; then
	ok "--mix without --rw randrw is refused"; else nok "--mix alone (rc $rc)"; fi
timeout 30 env PATH=/nonexistent "$perf" --socket "$dir/nvme0" --plot "$dir/x.png" --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "\-\-plot needs gnuplot" "$dir/out"; then
	ok "--plot without gnuplot is refused before the run"; else nok "--plot without gnuplot (rc $rc)"; fi
"$perf" --socket "$dir/nvme0" --cpus 1023 --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "CPU 1023 is not one this process may run on" "$dir/out"; then
	ok "a --cpus CPU the process cannot run on is refused"; else nok "--cpus 1023 (rc $rc)"; fi

"$perf" --socket "$dir/nvme0" --qd 16 --queue-size 16 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "must be more than --qd" "$dir/out"; then ok "a ring no larger than --qd is refused with exit 2"; else nok "--queue-size 16 --qd 16 (rc $rc)"; fi
"$perf" --socket "$dir/nvme0" --queue-size 128 --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "2\.\.64" "$dir/out"; then ok "a ring beyond the controller's MQES names its limit"; else nok "--queue-size 128 on qdepth 64 (rc $rc)"; fi
# A 5-entry ring at QD4 wraps every few commands: writes and reads all land.
if "$perf" --socket "$dir/nvme1" --qd 4 --queue-size 5 --verify --bs 4k --quiet > "$dir/out" 2>&1 &&
	grep -q "verify_mismatches=0" "$dir/out"; then
	ok "verify through a 5-entry ring finds no mismatch"
else
	nok "verify through a 5-entry ring"
fi
"$perf" --socket "$dir/none" --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "is vnvme-target running" "$dir/out"; then ok "a missing socket says what to check"; else nok "missing socket (rc $rc)"; fi
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$dir/stale"
"$perf" --socket "$dir/stale" --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "nothing serves this socket" "$dir/out"; then ok "a stale socket says what to do"; else nok "stale socket (rc $rc)"; fi

# --pci: a device that is not an NVMe controller is refused before anything
# else, and no command that would unbind it is printed.
other=
for d in /sys/bus/pci/devices/*; do
	[ -r "$d/class" ] && [ "$(cat "$d/class")" != 0x010802 ] && { other=${d##*/}; break; }
done
if [ -n "$other" ]; then
	"$perf" --pci "$other" --runtime 1 > "$dir/out" 2>&1; rc=$?
	if [ $rc -eq 1 ] && grep -q "is not an NVMe controller (01:08:02)" "$dir/out" && ! grep -q "unbind\|new_id" "$dir/out"; then
		ok "--pci $other (not NVMe) is refused, with no unbind command"; else nok "--pci $other (rc $rc)"; fi
else
	n=$((n + 1)); echo "ok $n # SKIP --pci: no PCI device that is not NVMe in /sys/bus/pci/devices"
fi

if command -v gnuplot > /dev/null; then
	if "$perf" --socket "$dir/nvme0" --runtime 1 --quiet --plot "$dir/lat.png" > "$dir/out" 2>&1 &&
		[ "$(head -c 4 "$dir/lat.png" | tail -c 3)" = "PNG" ]; then
		ok "--plot draws a PNG latency histogram"
	else
		nok "--plot"
	fi
else
	n=$((n + 1)); echo "ok $n # SKIP --plot: gnuplot is not installed"
fi

# A killed target is an error, not a hang: its lost I/Os are errors, and
# the 5 s it takes to notice are no run time.
"$perf" --socket "$dir/nvme1" --runtime 60 --quiet --json > "$dir/json" 2> "$dir/out" &
ppid=$!
sleep 1
kill -9 "$tpid"; tpid=
for i in $(seq 200); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$ppid" 2>/dev/null; then
	kill -9 "$ppid"; nok "perf noticed the killed target within 20 s"
else
	wait "$ppid"; rc=$?
	if [ $rc -eq 1 ] && grep -q "no completion\|does not answer\|Broken pipe\|reset" "$dir/out"; then
		ok "perf reports a killed target as an error (exit 1)"
	else
		nok "killed target (rc $rc)"
	fi
	# The stall check waits 5 s by construction: a run time of 5 s or more
	# would count it.
	if json_check "$dir/json" 'r["errors"] > 0 and r["runtime_s"] < 5'; then
		ok "a killed target's lost I/Os are errors and its stall is not run time"
	else
		nok "killed target's errors and run time"; sed 's/^/# /' "$dir/json"
	fi
fi

# --attribute (docs/attribution.md): a target with --trace; each I/O's
# parts sum to its total, so their means sum to the total's mean (the JSON
# rounds nothing but the doubles' last bits: 0.1 % margin).
timeout 30 "$target" --socket "$dir/tr" --backend null --trace --log warn --daemonize \
	--pidfile "$dir/tr.pid" > "$dir/out" 2>&1
if timeout 60 "$perf" --socket "$dir/tr" --bs 512 --qd 16 --ios 20000 --attribute --json --quiet > "$dir/json" 2> "$dir/out" &&
	json_check "$dir/json" 'all(k in r["attribution"]["parts_ns"] for k in ("submit_to_fetch", "fetch_to_done", "done_to_post", "post_to_reap", "device_service", "total")) and r["attribution"]["ios"] >= 19000 and r["attribution"]["missed"] == 0 and r["attribution"]["bottleneck"] in ("host", "device") and abs(sum(r["attribution"]["parts_ns"][k]["mean"] for k in ("submit_to_fetch", "fetch_to_done", "done_to_post", "post_to_reap")) - r["attribution"]["parts_ns"]["total"]["mean"]) <= 0.001 * r["attribution"]["parts_ns"]["total"]["mean"] and abs(r["attribution"]["parts_ns"]["total"]["mean"] - r["read"]["lat_ns"]["mean"]) <= 0.001 * r["read"]["lat_ns"]["mean"]'; then
	ok "--attribute: JSON parts whose means sum to the total, a bottleneck named"
else
	nok "--attribute JSON"; sed 's/^/# /' "$dir/json"
fi
if timeout 60 "$perf" --socket "$dir/tr" --rw randwrite --bs 4k --qd 4 --ios 5000 --attribute --quiet > "$dir/out" 2>&1 &&
	grep -q "host submit -> device fetch" "$dir/out" && grep -q "device post -> host reap" "$dir/out" &&
	grep -q "^  bottleneck: \(host\|device\) (device service" "$dir/out" &&
	awk '/parts sum to/ { a = $4; b = $(NF - 1); d = a - b; if (d < 0) d = -d; ok = d <= 0.001 * b + 0.1 } END { exit !ok }' "$dir/out"; then
	ok "--attribute: text parts, their sum against the total, the bottleneck"
else
	nok "--attribute text"
fi
"$perf" --socket "$dir/rfd2" --attribute --verify > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "not --verify" "$dir/out"; then ok "--attribute with --verify is refused"; else nok "--attribute --verify (rc $rc)"; fi
kill "$(cat "$dir/tr.pid")" 2>/dev/null
timeout 30 "$target" --socket "$dir/notr" --backend null --log warn --daemonize \
	--pidfile "$dir/notr.pid" > "$dir/out" 2>&1
timeout 30 "$perf" --socket "$dir/notr" --attribute --runtime 1 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "needs the device's trace table: start vnvme-target with --trace" "$dir/out"; then
	ok "--attribute without the target's --trace says how to get it"; else nok "--attribute without --trace (rc $rc)"; fi
kill "$(cat "$dir/notr.pid")" 2>/dev/null

# SIGTERM: clean exit, sockets removed, counters printed.
start_target
"$perf" --socket "$dir/nvme0" --ios 1000 --quiet > /dev/null 2>&1
: > "$dir/target.log"
kill -TERM "$tpid"; wait_gone "$tpid"; rc=$?; tpid=
if [ $rc -eq 0 ] && [ ! -e "$dir/nvme0" ] && [ ! -e "$dir/target.pid" ] && grep -q "poller" "$dir/target.log"; then
	ok "target stops cleanly on SIGTERM and removes its sockets"
else
	nok "SIGTERM (rc $rc)"; sed 's/^/# /' "$dir/target.log"
fi
echo "1..$n"
exit $fail
