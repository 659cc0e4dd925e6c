#!/usr/bin/env python3
"""Run the shell blocks of README.md and docs/*.md marked as runnable: TAP.

A block is runnable when its fence's info string is `sh runnable`:

    ```sh runnable
    build/src/perf/vnvme-perf --help
    ```

The blocks of one file run in file order, each in its own `bash -e -o
pipefail`, from a scratch directory whose `build` is the build under test
and whose other entries link to the source tree (so `build/src/...` and
`examples/...` work as written, and what a block writes stays out of the
tree). What the reader would run differs in three ways only:
  - /tmp/vnvme/ becomes a fresh directory per file, so the run neither
    meets nor disturbs a target of the machine's;
  - --runtime N becomes --runtime 0.5 and --seconds N --seconds 0.2;
  - after the file, every process named by a *.pid in that directory is
    killed (the blocks start their targets with --daemonize --pidfile).
Usage: test_docs.py SRCDIR BUILDDIR
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FENCE = re.compile(r'^```(.*)$')
BLOCK_TIMEOUT = 120


def blocks(path):
    """(line, text) of each runnable block of the file at path."""
    out, cur, start = [], None, 0
    with open(path) as f:
        for i, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip('\n'))
            if cur is None:
                if m:
                    cur, start = ([] if m.group(1).split() == ['sh', 'runnable'] else False), i
            elif m and not m.group(1):
                if cur is not False:
                    out.append((start, ''.join(cur)))
                cur = None
            elif cur is not False:
                cur.append(line)
    return out


def rewrite(text, vdir):
    text = text.replace('/tmp/vnvme/', vdir + '/')
    text = re.sub(r'--runtime [0-9.]+', '--runtime 0.5', text)
    return re.sub(r'--seconds [0-9.]+', '--seconds 0.2', text)


def kill_pids(vdir):
    """SIGTERM to every process of a *.pid there, then wait (SIGKILL after 10 s)."""
    pids = []
    for pf in glob.glob(os.path.join(vdir, '*.pid')):
        try:
            pid = int(open(pf).read().split()[0])
            os.kill(pid, signal.SIGTERM)
            pids.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    for _ in range(200):
        pids = [p for p in pids if alive(p)]
        if not pids:
            return
        time.sleep(0.05)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def main():
    src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    files = [os.path.join(src, 'README.md')] + sorted(glob.glob(os.path.join(src, 'docs', '*.md')))
    scratch = tempfile.mkdtemp(prefix='vnvme-docs-')
    n = failed = 0
    try:
        for path in files:
            rel = os.path.relpath(path, src)
            found = blocks(path)
            if not found:
                continue
            work = os.path.join(scratch, rel.replace('/', '_') + '.d')
            vdir = os.path.join(work, 'vnvme')
            os.makedirs(vdir)
            for e in os.listdir(src):
                if e != 'build' and not e.startswith('.'):
                    os.symlink(os.path.join(src, e), os.path.join(work, e))
            os.symlink(build, os.path.join(work, 'build'))
            try:
                for line, text in found:
                    n += 1
                    log = os.path.join(work, 'block-%d.log' % line)
                    # Output to a file: a daemon keeps it open, a pipe would wait for it.
                    t0 = time.monotonic()
                    with open(log, 'w') as out:
                        try:
                            rc = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c',
                                                 rewrite(text, vdir)],
                                                cwd=work, stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=subprocess.STDOUT,
                                                timeout=BLOCK_TIMEOUT).returncode
                        except subprocess.TimeoutExpired:
                            rc = 'timeout after %d s' % BLOCK_TIMEOUT
                    took = time.monotonic() - t0
                    if rc == 0:
                        print('ok %d - %s:%d (%.1f s)' % (n, rel, line, took))
                    else:
                        failed += 1
                        print('not ok %d - %s:%d (exit %s)' % (n, rel, line, rc))
                        for l in rewrite(text, vdir).splitlines():
                            print('#   $ ' + l)
                        for l in open(log, errors='replace').read().splitlines()[-40:]:
                            print('# ' + l)
            finally:
                t0 = time.monotonic()
                kill_pids(vdir)
                print('# %s: targets stopped in %.1f s' % (rel, time.monotonic() - t0))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print('1..%d' % n)
    if n == 0:
        print('Bail out! no runnable block in README.md or docs/*.md')
        return 1
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
