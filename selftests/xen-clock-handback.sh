#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# xen-clock-handback.sh: give the clocks back to the C Xen driver and unload
# xen_clock.ko. While xen-rs is the current clocksource or any CPU's tick
# device, the kernel holds a reference on the module and rmmod fails, so:
#
#   1. switch current_clocksource away from xen-rs (to tsc if the kernel still
#      trusts it, else to xen);
#   2. write xen-rs once into the unbind_device file of every CPU whose tick
#      device it is (/sys/devices/system/clockevents/clockeventN/): the tick
#      core moves that CPU to its best other device, the C "xen" one;
#   3. rmmod xen_clock.
#
# Exit status: 0 when the module is gone and no CPU runs xen-rs.

set -u
CS=/sys/devices/system/clocksource/clocksource0
CE=/sys/devices/system/clockevents

# (Shell built-ins where they do: the script runs in loops of hundreds.)
read -r cur <"$CS/current_clocksource"
if [ "$cur" = xen-rs ]; then
	to=xen
	read -r available <"$CS/available_clocksource"
	case " $available " in *" tsc "*) to=tsc ;; esac
	echo "$to" >"$CS/current_clocksource" || { echo "cannot switch the clocksource to $to" >&2; exit 1; }
fi

for d in "$CE"/clockevent*; do
	read -r dev <"$d/current_device"
	[ "$dev" = xen-rs ] || continue
	echo xen-rs >"$d/unbind_device" || { echo "${d##*/}: unbind_device failed" >&2; exit 1; }
done

while read -r mod _; do
	[ "$mod" = xen_clock ] && { rmmod xen_clock || exit 1; }
done </proc/modules
for d in "$CE"/clockevent*; do
	read -r dev <"$d/current_device"
	[ "$dev" != xen-rs ] || { echo "${d##*/} still on xen-rs" >&2; exit 1; }
done
