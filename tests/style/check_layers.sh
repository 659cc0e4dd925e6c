#!/bin/sh
# Dependencies point one way (README "Layout", STYLE.md "Dependencies point
# one way"). Every #include of a project header in src/ and include/ is
# checked against the rules of its directory; a directory without a rule
# fails, so a new one must be given its place.
#
#   util     depends on nothing (not even include/vnvme/)
#   pci      a leaf: util only
#   vu       knows nothing of NVMe: util only
#   backend  util only
#   nvme     util, backend/backend.h, vnvme/spec.h and vnvme/trace.h only
#   rpc      a JSON-RPC server: util and json-c only
#   ctl      vnvme-ctl: json-c only (it speaks JSON-RPC over a socket)
#   target   joins vu, pci, nvme (nvme.h, and model.h: the device models'
#            configuration), the backends and the configuration; it is
#            the only one that may (no one includes target/)
#   testdev  a vfio-user test device: vu, pci, util
#   demo     testdev, vu, util
#   driver   vu (client side: not vu/server.h), util and include/vnvme/
#   perf     vnvme/vnvme.h, and util/hist.h and util/tsc.h (self-contained: stdint, string; the
#            device's clock, so that its trace stamps and perf's compare)
#   include/vnvme/  installed: system headers and vnvme/ only
# json-c only in vu (VERSION), target (configuration) and perf (options);
# the hot path (nvme/queue.c, io.c, dptr.c, the backends) never includes
# json-c or the configuration, directly or through a header.
#
# Usage: check_layers.sh SOURCE_ROOT
cd "$1" || exit 1
bad=0
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

fail() {
	echo "layering: $*"
	bad=1
}

# The project includes of a file, as "LINE PATH", for #include "x" and <x>.
includes() {
	awk '/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]/ {
		s = $0
		sub(/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]/, "", s)
		sub(/[>"].*/, "", s)
		print FNR, s
	}' "$1"
}

# allowed DIR PATH: 0 if a file of src/DIR may include PATH.
allowed() {
	case "$2" in
	*..*) return 1 ;; # no climbing out of the include roots
	esac
	case "$1:$2" in
	# System headers: only json-c is policed.
	*:json-c/*) case "$1" in vu | target | perf | rpc | ctl) return 0 ;; *) return 1 ;; esac ;;
	esac
	case "$2" in
	util/* | pci/* | vu/* | backend/* | nvme/* | target/* | rpc/* | ctl/* | testdev/* | demo/* | driver/* | \
		perf/* | vnvme/*) ;;
	*) return 0 ;; # a system header, or a bare name from the same directory
	esac
	case "$1:$2" in
	util:util/*) ;;
	pci:pci/* | pci:util/*) ;;
	vu:vu/* | vu:util/*) ;;
	backend:backend/* | backend:util/*) ;;
	nvme:nvme/* | nvme:util/* | nvme:backend/backend.h | nvme:vnvme/spec.h | nvme:vnvme/trace.h) ;;
	rpc:rpc/* | rpc:util/*) ;;
	ctl:ctl/* | ctl:rpc/path.h) ;;
	target:target/* | target:rpc/* | target:vu/* | target:pci/* | target:nvme/nvme.h | target:nvme/model.h | \
		target:backend/backend.h | \
		target:util/* | target:vnvme/spec.h | target:vnvme/trace.h) ;;
	testdev:testdev/* | testdev:vu/* | testdev:pci/* | testdev:util/*) ;;
	demo:demo/* | demo:testdev/* | demo:vu/* | demo:util/*) ;;
	driver:vu/server.h) return 1 ;;
	driver:driver/* | driver:vu/* | driver:util/* | driver:vnvme/*) ;;
	perf:perf/* | perf:vnvme/vnvme.h | perf:util/hist.h | perf:util/tsc.h) ;;
	include:vnvme/*) ;;
	*) return 1 ;;
	esac
	return 0
}

why() {
	case "$1" in
	util) echo "util depends on nothing" ;;
	pci) echo "pci is a leaf" ;;
	vu) echo "vu knows nothing of NVMe" ;;
	backend) echo "backends see only util" ;;
	nvme) echo "nvme sees only util, backend.h and vnvme/spec.h" ;;
	rpc) echo "rpc knows nothing of NVMe: util and json-c" ;;
	ctl) echo "vnvme-ctl speaks only JSON-RPC" ;;
	target) echo "target joins vu, pci, nvme, rpc, backend.h and util" ;;
	testdev | demo) echo "the test device and the demo know nothing of NVMe" ;;
	driver) echo "driver uses vu (client side), util and include/" ;;
	perf) echo "perf uses only vnvme.h, util/hist.h and util/tsc.h" ;;
	include) echo "installed headers include only system headers and vnvme/" ;;
	esac
}

for f in $(find src include -name '*.[ch]' | sort); do
	case "$f" in
	include/*) dir=include ;;
	src/*/*) dir=${f#src/}; dir=${dir%%/*} ;;
	*) fail "$f: not in a layer directory"; continue ;;
	esac
	case "$dir" in
	util | pci | vu | backend | nvme | rpc | ctl | target | testdev | demo | driver | perf | include) ;;
	*) fail "$f: src/$dir has no layering rule (tests/style/check_layers.sh)"; continue ;;
	esac
	includes "$f" | while read -r line path; do
		allowed "$dir" "$path" ||
			echo "layering: $f:$line includes \"$path\" ($(why "$dir"))"
	done
done >"$out"
if [ -s "$out" ]; then
	cat "$out"
	bad=1
fi

# Hot path: follow project headers transitively from each hot file.
closure() { # FILE... -> every project file they reach
	todo="$*" seen=""
	while [ -n "$todo" ]; do
		set -- $todo
		f=$1
		shift
		todo="$*"
		case " $seen " in *" $f "*) continue ;; esac
		seen="$seen $f"
		echo "$f"
		for p in $(includes "$f" | awk '{print $2}'); do
			for cand in "src/$p" "include/$p" "$(dirname "$f")/$p"; do
				if [ -f "$cand" ]; then
					todo="$todo $cand"
					break
				fi
			done
		done
	done
}
hot=$(ls src/nvme/queue.c src/nvme/io.c src/nvme/dptr.c src/backend/*.c 2>/dev/null)
[ -n "$hot" ] || fail "no hot path files found"
for f in $(closure $hot); do
	includes "$f" | while read -r line path; do
		case "$path" in
		json-c/* | target/*)
			echo "layering: hot path reaches $f:$line, which includes \"$path\" (json-c/config)"
			;;
		esac
	done
done >"$out"
if [ -s "$out" ]; then
	cat "$out"
	bad=1
fi

[ $bad -eq 0 ] && echo "layering ok"
exit $bad
