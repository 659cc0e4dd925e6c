#!/bin/sh
# make demo: a target with a RAM-backed controller, vnvme-perf against it.
build=${1:-build}
dir=$(mktemp -d /tmp/vnvme-demo-XXXXXX)
tpid=
trap '[ -n "$tpid" ] && kill $tpid 2>/dev/null; rm -rf "$dir"' EXIT
ncpu=$(nproc)
tcpu=0; pcpu=$((ncpu > 1 ? 1 : 0))
echo "== vnvme-target: one controller, 256 MiB of RAM, polling thread on CPU $tcpu"
# --daemonize returns once the socket is served, or fails with the reason.
"$build/src/target/vnvme-target" --socket "$dir/nvme0" --backend ram --size 256M \
	--cpus $tcpu --log warn --daemonize --pidfile "$dir/target.pid" > "$dir/target.log" 2>&1 ||
	{ cat "$dir/target.log"; echo "vnvme-demo: the target did not start"; exit 1; }
tpid=$(cat "$dir/target.pid")
echo "== vnvme-perf on CPU $pcpu: write every block, read it back and compare"
"$build/src/perf/vnvme-perf" --socket "$dir/nvme0" --verify --bs 64k --cpus $pcpu --quiet || exit 1
echo "== vnvme-perf on CPU $pcpu: 4 KiB random reads, queue depth 16, 5 seconds"
"$build/src/perf/vnvme-perf" --socket "$dir/nvme0" --rw randread --bs 4k --qd 16 \
	--runtime 5 --cpus $pcpu || exit 1
echo "== vnvme-perf on CPU $pcpu: 512 B random reads, queue depth 16, 5 seconds"
"$build/src/perf/vnvme-perf" --socket "$dir/nvme0" --rw randread --bs 512 --qd 16 \
	--runtime 5 --cpus $pcpu || exit 1
# The target is not our child: wait for its pidfile to go (removed at exit).
kill -TERM $tpid; tpid=
for i in $(seq 100); do [ -e "$dir/target.pid" ] || break; sleep 0.05; done
echo "== vnvme-target counters at exit"
grep -v '^vnvme' "$dir/target.log"
