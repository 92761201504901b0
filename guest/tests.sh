# SPDX-License-Identifier: GPL-2.0
#
# The domU's tests, sourced by /init. A test is a shell function t_NAME that
# returns 0 (pass), 4 (skip, reason in $SKIP_REASON) or anything else (fail).
# Program output goes to TAP as "# " lines.

KO=/xc/xen_clock.ko
KSFT=/xc/ksft

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
	timeout "${KSFT_LIMIT:-300}" "$KSFT/$@"
	rc=$?
	[ "$rc" = 4 ] && SKIP_REASON="$1 reported KSFT_SKIP"
	return $rc
}

dmesg_has() { dmesg | grep -q "$1"; }

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
	dmesg | grep -E 'xen_clock|xen-rs' || echo "(none)"
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

# Run last: nothing the plan did may have left a warning, oops or splat.
t_dmesg_clean() {
	if dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|RCU stall|rcu_sched detected|lockdep|UBSAN|KASAN'; then
		return 1
	fi
	echo "no warnings in $(dmesg | wc -l) lines of dmesg"
}
