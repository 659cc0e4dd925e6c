#!/bin/sh
# make check: a smoke run of the benchmark runner; the JSON must be well formed.
# Usage: smoke.sh SRCDIR BUILDDIR
out=$(mktemp /tmp/vnvme-bench-XXXXXX.json)
trap 'rm -f "$out"' EXIT
if ! python3 "$1/bench/run.py" --smoke --build "$2" --out "$out" > "$out.log" 2>&1; then
	sed 's/^/# /' "$out.log"; rm -f "$out.log"
	echo "not ok 1 - the benchmark runner completes a smoke run"; echo "1..1"; exit 1
fi
rm -f "$out.log"
echo "ok 1 - the benchmark runner completes a smoke run"
if python3 - "$out" "$1/bench" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
import run
r = json.load(open(sys.argv[1]))
assert r['version'] == 3 and r['mode'] == 'smoke'
assert {c['qd'] for c in r['ceiling']['results']} == {1, 16, 128}
assert all(c['ops'] > 0 and c['ring'] > c['qd'] for c in r['ceiling']['results'])
assert r['copy_ceiling']['ops'] > 0 and r['copy_ceiling']['bs'] == 512
assert r['min_slices'] == 1 and r['max_slices'] == 3 and r['mode_gap'] > r['ceil_agree'] > 1
assert len(r['rows']) == 3
assert set(r['modes']) == {'1', '16', '128'}
for qd, ms in r['modes'].items():
    assert [m['mode'] for m in ms][:1] in ([], ['high'])
    for m in ms:
        assert 0 < m['ceiling_min'] <= m['ceiling_max'] and m['slices'] >= 1
for row in r['rows']:
    for k in ('backend', 'controllers', 'rw', 'bs', 'qd', 'iops', 'mib_s', 'lat_ns', 'target_busy',
              'target_idle', 'ceiling_ops', 'ratio_to_ceiling', 'ratio_min', 'ratio_max',
              'slices_kept', 'slices_tried', 'resolved', 'mode', 'modes', 'slices', 'errors'):
        assert k in row, k
    assert row['errors'] == 0
    assert row['ring'] == (row['qd'] + row['qd'] // 4 + 31) // 32 * 32 > row['qd']
    assert 1 <= len(row['slices']) <= 3 and row['slices_tried'] == len(row['slices'])
    assert row['slices_kept'] == sum(s['kept'] for s in row['slices'])
    for s in row['slices']:
        assert s['ceiling_before'] > 0 and s['ceiling_after'] > 0
        assert (s['mode'] is not None) == s['kept'] and 'lat_ns' not in s
        assert isinstance(s['steady'], bool) and (s['steady'] or not s['kept'])
        assert abs(s['ratio'] - s['iops'] / ((s['ceiling_before'] + s['ceiling_after']) / 2)) < 1e-9
    for m, st in row['modes'].items():
        mine = [s for s in row['slices'] if s['mode'] == m]
        assert st['slices'] == len(mine) >= 1
        assert st['ratio_min'] <= st['ratio'] <= st['ratio_max']
        assert st['ratio_min'] == min(s['ratio'] for s in mine)
    # one slice is enough in a smoke run: resolved when a mode has an
    # agreeing group (a slice, or two that agree), and its figure is that
    # group's, never a mix of modes
    assert row['resolved'] == any(st['agreeing'] >= 1 for st in row['modes'].values())
    if row['resolved']:
        st = row['modes'][row['mode']]
        assert row['iops'] > 0 and 0 <= row['target_busy'] <= 1
        assert set(row['lat_ns']['percentiles']) == {'50', '90', '99', '99.9', '99.99'}
        assert row['slices_agreeing'] == st['agreeing'] >= 1
        assert st['ratio_min'] <= row['ratio_min'] <= row['ratio_to_ceiling'] <= row['ratio_max'] <= st['ratio_max']
        assert st['ceiling_min'] <= row['ceiling_ops'] <= st['ceiling_max']
    else:
        assert row['mode'] is None and row['ratio_to_ceiling'] is None and row['iops'] is None
    # some queue depths are measured against a driver's ceiling too
    drv = row['qd'] in run.DRIVER_QDS
    for s in row['slices']:
        assert ('ratio_to_driver_ceiling' in s) == drv
        if drv and s['ratio_to_driver_ceiling'] is not None:
            assert s['driver_ceiling'] > 0
            assert abs(s['ratio_to_driver_ceiling'] - s['iops'] / s['driver_ceiling']) < 1e-9
    for st in row['modes'].values():
        assert ('ratio_to_driver_ceiling' in st) == drv
    # each slice's driver ceiling before it is the one after the slice before
    for p, s in zip(row['slices'], row['slices'][1:]):
        if drv:
            assert s['driver_ceiling_before'] == p['driver_ceiling_after'] > 0
PY
then echo "ok 2 - its JSON has the documented fields"; else echo "not ok 2 - its JSON has the documented fields"; fail=1; fi
# The ceiling's ring: refused when not above the queue depth, else in its JSON.
if ! "$2/bench/ceiling" --qd 64 --queue-size 64 --seconds 0.05 > "$out.log" 2>&1 && grep -q "must be above --qd 64" "$out.log" &&
	"$2/bench/ceiling" --qd 16 --queue-size 17 --batch 4 --seconds 0.05 --json | grep -q '"qd": 16, "ring": 17'; then
	echo "ok 3 - bench/ceiling takes a ring above the queue depth, refuses one that is not"
else echo "not ok 3 - bench/ceiling --queue-size"; fail=1; fi
rm -f "$out.log"
# --driver: every way of writing entries keeps each CQE's CID one that was
# submitted and not taken since the last doorbell (a slot rewritten without
# its CID would complete CID 0 twice), and a way it does not know is refused.
ok=1
for how in full fields slot; do
	"$2/bench/ceiling" --qd 1 --qd 16 --qd 128 --seconds 0.05 --driver $how --json > "$out.$how" 2>&1 &&
		python3 - "$out.$how" "$how" <<'PY' || { ok=0; sed 's/^/# /' "$out.$how"; }
import json, sys
r = json.load(open(sys.argv[1]))
assert r['driver'] == sys.argv[2], r['driver']
assert [c['qd'] for c in r['results']] == [1, 16, 128]
for c in r['results']:
    assert c['ops'] > 0 and c['cid_errors'] == 0, c
PY
	rm -f "$out.$how"
done
"$2/bench/ceiling" --qd 16 --seconds 0.05 --json | grep -q '"driver": "none"' || ok=0
if "$2/bench/ceiling" --driver half > "$out.log" 2>&1 || ! grep -q "wants full, fields or slot" "$out.log"; then ok=0; fi
if [ $ok = 1 ]; then echo "ok 4 - bench/ceiling --driver full, fields and slot: no CQE with a CID not outstanding"
else [ -f "$out.log" ] && sed "s/^/# /" "$out.log"; echo "not ok 4 - bench/ceiling --driver"; fail=1; fi
rm -f "$out.log"
echo "1..4"; exit ${fail:-0}
