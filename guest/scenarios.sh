# The vnvme-vm guest's scenarios (busybox sh), sourced by /init in a child
# shell per scenario: `scen_run NAME`. Each returns 0 (pass), 77 (skip) or
# anything else (fail); `note` adds to the one-line note of the result, and
# a file /tmp/json.NAME is sent to the host as that scenario's measurements.
# The settings (VM_*) come from /etc/vnvme-vm.conf, written by vnvme-vm.

. /etc/vnvme-vm.conf

note() {
	printf '%s ' "$*" >>/tmp/result
}

# Controllers (nvme0 ...) in order, and the PCI function of one.
ctrls() {
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c" ] && echo "${c##*/}"
	done
}
bdf_of() {
	l=$(readlink "/sys/class/nvme/$1/device")
	echo "${l##*/}"
}
# The first namespace's block device of every controller, as fio wants
# them: /dev/nvme0n1:/dev/nvme1n1.
ns_list() {
	sep=""
	for c in $(ctrls); do
		for b in /sys/class/nvme/$c/nvme*n1 /sys/class/nvme/$c/${c}n1; do
			if [ -e "$b" ]; then
				printf '%s/dev/%s' "$sep" "${b##*/}"
				sep=":"
				break
			fi
		done
	done
}

wait_live() {
	i=0
	while [ $i -lt 200 ]; do
		[ "$(cat /sys/class/nvme/$1/state 2>/dev/null)" = live ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# All controllers up, each with a namespace.
scen_probe() {
	i=0
	while [ $i -lt 200 ]; do
		n=$(ns_list | tr ':' '\n' | grep -c dev)
		[ "$n" -ge "$VM_DEVICES" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for c in $(ctrls); do
		b=$(bdf_of $c)
		d=/sys/bus/pci/devices/$b
		echo "$c $b $(cat $d/vendor):$(cat $d/device) '$(cat /sys/class/nvme/$c/model)'" \
		    "state $(cat /sys/class/nvme/$c/state) queues $(ls /sys/block/${c}n1/mq 2>/dev/null | wc -l)"
	done
	echo "namespaces: $(ns_list)"
	n=$(ns_list | tr ':' '\n' | grep -c dev)
	note "$n of $VM_DEVICES controllers with a namespace"
	[ "$n" -ge "$VM_DEVICES" ]
}

scen_nvme_cli() {
	nvme list || return 1
	for c in $(ctrls); do
		for cmd in "id-ctrl /dev/$c" "id-ns /dev/$c -n 1" "smart-log /dev/$c" \
		    "error-log /dev/$c -e 4" "get-feature /dev/$c -f 7 -H" \
		    "get-feature /dev/$c -f 8 -H"; do
			echo "# nvme $cmd"
			# shellcheck disable=SC2086
			if ! nvme $cmd; then
				note "nvme $cmd failed"
				return 1
			fi
		done
	done
}

# Write with verify (every block read back and checked), then timed
# random reads measured: $1 engine, then fio options.
fio_pair() {
	name=$1
	eng=$2
	shift 2
	files=$(ns_list)
	[ -n "$files" ] || { note "no namespace"; return 1; }
	fio --name=verify --filename="$files" --ioengine="$eng" --direct=1 --rw=randwrite \
	    --bs=4k --iodepth=16 --size="$VM_FIO_SIZE" --verify=crc32c --do_verify=1 \
	    --verify_fatal=1 "$@" || { note "verify failed"; return 1; }
	fio --name=randread --filename="$files" --ioengine="$eng" --direct=1 --rw=randread \
	    --bs=4k --iodepth=16 --time_based --runtime="$VM_RUNTIME" --output-format=json \
	    --output="/tmp/json.$name" "$@" || { note "randread failed"; return 1; }
}

scen_fio_libaio() {
	fio_pair fio-libaio libaio
}

scen_fio_io_uring() {
	fio_pair fio-io_uring io_uring
}

# Polled queues (nvme poll_queues=, loaded so by /init) and io_uring hipri.
scen_fio_poll() {
	f=$(ns_list)
	b=${f%%:*}
	if [ "$(cat /sys/block/${b#/dev/}/queue/io_poll 2>/dev/null)" != 1 ]; then
		note "no poll queue on ${b#/dev/}"
		return 77
	fi
	fio_pair fio-poll io_uring --hipri
}

scen_ext4() {
	f=$(ns_list)
	dev=${f%%:*}
	modprobe ext4 || return 1
	mkfs.ext4 -F -q "$dev" || { note "mkfs failed"; return 1; }
	mount -t ext4 "$dev" /mnt || { note "mount failed"; return 1; }
	i=0
	while [ $i -lt 8 ]; do
		dd if=/dev/urandom of=/mnt/f$i bs=64k count=16 2>/dev/null || return 1
		i=$((i + 1))
	done
	(cd /mnt && md5sum f*) >/tmp/sums
	umount /mnt || return 1
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 "$dev" /mnt || { note "second mount failed"; return 1; }
	(cd /mnt && md5sum -c /tmp/sums) || { note "files differ after remount"; umount /mnt; return 1; }
	umount /mnt
	note "8 files of 1 MiB written, read back after remount"
}

# Controller reset through sysfs, idle and then under I/O: fio must finish
# without an error and the data it wrote must verify.
scen_reset() {
	c=$(ctrls | head -n 1)
	f=$(ns_list)
	dev=${f%%:*}
	echo 1 >/sys/class/nvme/$c/reset_controller || { note "reset write failed"; return 1; }
	wait_live $c || { note "not live after an idle reset"; return 1; }
	fio --name=after-reset --filename="$dev" --ioengine=libaio --direct=1 --rw=read --bs=4k \
	    --size=1M || { note "read after idle reset failed"; return 1; }
	fio --name=under-reset --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
	    --bs=4k --iodepth=16 --size=8M --verify=crc32c --do_verify=1 --verify_fatal=1 \
	    --loops=1000 --time_based --runtime=$((VM_RUNTIME + 2)) &
	pid=$!
	sleep 1
	echo 1 >/sys/class/nvme/$c/reset_controller || { note "reset under I/O failed"; kill $pid; return 1; }
	wait_live $c || { note "not live after a reset under I/O"; kill $pid; return 1; }
	wait $pid || { note "fio failed across the reset"; return 1; }
	note "idle and under I/O"
}

# NVMe PCI functions (class 0x010802), whatever they are bound to.
nvme_bdfs() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/class)" = 0x010802 ] && echo "${d##*/}"
	done
}

# Rebind every NVMe function to $1 (uio_pci_generic or vfio-pci) as the
# reference procedure does: unbind, then `echo VVVV DDDD > .../new_id`.
# Sets $args to vnvme-perf's --pci options.
rebind() {
	drv=$1
	ids=""
	args=""
	for b in $(nvme_bdfs); do
		d=/sys/bus/pci/devices/$b
		id="$(sed 's/^0x//' $d/vendor) $(sed 's/^0x//' $d/device)"
		[ -e $d/driver ] && echo "$b" >$d/driver/unbind
		case "$ids" in *"$id"*) ;; *) ids="$ids|$id" ;; esac
		args="$args --pci $b"
	done
	[ -n "$args" ] || { note "no NVMe PCI function"; return 1; }
	for id in $(echo "$ids" | tr ' |' '_ '); do
		id=$(echo "$id" | tr '_' ' ')
		echo "# echo $id > /sys/bus/pci/drivers/$drv/new_id"
		echo "$id" >/sys/bus/pci/drivers/$drv/new_id
	done
	for b in $(nvme_bdfs); do
		if [ ! -e /sys/bus/pci/drivers/$drv/$b ]; then
			# new_id binds only unbound functions; one bound to our
			# driver's other dynamic ID is probed again here.
			echo "$b" >/sys/bus/pci/drivers/$drv/bind 2>/dev/null
		fi
		[ -e /sys/bus/pci/drivers/$drv/$b ] || { note "$b not bound to $drv"; return 1; }
	done
}

# vnvme-perf through libvnvme's PCI transport: verify, then 512 B randread
# QD16 measured into /tmp/json.$1.
perf_pair() {
	# shellcheck disable=SC2086
	vnvme-perf $args --verify --range 2048 --quiet || { note "vnvme-perf --verify failed"; return 1; }
	# shellcheck disable=SC2086
	vnvme-perf $args --rw randread --bs 512 --qd 16 --runtime "$VM_RUNTIME" --quiet --json \
	    >/tmp/json.$1 || { note "vnvme-perf randread failed"; return 1; }
	note "verify, then 512 B randread QD16"
}

# The user-space path: uio_pci_generic, hugepages, polled queues.
scen_uio() {
	command -v vnvme-perf >/dev/null || { note "no vnvme-perf in the guest"; return 77; }
	modprobe uio_pci_generic || return 1
	echo 64 >/proc/sys/vm/nr_hugepages
	rebind uio_pci_generic || return 1
	ls -l /dev/uio*
	perf_pair uio
}

# vfio-pci behind QEMU's intel-iommu (vnvme-vm adds it and intel_iommu=on
# iommu=pt when this scenario is chosen): DMA memory mapped through the IOMMU.
scen_vfio() {
	command -v vnvme-perf >/dev/null || { note "no vnvme-perf in the guest"; return 77; }
	if [ -z "$(ls /sys/class/iommu 2>/dev/null)" ]; then
		note "no IOMMU in the guest (vnvme-vm --iommu)"
		return 77
	fi
	modprobe vfio-pci || return 1
	modprobe vfio_iommu_type1 || return 1
	echo 64 >/proc/sys/vm/nr_hugepages
	rebind vfio-pci || return 1
	ls -l /dev/vfio
	perf_pair vfio
}

# The user's scenario (--script): its exit status is the result.
scen_script() {
	[ -f /usr/share/vnvme-vm/user-script ] || { note "no --script given"; return 77; }
	sh /usr/share/vnvme-vm/user-script
}

scen_run() {
	f=scen_$(echo "$1" | tr '-' '_')
	if ! command -v "$f" >/dev/null; then
		note "unknown scenario $1"
		return 2
	fi
	"$f"
}
