#!/usr/bin/env python3
"""vnvme benchmark runner (make bench).

The matrix: backends null and ram; 512 B and 4 KiB; randread and randwrite;
QD 1, 16, 128; one controller and 24 controllers on one target polling
thread. vnvme-target is pinned to one CPU, vnvme-perf to another. Each row:
IOPS, MiB/s, latency percentiles, the target thread's busy share, and the
ratio to the protocol ceiling (bench/ceiling) at the same queue depth.

The ceiling is measured beside every row, on the same CPUs, in alternating
slices: ceiling, row, ceiling, row, ceiling ... A row slice counts only when
the two ceilings around it agree (within CEIL_AGREE): the machines these
runs get switch between performance modes from one moment to the next, and a
row measured across a switch would compare one mode with the other. The row
takes slices until MIN_SLICES of them count (at most MAX_SLICES) and reports
the median ratio, its min and max, and the mode (ceiling level) of each
slice: see docs/performance.md, "Measurement".

Usage: bench/run.py [--quick | --full] [--build DIR] [--out FILE] [--smoke]
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
RAM_MIB = 256  # the ram namespaces' size
CEIL_AGREE = 1.15  # neighbouring ceilings agree when max / min is at most this
MIN_SLICES = 3     # slices that count, per row
MAX_SLICES = 8     # slices tried, per row
MODE_HIGH = 0.7    # a slice's ceiling >= this x the run's highest: mode 'high'
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
                                'size': '1T' if backend == 'null' else '%dM' % RAM_MIB}],
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


def perf(build, cpu, sockets, rw, bs, qd, seconds):
    cmd = [os.path.join(build, 'src/perf/vnvme-perf'), '--rw', rw, '--bs', str(bs),
           '--qd', str(qd), '--runtime', str(seconds), '--cpus', str(cpu), '--json', '--quiet']
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


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def measure_row(a, t, backend, count, rw, bs, qd, secs, need, tries, ceil_fn, copy_fn):
    """One row in alternating slices: ceiling, row, ceiling, row ... A row
    slice counts when the ceilings on either side agree within CEIL_AGREE;
    its ratio is to their mean. Stops once `need` slices count or after
    `tries` row slices."""
    slices = []
    before = ceil_fn()
    copy_before = copy_fn() if copy_fn else None
    for _ in range(tries):
        b0, i0 = t.snapshot()
        r = perf(a.build, a.perf_cpu, t.sockets, rw, bs, qd, secs)
        b1, i1 = t.snapshot()
        after = ceil_fn()
        copy_after = copy_fn() if copy_fn else None
        side = r['read'] if rw == 'randread' else r['write']
        lo, hi = min(before, after), max(before, after)
        ceil = (before + after) / 2
        sl = {'ceiling_before': before, 'ceiling_after': after, 'iops': side['iops'],
              'ratio': side['iops'] / ceil if ceil else 0,
              'kept': bool(lo > 0 and hi / lo <= CEIL_AGREE and r['errors'] == 0),
              'errors': r['errors'], 'busy': (b1 - b0) / max(1, (b1 - b0) + (i1 - i0)),
              'side': side}
        if copy_fn:
            cc = (copy_before + copy_after) / 2
            sl['copy_ceiling'] = cc
            sl['ratio_to_copy_ceiling'] = side['iops'] / cc if cc else 0
            copy_before = copy_after
        slices.append(sl)
        before = after
        if sum(s['kept'] for s in slices) >= need:
            break
    kept = [s for s in slices if s['kept']]
    use = kept or slices  # none agreed: report all, flagged
    ratios = [s['ratio'] for s in use]
    mid = sorted(use, key=lambda s: s['ratio'])[len(use) // 2]  # the median slice
    row = {
        'backend': backend, 'controllers': count, 'rw': rw, 'bs': bs, 'qd': qd,
        'iops': median([s['iops'] for s in use]),
        'mib_s': median([s['iops'] for s in use]) * bs / 1048576,
        'lat_ns': mid['side']['lat_ns'],
        'errors': sum(s['errors'] for s in slices),
        'target_busy': round(median([s['busy'] for s in use]), 3),
        'ceiling_ops': median([(s['ceiling_before'] + s['ceiling_after']) / 2 for s in use]),
        'ratio_to_ceiling': median(ratios),
        'ratio_min': min(ratios), 'ratio_max': max(ratios),
        'slices_kept': len(kept), 'slices_tried': len(slices),
        'reliable': len(kept) >= need,
        'slices': [{k: v for k, v in s.items() if k != 'side'} for s in slices],
    }
    row['target_idle'] = round(1 - row['target_busy'], 3)
    if copy_fn:
        row['ratio_to_copy_ceiling'] = median([s['ratio_to_copy_ceiling'] for s in use])
    return row


def label_modes(rows):
    """The mode of each slice: 'high' when the ceiling around it is at least
    MODE_HIGH x the highest seen at that queue depth in this run, else
    'low'. A row lists the modes of the slices it counted."""
    top = {}
    for r in rows:
        for s in r['slices']:
            c = (s['ceiling_before'] + s['ceiling_after']) / 2
            top[r['qd']] = max(top.get(r['qd'], 0), c)
    for r in rows:
        for s in r['slices']:
            c = (s['ceiling_before'] + s['ceiling_after']) / 2
            s['mode'] = 'high' if c >= MODE_HIGH * top[r['qd']] else 'low'
        counted = [s for s in r['slices'] if s['kept']] or r['slices']
        r['modes'] = sorted({s['mode'] for s in counted})


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
            iops = median(runs)
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
    a = ap.parse_args()
    secs = 2 if a.full else 0.2 if a.smoke else 0.5
    mode = 'full' if a.full else 'smoke' if a.smoke else 'quick'

    if a.scale:
        res = {'version': 2, 'mode': 'scale',
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

    def ceiling_at(qd, seconds):
        out = subprocess.run([ceil_bin, '--cpus', cpus, '--seconds', str(seconds), '--qd',
                              str(qd), '--json'], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)['results'][0]['ops']

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

    need, tries = (1, 3) if a.smoke else (MIN_SLICES, MAX_SLICES)
    rows = []
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
                            rows.append(measure_row(
                                a, t, backend, count, rw, bs, qd, secs, need, tries,
                                lambda q=qd: ceiling_at(q, secs),
                                (lambda: copy_ceiling_now(secs)) if copy else None))
                            print('.', end='', flush=True, file=sys.stderr)
            finally:
                t.stop()
    print(file=sys.stderr)
    label_modes(rows)

    instr = []
    if not a.smoke and not a.no_instr:
        if subprocess.run(['sh', '-c', 'command -v valgrind'], capture_output=True).returncode:
            print('bench: valgrind not found: no instruction counts', file=sys.stderr)
        else:
            ios = 500000 if a.full else 200000
            instr = [instructions(a.build, a.target_cpu, a.perf_cpu, ios, qd) for qd in (16, 128)]

    result = {
        'version': 2,
        'mode': mode,
        'time_utc': datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'),
        'host': {'cpus': os.cpu_count(), 'model': cpu_model()},
        'target_cpu': a.target_cpu, 'perf_cpu': a.perf_cpu, 'seconds_per_row': secs,
        'ceiling': ceiling,
        'copy_ceiling': copy_ceiling,
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
    print('%-5s %5s %-9s %5s %4s %9s %9s %8s %8s %9s %6s %7s %13s %5s %-8s' % (
        'be', 'ctrls', 'rw', 'bs', 'qd', 'MIOPS', 'MiB/s', 'p50 ns', 'p99 ns', 'p99.9 ns',
        'busy', 'ceil%', 'min-max %', 'kept', 'mode'))
    for r in rows:
        p = r['lat_ns']['percentiles']
        print('%-5s %5d %-9s %5d %4d %9.3f %9.1f %8d %8d %9d %5.0f%% %6.1f%% %6.1f-%-6.1f %2d/%-2d %-8s%s' % (
            r['backend'], r['controllers'], r['rw'], r['bs'], r['qd'], r['iops'] / 1e6,
            r['mib_s'], p['50'], p['99'], p['99.9'], r['target_busy'] * 100,
            r['ratio_to_ceiling'] * 100, r['ratio_min'] * 100, r['ratio_max'] * 100,
            r['slices_kept'], r['slices_tried'], '+'.join(r['modes']),
            '' if r['reliable'] else '  (too few slices between agreeing ceilings)'))
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
