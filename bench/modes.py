"""The pairing and mode logic of bench/run.py, free of I/O so that
bench/test_modes.py can drive it with synthetic slice sequences.

A row is measured in alternating slices: ceiling, row, ceiling, row ... A row
slice is *kept* when the two ceilings around it agree within CEIL_AGREE and it
had no I/O error; its ratio is its IOPS over the mean of those two ceilings
(its "ceiling" below). The machines these runs get switch between speed modes
2-4x apart (docs/performance.md, "Modes"), and a row's ratio to the ceiling
is not the same in every mode. So kept slices are grouped by mode, and a
row's figure comes from one mode only: never a median over slices of
different modes.

Modes are found by clustering, per queue depth, the ceilings of every kept
slice of the run (mode_clusters): sorted, the values are cut wherever one is
at least MODE_GAP times the one below it. Why a gap and not a threshold
against the run's highest ceiling:
- inside one mode the ceilings of a run spread about 1.3x (45-57 M at QD16 on
  the AMD type, 29-31 M on the Intel one), and a run has dozens of them, so
  neighbours in sorted order are far closer than 1.4x; the modes are 2-4x
  apart, so there is a gap of at least 2 / 1.3 = 1.5x between them;
- more values can only shrink gaps, never open one: a set of ceilings that
  is one mode stays one mode as the run goes on. So when a row stopped
  because 3 of its slices were in one mode (row_done, on the ceilings seen so
  far), the final grouping (on the whole run's) still has them together;
- a threshold against the highest would move as the run finds a faster mode,
  and split slices that were together.
Only kept slices' ceilings are clustered: a ceiling measured across a switch
lies between the modes, but its neighbour rarely agrees with it, so it is
not kept, and cannot bridge the gap.

Modes are labelled by speed within the run: 'high' is the fastest cluster,
'low' the slowest, 'mid1', 'mid2' ... between. A run that never left its slow
mode calls it 'high': compare.py therefore compares the ceilings of two runs
too, not only the labels.
"""
import math

CEIL_AGREE = 1.15  # neighbouring ceilings agree when max / min is at most this
MODE_GAP = 1.4     # sorted kept ceilings one or more modes apart: next / prev >= this
MIN_SLICES = 3     # kept slices in one mode that a row needs
WAIT_FOR_HIGH = 4  # slices a row waits for the fastest mode once a slower one has MIN_SLICES
# A mode's slices of one row agree: max / min ratio at most this. As tight
# as CEIL_AGREE, and tighter than the +-10 % two runs' figures are compared
# with (compare.py): at 1.25, a group read 0.73, 0.85 and 0.87 (0.67
# beside it) and gave 0.85 where the run before gave 0.73 from
# 0.72-0.74, one row "differing" between two runs of the same tree.
RATIO_SPREAD = 1.15


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def ceilings_agree(before, after):
    lo, hi = min(before, after), max(before, after)
    return lo > 0 and hi / lo <= CEIL_AGREE


def steady(rates):
    """Did the machine stay in one mode through a measurement? Its rates
    over short windows (a ceiling's 50 ms windows; a row's --timeline
    intervals without the first and the last, which hold the start and the
    end) are within MODE_GAP of each other: the modes are 2-4x apart, so a
    switch inside puts windows of both modes side by side."""
    v = list(rates)
    if not v or max(v) == 0:
        return True  # nothing ran, so nothing changed
    return min(v) > 0 and max(v) / min(v) < MODE_GAP  # a window with no I/O is a stall


def make_slice(before, after, iops, errors=0, steady=True, **extra):
    """One row slice between the ceilings measured before and after it.
    steady: the row and both ceilings stayed in one mode inside (steady())."""
    ceil = (before + after) / 2
    s = {'ceiling_before': before, 'ceiling_after': after, 'iops': iops,
         'ratio': iops / ceil if ceil > 0 else 0,
         'kept': ceilings_agree(before, after) and errors == 0 and steady,
         'errors': errors, 'steady': steady}
    s.update(extra)
    return s


def driver_ratio(s, before, after):
    """Give slice s its ratio to a driver's ceiling, measured before and
    after it as (ops, steady) pairs: None unless both stayed steady and agree
    (ceilings_agree), as a mode switch between them would compare the row
    with a ceiling of the other mode."""
    (b, b_steady), (a, a_steady) = before, after
    ok = b_steady and a_steady and ceilings_agree(b, a)
    s['driver_ceiling_before'], s['driver_ceiling_after'] = b, a
    s['driver_ceiling'] = (b + a) / 2 if ok else None
    s['ratio_to_driver_ceiling'] = s['iops'] / s['driver_ceiling'] if ok else None


def slice_ceiling(s):
    return (s['ceiling_before'] + s['ceiling_after']) / 2


def mode_clusters(ceilings, gap=MODE_GAP):
    """The modes among these ceiling values: [(lowest, highest), ...], fastest
    first. Sorted, the values are cut wherever one is >= gap x the previous."""
    v = sorted(c for c in ceilings if c > 0)
    if not v:
        return []
    clusters = [[v[0], v[0]]]
    for x in v[1:]:
        if x >= clusters[-1][1] * gap:
            clusters.append([x, x])
        else:
            clusters[-1][1] = x
    return [tuple(c) for c in reversed(clusters)]


def mode_labels(n):
    """Names for n modes, fastest first."""
    if n <= 0:
        return []
    if n == 1:
        return ['high']
    return ['high'] + ['mid%d' % i for i in range(1, n - 1)] + ['low']


def mode_index(ceiling, clusters):
    """The cluster this ceiling falls in; one between clusters (not among the
    values they were made of) goes to the nearest on a log scale."""
    best, dist = None, None
    for i, (lo, hi) in enumerate(clusters):
        if lo <= ceiling <= hi:
            return i
        d = min(abs(math.log(ceiling / lo)), abs(math.log(ceiling / hi)))
        if dist is None or d < dist:
            best, dist = i, d
    return best


def row_done(row_slices, other_ceilings, need=MIN_SLICES, wait=WAIT_FOR_HIGH):
    """While a row is measured: may it stop? The modes are those of the kept
    ceilings seen so far at this queue depth (earlier rows' and this row's).
    It stops once the fastest of them has `need` of the row's kept slices
    (an agreeing group: full()). Once a slower mode has them, it waits
    `wait` more slices for the fastest (the run has seen it, so the machine
    may go back to it), then stops with what it has, as long as some mode
    still has its group: a row's figure then comes from the fast mode
    whenever the machine returns to it soon, and two runs compare mode for
    mode more often."""
    ceils = [slice_ceiling(s) if s['kept'] else None for s in row_slices]
    clusters = mode_clusters(list(other_ceilings) + [c for c in ceils if c is not None])
    ratios, full_at = {}, None
    for k, c in enumerate(ceils):
        if c is None:
            continue
        i = mode_index(c, clusters)
        ratios.setdefault(i, []).append(row_slices[k]['ratio'])
        if full(ratios[i], need) and full_at is None:
            full_at = k + 1
    if full(ratios.get(0, []), need):
        return True
    # The wait ends only while some mode still has its figure: a later slice
    # that disagrees can take a mode's majority away, and then the row samples
    # on (up to its cap) rather than stop without a figure.
    return (full_at is not None and len(row_slices) >= full_at + wait
            and any(full(r, need) for r in ratios.values()))


def agreeing(ratios, need=MIN_SLICES):
    """The indices of the slices (by their ratios) that give a mode's
    figure: the largest group whose ratios agree (max / min within
    RATIO_SPREAD; on a tie, the tightest), when it has `need` of them and
    more than half of all. Else None.

    Slices of one mode that disagree were measured while the machine
    changed in a way that neither the ceilings around them nor the row's own
    timeline showed (a switch of mode just as the row began and back just as
    it ended); the group that agrees, and outnumbers the rest, is the
    figure, and a row without one samples on."""
    v = sorted((r, i) for i, r in enumerate(ratios) if r > 0)
    best = None
    for a in range(len(v)):
        b = a
        while b + 1 < len(v) and v[b + 1][0] <= v[a][0] * RATIO_SPREAD:
            b += 1
        n, spread = b - a + 1, v[b][0] / v[a][0]
        if best is None or n > best[0] or (n == best[0] and spread < best[1]):
            best = (n, spread, a, b)
    if best is None or best[0] < need or 2 * best[0] <= len(v):
        return None
    return sorted(i for _, i in v[best[2]:best[3] + 1])


def full(ratios, need=MIN_SLICES):
    """Has a mode enough of a row's slices: an agreeing group (agreeing())?"""
    return agreeing(ratios, need) is not None


def classify(slices):
    """Labels every slice of one queue depth (all rows of the run) with its
    mode: s['mode'] is a label for a kept slice, None for one that was not
    kept. Returns the modes found: [{'mode', 'ceiling_min', 'ceiling_max',
    'slices'}, ...], fastest first."""
    kept = [s for s in slices if s['kept']]
    clusters = mode_clusters([slice_ceiling(s) for s in kept])
    labels = mode_labels(len(clusters))
    counts = [0] * len(clusters)
    for s in slices:
        if s['kept']:
            i = mode_index(slice_ceiling(s), clusters)
            s['mode'] = labels[i]
            counts[i] += 1
        else:
            s['mode'] = None
    return [{'mode': labels[i], 'ceiling_min': lo, 'ceiling_max': hi, 'slices': counts[i]}
            for i, (lo, hi) in enumerate(clusters)]


def mode_stats(slices):
    """Figures of one mode's kept slices of one row."""
    ratios = [s['ratio'] for s in slices]
    ceils = [slice_ceiling(s) for s in slices]
    st = {'slices': len(slices), 'ratio': median(ratios),
          'ratio_min': min(ratios), 'ratio_max': max(ratios),
          'iops': median([s['iops'] for s in slices]),
          'ceiling_ops': median(ceils), 'ceiling_min': min(ceils), 'ceiling_max': max(ceils)}
    if all('busy' in s for s in slices):
        st['target_busy'] = round(median([s['busy'] for s in slices]), 3)
    if all('ratio_to_copy_ceiling' in s for s in slices):
        st['ratio_to_copy_ceiling'] = median([s['ratio_to_copy_ceiling'] for s in slices])
    # A driver's ceiling: over the slices whose two agreed (driver_ratio).
    drv = [s['ratio_to_driver_ceiling'] for s in slices
           if s.get('ratio_to_driver_ceiling') is not None]
    if any('ratio_to_driver_ceiling' in s for s in slices):
        st['ratio_to_driver_ceiling'] = median(drv) if drv else None
        st['driver_slices'] = len(drv)
    return st


def summarize_row(slices, need=MIN_SLICES):
    """A row's figures from its slices, labelled by classify().

    Kept slices are grouped by mode. The row's figure is that of the fastest
    mode with an agreeing group (agreeing(): `need` slices whose ratios
    agree, more than half of the mode's) and comes from that group only;
    the row is then resolved. Without such a mode the row is unresolved:
    its figure fields are None, and only the per-mode figures in 'modes'
    (over all of each mode's slices, with 'agreeing': the group's size or
    0) say what it got. Never a figure over slices of two modes."""
    by_mode = {}
    for s in slices:
        if s['kept']:
            by_mode.setdefault(s['mode'], []).append(s)
    modes, groups = {}, {}
    for m, v in by_mode.items():
        modes[m] = mode_stats(v)
        g = agreeing([s['ratio'] for s in v], need)
        groups[m] = [v[i] for i in g] if g else []
        modes[m]['agreeing'] = len(groups[m])
    full = [m for m in modes if groups[m]]
    chosen = max(full, key=lambda m: modes[m]['ceiling_ops']) if full else None
    row = {'resolved': chosen is not None, 'mode': chosen, 'modes': modes,
           'slices_kept': sum(len(v) for v in by_mode.values()), 'slices_tried': len(slices),
           'errors': sum(s['errors'] for s in slices)}
    fields = ('iops', 'ceiling_ops', 'ratio_min', 'ratio_max', 'target_busy',
              'ratio_to_copy_ceiling', 'ratio_to_driver_ceiling', 'driver_slices')
    if chosen is None:
        row.update({'iops': None, 'ceiling_ops': None, 'ratio_to_ceiling': None,
                    'ratio_min': None, 'ratio_max': None, 'target_busy': None, 'lat_ns': None})
        return row
    group = groups[chosen]
    st = mode_stats(group)
    row.update({k: st[k] for k in fields if k in st})
    row['ratio_to_ceiling'] = st['ratio']
    row['slices_agreeing'] = len(group)
    # Latencies are those of the group's slice with the median ratio.
    mid = sorted(group, key=lambda s: s['ratio'])[len(group) // 2]
    row['lat_ns'] = mid.get('lat_ns')
    return row
