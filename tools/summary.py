#!/usr/bin/env python3
"""Count test cases across meson test logs and print 'N passed, N failed'.

TAP tests (cmocka with CMOCKA_MESSAGE_OUTPUT=TAP) count each test case; other
tests count once. Exit status 1 if anything failed or no test ran.
"""
import json
import re
import sys

TAP = re.compile(r'^(not ok|ok)\b(.*)$')

passed = failed = skipped = 0
for arg in sys.argv[1:]:
    path, _, tag = arg.partition(':')
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print(f'{tag}: no test log ({e})')
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        name, result = t.get('name', '?'), t.get('result', '?')
        p = f = s = 0
        for out in (t.get('stdout') or '').splitlines():
            m = TAP.match(out.strip())
            if not m:
                continue
            if '# SKIP' in m.group(2).upper():
                s += 1  # TAP: 'ok N # SKIP' and 'not ok N # SKIP' are skips
            elif m.group(1) == 'not ok':
                f += 1
                print(f'FAIL {tag} {name}: {out.strip()}')
            else:
                p += 1
        if result in ('FAIL', 'TIMEOUT', 'ERROR', 'UNEXPECTEDPASS') and f == 0:
            f = 1
            p = 0 if p == 0 else p
            print(f'FAIL {tag} {name}: {result}')
        if p + f + s == 0:
            if result == 'SKIP':
                s = 1
            elif result in ('OK', 'EXPECTEDFAIL'):
                p = 1
        passed += p
        failed += f
        skipped += s
if passed + failed == 0:
    failed = 1
    print('no test ran')
print(f'{passed} passed, {failed} failed, {skipped} skipped')
sys.exit(1 if failed else 0)
