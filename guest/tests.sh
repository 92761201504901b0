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
	ksft inconsistency-check -t 5
}
t_ksft_nanosleep_xen_rs() {
	[ "$(cat $CS/current_clocksource)" = xen-rs ] || { echo "xen-rs is not current"; return 1; }
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

SPLAT='WARNING:|BUG:|Oops|Call Trace|RCU stall|rcu_sched detected|lockdep|UBSAN|KASAN|segfault'

# Run last: nothing the plan did may have left a warning, oops or splat.
t_dmesg_clean() {
	if kmsg | grep -E "$SPLAT"; then
		return 1
	fi
	echo "no warnings in $(kmsg | wc -l) lines of dmesg"
}
