#!/bin/sh
# Run the suites of both builds, then print one summary line for CI.
build=${1:-build}
san=${2:-build-san}
rm -f "$build/meson-logs/testlog.json" "$san/meson-logs/testlog.json"
echo "== $build (gcc): unit, integration, style, bench smoke, docs"
meson test -C "$build" --suite unit --suite integration --suite style --suite bench --suite docs --print-errorlogs -q
echo "== $san (clang, ASan+UBSan): unit, integration, fuzz"
meson test -C "$san" --suite unit --suite integration --suite fuzz --print-errorlogs -q
exec python3 tools/summary.py "$build/meson-logs/testlog.json:gcc" "$san/meson-logs/testlog.json:asan"
