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
	"$target" --config "$dir/conf.json" --log warn > "$dir/target.log" 2>&1 &
	tpid=$!
	for i in $(seq 100); do [ -S "$dir/nvme1" ] && break; sleep 0.05; done
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
"$target" --config "$dir/none.json" > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "none.json" "$dir/out"; then ok "a missing config file is named"; else nok "missing config (rc $rc)"; fi
: > "$dir/regular"
"$target" --socket "$dir/regular" --size 1M > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "not a socket" "$dir/out"; then ok "a file in the socket's place is not clobbered"; else nok "clobber (rc $rc)"; fi

start_target
if [ -S "$dir/nvme0" ] && [ -S "$dir/nvme1" ]; then ok "target serves two sockets from a JSON config"; else nok "target serves two sockets"; fi

if "$perf" --socket "$dir/nvme0" --socket "$dir/nvme1" --verify --bs 4k --quiet > "$dir/out" 2>&1 &&
	grep -q "verify_mismatches=0" "$dir/out"; then
	ok "verify over two devices at once finds no mismatch"
else
	nok "verify over two devices"
fi

if "$perf" --socket "$dir/nvme0" --rw randrw --mix 50 --bs 512 --qd 8 --jobs 2 --runtime 1 --json --quiet > "$dir/out" 2>"$dir/err" &&
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["read"]["ios"] > 0 and r["write"]["ios"] > 0 and r["errors"] == 0 and r["read"]["lat_ns"]["percentiles"]["99"] >= r["read"]["lat_ns"]["min"]' "$dir/out"; then
	ok "randrw with two jobs prints well-formed JSON with reads and writes"
else
	nok "randrw JSON"
fi

"$perf" --socket "$dir/nvme0" --bs 100 > "$dir/out" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "multiple of 512" "$dir/out"; then ok "a bad --bs is refused with exit 2"; else nok "bad --bs (rc $rc)"; fi

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

# A killed target is an error, not a hang.
"$perf" --socket "$dir/nvme1" --runtime 60 --quiet > "$dir/out" 2>&1 &
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
fi

# SIGTERM: clean exit, sockets removed, counters printed.
start_target
"$perf" --socket "$dir/nvme0" --ios 1000 --quiet > /dev/null 2>&1
kill -TERM "$tpid"; wait "$tpid"; rc=$?; tpid=
if [ $rc -eq 0 ] && [ ! -e "$dir/nvme0" ] && grep -q "poller" "$dir/target.log"; then
	ok "target stops cleanly on SIGTERM and removes its sockets"
else
	nok "SIGTERM (rc $rc)"; sed 's/^/# /' "$dir/target.log"
fi
echo "1..$n"
exit $fail
