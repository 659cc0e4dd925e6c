#!/bin/sh
# Install the Debian packages vnvme needs, if any is missing. Each is chosen
# on purpose: meson+ninja (build), gcc and clang (both compilers are kept
# clean; clang brings the sanitizers and libFuzzer), json-c (vfio-user
# capabilities JSON), cmocka (unit tests), liburing (file backend),
# python3 (test summary), systemtap-sdt-dev (sys/sdt.h: the USDT probes that
# let bpftrace and perf attribute latency, docs/attribution.md). For the guest test vehicle (guest/vnvme-vm):
# qemu-system-x86 runs the guest; fio, nvme-cli and e2fsprogs are copied
# into it. Its kernel and busybox-static are only downloaded (apt-get
# download into a cache), never installed.
set -e
pkgs="meson ninja-build gcc clang libclang-rt-14-dev pkg-config libjson-c-dev libcmocka-dev liburing-dev python3 clang-format
	systemtap-sdt-dev
	qemu-system-x86 fio nvme-cli e2fsprogs"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "vnvme: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "vnvme: apt-get update failed; trying the cached package lists"
$SUDO apt-get install -y -qq --no-install-recommends $missing
