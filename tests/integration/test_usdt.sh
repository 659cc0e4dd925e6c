#!/bin/sh
# The USDT probes of vnvme-target (src/nvme/probes.h, docs/attribution.md):
# each is in the binary's .note.stapsdt, provider vnvme, with a semaphore
# (so an unattached probe costs a load and a branch). TAP.
# Usage: test_usdt.sh VNVME_TARGET
target=$1
command -v readelf >/dev/null || { echo "1..0 # SKIP no readelf"; exit 0; }
notes=$(readelf -n "$target" 2>&1) || { echo "Bail out! readelf -n $target: $notes"; exit 1; }
echo "1..3"
n=0
for p in cmd_fetch cmd_done cqe_post; do
	n=$((n + 1))
	# The note's lines: "Provider: vnvme", "Name: P", then its location
	# with "Semaphore: 0x..." (non-zero).
	if printf '%s\n' "$notes" | awk -v p="$p" '
		/Provider:/ { prov = $2 }
		/Name:/ { name = $2 }
		/Semaphore:/ && prov == "vnvme" && name == p && $NF ~ /^0x0*[1-9a-f]/ { found = 1 }
		END { exit !found }'; then
		echo "ok $n - probe vnvme:$p with a semaphore"
	else
		echo "not ok $n - probe vnvme:$p with a semaphore"
	fi
done
