#!/bin/sh
# vnvme-ctl against a vnvme-target with --rpc, as a user runs it: TAP output.
# Usage: test_ctl.sh TARGET CTL PERF
target=$1 ctl=$2 perf=$3
dir=$(mktemp -d /tmp/vnvme-ctl-test-XXXXXX)
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; [ -f "$dir/out" ] && sed 's/^/# /' "$dir/out"; }
cleanup() { [ -n "$tpid" ] && kill -9 "$tpid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
export VNVME_RPC="$dir/rpc.sock"

# expect RC SUBSTRING command...: the exit status and a substring of its output.
expect() {
	want_rc=$1 want=$2; shift 2
	"$@" > "$dir/out" 2>&1; rc=$?
	if [ "$rc" -eq "$want_rc" ] && grep -q -- "$want" "$dir/out"; then ok "$(echo "$*" | sed "s|$dir|DIR|g"): $want"
	else nok "$(echo "$*" | sed "s|$dir|DIR|g") (rc $rc, wanted $want_rc and \"$want\")"; fi
}

expect 2 "is a vnvme-target serving it" "$ctl" list
expect 0 "Usage: vnvme-ctl" "$ctl" --help
for c in list create delete stats save version shutdown call ns-add ns-remove reset-stats sanitizer; do
	expect 0 "Usage: vnvme-ctl $c" "$ctl" $c --help
done
expect 2 "unknown command" "$ctl" frobnicate

"$target" --rpc "$VNVME_RPC" --log warn --daemonize --pidfile "$dir/target.pid" > "$dir/target.log" 2>&1
tpid=$(cat "$dir/target.pid" 2>/dev/null)
[ -n "$tpid" ] && ok "vnvme-target --rpc with no controller starts" || nok "vnvme-target --rpc"

expect 0 "no controllers" "$ctl" list
expect 0 "methods: get_version" "$ctl" version
expect 0 "nvme0 on $dir/n0" "$ctl" create --socket "$dir/n0" --size 16M --queues 2 --qdepth 64
expect 0 "nvme1 on $dir/n1" "$ctl" -s "$VNVME_RPC" create --socket "$dir/n1" --backend null --size 1G --namespaces 3 --lba 4096
expect 1 "\"queues\" must be 1..1024, not 0" "$ctl" create --socket "$dir/n2" --queues 0
expect 1 "must be an integer" "$ctl" create --socket "$dir/n2" --qdepth lots
expect 1 "not a multiple of the LBA size" "$ctl" create --socket "$dir/n2" --size 1000
expect 2 "create needs --socket" "$ctl" create --size 1G
expect 0 "1:null 1G/4096, 2:null 1G/4096, 3:null 1G/4096" "$ctl" list
expect 0 "\"socket\":\"$dir/n0\"" "$ctl" --json list
expect 0 "nvme0" "$ctl" stats
expect 0 "poller vnvme-poll0" "$ctl" stats nvme1
expect 0 "IOPS" "$ctl" stats --watch 0.2 --count 2
expect 0 "\"time_ns\"" "$ctl" --json stats --watch 0.2 --count 1
# Service times: P50 and P99 columns, "-" before any I/O; values once some
# ran (the controller's total keeps them after the client's queues are
# gone); --watch shows the interval's, "-" when none ran in it.
expect 0 "ADMIN       P50       P99" "$ctl" stats
expect 0 "nvme1 .* 0 .* -  *-$" "$ctl" stats nvme1
"$perf" --socket "$dir/n1" --bs 4096 --qd 8 --ios 2000 --quiet > "$dir/out" 2>&1 &&
	ok "vnvme-perf 2000 I/Os on nvme1" || nok "vnvme-perf on nvme1"
expect 0 "nvme1 .* 2000 .*[0-9][0-9.]*[nmu]*s  *[0-9][0-9.]*[nmu]*s$" "$ctl" stats nvme1
expect 0 "nvme1 .* -  *-$" "$ctl" stats --watch 0.2 --count 1 nvme1
expect 0 "P50       P99" "$ctl" stats --watch 0.2 --count 1 nvme1
expect 0 "\"buckets\"" "$ctl" --json stats --watch 0.2 --count 1 nvme1
expect 0 "\"p99\"" "$ctl" --json stats nvme1
# Namespaces on a live controller: the lowest free NSID, a chosen one, errors.
expect 0 "nvme0: namespace 2 added" "$ctl" ns-add nvme0 --size 8M
expect 0 "namespace 9 added" "$ctl" ns-add "$dir/n0" --nsid 9 --backend null --size 2G --lba 4096
expect 0 "1:ram 16M/512, 2:ram 8M/512, 9:null 2G/4096" "$ctl" list
expect 1 "namespace 9 exists already" "$ctl" ns-add nvme0 --nsid 9 --size 8M
expect 1 "\"nsid\" must be 1..32" "$ctl" ns-add nvme0 --nsid 40
expect 1 "not a multiple of the LBA size" "$ctl" ns-add nvme0 --size 1000
expect 2 "ns-add wants one controller" "$ctl" ns-add --size 8M
# Device models (docs/models.md): checked by the target, listed, saved.
expect 1 "unknown key \"sead\"" "$ctl" ns-add nvme0 --size 8M --model '{"sead": 7}'
expect 1 "rate\" must be 0..1" "$ctl" ns-add nvme0 --size 8M --model '{"errors": [{"status": "media:0x81", "rate": 2}]}'
expect 2 "--model wants a JSON object" "$ctl" ns-add nvme0 --model '{nope'
expect 0 "nvme2 on $dir/n3" "$ctl" create --socket "$dir/n3" --backend null --size 64M --queues 1 \
	--model '{"seed": 7, "read": {"fixed_us": 100}, "iops": 1000}'
expect 0 "namespace 2 added" "$ctl" ns-add nvme2 --backend null --size 32M \
	--model '{"write": {"dist": "uniform", "min_us": 5, "max_us": 9}}'
expect 0 "1:null 64M/512 +model, 2:null 32M/512 +model" "$ctl" list
expect 0 '"iops":1000' "$ctl" call list_controllers
expect 0 "nvme0: namespace 2 removed" "$ctl" ns-remove nvme0 2
expect 1 "namespace 2: no such namespace" "$ctl" ns-remove nvme0 2
expect 2 "the NSID is 1..32" "$ctl" ns-remove nvme0 0
expect 0 "1:ram 16M/512, 9:null 2G/4096" "$ctl" list
expect 0 "QID CQID POLLER" "$ctl" stats --queues nvme0
expect 0 "ERRORS       P50       P99 BY STATUS" "$ctl" stats --queues nvme0
# Per queue: a client's queues exist while it is attached; wait (bounded)
# for its I/O queue's line to show service times.
"$perf" --socket "$dir/n1" --bs 4096 --qd 8 --runtime 60 --quiet > /dev/null 2>&1 &
ppid=$!
for i in $(seq 200); do
	"$ctl" stats --queues nvme1 > "$dir/out" 2>&1
	grep -q "^nvme1  *1  *1 .*[0-9][0-9.]*[nmu]*s  *[0-9][0-9.]*[nmu]*s $" "$dir/out" && break
	sleep 0.1
done
grep -q "^nvme1  *1  *1 .*[0-9][0-9.]*[nmu]*s  *[0-9][0-9.]*[nmu]*s $" "$dir/out" &&
	ok "stats --queues: an I/O queue's P50 and P99" || nok "stats --queues: an I/O queue's P50 and P99"
kill "$ppid"
wait "$ppid"
expect 0 "counters reset" "$ctl" reset-stats
expect 0 "counters reset" "$ctl" reset-stats nvme1
expect 1 "no controller named nvme7" "$ctl" reset-stats nvme7
# The host-protocol sanitizer (docs/sanitizer.md): on for nvme3 only.
expect 0 "nvme3 on $dir/n2" "$ctl" create --socket "$dir/n2" --size 16M --sanitize
expect 0 "nvme3: 0 host protocol violations" "$ctl" sanitizer nvme3
expect 0 "nvme0: sanitizer off" "$ctl" sanitizer
expect 0 "\"cid_reuse\":0" "$ctl" --json sanitizer nvme3
expect 1 "no controller named nvme7" "$ctl" sanitizer nvme7
expect 0 "\"sanitize\":true" "$ctl" call save_config
expect 0 "deleted nvme3" "$ctl" delete nvme3
expect 0 "saved 3 controller(s)" "$ctl" save "$dir/saved.json"
expect 0 "\"nsid\":9" "$ctl" call save_config
expect 0 "\"controllers\"" "$ctl" call save_config
expect 1 "no method \"nope\"" "$ctl" call nope
expect 2 "params are not JSON" "$ctl" call get_stats '{nope'
expect 0 "deleted nvme0" "$ctl" delete nvme0
expect 1 "no controller named nvme0" "$ctl" delete nvme0
expect 0 "deleted $dir/n1" "$ctl" delete "$dir/n1"
expect 0 "deleted nvme2" "$ctl" delete nvme2
expect 0 "no controllers" "$ctl" list
expect 0 "the target stopped" "$ctl" shutdown
for i in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$tpid" 2>/dev/null && nok "vnvme-ctl shutdown stops the target" || ok "vnvme-ctl shutdown stops the target"

# The saved file starts a target with the same devices.
"$target" --config "$dir/saved.json" --rpc "$VNVME_RPC" --log warn --daemonize \
	--pidfile "$dir/target.pid" --sanitize > "$dir/target.log" 2>&1
tpid=$(cat "$dir/target.pid" 2>/dev/null)
expect 0 "1:null 1G/4096, 2:null 1G/4096, 3:null 1G/4096" "$ctl" list
expect 0 "1:ram 16M/512, 9:null 2G/4096" "$ctl" list
expect 0 "1:null 64M/512 +model, 2:null 32M/512 +model" "$ctl" list
expect 0 '"max_us":9' "$ctl" call list_controllers
# --sanitize: every controller the target starts with sanitizes.
expect 0 "nvme1: 0 host protocol violations" "$ctl" sanitizer
kill "$tpid"
for i in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
tpid=

# No --rpc: the default control socket ($VNVME_RPC here, rpc/path.h); a
# second target finds it served and runs without one; --no-rpc serves none.
stop() {
	kill "$1" 2>/dev/null
	for i in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
}
"$target" --socket "$dir/d0" --backend null --size 1G --log info --daemonize \
	--pidfile "$dir/d0.pid" > "$dir/d0.log" 2>&1
tpid=$(cat "$dir/d0.pid" 2>/dev/null)
expect 0 "$dir/d0" "$ctl" list
"$target" --socket "$dir/d1" --backend null --size 1G --log info --daemonize \
	--pidfile "$dir/d1.pid" > "$dir/d1.log" 2>&1
d1=$(cat "$dir/d1.pid" 2>/dev/null)
if [ -n "$d1" ] && grep -q "another target serves the default control socket" "$dir/d1.log"; then
	ok "a second target without --rpc runs, and says the default socket is taken"
else nok "a second target without --rpc (log: $(cat "$dir/d1.log"))"; fi
"$ctl" list > "$dir/out" 2>&1
if grep -q "$dir/d0" "$dir/out" && ! grep -q "$dir/d1" "$dir/out"; then ok "the default socket is the first target's"
else nok "the default socket is the first target's"; fi
stop "$d1"
stop "$tpid"
tpid=
[ -e "$VNVME_RPC" ] && nok "the default socket is removed at exit" || ok "the default socket is removed at exit"
"$target" --socket "$dir/d2" --backend null --size 1G --no-rpc --log warn --daemonize \
	--pidfile "$dir/d2.pid" > "$dir/d2.log" 2>&1
tpid=$(cat "$dir/d2.pid" 2>/dev/null)
[ -n "$tpid" ] && [ ! -e "$VNVME_RPC" ] && ok "--no-rpc serves no control socket" || nok "--no-rpc serves no control socket"
stop "$tpid"
tpid=
expect 2 "exclude each other" "$target" --socket "$dir/d3" --rpc "$VNVME_RPC" --no-rpc
# vnvme-target --model checks it as the configuration does.
expect 2 "unknown key \"sead\"" "$target" --socket "$dir/m0" --model '{"sead": 1}'
echo '{"read": {"fixed_us": -4}}' > "$dir/model.json"
expect 2 "fixed_us must be 0..10000000" "$target" --socket "$dir/m0" --model "@$dir/model.json"

echo "1..$n"
exit $fail
