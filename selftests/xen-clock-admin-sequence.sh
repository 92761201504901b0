#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# xen-clock-admin-sequence.sh SEED STEPS KO: STEPS admin actions in an order drawn from SEED,
# each printed before it runs and checked after it:
#
#   cs NAME          write NAME into current_clocksource (every available one, and a bad one)
#   unbind CPU NAME  write NAME (xen or xen-rs) into CPU's unbind_device; xen only on a CPU
#                    that can go offline: the boot CPU's C device, once unbound, would be gone
#                    for good, and with it the only device its tick can be handed back to
#   offline CPU      take a CPU other than the boot CPU offline
#   online CPU       bring it back
#   insmod PARAMS    load KO with parameter values drawn from valid and invalid ones
#   rmmod            unload it
#
# An action may fail (rmmod while xen-rs is in use, an invalid parameter, unbinding a device
# that has no replacement): that is the admin's business. What must hold after every step:
#
#   - every online CPU has a tick device, and it fires: a short sleep on that CPU returns, and
#     the CPU's timer interrupt count grows (timer-latency ticks, from selftests/);
#   - time advances;
#   - the kernel logged no warning, oops, lockdep or RCU report, or list corruption.
#
# At the end every CPU is brought online and the module unloaded, and the same checks run.
# The same SEED gives the same sequence (a Park-Miller generator in awk, exact in doubles).
# Exit status: 0 if every check held, 1 otherwise (with the step that broke it).

set -u
seed=${1:?usage: xen-clock-admin-sequence.sh SEED STEPS KO [TIMER_LATENCY]}
steps=${2:?}
ko=${3:?}
lat=${4:-/xc/ksft/timer-latency}
CS=/sys/devices/system/clocksource/clocksource0
CE=/sys/devices/system/clockevents
CPUS=/sys/devices/system/cpu
SPLAT='WARNING:|BUG:|Oops|Call Trace|RCU stall|detected stalls|possible (circular|recursive) locking|inconsistent lock state|suspicious RCU usage|UBSAN|KASAN|corruption|segfault|traps:|Reprogramming failure'

cpu_list() {
	awk -F, '{ for (i = 1; i <= NF; i++) { n = split($i, r, "-"); b = (n == 2) ? r[2] : r[1]
		for (c = r[1]; c <= b; c++) print c } }' "$1"
}
present=$(cpu_list $CPUS/present | tr '\n' ' ')
nonboot=$(for c in $present; do [ -w $CPUS/cpu$c/online ] && echo "$c"; done | tr '\n' ' ')
clocksources="$(cat $CS/available_clocksource) xen-rs nosuch"

# The sequence, drawn up front: one action per line.
awk -v seed="$seed" -v n="$steps" -v cpus="$present" -v nonboot="$nonboot" -v cs="$clocksources" '
function rnd(k) { x = (x * 16807) % 2147483647; return int(x / 2147483647 * k) }
function pick(list,    a, m) { m = split(list, a, " "); return a[rnd(m) + 1] }
BEGIN {
	x = seed % 2147483646 + 1
	params = "prefer=0 prefer=1 prefer=2 clockevents=0 clockevents=1 clockevents=maybe " \
		"min_delta_ns=0 min_delta_ns=1 min_delta_ns=1000 min_delta_ns=100000 " \
		"min_delta_ns=4294967295 min_delta_ns=4294967296 min_delta_ns=abc"
	for (i = 1; i <= n; i++) {
		r = rnd(100)
		if (r < 18) print "cs " pick(cs)
		else if (r < 28) print "unbind " pick(cpus) " xen-rs"
		else if (r < 38 && nonboot != "") print "unbind " pick(nonboot) " xen"
		else if (r < 50 && nonboot != "") print "offline " pick(nonboot)
		else if (r < 62 && nonboot != "") print "online " pick(nonboot)
		else if (r < 82) {
			p = ""
			for (k = rnd(3); k > 0; k--) p = p " " pick(params)
			print "insmod" p
		} else print "rmmod"
	}
}' >/tmp/admin-sequence

# The kernel's messages from now on, as they come (read from /dev/kmsg, whose lines are
# "level,seq,time,flags;text").
kmsg_log=/tmp/admin-kmsg
cat /dev/kmsg >$kmsg_log 2>/dev/null &
kmsg_reader=$!
trap 'kill $kmsg_reader 2>/dev/null' EXIT
kmsg_seen=0

# check STEP: the invariants; prints what broke. timer-latency's "ticks" makes each online CPU
# sleep 20 ms on its tick device and checks that the sleep returns and that the CPU's timer
# interrupt count grows (both devices are fed by the CPU's VIRQ_TIMER line).
check() {
	"$lat" ticks >/tmp/admin-ticks 2>&1 || { echo "step $1:"; cat /tmp/admin-ticks; return 1; }
	while read -r key value; do
		[ "$key" = monotonic_ns: ] && now=$value
	done </tmp/admin-ticks
	[ "$now" -gt "$last_time" ] || { echo "step $1: time did not advance ($last_time -> $now)"; return 1; }
	last_time=$now
	size=$(wc -c <$kmsg_log)
	if tail -c +$((kmsg_seen + 1)) $kmsg_log | head -c $((size - kmsg_seen)) | grep -E "$SPLAT"; then
		echo "step $1: the kernel reported the above"
		sleep 1
		tail -c +$((kmsg_seen + 1)) $kmsg_log | grep -E -A 20 "$SPLAT" | head -60
		return 1
	fi
	kmsg_seen=$size
}

echo "seed $seed, $steps steps, CPUs $present(non-boot: $nonboot)"
last_time=0
sleep 0.2
kmsg_seen=$(wc -c <$kmsg_log)
check 0 || exit 1
i=0
ok=0
while read -r action a1 a2; do
	i=$((i + 1))
	start=$last_time
	case $action in
	cs) echo "$a1" >$CS/current_clocksource 2>/dev/null ;;
	unbind) echo "$a2" >$CE/clockevent$a1/unbind_device 2>/dev/null ;;
	offline) echo 0 >$CPUS/cpu$a1/online 2>/dev/null ;;
	online) echo 1 >$CPUS/cpu$a1/online 2>/dev/null ;;
	insmod) insmod "$ko" $a1 $a2 2>/dev/null ;;
	rmmod) rmmod xen_clock 2>/dev/null ;;
	esac
	rc=$?
	[ $rc = 0 ] && ok=$((ok + 1))
	read -r cs <$CS/current_clocksource
	check "$i" || { echo "step $i: $action${a1:+ $a1}${a2:+ $a2}: exit $rc, clocksource $cs"; exit 1; }
	echo "step $i: $action${a1:+ $a1}${a2:+ $a2}: exit $rc, clocksource $cs;" $(grep '^cpu' /tmp/admin-ticks | cut -d, -f1) "($(((now - start) / 1000000)) ms)"
done </tmp/admin-sequence
[ "$i" = "$steps" ] || { echo "ran $i of $steps steps"; exit 1; }

# Back to the start: every CPU online, the clocksource away from xen-rs, the module unloaded.
for c in $nonboot; do echo 1 >$CPUS/cpu$c/online 2>/dev/null; done
[ "$(cat $CS/current_clocksource)" = xen-rs ] && echo xen >$CS/current_clocksource
if grep -q '^xen_clock ' /proc/modules; then
	for c in $present; do
		[ "$(cat $CE/clockevent$c/current_device)" = xen-rs ] || continue
		echo xen-rs >$CE/clockevent$c/unbind_device 2>/dev/null && continue
		# No C device left on that CPU: it gets a new one when it comes back online.
		echo 0 >$CPUS/cpu$c/online && echo 1 >$CPUS/cpu$c/online &&
			echo xen-rs >$CE/clockevent$c/unbind_device || { echo "end: CPU $c keeps xen-rs"; exit 1; }
	done
	rmmod xen_clock || { echo "end: rmmod failed"; exit 1; }
fi
check end || exit 1
echo "$steps steps ($ok actions succeeded), every check held, the last included"
