#!/bin/sh
# The guest test vehicle in the suite: vnvme-vm runs every scenario against
# QEMU's built-in nvme (Debian's QEMU: libvnvme's PCI transport against an
# NVMe implementation nobody here wrote), then against vnvme-target through
# vfio-user-pci when a QEMU >= 10.1 is found ($QEMU or PATH). TAP out, one
# line per scenario and device kind.
# Usage: test_guest.sh VNVME-VM VNVME-TARGET VNVME-PERF
vm=$1
target=$2
perf=$3
tmp=$(mktemp -d /tmp/vnvme-guest-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

debian=$(command -v qemu-system-x86_64)
if [ -z "$debian" ]; then
	echo "1..0 # SKIP no qemu-system-x86_64 (apt-get install qemu-system-x86)"
	exit 0
fi
# Bounded: each boot at most 240 s, each scenario 90 s; 2 s timed runs.
opts="--target $target --perf $perf --timeout 240 --scenario-timeout 90 --runtime 2"

# --add and --script: a tool of ours in the guest, run by a scenario of ours.
mkdir -p "$tmp/tree/sub"
echo data >"$tmp/tree/sub/file"
printf '#!/bin/sh\necho added-tool-ran\n' >"$tmp/added-tool"
chmod +x "$tmp/added-tool"
printf 'added-tool | grep -q added-tool-ran && grep -q data /opt/tree/sub/file\n' >"$tmp/check.sh"
opts="$opts --add $tmp/added-tool --add $tmp/tree:/opt/tree --script $tmp/check.sh"

# shellcheck disable=SC2086
"$vm" $opts --device qemu-nvme --qemu "$debian" --json "$tmp/nvme.json" >&2
rc=$?
if [ ! -s "$tmp/nvme.json" ]; then
	echo "1..1"
	echo "not ok 1 - qemu-nvme: vnvme-vm exited $rc with no results"
	exit 1
fi

vu=""
for q in "$QEMU" "$debian"; do
	[ -n "$q" ] && [ -x "$q" ] || continue
	if "$q" -device help 2>/dev/null | grep -q '"vfio-user-pci"'; then
		vu=$q
		break
	fi
done
if [ -n "$vu" ]; then
	# shellcheck disable=SC2086
	"$vm" $opts --device vfio-user --count 2 --qemu "$vu" --json "$tmp/vu.json" >&2
	rc=$?
	[ -s "$tmp/vu.json" ] || echo "{\"error\": \"vnvme-vm exited $rc with no results\"}" >"$tmp/vu.json"
fi

python3 - "$tmp/nvme.json" "$tmp/vu.json" <<'PY'
import json, os, sys
lines = []
for path in sys.argv[1:]:
    if not os.path.exists(path):
        lines.append('ok {n} - vfio-user # SKIP skipped: no QEMU with vfio-user-pci '
                     '($QEMU or PATH; QEMU >= 10.1)')
        continue
    doc = json.load(open(path))
    if 'error' in doc:
        lines.append('not ok {n} - vfio-user: ' + doc['error'])
        continue
    for r in doc['results']:
        tag = f"{r['device']} x{r['devices']} ({r['accel']}, QEMU {r['qemu']}) {r['scenario']}"
        if r['status'] == 'skip':
            lines.append(f'ok {{n}} - {tag} # SKIP {r["note"]}')
        else:
            lines.append(('ok' if r['status'] == 'pass' else 'not ok') + ' {n} - ' + tag +
                         ('' if r['status'] == 'pass' else ': ' + r['note']))
print(f'1..{len(lines)}')
for i, l in enumerate(lines, 1):
    print(l.format(n=i))
sys.exit(1 if any(l.startswith('not ok') for l in lines) else 0)
PY
