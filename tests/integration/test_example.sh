#!/bin/sh
# The README's example builds with pkg-config and runs against a target.
# Usage: test_example.sh SRCDIR BUILDDIR TARGET
src=$1 build=$2 target=$3 sanitize=${4:-none}
if [ "$sanitize" != "none" ]; then
	# A plain cc cannot link a sanitized libvnvme; the gcc build runs this.
	echo "1..0 # SKIP the library is built with -fsanitize=$sanitize"
	exit 0
fi
dir=$(mktemp -d /tmp/vnvme-example-XXXXXX)
trap '[ -f "$dir/pid" ] && kill "$(cat "$dir/pid")"; rm -rf "$dir"' EXIT
export PKG_CONFIG_PATH="$build/meson-uninstalled"
if ! cc -o "$dir/hello" "$src/examples/hello_vnvme.c" $(pkg-config --cflags --libs vnvme) 2> "$dir/cc.log"; then
	sed 's/^/# /' "$dir/cc.log"; echo "not ok 1 - the example builds with pkg-config"; echo "1..1"; exit 1
fi
echo "ok 1 - the example builds with pkg-config"
# The target's output (its counters at exit) goes to a log, not into TAP.
"$target" --socket "$dir/nvme0" --size 16M --log warn --daemonize --pidfile "$dir/pid" \
	> "$dir/target.log" 2>&1 || { sed 's/^/# /' "$dir/target.log"; echo "Bail out! no target"; exit 1; }
out=$(LD_LIBRARY_PATH="$build/src/driver" "$dir/hello" "$dir/nvme0" 2>&1)
echo "$out" | sed 's/^/# /'
if echo "$out" | grep -q "read back: hello, NVMe"; then
	echo "ok 2 - the example writes and reads back a block"; echo "1..2"; exit 0
fi
echo "not ok 2 - the example writes and reads back a block"; echo "1..2"; exit 1
