#!/bin/sh
# Dependencies point one way (STYLE.md "Layout"): util depends on nothing,
# vu knows nothing of NVMe, the hot path never includes json-c or config.
cd "$1/src" || exit 1
bad=0
check() { # dir forbidden-pattern why
	hits=$(grep -rnE "^#include \"($2)" "$1" 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "layering: $1 must not include $2 ($3):"
		echo "$hits"
		bad=1
	fi
}
check util 'vu/|nvme/|pci/|backend/|target/|driver/' "util depends on nothing"
check pci 'vu/|nvme/|backend/|target/|driver/' "pci is a leaf"
check vu 'nvme/|backend/|target/|driver/' "vu knows nothing of NVMe"
[ -d nvme ] && check nvme 'vu/|target/|driver/' "nvme sees only util and backend.h"
for f in nvme/queue.c nvme/io.c nvme/dptr.c; do
	[ -f "$f" ] && grep -nE '#include [<"](json-c|target/)' "$f" && { echo "layering: hot path $f includes json-c/config"; bad=1; }
done
[ $bad -eq 0 ] && echo "layering ok"
exit $bad
