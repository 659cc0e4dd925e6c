#!/usr/bin/env python3
"""vnvme benchmark runner (make bench).

The matrix: backends null and ram; 512 B and 4 KiB; randread and randwrite;
QD 1, 16, 128; one controller and 24 controllers on one target polling
thread. vnvme-target is pinned to one CPU, vnvme-perf to another. Each row:
IOPS, MiB/s, latency percentiles, the target thread's busy share, and the
ratio to the protocol ceiling (bench/ceiling) at the same queue depth and
on rings of the same size (ring_for: vnvme-perf's default).

The ceiling is measured beside every row, on the same CPUs, in alternating
slices: ceiling, row, ceiling, row, ceiling ... A row slice is kept only when
the two ceilings around it agree (within CEIL_AGREE): the machines these runs
get switch between performance modes 2-4x apart from one moment to the next,
and a row measured across a switch would compare one mode with the other.
The run's kept ceilings, clustered per queue depth, give the modes, and a
row's figure comes from one mode only: it takes slices until one mode has
MIN_SLICES kept ones (at most --max-slices) and reports that mode's median
ratio with its min and max ('high', the fastest, when two modes have
enough), the other modes' figures beside it; a row with no such mode is
reported unresolved, never as a figure mixing modes. The logic is in
bench/modes.py; docs/performance.md, "Modes", has the evidence.

Usage: bench/run.py [--quick | --full | --smoke] [--build DIR] [--out FILE]
       [--only BACKEND:CONTROLLERS] [--max-slices N] [--scale]
Compare two runs with bench/compare.py A.json B.json.
Writes JSON to bench/results/<UTC time>.json (schema: docs/performance.md)
and prints a table.
"""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import modes  # noqa: E402
from modes import CEIL_AGREE, MIN_SLICES  # noqa: E402,F401

RAM_MIB = 256  # the ram namespaces' size, one controller
# ... and each of many controllers': 24 x 16 MiB = 384 MiB, near one
# controller's 256 MiB, so that "24 controllers against one" compares the
# device's scaling, not the memory's: 24 x 256 MiB (6 GiB) is past the
# hugepages a machine usually has (2 GiB here) and past the TLB's reach on
# 4 KiB pages, where random 512 B copies run at 8.8 M/s against 14 M/s out
# of 256 MiB on 2 MiB pages (bench/ceiling --copy; docs/performance.md).
RAM_MIB_MANY = 16
MAX_SLICES = 10    # row slices tried at most, per row
JSON_VERSION = 3   # 3: figures per mode ('mode', 'resolved', 'modes'); 2: one figure over all
ROOT = os.path.dirname(HERE)


def poller_stats(log_text):
    """Last (busy_ns, idle_ns) the target printed for its polling thread."""
    m = re.findall(r'busy_ns (\d+) idle_ns (\d+)', log_text)
    return (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)


class Target:
    def __init__(self, build, cpu, backend, count, workdir):
        self.log = os.path.join(workdir, 'target.log')
        conf = {
            'cpus': [cpu],
            'controllers': [{
                'socket': os.path.join(workdir, 'nvme%d' if count > 1 else 'nvme0'),
                'count': count, 'queues': 2, 'qdepth': 256,
                'namespaces': [{'backend': backend,
                                'size': '1T' if backend == 'null' else
                                '%dM' % (RAM_MIB if count == 1 else RAM_MIB_MANY)}],
            }],
        }
        if count == 1:
            del conf['controllers'][0]['count']
        path = os.path.join(workdir, 'conf.json')
        with open(path, 'w') as f:
            json.dump(conf, f)
        self.sockets = [os.path.join(workdir, 'nvme%d' % i) for i in range(count)]
        self.proc = subprocess.Popen(
            [os.path.join(build, 'src/target/vnvme-target'), '--config', path, '--log', 'warn'],
            stdout=open(self.log, 'w'), stderr=subprocess.STDOUT)
        for _ in range(1200):  # ram namespaces are populated at start: allow 60 s
            if all(os.path.exists(s) for s in self.sockets):
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            raise SystemExit('bench: vnvme-target did not start:\n' + open(self.log).read())

    def snapshot(self):
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        return poller_stats(open(self.log).read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


TIMELINE_MS = 50  # a row slice's timeline intervals (vnvme-perf --timeline)
# The rows measured against a driver's ceiling too (null 512 B randread, one
# controller): at these queue depths; docs/performance.md, "What a driver's
# stores cost".
DRIVER_QDS = (16, 128)


def ring_for(qd):
    """The ring a row and its ceiling both take: vnvme-perf's default and
    bench/ceiling's (qd + qd/4 rounded up to 32), given to both explicitly
    so that the pair always compares like with like."""
    return (qd + qd // 4 + 31) // 32 * 32


def perf(build, cpu, sockets, rw, bs, qd, seconds):
    cmd = [os.path.join(build, 'src/perf/vnvme-perf'), '--rw', rw, '--bs', str(bs),
           '--qd', str(qd), '--queue-size', str(ring_for(qd)), '--runtime', str(seconds),
           '--cpus', str(cpu), '--json', '--quiet', '--timeline', str(TIMELINE_MS)]
    for s in sockets:
        cmd += ['--socket', s]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise SystemExit('bench: vnvme-perf failed: ' + out.stderr)
    return json.loads(out.stdout)


def callgrind_total(out_file):
    """Instructions callgrind counted (the 'summary:' line of its output file)."""
    for line in open(out_file):
        if line.startswith('summary:') or line.startswith('totals:'):
            return int(line.split()[1])
    raise SystemExit('bench: no totals in ' + out_file)


def callgrind_inclusive(out_file, prefix):
    """Instructions inside the functions whose names start with prefix,
    callees included (callgrind_annotate --inclusive=yes)."""
    out = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--threshold=100', out_file],
                         capture_output=True, text=True, check=True).stdout
    total = 0
    for line in out.splitlines():
        # "  1,234,567 (12.3%)  file.c:perf_batch_randread [/path/binary]"
        # (lines without the [binary] are inlined code's shares: skipped)
        m = re.match(r'^\s*([\d,]+)\s+(\([^)]*\)\s+)?(\S+)\s+\[', line)
        if m and m.group(3).rsplit(':', 1)[-1].startswith(prefix):
            total += int(m.group(1).replace(',', ''))
    return total


def instructions(build, target_cpu, perf_cpu, ios, qd):
    """Instructions per null 512 B randread on each side, with callgrind.

    Each side runs once under callgrind while the other runs natively; only
    the I/O phase is counted (--toggle-collect: the target's polling thread,
    vnvme-perf's I/O loop), so start-up and reporting are left out, and
    rounds that found no work count too. Fixed I/O count, so repeatable
    whatever else the machine does, up to those idle rounds."""
    res = {'ios': ios, 'qd': qd, 'bs': 512, 'backend': 'null'}
    valgrind = ['valgrind', '--tool=callgrind', '--callgrind-out-file=%s']
    for side, toggle in (('target', 'poller_main'), ('driver_perf', 'job_main')):
        with tempfile.TemporaryDirectory(prefix='vnvme-instr-') as wd:
            sock = os.path.join(wd, 'nvme0')
            cg = os.path.join(wd, 'cg.out')
            tcmd = [os.path.join(build, 'src/target/vnvme-target'), '--socket', sock,
                    '--backend', 'null', '--size', '1T', '--queues', '1', '--log', 'warn']
            pcmd = [os.path.join(build, 'src/perf/vnvme-perf'), '--socket', sock, '--bs', '512',
                    '--qd', str(qd), '--ios', str(ios), '--quiet']
            vg = [v % cg if '%s' in v else v for v in valgrind] + ['--toggle-collect=' + toggle]
            if side == 'target':
                tcmd = vg + tcmd + ['--cpus', str(target_cpu)]
                pcmd += ['--cpus', str(perf_cpu)]
            else:
                tcmd += ['--cpus', str(target_cpu)]
                pcmd = vg + pcmd + ['--cpus', str(perf_cpu)]
            tp = subprocess.Popen(tcmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(600):
                    if os.path.exists(sock) or tp.poll() is not None:
                        break
                    time.sleep(0.05)
                out = subprocess.run(pcmd, capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    raise SystemExit('bench: vnvme-perf failed under callgrind: ' + out.stderr)
            finally:
                tp.send_signal(signal.SIGTERM)
                tp.wait(timeout=60)
            res[side + '_per_io'] = round(callgrind_total(cg) / ios, 1)
            if side == 'driver_perf':
                # The polls that found no completion are waiting, not work:
                # vnvme-perf does each batch in perf_batch_<mode>, and an
                # empty poll is the one phase check outside it.
                res['driver_perf_raw_per_io'] = res['driver_perf_per_io']
                batches = callgrind_inclusive(cg, 'perf_batch_')
                if batches:
                    res['driver_perf_per_io'] = round(batches / ios, 1)
    return res


def measure_row(a, t, backend, count, rw, bs, qd, secs, need, tries, ceil_fn, copy_fn,
                history, driver_fn=None):
    """One row in alternating slices: ceiling, row, ceiling, row ... Stops
    once one mode has `need` kept slices (modes.row_done, against `history`:
    the kept ceilings of earlier rows at this queue depth, which it extends)
    or after `tries` row slices. The figures are made later, once the whole
    run's ceilings give the modes (modes.classify, modes.summarize_row).
    driver_fn: a second ceiling beside each ceiling (a driver's: ceiling_at
    with driver 'full'), which gives each slice a ratio_to_driver_ceiling
    when the two around it agree and stayed steady (else None); it has no
    say in which slices are kept."""
    slices = []
    before, before_steady = ceil_fn()
    drv_before = driver_fn() if driver_fn else None
    copy_before = copy_fn() if copy_fn else None
    for _ in range(tries):
        b0, i0 = t.snapshot()
        r = perf(a.build, a.perf_cpu, t.sockets, rw, bs, qd, secs)
        b1, i1 = t.snapshot()
        after, after_steady = ceil_fn()
        drv_after = driver_fn() if driver_fn else None
        copy_after = copy_fn() if copy_fn else None
        side = r['read'] if rw == 'randread' else r['write']
        # The timeline without its first and last intervals (the start, the end).
        inner = r['timeline']['iops'][1:-1]
        row_steady = modes.steady(inner)
        sl = modes.make_slice(before, after, side['iops'], r['errors'],
                              steady=before_steady and row_steady and after_steady,
                              busy=(b1 - b0) / max(1, (b1 - b0) + (i1 - i0)),
                              lat_ns=side['lat_ns'],
                              timeline_spread=round(max(inner) / min(inner), 3)
                              if inner and min(inner) > 0 else None)
        if copy_fn:
            cc = (copy_before + copy_after) / 2
            sl['copy_ceiling'] = cc
            sl['ratio_to_copy_ceiling'] = side['iops'] / cc if cc else 0
            copy_before = copy_after
        if driver_fn:
            modes.driver_ratio(sl, drv_before, drv_after)
            drv_before = drv_after
        slices.append(sl)
        before, before_steady = after, after_steady
        if modes.row_done(slices, history, need):
            break
    history.extend(modes.slice_ceiling(s) for s in slices if s['kept'])
    return {'backend': backend, 'controllers': count, 'rw': rw, 'bs': bs, 'qd': qd,
            'ring': ring_for(qd),
            'ns_mib': None if backend == 'null' else RAM_MIB if count == 1 else RAM_MIB_MANY,
            'slices': slices}


def finish_rows(rows, need):
    """Labels every slice with its mode, per queue depth over the whole run,
    and gives each row its figures (modes.summarize_row). Returns the modes
    found per queue depth."""
    found = {}
    for qd in sorted({r['qd'] for r in rows}):
        found[str(qd)] = modes.classify([s for r in rows if r['qd'] == qd for s in r['slices']])
    for r in rows:
        r.update(modes.summarize_row(r['slices'], need))
        r['mib_s'] = r['iops'] * r['bs'] / 1048576 if r['resolved'] else None
        r['target_idle'] = round(1 - r['target_busy'], 3) if r['resolved'] else None
        r['slices'] = [{k: v for k, v in s.items() if k != 'lat_ns'} for s in r['slices']]
    # Many controllers against one: IOPS over the one-controller row's, when
    # both figures come from the same mode (by their ceilings, as compare.py).
    one = {(r['backend'], r['rw'], r['bs'], r['qd']): r for r in rows if r['controllers'] == 1}
    for r in rows:
        o = one.get((r['backend'], r['rw'], r['bs'], r['qd']))
        r['vs_one_controller'] = None
        if r['controllers'] > 1 and o and r['resolved'] and o['resolved']:
            a, b = r['ceiling_ops'], o['ceiling_ops']
            if a and b and max(a, b) / min(a, b) < modes.MODE_GAP:
                r['vs_one_controller'] = r['iops'] / o['iops']
    return found


def scale_sweep(a, secs):
    """One null controller across k polling threads, driven by k vnvme-perf
    jobs (one queue pair each), k = 1, 2, 4 ... up to half the CPUs (at most
    64 a side): the target on the first half, vnvme-perf on the second. Each
    point is run 3 times; the median, min and max are reported with the
    per-core rate and the scaling efficiency against k = 1."""
    n = os.cpu_count() or 1
    half = min(64, max(1, n // 2))
    top = max(half, a.scale_max or 0)
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64) if k <= top} | {top})
    # Beyond half the CPUs (--scale-max), threads share CPUs: round robin.
    tcpus = [(i % half) for i in range(top)] if n > 1 else [0] * top
    pcpus = [(half + i % half) for i in range(top)] if n > 1 else [0] * top
    points = []
    for qd in (16, 128):
        base = None
        for k in ks:
            with tempfile.TemporaryDirectory(prefix='vnvme-scale-') as wd:
                sock = os.path.join(wd, 'nvme0')
                conf = {'cpus': tcpus[:k], 'controllers': [{
                    'socket': sock, 'queues': k, 'qdepth': 256,
                    'namespaces': [{'backend': 'null', 'size': '1T'}]}]}
                path = os.path.join(wd, 'conf.json')
                with open(path, 'w') as f:
                    json.dump(conf, f)
                log = os.path.join(wd, 'target.log')
                tp = subprocess.Popen([os.path.join(a.build, 'src/target/vnvme-target'),
                                       '--config', path, '--log', 'warn'],
                                      stdout=open(log, 'w'), stderr=subprocess.STDOUT)
                try:
                    for _ in range(600):
                        if os.path.exists(sock) or tp.poll() is not None:
                            break
                        time.sleep(0.05)
                    runs = []
                    for _ in range(3):
                        cmd = [os.path.join(a.build, 'src/perf/vnvme-perf'), '--socket', sock,
                               '--bs', '512', '--qd', str(qd), '--jobs', str(k), '--cpus',
                               ','.join(map(str, pcpus[:k])), '--runtime', str(secs),
                               '--json', '--quiet']
                        out = subprocess.run(cmd, capture_output=True, text=True,
                                             timeout=secs + 60)
                        if out.returncode != 0:
                            raise SystemExit('bench: vnvme-perf failed: ' + out.stderr)
                        runs.append(json.loads(out.stdout)['read']['iops'])
                finally:
                    tp.send_signal(signal.SIGTERM)
                    tp.wait(timeout=30)
            iops = modes.median(runs)
            if k == 1:
                base = iops
            points.append({'qd': qd, 'threads_per_side': k, 'iops': iops,
                           'iops_min': min(runs), 'iops_max': max(runs),
                           'iops_per_target_core': iops / k,
                           'target_ns_per_io': 1e9 * k / iops if iops else 0,
                           'efficiency': iops / (k * base) if base else 0,
                           'oversubscribed': n < 2 * k})
            print('.', end='', flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return {'cpus': n, 'target_cpus': tcpus, 'perf_cpus': pcpus, 'points': points}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true',
                    help='slices of 0.5 s, 3 that count per row (default)')
    ap.add_argument('--full', action='store_true', help='slices of 2 s')
    ap.add_argument('--smoke', action='store_true',
                    help='3 rows of one 0.2 s slice: checks the plumbing')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--out', default=None)
    ap.add_argument('--target-cpu', type=int, default=0)
    ap.add_argument('--perf-cpu', type=int, default=1 if os.cpu_count() > 1 else 0)
    ap.add_argument('--scale', action='store_true',
                    help='only the many-core sweep: one null controller over 1, 2, 4 ... '
                         'polling threads (half the CPUs, up to 64) and as many perf jobs')
    ap.add_argument('--scale-max', type=int, metavar='K',
                    help='with --scale: go up to K threads a side even past half the CPUs '
                         '(then they share CPUs; the row says so)')
    ap.add_argument('--only', action='append', metavar='BACKEND:CONTROLLERS',
                    help='only these parts of the matrix, e.g. null:1 (repeatable)')
    ap.add_argument('--no-instr', action='store_true',
                    help='skip the callgrind instruction counts')
    ap.add_argument('--max-slices', type=int, default=MAX_SLICES, metavar='N',
                    help='row slices tried at most per row, waiting for one mode to have '
                         '%d kept ones (default %d)' % (MIN_SLICES, MAX_SLICES))
    a = ap.parse_args()
    if a.max_slices < 1:
        ap.error('--max-slices must be at least 1')
    secs = 2 if a.full else 0.2 if a.smoke else 0.5
    mode = 'full' if a.full else 'smoke' if a.smoke else 'quick'

    if a.scale:
        res = {'version': JSON_VERSION, 'mode': 'scale',
               'time_utc': datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'),
               'host': {'cpus': os.cpu_count(), 'model': cpu_model()},
               'seconds_per_run': secs, 'scale': scale_sweep(a, secs)}
        out = a.out or os.path.join(HERE, 'results',
                                    'scale-' + res['time_utc'].replace(':', '') + '.json')
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(res, f, indent=1)
        print('null 512 B randread, one controller, k polling threads and k perf jobs '
              '(%s)' % res['host']['model'])
        print('%4s %3s %9s %15s %12s %11s %10s' % ('qd', 'k', 'MIOPS', 'min-max', 'M/tgt core',
                                                'ns/IO/core', 'efficiency'))
        for p in res['scale']['points']:
            print('%4d %3d %9.3f %7.3f-%-7.3f %12.3f %11.1f %9.0f%%%s' % (
                p['qd'], p['threads_per_side'], p['iops'] / 1e6, p['iops_min'] / 1e6,
                p['iops_max'] / 1e6, p['iops_per_target_core'] / 1e6, p['target_ns_per_io'],
                100 * p['efficiency'], '  (more threads than CPUs)' if p['oversubscribed'] else ''))
        print('results: ' + os.path.relpath(out, ROOT))
        return
    cpus = '%d,%d' % (a.target_cpu, a.perf_cpu)
    ceil_bin = os.path.join(a.build, 'bench/ceiling')

    def ceiling_at(qd, seconds, driver=None):
        # (ops/s, whether its 50 ms windows stayed in one mode). driver
        # 'full': the same ceiling with a driver's work per command on its
        # host, the whole 64-byte entry written and each completion's CID
        # checked and marked, as libvnvme does (docs/performance.md, "What a
        # driver's stores cost").
        cmd = [ceil_bin, '--cpus', cpus, '--seconds', str(seconds), '--qd', str(qd),
               '--queue-size', str(ring_for(qd)), '--json']
        if driver:
            cmd += ['--driver', driver]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)['results'][0]
        if r['cid_errors']:
            raise SystemExit('bench: bench/ceiling --driver %s saw %d CID errors at QD%d: '
                             'the ceiling is broken, not the device' % (driver, r['cid_errors'], qd))
        return r['ops'], modes.steady([r['window_ops_min'], r['window_ops_max']])

    def copy_ceiling_now(seconds):
        # What a 256 MiB ram namespace can give with no protocol at all:
        # random 512 B copies on the target's CPU (bench/ceiling --copy).
        out = subprocess.run([ceil_bin, '--copy', str(RAM_MIB), '--huge', '--cpus', cpus, '--seconds',
                              str(seconds), '--json'], capture_output=True, text=True,
                             check=True)
        return json.loads(out.stdout)['ops']

    # A first look at the ceilings, for the table's header and the JSON.
    ceil_out = subprocess.run([ceil_bin, '--cpus', cpus, '--seconds', str(secs), '--json'],
                              capture_output=True, text=True, check=True)
    ceiling = json.loads(ceil_out.stdout)
    ceil_by_qd = {r['qd']: r for r in ceiling['results']}
    copy_ceiling = json.loads(subprocess.run(
        [ceil_bin, '--copy', str(RAM_MIB), '--huge', '--cpus', cpus, '--seconds', str(secs), '--json'],
        capture_output=True, text=True, check=True).stdout)

    need, tries = (1, 3) if a.smoke else (MIN_SLICES, a.max_slices)
    rows = []
    history = {}  # kept ceilings so far, per queue depth: the modes while rows run
    matrix = [(b, n) for b in ('null', 'ram') for n in (1, 24)]
    if a.smoke:
        matrix = [('null', 1)]
    if a.only:
        want = {tuple(o.split(':')) for o in a.only}
        matrix = [(b, n) for b, n in matrix if (b, str(n)) in want]
        if not matrix:
            raise SystemExit('bench: --only matches nothing (null:1 null:24 ram:1 ram:24)')
    for backend, count in matrix:
        with tempfile.TemporaryDirectory(prefix='vnvme-bench-') as wd:
            t = Target(a.build, a.target_cpu, backend, count, wd)
            try:
                for rw in ('randread', 'randwrite'):
                    for bs in (512, 4096):
                        for qd in (1, 16, 128):
                            if a.smoke and (rw != 'randread' or bs != 512):
                                continue
                            copy = backend == 'ram' and bs == 512 and count == 1
                            drv = (backend == 'null' and count == 1 and bs == 512 and
                                   rw == 'randread' and qd in DRIVER_QDS)
                            rows.append(measure_row(
                                a, t, backend, count, rw, bs, qd, secs, need, tries,
                                lambda q=qd: ceiling_at(q, secs),
                                (lambda: copy_ceiling_now(secs)) if copy else None,
                                history.setdefault(qd, []),
                                (lambda q=qd: ceiling_at(q, secs, 'full')) if drv else None))
                            print('.', end='', flush=True, file=sys.stderr)
            finally:
                t.stop()
    print(file=sys.stderr)
    found = finish_rows(rows, need)

    instr = []
    if not a.smoke and not a.no_instr:
        if subprocess.run(['sh', '-c', 'command -v valgrind'], capture_output=True).returncode:
            print('bench: valgrind not found: no instruction counts', file=sys.stderr)
        else:
            ios = 500000 if a.full else 200000
            instr = [instructions(a.build, a.target_cpu, a.perf_cpu, ios, qd) for qd in (16, 128)]

    result = {
        'version': JSON_VERSION,
        'mode': mode,
        'time_utc': datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'),
        'host': {'cpus': os.cpu_count(), 'model': cpu_model()},
        'target_cpu': a.target_cpu, 'perf_cpu': a.perf_cpu, 'seconds_per_row': secs,
        'ceiling': ceiling,
        'copy_ceiling': copy_ceiling,
        'ceil_agree': modes.CEIL_AGREE, 'mode_gap': modes.MODE_GAP,
        'min_slices': need, 'max_slices': tries,
        'modes': found,
        'rows': rows,
        'instructions': instr,
    }
    out = a.out or os.path.join(HERE, 'results', result['time_utc'].replace(':', '') + '.json')
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(result, f, indent=1)

    print('ceiling (SQ/CQ pair, two pinned threads): ' + ', '.join(
        'QD%d %.2f M ops/s' % (r['qd'], r['ops'] / 1e6) for r in ceiling['results']) +
        ' ; QD1 median round trip %d ns' % ceil_by_qd[1]['rtt_median_ns'])
    print('copy ceiling (random 512 B copies out of %d MiB on %s pages, one core): %.2f M/s' % (
        RAM_MIB, copy_ceiling.get('pages', '4K'), copy_ceiling['ops'] / 1e6))
    print('modes (clusters of the kept ceilings, fastest first): ' + '; '.join(
        'QD%s %s' % (qd, ', '.join('%s %.2f-%.2f M (%d)' % (
            m['mode'], m['ceiling_min'] / 1e6, m['ceiling_max'] / 1e6, m['slices'])
            for m in ms) or 'none kept') for qd, ms in found.items()))
    print('%-5s %5s %-9s %5s %4s %9s %9s %8s %8s %9s %6s %7s %13s %5s %-5s %s' % (
        'be', 'ctrls', 'rw', 'bs', 'qd', 'MIOPS', 'MiB/s', 'p50 ns', 'p99 ns', 'p99.9 ns',
        'busy', 'ceil%', 'min-max %', 'kept', 'mode', 'notes'))
    for r in rows:
        others = ', '.join('%s %d: %.1f%%' % (m, st['slices'], st['ratio'] * 100)
                           for m, st in sorted(r['modes'].items(),
                                               key=lambda x: -x[1]['ceiling_ops'])
                           if m != r['mode'])
        head = '%-5s %5d %-9s %5d %4d ' % (r['backend'], r['controllers'], r['rw'], r['bs'],
                                          r['qd'])
        if not r['resolved']:
            print(head + 'unresolved: no mode got %d kept slices of %d tried (%s)' % (
                need, r['slices_tried'], others or 'none kept'))
            continue
        p = r['lat_ns']['percentiles']
        notes = []
        if r.get('ratio_to_driver_ceiling') is not None:
            notes.append('drv %.1f%%' % (r['ratio_to_driver_ceiling'] * 100))
        if r.get('vs_one_controller'):
            notes.append('x1 %.0f%%' % (r['vs_one_controller'] * 100))
        others = ', '.join(notes + ([others] if others else []))
        print(head + '%9.3f %9.1f %8d %8d %9d %5.0f%% %6.1f%% %6.1f-%-6.1f %2d/%-2d %-5s %s' % (
            r['iops'] / 1e6, r['mib_s'], p['50'], p['99'], p['99.9'], r['target_busy'] * 100,
            r['ratio_to_ceiling'] * 100, r['ratio_min'] * 100, r['ratio_max'] * 100,
            r['modes'][r['mode']]['slices'], r['slices_tried'], r['mode'], others))
    for i in instr:
        print('instructions per I/O (callgrind, %d null 512 B reads, QD%d): target %.1f, '
              'driver + perf %.1f (%.1f with the polls that found nothing)' % (
                  i['ios'], i['qd'], i['target_per_io'], i['driver_perf_per_io'],
                  i['driver_perf_raw_per_io']))
    print('results: ' + os.path.relpath(out, ROOT))


def cpu_model():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return 'unknown'


if __name__ == '__main__':
    main()
