#!/usr/bin/env python3
"""Compare two bench/run.py results row by row: is the bench repeatable?

Usage: bench/compare.py A.json B.json [--only BACKEND:CONTROLLERS] [--tolerance 0.10]

For every row of the matrix (backend, controllers, rw, bs, qd) it prints the
ratio to the ceiling in each run with the mode it came from, B's difference
from A (B / A - 1), and a verdict:
  agree       B's ratio is within +-tolerance (default 10 %) of A's
  DIFFER      it is not
  unresolved  a run has no figure for the row (no mode got 3 slices)
  other mode  the two figures come from machine modes whose ceilings are
              MODE_GAP or more apart: the labels are per run ('high' is the
              fastest mode that run saw), so the ceilings decide
  missing     the row is in one run only
Exit status 0 when every row compared agrees, 1 otherwise. Reads version 3
files, and versions 1 and 2 (a row's figure there may mix modes; its mode
reads e.g. 'high+low', or '?' in version 1, which had no modes).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modes import MODE_GAP  # noqa: E402


def row_key(r):
    return (r['backend'], r['controllers'], r['rw'], r['bs'], r['qd'])


def figure(r):
    """(ratio, mode, ceiling, resolved) of a row of a version 2 or 3 file."""
    if 'resolved' in r:
        return r['ratio_to_ceiling'], r['mode'], r['ceiling_ops'], r['resolved']
    # versions 1 and 2: one figure over every slice kept, whatever their modes
    return (r['ratio_to_ceiling'], '+'.join(r.get('modes', [])) or '?', r['ceiling_ops'],
            r.get('reliable', True))


def compare(rows_a, rows_b, tol=0.10, gap=MODE_GAP):
    """One entry per row of either run, in A's order then B's extra rows:
    {'key', 'a', 'b' (figure tuples or None), 'diff' (B / A - 1 or None),
    'verdict'}."""
    b_by_key = {row_key(r): r for r in rows_b}
    keys = [row_key(r) for r in rows_a]
    keys += [k for k in b_by_key if k not in set(keys)]
    a_by_key = {row_key(r): r for r in rows_a}
    out = []
    for k in keys:
        ra, rb = a_by_key.get(k), b_by_key.get(k)
        fa = figure(ra) if ra else None
        fb = figure(rb) if rb else None
        e = {'key': k, 'a': fa, 'b': fb, 'diff': None}
        if fa is None or fb is None:
            e['verdict'] = 'missing'
        elif not fa[3] or not fb[3] or fa[0] is None or fb[0] is None:
            e['verdict'] = 'unresolved'
        else:
            e['diff'] = fb[0] / fa[0] - 1 if fa[0] else None
            lo, hi = sorted((fa[2], fb[2]))
            if lo <= 0 or hi / lo >= gap:
                e['verdict'] = 'other mode'
            elif e['diff'] is not None and abs(e['diff']) <= tol + 1e-12:
                e['verdict'] = 'agree'
            else:
                e['verdict'] = 'DIFFER'
        out.append(e)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('a')
    ap.add_argument('b')
    ap.add_argument('--only', action='append', metavar='BACKEND:CONTROLLERS',
                    help='only these parts of the matrix, e.g. null:1 (repeatable)')
    ap.add_argument('--tolerance', type=float, default=0.10,
                    help='agreement: |B / A - 1| at most this (default 0.10)')
    a = ap.parse_args(argv)
    runs = []
    for p in (a.a, a.b):
        with open(p) as f:
            runs.append(json.load(f))
    rows = [r['rows'] for r in runs]
    if a.only:
        want = {tuple(o.split(':')) for o in a.only}
        rows = [[r for r in rr if (r['backend'], str(r['controllers'])) in want] for rr in rows]
    res = compare(rows[0], rows[1], a.tolerance)
    for p, r in zip((a.a, a.b), runs):
        print('%s: version %s, %s mode, %s, %s' % (p, r.get('version'), r.get('mode'),
                                                  r.get('time_utc'), r['host']['model']))

    def fig(f):
        if f is None:
            return '%-17s' % '-'
        if f[0] is None or not f[3]:
            return '%-17s' % 'unresolved'
        return '%6.1f%% %-4s %5.1fM' % (100 * f[0], f[1], f[2] / 1e6)

    print('%-5s %5s %-9s %5s %4s  %-17s  %-17s %7s  %s' % (
        'be', 'ctrls', 'rw', 'bs', 'qd', 'A: ratio mode ceil', 'B: ratio mode ceil', 'B/A-1',
        'verdict'))
    for e in res:
        print('%-5s %5d %-9s %5d %4d  %s  %s %7s  %s' % (
            e['key'] + (fig(e['a']), fig(e['b']),
                        '' if e['diff'] is None else '%+.1f%%' % (100 * e['diff']),
                        e['verdict'])))
    counts = {}
    for e in res:
        counts[e['verdict']] = counts.get(e['verdict'], 0) + 1
    print('%d rows: %d agree within +-%g %%%s' % (
        len(res), counts.get('agree', 0), 100 * a.tolerance,
        ''.join('; %d %s' % (counts[v], v) for v in ('DIFFER', 'unresolved', 'other mode',
                                                      'missing') if counts.get(v))))
    return 0 if res and counts.get('agree', 0) == len(res) else 1


if __name__ == '__main__':
    sys.exit(main())
