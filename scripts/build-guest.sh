#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-guest.sh PLANFILE OUTDIR: pack the domU under test and hand it to dom0.
#  - the domU initramfs: busybox, the driver module, the selftest programs,
#    /init and the test plan PLANFILE (guest/plans/*.txt, or an experiment's);
#  - a small overlay cpio for dom0 (/xc: domU kernel, initramfs, xl config,
#    time limit), appended to the cached dom0 rootfs cpio: the kernel
#    unpacks concatenated archives in order, so dom0's big archive is never
#    rebuilt for a new driver.
# Settings from the environment: DOMU_TYPE (pv or pvh), DOMU_VCPUS (2), DOMU_MEMORY (512),
# DOMU_TIMEOUT (900 s), DOMU_EXTRA (guest command line additions), DOMU_KERNEL,
# DOMU_CFG (lines added to the xl config), BOOT_AB_ROUNDS (5: the boots of each driver for a
# plan with boot_time_vs_c),
# XC_BUILTIN=1 (the kernel with the driver built in), XC_VANILLA=1 (no driver),
# XC_SABOTAGE=corrupt-ko (truncate the module on purpose, to see the
# tests fail), LAT_ROUNDS, LAT_SAMPLES and LAT_ARMS (the timer latency benchmark's
# rounds, sleeps per arm and arms besides the C device, passed to the guest's tests).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

planfile=$1
out=$2
[ -f "$planfile" ] || die "no plan $planfile"
plan=$(basename "$planfile" .txt)
type=${DOMU_TYPE:-pv}
case $type in pv | pvh) ;; *) die "DOMU_TYPE must be pv or pvh, not $type" ;; esac

stage "guest initramfs (plan: $plan, $type)"
g=$(mktemp -d)
trap 'rm -rf "$g"' EXIT
mkdir -p "$g/domu/bin" "$g/domu/xc/ksft" "$g/domu/proc" "$g/domu/sys" "$g/domu/dev" \
	"$g/domu/tmp" "$g/dom0/xc"
cp /bin/busybox "$g/domu/bin/busybox"
install -m 0755 "$REPO/guest/domu-init.sh" "$g/domu/init"
cp "$REPO/guest/tests.sh" "$REPO/guest/boot-ab.awk" "$REPO/guest/periodic-hz.awk" \
	"$REPO/guest/arm-order.awk" \
	"$REPO/selftests/xen-clock-handback.sh" \
	"$REPO/selftests/xen-clock-admin-sequence.sh" "$g/domu/xc/"
case $planfile in
*/experiments/known-failure/*) cp "$REPO/experiments/known-failure/tests.sh" "$g/domu/xc/exp-tests.sh" ;;
esac
cp "$planfile" "$g/domu/plan.txt"
: >"$g/domu/xc/settings.sh"
for v in LAT_ROUNDS LAT_SAMPLES LAT_WARMUP; do
	val=${!v:-}
	[ -z "$val" ] && continue
	case $v=$val in LAT_WARMUP=0) ;; *=*[!0-9]* | *=0) die "$v=$val: a positive number is needed" ;; esac
	echo "$v=$val" >>"$g/domu/xc/settings.sh"
done
if [ -n "${LAT_ARMS:-}" ]; then
	known="c2 rs rs_all rs_off rs_cs rs_hook rs_abs rs_read"
	for a in $LAT_ARMS; do
		case " $known " in *" $a "*) ;; *) die "LAT_ARMS: $a is not one of $known" ;; esac
	done
	echo "LAT_ARMS='$LAT_ARMS'" >>"$g/domu/xc/settings.sh"
fi
cp "$CACHE"/selftests/* "$g/domu/xc/ksft/" 2>/dev/null
rm -f "$g/domu/xc/ksft/build.log"
ko="$KOUT/drivers/clocksource/xen/xen_clock.ko"
if [ "${XC_BUILTIN:-0}" = 1 ]; then
	touch "$g/domu/xc/builtin"
elif [ "${XC_VANILLA:-0}" = 1 ]; then
	touch "$g/domu/xc/vanilla"
else
	[ -f "$ko" ] || die "$ko missing: is CONFIG_XEN_CLOCK_RUST=m?"
	cp "$ko" "$g/domu/xc/"
fi
# The tick rate the kernel was built with, for the periodic-tick test.
sed -n 's/^CONFIG_HZ=//p' "$KOUT/.config" >"$g/domu/xc/hz"
if [ "${XC_SABOTAGE:-}" = corrupt-ko ]; then
	note "XC_SABOTAGE=corrupt-ko: truncating xen_clock.ko to 4 KiB"
	truncate -s 4096 "$g/domu/xc/xen_clock.ko"
fi
(cd "$g/domu" && find . | cpio -o -H newc --quiet | gzip -1) >"$g/dom0/xc/initramfs.cpio.gz"
# DOMU_KERNEL: another domU kernel image (with XC_VANILLA=1, e.g. dom0's Debian kernel, as a
# control for the known failure of README.md).
cp "${DOMU_KERNEL:-$KOUT/arch/x86/boot/bzImage}" "$g/dom0/xc/bzImage"

cat >"$g/dom0/xc/domu.cfg" <<CFG
name = "xcdomu"
type = "$type"
kernel = "/xc/bzImage"
ramdisk = "/xc/initramfs.cpio.gz"
extra = "console=hvc0 panic=-1 loglevel=7 ${DOMU_EXTRA:-}"
memory = ${DOMU_MEMORY:-512}
vcpus = ${DOMU_VCPUS:-2}
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
${DOMU_CFG:-}
CFG
# A plan with the test boot_time_vs_c has dom0 boot the kernel BOOT_AB_ROUNDS times each way
# first (guest/dom0-init.sh, boot_ab).
ab=0
grep -q '^boot_time_vs_c\b' "$planfile" && ab=${BOOT_AB_ROUNDS:-5}
cat >"$g/dom0/xc/params" <<P
DOMU_TIMEOUT=${DOMU_TIMEOUT:-900}
DOMU_VCPUS=${DOMU_VCPUS:-2}
DOMU_MEMORY=${DOMU_MEMORY:-512}
BOOT_AB_ROUNDS=$ab
P
mkdir -p "$out"
(cd "$g/dom0" && find . | cpio -o -H newc --quiet) >"$out/overlay.cpio"
cat "$D0/rootfs.cpio" "$out/overlay.cpio" >"$out/dom0-initrd.cpio"
rm -f "$out/overlay.cpio"
note "domU: $(du -k "$g/dom0/xc/initramfs.cpio.gz" | cut -f1) KiB initramfs, $(wc -l <"$planfile") plan lines; dom0 initrd $(du -m "$out/dom0-initrd.cpio" | cut -f1) MB"
