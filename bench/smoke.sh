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
if python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r['version'] == 2 and r['mode'] == 'smoke'
assert {c['qd'] for c in r['ceiling']['results']} == {1, 16, 128}
assert all(c['ops'] > 0 for c in r['ceiling']['results'])
assert r['copy_ceiling']['ops'] > 0 and r['copy_ceiling']['bs'] == 512
assert len(r['rows']) == 3
for row in r['rows']:
    for k in ('backend', 'controllers', 'rw', 'bs', 'qd', 'iops', 'mib_s', 'lat_ns', 'target_busy',
              'target_idle', 'ceiling_ops', 'ratio_to_ceiling', 'ratio_min', 'ratio_max',
              'slices_kept', 'slices_tried', 'reliable', 'modes', 'slices', 'errors'):
        assert k in row, k
    assert row['iops'] > 0 and row['errors'] == 0
    assert 0 <= row['target_busy'] <= 1
    assert set(row['lat_ns']['percentiles']) == {'50', '90', '99', '99.9', '99.99'}
    assert 1 <= len(row['slices']) <= 3 and row['slices_tried'] == len(row['slices'])
    assert row['ratio_min'] <= row['ratio_to_ceiling'] <= row['ratio_max']
    for s in row['slices']:
        assert s['ceiling_before'] > 0 and s['ceiling_after'] > 0 and s['mode'] in ('high', 'low')
        assert abs(s['ratio'] - s['iops'] / ((s['ceiling_before'] + s['ceiling_after']) / 2)) < 1e-9
PY
then echo "ok 2 - its JSON has the documented fields"; echo "1..2"; exit 0; fi
echo "not ok 2 - its JSON has the documented fields"; echo "1..2"; exit 1
