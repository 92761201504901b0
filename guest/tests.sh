# SPDX-License-Identifier: GPL-2.0
#
# The domU's tests, sourced by /init. A test is a shell function t_NAME that
# returns 0 (pass), 4 (skip, reason in $SKIP_REASON) or anything else (fail).
# Program output goes to TAP as "# " lines.

KO=/xc/xen_clock.ko
KSFT=/xc/ksft
CS=/sys/devices/system/clocksource/clocksource0
DBG=/sys/kernel/debug/xen_clock

# run_test NUM NAME: run t_NAME and print its TAP result line.
run_test() {
	SKIP_REASON=""
	start=$(cut -d' ' -f1 /proc/uptime)
	# Redirect to a file rather than a pipe: the exit status stays ours.
	"t_$2" >/tmp/out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/out
	secs=$(awk -v a="$start" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f", b-a}')
	case $rc in
	0) echo "ok $1 - $2 # time=${secs}s" ;;
	4) echo "ok $1 - $2 # SKIP $SKIP_REASON" ;;
	*) echo "not ok $1 - $2 # exit=$rc time=${secs}s" ;;
	esac
}

# ksft PROG ARGS...: run a kselftest program under a time limit; its exit
# status is the kselftest one (0 pass, 4 skip, others fail).
ksft() {
	# clocksource-switch runs ./inconsistency-check and ./nanosleep.
	(cd "$KSFT" && timeout "${KSFT_LIMIT:-300}" "./$@")
	rc=$?
	[ "$rc" = 4 ] && SKIP_REASON="$1 reported KSFT_SKIP"
	return $rc
}

# The kernel log. busybox's dmesg writes one byte past its buffer when the log fills it, so
# ask for a buffer larger than the kernel's (CONFIG_LOG_BUF_SHIFT=20).
kmsg() { dmesg -s 4194304; }
dmesg_has() { kmsg | grep -q "$1"; }

# tick_devices: one line per CPU from /proc/timer_list: its tick device, the
# clock event device's state and the handler the tick core gave it.
tick_devices() {
	awk '
	/^Tick Device: mode:/ { tick = ($4 == 1) ? "oneshot" : "periodic"; cpu = "" }
	/^Broadcast device/ { cpu = "broadcast" }
	/^Per CPU device:/ { cpu = "cpu" $4 }
	/^Clock Event Device:/ { dev = $4 }
	/^ mode:/ { split("detached shutdown periodic oneshot oneshot-stopped", st, " "); state = st[$2 + 1] }
	/^ event_handler:/ && cpu != "" {
		printf "%s: tick device %s (tick mode %s, device state %s, handler %s)\n", cpu, dev, tick, state, $2
	}' /proc/timer_list
}

# What the guest sees of its clocks; always passes once printed, so it is
# only in the "run" plan, never counted as a test of the driver.
t_show_clocks() {
	echo "kernel: $(uname -r)"
	echo "available_clocksource: $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource)"
	echo "current_clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	tick_devices
	[ -r "$DBG/clockevents" ] && { echo "xen-rs clock events (debugfs):"; cat "$DBG/clockevents"; }
	echo
	echo "driver messages:"
	kmsg | grep -E 'xen_clock|xen-rs' || echo "(none)"
}

t_module_insmod() {
	insmod "$KO" || return 1
	dmesg_has 'xen_clock: loaded' || { echo "no 'loaded' message"; return 1; }
}

t_module_listed() {
	grep '^xen_clock ' /proc/modules || { echo "xen_clock not in /proc/modules"; return 1; }
	lsmod | grep -q '^xen_clock'
}

t_module_rmmod() {
	rmmod xen_clock || return 1
	! grep -q '^xen_clock ' /proc/modules || { echo "still loaded"; return 1; }
	dmesg_has 'xen_clock: unloaded' || { echo "no 'unloaded' message"; return 1; }
}

t_ksft_posix_timers() { ksft posix_timers; }
t_ksft_nanosleep() { ksft nanosleep; }
t_ksft_nsleep_lat() { ksft nsleep-lat; }
t_ksft_inconsistency_check() { ksft inconsistency-check -t 2; }

# --- the xen-rs clocksource ---

# switch_clocksource NAME: make NAME current and check the kernel did it.
switch_clocksource() {
	echo "$1" >"$CS/current_clocksource" || return 1
	cur=$(cat "$CS/current_clocksource")
	echo "current_clocksource: $cur"
	[ "$cur" = "$1" ] || return 1
	kmsg | grep -q "clocksource: Switched to clocksource $1" ||
		{ echo "no 'Switched to clocksource $1' in dmesg"; return 1; }
}

# key FILE NAME: the value of "NAME: value" in FILE.
key() { sed -n "s/^$2: //p" "$1"; }

t_kunit_pvclock() {
	r=/sys/kernel/debug/kunit/xen_clock_pvclock/results
	[ -f "$r" ] || { echo "no KUnit results at $r"; return 1; }
	cat "$r"
	grep -q '^ok [0-9]* xen_clock_pvclock' "$r" || return 1
	! grep -q 'not ok' "$r"
}

t_cs_available() {
	cat "$CS/available_clocksource"
	grep -qw xen-rs "$CS/available_clocksource"
}

t_cs_switch_to_xen_rs() { switch_clocksource xen-rs; }

t_ksft_inconsistency_check_xen_rs() {
	[ "$(cat $CS/current_clocksource)" = xen-rs ] || { echo "xen-rs is not current"; return 1; }
	xen_rs_in_charge || return 1
	ksft inconsistency-check -t 5
}
t_ksft_nanosleep_xen_rs() {
	xen_rs_in_charge || return 1
	ksft nanosleep
}
t_ksft_raw_skew_xen_rs() {
	[ "$(cat $CS/current_clocksource)" = xen-rs ] || { echo "xen-rs is not current"; return 1; }
	ksft raw_skew_short
}

# crosscheck CPU: C, Rust, C triples on one CPU; every Rust value within the C pair's bounds.
crosscheck() {
	taskset -c "$1" cat "$DBG/crosscheck" >/tmp/cc || return 1
	cat /tmp/cc
	[ "$(key /tmp/cc cpu)" = "$1" ] || { echo "ran on the wrong CPU"; return 1; }
	[ "$(key /tmp/cc triples)" -ge 1000000 ] || { echo "fewer than 1000000 triples"; return 1; }
	[ "$(key /tmp/cc violations)" = 0 ]
}
t_crosscheck_cpu0() { crosscheck 0; }
t_crosscheck_cpu1() { crosscheck 1; }

# Every CPU reads xen-rs at once, each read checked against the highest value any CPU had
# returned before it began.
t_monotonic_all_cpus() {
	pids=""
	for c in $(seq 0 $(($(nproc) - 1))); do
		taskset -c "$c" cat "$DBG/monotonic" >"/tmp/mono.$c" &
		pids="$pids $!"
	done
	rc=0
	for p in $pids; do wait "$p" || rc=1; done
	for c in $(seq 0 $(($(nproc) - 1))); do
		cat "/tmp/mono.$c"
		[ "$(key /tmp/mono.$c reads)" -ge 1000000 ] || rc=1
		[ "$(key /tmp/mono.$c backwards)" = 0 ] || rc=1
	done
	return $rc
}

# Without the per-clocksource sanity pass (-s): it runs inconsistency-check and nanosleep on
# every clocksource again, 4 minutes here; xen-rs had them above.
t_ksft_clocksource_switch() { ksft clocksource-switch -s -t 10; }

t_cs_switch_back() {
	switch_clocksource xen || return 1
	if grep -qw tsc "$CS/available_clocksource"; then
		switch_clocksource tsc || return 1
		switch_clocksource xen
	else
		echo "tsc is not available (marked unstable), switched back to xen only"
	fi
}

t_bench() {
	for c in $(seq 0 $(($(nproc) - 1))); do
		taskset -c "$c" cat "$DBG/bench" || return 1
	done
}

# --- the xen-rs clock event devices ---

HANDBACK=/xc/xen-clock-handback.sh
LAT=/xc/ksft/timer-latency

# every_cpu TEXT: one tick device line per online CPU, each containing TEXT; prints the lines.
every_cpu() {
	tick_devices | grep '^cpu' >/tmp/ticks
	cat /tmp/ticks
	n=$(wc -l </tmp/ticks)
	[ "$n" = "$(nproc)" ] || { echo "$n per-CPU tick devices for $(nproc) CPUs"; return 1; }
	! grep -vF "$1" /tmp/ticks || { echo "^ not: $1"; return 1; }
}

# ticks_on DEV MODE STATE HANDLER: every online CPU's tick device is DEV, the tick in MODE
# (oneshot or periodic), the device in STATE, with HANDLER.
ticks_on() { every_cpu "tick device $1 (tick mode $2, device state $3, handler $4)"; }

# devices_are DEV: every online CPU's tick device is DEV.
devices_are() { every_cpu "tick device $1 "; }

# xen_rs_in_charge: the guard of every test that needs xen-rs running the tick; quiet unless
# it fails.
xen_rs_in_charge() {
	devices_are xen-rs >/tmp/incharge || { echo "xen-rs is not in charge:"; cat /tmp/incharge; return 1; }
}

# events CPU: the count of events the driver handled on CPU so far (debugfs).
events() { sed -n "s/^cpu$1 events=\([0-9]*\) .*/\1/p" "$DBG/clockevents"; }

t_ce_in_charge() {
	ticks_on xen-rs oneshot oneshot hrtimer_interrupt || return 1
	cat "$DBG/clockevents"
	for c in $(seq 0 $(($(nproc) - 1))); do eval "e$c=$(events $c)"; done
	sleep 1
	cat "$DBG/clockevents"
	for c in $(seq 0 $(($(nproc) - 1))); do
		before=$(eval echo "\$e$c")
		after=$(events $c)
		[ -n "$after" ] && [ "$after" -gt "$before" ] ||
			{ echo "cpu$c: events did not grow ($before -> $after)"; return 1; }
	done
}

# ce_ksft PROG ARGS: a kselftest program with xen-rs running the tick.
ce_ksft() { xen_rs_in_charge && ksft "$@"; }
t_ksft_posix_timers_xen_rs() { ce_ksft posix_timers; }
t_ksft_nsleep_lat_xen_rs() { ce_ksft nsleep-lat; }
t_ksft_set_timer_lat_xen_rs() { ce_ksft set-timer-lat; }
t_ksft_threadtest_xen_rs() { ce_ksft threadtest -t 10; }
t_ksft_mqueue_lat_xen_rs() {
	mkdir -p /dev/mqueue
	grep -q ' /dev/mqueue ' /proc/mounts || mount -t mqueue none /dev/mqueue || return 1
	ce_ksft mqueue-lat
}

# watchdog_start SECONDS: 1 ms sleeps in the background, failing on a 1 s overshoot.
watchdog_start() { "$LAT" watch "$1" 1000 >/tmp/watchdog 2>&1 & WATCHDOG=$!; }
# watchdog_stop: stop it; its verdict.
watchdog_stop() {
	kill -TERM "$WATCHDOG" 2>/dev/null
	wait "$WATCHDOG"
	rc=$?
	sed 's/^/watchdog: /' /tmp/watchdog
	return $rc
}

# 50 times: CPU 1 offline and online again, xen-rs back on it each time, while 1 ms
# sleeps run.
t_ce_hotplug_50() {
	online=/sys/devices/system/cpu/cpu1/online
	[ -w "$online" ] || { SKIP_REASON="no CPU 1 to take offline"; return 4; }
	xen_rs_in_charge || return 1
	watchdog_start 3600
	cycle=0
	while [ $cycle -lt 50 ]; do
		cycle=$((cycle + 1))
		echo 0 >"$online" || { echo "cycle $cycle: offline failed"; break; }
		echo 1 >"$online" || { echo "cycle $cycle: online failed"; break; }
		cur=$(cat /sys/devices/system/clockevents/clockevent1/current_device)
		[ "$cur" = xen-rs ] || { echo "cycle $cycle: CPU 1 ticks on $cur"; break; }
	done
	watchdog_stop || return 1
	[ $cycle = 50 ] && [ "$cur" = xen-rs ] || return 1
	echo "50 offline/online cycles of CPU 1, xen-rs back in charge after each"
	xen_rs_in_charge
}

# The documented hand-back: clocksource away from xen-rs, unbind every CPU's xen-rs, rmmod.
t_ce_handback() {
	switch_clocksource xen-rs || return 1
	"$HANDBACK" || return 1
	! grep -q '^xen_clock ' /proc/modules || { echo "still loaded"; return 1; }
	dmesg_has 'xen_clock: unloaded' || { echo "no 'unloaded' message"; return 1; }
	devices_are xen
}

# 100 cycles of load, clocksource switch, unbind and unload, while 1 ms sleeps run.
t_ce_load_unload_100() {
	watchdog_start 3600
	cycle=0
	while [ $cycle -lt 100 ]; do
		cycle=$((cycle + 1))
		insmod "$KO" || { echo "cycle $cycle: insmod failed"; break; }
		xen_rs_in_charge >/tmp/cycle || { cat /tmp/cycle; echo "cycle $cycle"; break; }
		echo xen-rs >"$CS/current_clocksource" || { echo "cycle $cycle: switch failed"; break; }
		"$HANDBACK" || { echo "cycle $cycle: hand-back failed"; break; }
	done
	watchdog_stop || return 1
	[ $cycle = 100 ] && ! grep -q '^xen_clock ' /proc/modules || return 1
	echo "100 load/switch/unbind/unload cycles"
	devices_are xen
}

# Periodic tick (highres=off nohz=off): xen-rs in its periodic state, and jiffies advancing at
# HZ within 1% over 10 s of guest time, idle vCPUs included.
t_ce_periodic_hz() {
	grep -qw 'highres=off' /proc/cmdline && grep -qw 'nohz=off' /proc/cmdline ||
		{ SKIP_REASON="needs highres=off nohz=off on the guest command line"; return 4; }
	ticks_on xen-rs periodic periodic tick_handle_periodic || return 1
	hz=$(cat /xc/hz)
	snap() { awk '/^now at/ { t = $3 } /^jiffies:/ { print t, $2; exit }' /proc/timer_list; }
	read -r t0 j0 <<EOT
$(snap)
EOT
	sleep 10
	read -r t1 j1 <<EOT
$(snap)
EOT
	cat "$DBG/clockevents"
	awk -v t0="$t0" -v t1="$t1" -v j0="$j0" -v j1="$j1" -v hz="$hz" 'BEGIN {
		s = (t1 - t0) / 1e9; r = (j1 - j0) / s; off = (r - hz) / hz * 100
		printf "%d jiffies in %.3f s of guest time: %.2f Hz for HZ=%d, off by %+.3f%%\n", j1 - j0, s, r, hz, off
		exit (off > 1 || off < -1)
	}'
}

# With the driver built in: no module, xen-rs on every CPU, and the driver set up before
# userspace started.
t_ce_builtin() {
	[ -e /xc/builtin ] || { SKIP_REASON="not the built-in kernel"; return 4; }
	! grep -q '^xen_clock ' /proc/modules || { echo "xen_clock is a module here"; return 1; }
	kmsg | grep -E 'xen_clock: loaded|Run /init as init process' >/tmp/order
	cat /tmp/order
	[ "$(head -1 /tmp/order | grep -c 'xen_clock: loaded')" = 1 ] ||
		{ echo "the driver was not set up before /init"; return 1; }
	ticks_on xen-rs oneshot oneshot hrtimer_interrupt
}

# Timer latency, xen-rs against the C device in the same boot: rounds of 1 ms one-shot sleeps
# on CPU 1, alternating the devices; pooled distributions and their ratio.
t_bench_timer_latency() {
	rounds=${LAT_ROUNDS:-4}
	samples=${LAT_SAMPLES:-1000}
	rm -f /tmp/lat.c /tmp/lat.rs
	grep -q '^xen_clock ' /proc/modules && { "$HANDBACK" || return 1; }
	r=0
	while [ $r -lt $rounds ]; do
		r=$((r + 1))
		devices_are xen >/dev/null || return 1
		taskset -c 1 "$LAT" lat "$samples" 1000 /tmp/lat.c >/dev/null || return 1
		insmod "$KO" || return 1
		devices_are xen-rs >/dev/null || return 1
		taskset -c 1 "$LAT" lat "$samples" 1000 /tmp/lat.rs >/dev/null || return 1
		"$HANDBACK" || return 1
	done
	"$LAT" stats /tmp/lat.c | sed 's/^/c_xen_/' >/tmp/lat.out
	"$LAT" stats /tmp/lat.rs | sed 's/^/xen_rs_/' >>/tmp/lat.out
	for k in median p90 p99 max; do
		c=$(key /tmp/lat.out "c_xen_${k}_ns")
		rs=$(key /tmp/lat.out "xen_rs_${k}_ns")
		echo "ratio_${k}_permille: $((rs * 1000 / c))" >>/tmp/lat.out
	done
	echo "timer_latency_rounds: $rounds"
	cat /tmp/lat.out
}

# What dmesg must not show: kernel splats, and user processes killed by a fault ("segfault
# at" for a page fault, "traps:" for a general protection fault or an invalid opcode).
SPLAT='WARNING:|BUG:|Oops|Call Trace|RCU stall|detected stalls|possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|UBSAN|KASAN|segfault|traps:'

# Run last: nothing the plan did may have left a warning, oops or splat.
t_dmesg_clean() {
	if kmsg | grep -E "$SPLAT"; then
		# What follows each one: a splat's trace, or with print-fatal-signals=1 on the
		# guest's command line, a crashed process's registers (FS base included).
		kmsg | grep -E -A 24 "$SPLAT" | head -150 | sed 's/^/  | /'
		return 1
	fi
	echo "no warnings in $(kmsg | wc -l) lines of dmesg"
}


# 300 rounds of the short busybox commands the stress tests run, then no user process may
# have crashed: the stress plan (guest/plans/stress.txt) runs it after the cycles.
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

# --- the C twin of xen-rs (selftests/twin), for the known failure of README.md ---

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
