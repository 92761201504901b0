# SPDX-License-Identifier: GPL-2.0
#
# Experiments that placed the known failures of Documentation/testing.rst: sourced by the
# domU's /init after guest/tests.sh when the plan is one of experiments/known-failure/plans/.
# Those on wrong user memory in a PV domU with QEMU's AMD CPU model end with no user process
# crashed as their verdict; the C twin of xen-rs they load is built from twin/
# (XC_EXPERIMENT=1). The last three, on clocksource-switch, the latency kselftests and
# raw_skew under 4 vCPUs, report each device's or clocksource's results side by side.

# 300 rounds of the short busybox commands the experiments run, then no user process may have
# crashed.
t_spawn_300() {
	cycle=0
	while [ $cycle -lt 300 ]; do
		cycle=$((cycle + 1))
		tick_devices >/dev/null
		grep -q xen /proc/modules
		ls /sys >/dev/null
	done
	if kmsg | grep -E "segfault|traps:"; then
		return 1
	fi
	echo "300 rounds, no segfault or trap in dmesg"
}


# no_user_crash: no user process killed by a fault in dmesg (see SPLAT); prints the first ones.
no_user_crash() {
	kmsg | grep -E "segfault|traps:" | head -3
	! kmsg | grep -qE "segfault|traps:"
}

# cs_bounce: the clocksource to tsc and back to xen (two stop_machine() calls).
cs_bounce() {
	echo tsc >"$CS/current_clocksource"
	echo xen >"$CS/current_clocksource"
}

# unbind_everywhere NAME [FROM]: unbind the clock event device NAME on every CPU that ticks on
# it, writing unbind_device from that CPU, or from CPU FROM (through an IPI). Four passes:
# unbind_device takes the first device of that name, which may be another CPU's.
unbind_everywhere() {
	for pass in 1 2 3 4; do
		for d in /sys/devices/system/clockevents/clockevent*; do
			[ "$(cat $d/current_device)" = "$1" ] || continue
			taskset -c "${2:-${d##*/clockevent}}" sh -c "echo $1 >$d/unbind_device" 2>/dev/null
		done
	done
}

# twin_cycles HOW: 100 cycles of loading xen_twin.ko, switching the clocksource between tsc and
# xen, unbinding every CPU's xen-twin (HOW: "ipi" writes unbind_device from this CPU, "local"
# from the CPU concerned) and unloading, while 1 ms sleeps run; then no segfault in dmesg.
twin_cycles() {
	watchdog_start 3600
	cycle=0
	while [ $cycle -lt 100 ]; do
		cycle=$((cycle + 1))
		insmod /xc/ksft/xen_twin.ko || break
		devices_are xen-twin >/dev/null || { echo "cycle $cycle: xen-twin not in charge"; break; }
		if [ "$1" = local ] || [ "$1" = ipi ]; then
			cs_bounce
		fi
		if [ "$1" = ipi ]; then unbind_everywhere xen-twin 0; else unbind_everywhere xen-twin; fi
		rmmod xen_twin || break
		if [ "$1" = local-cs-after ]; then
			cs_bounce
		fi
	done
	watchdog_stop
	echo "$cycle cycles, unbinding through $1"
	[ "$cycle" = 100 ] && no_user_crash
}
t_twin_unbind_ipi() { twin_cycles ipi; }
t_twin_unbind_local() { twin_cycles local; }
t_exp_twin_unbind_local_nocs() { twin_cycles local-nocs; }
t_exp_twin_unbind_local_cs_after() { twin_cycles local-cs-after; }

# --- experiments on the known failure of README.md (guest/plans/exp-*.txt), with the C driver
# alone or with the C twin; each ends with no segfault in dmesg as its verdict ---

# exp_pinned_shells N: N short-lived shells pinned to alternate CPUs with taskset, as the
# hand-back script starts them, while 1 ms sleeps run; then no segfault in dmesg.
exp_pinned_shells() {
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		taskset -c $((i % 2)) sh -c "cat /sys/devices/system/clockevents/clockevent$((i % 2))/current_device >/dev/null"
	done
	watchdog_stop
	echo "$i pinned shells"
	no_user_crash
}
t_exp_pinned_shells_1000() { exp_pinned_shells 1000; }

# exp_cs_switch N: N clocksource switches between tsc and xen (each one a stop_machine()),
# each followed by a short-lived grep, while 1 ms sleeps run; then no segfault in dmesg.
exp_cs_switch() {
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		cs_bounce
		grep -q xen "$CS/current_clocksource"
	done
	watchdog_stop
	echo "$i switches tsc -> xen, a grep after each"
	no_user_crash
}
t_exp_cs_switch_300() { exp_cs_switch 300; }

# exp_twin_swap N [PAUSE]: xen_twin.ko loaded once; N times, from alternate CPUs, the tick
# handed from xen-twin to the C device and back (its "swap" parameter), while 1 ms sleeps
# run; with PAUSE, the C device runs the tick for PAUSE seconds before the way back.
exp_twin_swap() {
	insmod /xc/ksft/xen_twin.ko || return 1
	devices_are xen-twin >/dev/null || { echo "xen-twin not in charge"; return 1; }
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		if [ -n "${2:-}" ]; then
			taskset -c $((i % 2)) sh -c "echo u >/sys/module/xen_twin/parameters/swap &&
				sleep $2 && echo r >/sys/module/xen_twin/parameters/swap" || break
		else
			taskset -c $((i % 2)) sh -c "echo 1 >/sys/module/xen_twin/parameters/swap" || break
		fi
	done
	watchdog_stop
	echo "$i swaps"
	devices_are xen-twin
	no_user_crash
}
t_exp_twin_swap_1000() { exp_twin_swap 1000; }
t_exp_twin_swap_pause_300() { exp_twin_swap 300 0.05; }

# exp_modload N [cs]: N loads and unloads of xen_twin.ko with nodev=1 (no device, no hook),
# with a short-lived grep after each and, with "cs", two clocksource switches (tsc, xen) while
# it is loaded, while 1 ms sleeps run.
exp_modload() {
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		insmod /xc/ksft/xen_twin.ko nodev=1 || break
		if [ "${2:-}" = cs ]; then
			cs_bounce
		fi
		grep -q xen_twin /proc/modules || break
		rmmod xen_twin || break
	done
	watchdog_stop
	echo "$i loads and unloads${2:+, with clocksource switches}"
	[ "$i" = "$1" ] && no_user_crash
}
t_exp_modload_300() { exp_modload 300; }

# exp_twin_rebind N: xen_twin.ko loaded once; N cycles of unbinding every CPU's xen-twin
# through sysfs from that CPU, then registering it again (the "swap" parameter, "r"), and
# with "cs" as second argument a clocksource switch, while 1 ms sleeps run.
exp_twin_rebind() {
	insmod /xc/ksft/xen_twin.ko || return 1
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		devices_are xen-twin >/dev/null || echo "cycle $i: xen-twin not in charge"
		unbind_everywhere xen-twin
		devices_are xen >/dev/null || echo "cycle $i: not handed back"
		for c in 0 1; do
			taskset -c $c sh -c "echo r >/sys/module/xen_twin/parameters/swap" || break
		done
		if [ "${2:-}" = cs ]; then
			cs_bounce
		fi
	done
	watchdog_stop
	echo "$i cycles"
	[ "$i" = "$1" ] && no_user_crash
}
t_exp_twin_rebind_cs_200() { exp_twin_rebind 200 cs; }

# exp_twin_cs N: xen_twin.ko loaded once and in charge; N clocksource switches (exp_cs_switch).
exp_twin_cs() {
	insmod /xc/ksft/xen_twin.ko || return 1
	devices_are xen-twin >/dev/null || { echo "xen-twin not in charge"; return 1; }
	exp_cs_switch "$1"
}
t_exp_twin_cs_1000() { exp_twin_cs 1000; }
t_exp_cs_switch_1000() { exp_cs_switch 1000; }

# exp_tsc_spawn N: the clocksource switched to tsc once, N spawn_300-like rounds, then back to
# xen: is it the switches or running on tsc?
exp_tsc_spawn() {
	echo tsc >"$CS/current_clocksource" || return 1
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		grep -q tsc "$CS/current_clocksource"
		ls /sys >/dev/null
	done
	echo xen >"$CS/current_clocksource"
	echo "$i rounds on tsc"
	no_user_crash
}
t_exp_tsc_spawn_1000() { exp_tsc_spawn 1000; }

t_exp_modload_cs_300() { exp_modload 300 cs; }

# exp_twin_relife N: twin cycles (clocksource switches, unbinding from the CPU concerned) in
# which the "relife" parameter replaces the unload and the load: the hook and the hotplug
# state go and come back, the module's memory stays. A second argument is passed to
# "relife": "h" redoes the hotplug state only, "k" the hook only, "s" only waits for an RCU
# grace period (after "k" and "s" the devices are registered again through "swap").
exp_twin_relife() {
	insmod /xc/ksft/xen_twin.ko || return 1
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		devices_are xen-twin >/dev/null || echo "cycle $i: xen-twin not in charge"
		cs_bounce
		unbind_everywhere xen-twin
		echo "${2:-1}" >/sys/module/xen_twin/parameters/relife || break
		if [ "${2:-}" = k ] || [ "${2:-}" = s ]; then
			for c in 0 1; do
				taskset -c $c sh -c "echo r >/sys/module/xen_twin/parameters/swap"
			done
		fi
	done
	watchdog_stop
	echo "$i cycles"
	[ "$i" = "$1" ] && no_user_crash
}
t_exp_twin_relife_100() { exp_twin_relife 100; }
t_exp_twin_relife_keep_hook_100() { exp_twin_relife 100 h; }
t_exp_twin_relife_hook_only_100() { exp_twin_relife 100 k; }
t_exp_twin_relife_rcu_only_100() { exp_twin_relife 100 s; }

# exp_timer_list N: C driver only; N reads of /proc/timer_list (tick_devices), while 1 ms
# sleeps run.
exp_timer_list() {
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		tick_devices >/dev/null
	done
	watchdog_stop
	echo "$i reads of /proc/timer_list"
	no_user_crash
}
t_exp_timer_list_1000() { exp_timer_list 1000; }

# exp_twin_swap_sysfs N: as exp_twin_swap, CPU 1 only, the first half through sysfs:
# unbind_device written from CPU 1, then the "swap" parameter's "r"; no /proc/timer_list reads.
exp_twin_swap_sysfs() {
	insmod /xc/ksft/xen_twin.ko || return 1
	devices_are xen-twin >/dev/null || { echo "xen-twin not in charge"; return 1; }
	watchdog_start 3600
	i=0
	while [ $i -lt "$1" ]; do
		i=$((i + 1))
		taskset -c 1 sh -c "echo xen-twin >/sys/devices/system/clockevents/clockevent1/unbind_device &&
			echo r >/sys/module/xen_twin/parameters/swap" || break
	done
	watchdog_stop
	echo "$i swaps on CPU 1"
	[ "$i" = "$1" ] && no_user_crash
}
t_exp_twin_swap_sysfs_500() { exp_twin_swap_sysfs 500; }

# --- clocksource-switch's "(remaining)" failures under 4 vCPUs (Documentation/testing.rst,
# "Known failures"): the platform's or the driver's? ---

# storm_start: a background loop switching the clocksource between xen and tsc as fast as it
# can (clocksource-switch's asynchronous part), each switch a stop_machine(); it writes the
# longest switch it saw, in /proc/uptime's centiseconds, to /tmp/storm_max.
storm_start() {
	(
		max=0
		while :; do
			for c in xen tsc; do
				t0=$(cut -d' ' -f1 /proc/uptime | tr -d .)
				echo $c >"$CS/current_clocksource"
				t1=$(cut -d' ' -f1 /proc/uptime | tr -d .)
				[ $((t1 - t0)) -gt "$max" ] && { max=$((t1 - t0)); echo $max >/tmp/storm_max; }
			done
		done
	) &
	STORM=$!
	echo 0 >/tmp/storm_max
}
storm_stop() {
	kill "$STORM"
	wait "$STORM" 2>/dev/null
	echo xen >"$CS/current_clocksource"
}

# interleave_devices ROUNDS FN ARGS...: ROUNDS rounds, each "FN LABEL ARGS..." with xen-rs
# (module freshly loaded) in charge, then with the C device (handed back); LABEL is "round R
# xen-rs" or "round R C". Each FN call appends "LABEL FAILED RUNS" to /tmp/device_tally; the
# failures of each device are printed at the end. Passes when every round ran; the counts are
# the result.
interleave_devices() {
	rounds=$1 fn=$2
	shift 2
	: >/tmp/device_tally
	r=0
	while [ $r -lt "$rounds" ]; do
		r=$((r + 1))
		insmod "$KO" && xen_rs_in_charge >/dev/null || { echo "round $r: xen-rs not in charge"; return 1; }
		"$fn" "round $r xen-rs" "$@"
		"$HANDBACK" >/dev/null && handed_back || { echo "round $r: no hand-back"; return 1; }
		"$fn" "round $r C" "$@"
	done
	awk '{ d = $3; b[d] += $4; n[d] += $5 } END { for (d in b) printf "%s: %d of %d runs failed\n", d, b[d], n[d] }' /tmp/device_tally
}

# exp_remaining_round LABEL N: N runs of the nanosleep kselftest under storm_start, with
# whatever device runs the tick; prints each run's failing lines, the count of failed runs, the
# longest switch, and the worst lateness the xen-rs devices saw if they are in charge.
exp_remaining_round() {
	# With xen-rs loaded, every event measured.
	[ -w "$DBG/lateness_sampling" ] && echo 1 >"$DBG/lateness_sampling"
	storm_start
	i=0 bad=0
	while [ $i -lt "$2" ]; do
		i=$((i + 1))
		(cd "$KSFT" && timeout 120 ./nanosleep) >/tmp/ns 2>&1 ||
			{ bad=$((bad + 1)); grep 'not ok' /tmp/ns | sed "s/^/$1 run $i: /"; }
	done
	storm_stop
	echo "$1: $bad of $i nanosleep runs failed; longest clocksource switch $(cat /tmp/storm_max)0 ms"
	[ -r "$DBG/lateness" ] && awk -v l="$1" '$2 == "oneshot" { for (i = 3; i <= NF; i++) {
		split($i, kv, "="); if (kv[1] == "max_ns" && kv[2] > m) m = kv[2] } }
		END { printf "%s: xen-rs worst lateness (sampled) %.1f ms\n", l, m / 1e6 }' "$DBG/lateness"
	echo "$1 $bad $i" >>/tmp/device_tally
}
# 3 interleaved rounds of 8 nanosleep runs under the storm per device.
t_exp_remaining_3x8() { interleave_devices 3 exp_remaining_round 8; }

# --- the latency kselftests under 4 vCPUs (Documentation/testing.rst, "Known failures") ---

# exp_latency_round LABEL: nsleep-lat, set-timer-lat and mqueue-lat once each, with whatever
# device runs the tick; a line per program with its verdict and failing lines.
exp_latency_round() {
	mqueue_mounted
	bad=0
	for p in nsleep-lat set-timer-lat mqueue-lat; do
		if ksft $p >/tmp/lat.out 2>&1; then
			echo "$1 $p pass"
		else
			bad=$((bad + 1))
			echo "$1 $p FAIL"
			grep -E 'FAIL|not ok' /tmp/lat.out | sed "s/^/  $1 $p: /"
		fi
	done
	echo "$1 $bad 3" >>/tmp/device_tally
}
# 3 interleaved rounds of the three latency kselftests per device.
t_exp_latency_3() { interleave_devices 3 exp_latency_round; }

# --- raw_skew cut to 30 s under 4 vCPUs (Documentation/testing.rst, "Seen once, not yet
# placed"): the xen-rs clocksource or the timekeeper? ---

# exp_raw_skew ROUNDS: ROUNDS rounds, each the 30 s raw_skew with xen-rs as the clocksource, then
# with the C xen one (xen-rs running every CPU's tick throughout); each run's estimate line.
exp_raw_skew() {
	r=0
	while [ $r -lt "$1" ]; do
		r=$((r + 1))
		for c in xen-rs xen; do
			echo $c >"$CS/current_clocksource" || return 1
			(cd "$KSFT" && ./raw_skew_short) >/tmp/rs.out 2>&1
			echo "round $r $c: $(grep -o 'drift: .*' /tmp/rs.out)"
		done
	done
}
t_exp_raw_skew_4() { exp_raw_skew 4; }

# hotplug_watch: 10 cycles of every CPU but the boot CPU offline and online, one after the
# other, while 1 ms sleeps run (limit 60 s: the watchdog reports the worst, it does not judge).
hotplug_watch() {
	watchdog_start 3600 60000
	for cycle in 1 2 3 4 5 6 7 8 9 10; do
		for c in $(nonboot_cpus); do
			echo 0 >$CPUS/cpu$c/online && echo 1 >$CPUS/cpu$c/online || return 1
		done
	done
	watchdog_stop
}
# The stall of a CPU hotplug cycle with the C device and with xen-rs running the tick,
# alternating: whether ce_hotplug_10's late sleeps are the platform's or the driver's.
exp_hotplug_c() {
	grep -q '^xen_clock ' /proc/modules && { "$HANDBACK" >/dev/null || return 1; }
	devices_are xen >/dev/null || return 1
	hotplug_watch
}
exp_hotplug_rs() {
	grep -q '^xen_clock ' /proc/modules || insmod "$KO" || return 1
	xen_rs_in_charge || return 1
	hotplug_watch
}
t_exp_hotplug_c_1() { exp_hotplug_c; }
t_exp_hotplug_rs_1() { exp_hotplug_rs; }
t_exp_hotplug_c_2() { exp_hotplug_c; }
t_exp_hotplug_rs_2() { exp_hotplug_rs; }
t_exp_hotplug_c_3() { exp_hotplug_c; }
t_exp_hotplug_rs_3() { exp_hotplug_rs; }

# exp_unregister_busy_on CPU SECONDS: cs_unregister_busy's set-up (xen_rs_sole_watchdog: the module with
# clockevents=0, jiffies current in the periodic tick, the C xen clocksource unbound, so that
# xen-rs is the only clocksource watchdog and rmmod waits, calling clocksource_unregister() every
# 100 ms), with rmmod pinned to CPU; then SECONDS of 1 s sleeps, each reported on the console at
# once. Linux 7.3's clocksource watchdog checks tsc's skew between CPUs from the boot CPU's
# timer with interrupts off, waiting for the other CPU under a timeout it measures with
# ktime_get_raw_fast_ns(), which with jiffies current stands still while that CPU has interrupts
# off; a clocksource_unregister() on the other CPU spins for watchdog_lock with interrupts off
# and cannot take the watchdog's IPI. If that is CI's hang of 2026-12-07, pinned to CPU 1 the
# guest stops reporting; pinned to CPU 0, where the watchdog's timer runs, it does not.
exp_unregister_busy_on() {
	xen_rs_sole_watchdog : || return 1
	console "# exp_unregister_busy_on $1: rmmod pinned to CPU $1"
	taskset -c "$1" rmmod xen_clock >/tmp/rmmod 2>&1 &
	i=0
	while [ $i -lt "$2" ]; do
		sleep 1
		i=$((i + 1))
		console "# exp_unregister_busy_on $1: alive after $i s, uptime $(cut -d' ' -f1 /proc/uptime)"
	done
	echo "CPU $1: $2 s with rmmod waiting, the guest still ran"
}
t_exp_unregister_busy_cpu0() { exp_unregister_busy_on 0 120; }
t_exp_unregister_busy_cpu1() { exp_unregister_busy_on 1 120; }
