#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the domU under test (busybox). Runs the plan named in /plan.txt and
# prints it as TAP: the plan line first, one result line per test, program
# output as "# " diagnostics, and a fixed end marker the host looks for.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/xc
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /dev/mqueue && mount -t mqueue mqueue /dev/mqueue
# The console gets everything up to KERN_INFO (loglevel=7 on the command line), so that the
# host sees what a crashed or hung guest no longer can report itself, segfaults and traps
# included (KERN_INFO).

# What the host passed on (scripts/build-guest.sh): LAT_ROUNDS, LAT_SAMPLES, LAT_WARMUP.
. /xc/settings.sh
. /xc/tests.sh
# An experiment's tests (experiments/known-failure/), when its plan runs.
[ -f /xc/exp-tests.sh ] && . /xc/exp-tests.sh

# A boot of the boot-time comparison (guest/dom0-init.sh, boot_ab): its report, then its
# kernel log and interrupt counts for dom0's log (where the two drivers' boots part), and gone.
case " $(cat /proc/cmdline) " in
*" xc_boot_ab="*)
	echo "xc-boot-ab: $(boot_ab_report)"
	{ dmesg; grep -E 'timer|resched|callfunc' /proc/interrupts; } | sed 's/^/xc-boot-ab-log: /'
	sleep 1
	reboot -f
	;;
esac

# The tests are shell functions run in this shell: these names must not clash with theirs.
# A plan line is a test name, optionally followed by what the host reads (expect-skip: ...).
tests=$(awk '!/^#/ && NF { print $1 }' /plan.txt)
tap_total=$(echo $tests | wc -w)
echo "xc-domU: $(uname -r), $(nproc) CPUs, cmdline: $(cat /proc/cmdline)"
echo "TAP version 13"
echo "1..$tap_total"
tap_num=0
for tap_test in $tests; do
	tap_num=$((tap_num + 1))
	run_test "$tap_num" "$tap_test"
done
echo "# xen-clock: end of plan"
# Time for dom0's console daemon to read the last lines before the domain goes.
sleep 1
# Not poweroff: this kernel has no power-off handler, so poweroff ends in
# machine_halt(), after which the whole machine has been seen to go idle
# under TCG. A reboot goes straight to SCHEDOP_shutdown(reboot), which the
# domU's config turns into destroy.
reboot -f
