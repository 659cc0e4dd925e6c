#!/bin/sh
# /init of the vnvme-vm guest (busybox sh, PID 1). Mounts the pseudo file
# systems, loads the modules, runs the scenarios named in /etc/vnvme-vm.conf
# one by one, each bounded by `timeout`, and powers off. The console
# (ttyS0) gets every scenario's output between "@@vnvme-vm begin NAME" and
# "@@vnvme-vm end NAME"; the results go to the second serial port (ttyS1)
# alone, where no kernel message can interleave:
#   R NAME pass|fail|skip SECONDS NOTE...
#   J NAME {json on one line}          (fio's or vnvme-perf's output)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/local/lib
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/hugepages /tmp /mnt /root /var/tmp
mount -t hugetlbfs none /dev/hugepages
mount -t tmpfs tmp /tmp
echo "@@vnvme-vm init $(uname -r)"

. /etc/vnvme-vm.conf
stty -F /dev/ttyS1 raw -echo 2>/dev/null

# crc32c before ext4 ("Cannot load crc32c driver" otherwise); the crypto
# providers of the T10 PI checksums before nvme.
for m in crc32c_generic crct10dif_generic crc64_rocksoft_generic; do
	modprobe $m 2>/dev/null
done
modprobe nvme poll_queues=$VM_POLL_QUEUES || echo "@@vnvme-vm modprobe nvme failed"

start=$(cut -d' ' -f1 /proc/uptime)
for s in $VM_SCENARIOS; do
	echo "@@vnvme-vm begin $s"
	t0=$(cut -d' ' -f1 /proc/uptime)
	rm -f /tmp/result
	timeout -s KILL "$VM_SCENARIO_TIMEOUT" sh -c ". /usr/share/vnvme-vm/scenarios.sh; scen_run $s"
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
	note=""
	[ -f /tmp/result ] && note=$(cat /tmp/result)
	case $rc in
	0) st=pass ;;
	77) st=skip ;;
	137) st=fail; note="timed out after ${VM_SCENARIO_TIMEOUT}s $note" ;;
	*) st=fail; note="exit $rc $note" ;;
	esac
	for j in /tmp/json.*; do
		[ -f "$j" ] || continue
		printf 'J %s %s\n' "${j#/tmp/json.}" "$(tr -d '\n\t' < "$j")" >/dev/ttyS1
		rm -f "$j"
	done
	printf 'R %s %s %s %s\n' "$s" "$st" "$secs" "$note" >/dev/ttyS1
	echo "@@vnvme-vm end $s $st"
done
echo "@@vnvme-vm done"
printf 'D\n' >/dev/ttyS1
sync
poweroff -f
