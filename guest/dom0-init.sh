#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# /init of dom0: start the Xen tools, create the domU described by the
# overlay in /xc (kernel, initramfs, config, time limit), stream its console
# to ours with a "domU| " prefix, and power the machine off when the domU
# is gone or its time is up. Init must never exit: Xen would report a
# crashed dom0 and hang instead of powering off.
export PATH=/usr/lib/xen-4.20/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "xc-dom0: $*"; }
poweroff_now() {
	say "powering off"
	sleep 1
	echo o >/proc/sysrq-trigger
	sleep 60
}
trap poweroff_now EXIT

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# /run first, then what lives in it (a tmpfs mounted later would hide it).
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/lock /var/log/xen/console /var/lib/xen /var/lib/xenstored
echo 1 >/proc/sys/kernel/sysrq

. /xc/params
say "dom0 up: $(uname -r), Xen $(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)"
modprobe -a xen-evtchn xenfs xen-privcmd xen-gntdev xen-gntalloc || say "modprobe failed"
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xenstored.pid || { say "xenstored failed"; exit 1; }
xen-init-dom0 >/dev/null || { say "xen-init-dom0 failed"; exit 1; }
xenconsoled --log=guest --log-dir=/var/log/xen/console || { say "xenconsoled failed"; exit 1; }

say "creating domU ($DOMU_VCPUS vCPUs, $DOMU_MEMORY MiB, limit ${DOMU_TIMEOUT} s)"
t0=$(date +%s)
if ! xl create /xc/domu.cfg >/tmp/xl-create.log 2>&1; then
	cat /tmp/xl-create.log
	say "xl create failed"
	exit 1
fi
log=/var/log/xen/console/guest-xcdomu.log
touch "$log"
tail -n +1 -F "$log" 2>/dev/null | while IFS= read -r l; do printf 'domU| %s\n' "${l%$'\r'}"; done &
streamer=$!

verdict="domU shut down"
ended=""
# Every xl call is bounded: a stuck toolstack must not stall the loop.
while :; do
	timeout 20 xl domid xcdomu >/dev/null 2>&1
	case $? in
	0) ;;
	124) say "xl domid did not answer in 20 s" ;;
	*) break ;;
	esac
	now=$(date +%s)
	if [ $((now - t0)) -ge "$DOMU_TIMEOUT" ]; then
		verdict="domU timed out after $DOMU_TIMEOUT s"
		timeout 20 xl destroy xcdomu
		break
	fi
	# A domU whose plan is over but that does not go away (under TCG its halt
	# has been seen to hang once in a while) is destroyed after 30 s.
	if [ -z "$ended" ] && grep -q '^# xen-clock: end of plan' "$log"; then
		ended=$now
		say "domU finished its plan: $(timeout 20 xl list xcdomu 2>&1 | tail -1)"
	fi
	if [ -n "$ended" ] && [ $((now - ended)) -ge 30 ]; then
		verdict="domU finished its plan but did not power off in 30 s: destroyed"
		timeout 20 xl destroy xcdomu
		break
	fi
	sleep 1
done
sleep 2
kill "$streamer" 2>/dev/null
say "$verdict after $(($(date +%s) - t0)) s"
