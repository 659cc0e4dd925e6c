#!/bin/sh
# vnvme-ctl against a vnvme-target with --rpc, as a user runs it: TAP output.
# Usage: test_ctl.sh TARGET CTL
target=$1 ctl=$2
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

expect 2 "is vnvme-target running with --rpc" "$ctl" list
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
# Namespaces on a live controller: the lowest free NSID, a chosen one, errors.
expect 0 "nvme0: namespace 2 added" "$ctl" ns-add nvme0 --size 8M
expect 0 "namespace 9 added" "$ctl" ns-add "$dir/n0" --nsid 9 --backend null --size 2G --lba 4096
expect 0 "1:ram 16M/512, 2:ram 8M/512, 9:null 2G/4096" "$ctl" list
expect 1 "namespace 9 exists already" "$ctl" ns-add nvme0 --nsid 9 --size 8M
expect 1 "\"nsid\" must be 1..32" "$ctl" ns-add nvme0 --nsid 40
expect 1 "not a multiple of the LBA size" "$ctl" ns-add nvme0 --size 1000
expect 2 "ns-add wants one controller" "$ctl" ns-add --size 8M
expect 0 "nvme0: namespace 2 removed" "$ctl" ns-remove nvme0 2
expect 1 "namespace 2: no such namespace" "$ctl" ns-remove nvme0 2
expect 2 "the NSID is 1..32" "$ctl" ns-remove nvme0 0
expect 0 "1:ram 16M/512, 9:null 2G/4096" "$ctl" list
expect 0 "QID CQID POLLER" "$ctl" stats --queues nvme0
expect 0 "counters reset" "$ctl" reset-stats
expect 0 "counters reset" "$ctl" reset-stats nvme1
expect 1 "no controller named nvme7" "$ctl" reset-stats nvme7
# The host-protocol sanitizer (docs/sanitizer.md): on for nvme2 only.
expect 0 "nvme2 on $dir/n2" "$ctl" create --socket "$dir/n2" --size 16M --sanitize
expect 0 "nvme2: 0 host protocol violations" "$ctl" sanitizer nvme2
expect 0 "nvme0: sanitizer off" "$ctl" sanitizer
expect 0 "\"cid_reuse\":0" "$ctl" --json sanitizer nvme2
expect 1 "no controller named nvme7" "$ctl" sanitizer nvme7
expect 0 "\"sanitize\":true" "$ctl" call save_config
expect 0 "deleted nvme2" "$ctl" delete nvme2
expect 0 "saved 2 controller(s)" "$ctl" save "$dir/saved.json"
expect 0 "\"nsid\":9" "$ctl" call save_config
expect 0 "\"controllers\"" "$ctl" call save_config
expect 1 "no method \"nope\"" "$ctl" call nope
expect 2 "params are not JSON" "$ctl" call get_stats '{nope'
expect 0 "deleted nvme0" "$ctl" delete nvme0
expect 1 "no controller named nvme0" "$ctl" delete nvme0
expect 0 "deleted $dir/n1" "$ctl" delete "$dir/n1"
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
# --sanitize: every controller the target starts with sanitizes.
expect 0 "nvme1: 0 host protocol violations" "$ctl" sanitizer
kill "$tpid"
for i in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.1; done
tpid=

echo "1..$n"
exit $fail
