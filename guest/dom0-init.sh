#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# /init of dom0: start the Xen tools, create the domU described by the
# overlay in /xc (kernel, initramfs, config, time limit), stream its console
# to ours with a "domU| " prefix, and power the machine off when the domU
# is gone or its time is up. Init must never exit: Xen would report a
# crashed dom0 and hang instead of powering off.
# The tools of the one Xen this dom0 has: 4.20 (trixie) or 4.17 (bookworm, XEN_PLATFORM=stable-tsc).
for d in /usr/lib/xen-[0-9]*/bin; do XEN_BIN=$d; done
export PATH=$XEN_BIN:/usr/sbin:/usr/bin:/sbin:/bin
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
say "dom0 up: $(uname -r), Xen $(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)$(cat /sys/hypervisor/version/extra)"
modprobe -a xen-evtchn xenfs xen-privcmd xen-gntdev xen-gntalloc || say "modprobe failed"
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xenstored.pid || { say "xenstored failed"; exit 1; }
xen-init-dom0 >/dev/null || { say "xen-init-dom0 failed"; exit 1; }
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/run/xenconsoled.pid ||
	{ say "xenconsoled failed"; exit 1; }

# The domU's command line, from its xl config.
extra=$(sed -n 's/^extra = "\(.*\)"$/\1/p' /xc/domu.cfg)

# boot_ab ROUNDS: boots of the domU's kernel that only report how long the kernel took to start
# /init (guest/domu-init.sh), alternating which goes first: "rust" as configured (built in,
# the Rust driver replaces the C one) and "c" with xen_clock.clockevents=0 (the Rust driver
# declines, the C one keeps Xen time). Same kernel, same command line but for that; KUnit off
# in both. Each reports a line "xc-boot-ab: ..." that is passed on to the domU under test
# (xc_boot_ab_results= on its command line, for its test boot_time_vs_c) and shown here.
boot_ab() {
	results=""
	for r in $(seq 1 "$1"); do
		order="rust c"
		[ $((r % 2)) = 0 ] && order="c rust"
		for v in $order; do
			args="$extra kunit.enable=0 xc_boot_ab=$v"
			[ "$v" = c ] && args="$args xen_clock.clockevents=0"
			log=/var/log/xen/console/guest-xcab.log
			rm -f "$log"
			if ! timeout 60 xl create /xc/domu.cfg 'name="xcab"' "extra=\"$args\"" >/tmp/xl-ab.log 2>&1; then
				say "boot-ab round $r $v: xl create failed: $(tail -1 /tmp/xl-ab.log)"
				line="variant=$v init_s=none verdict=no-boot"
			else
				t=$(date +%s)
				while timeout 20 xl domid xcab >/dev/null 2>&1 && [ $(($(date +%s) - t)) -lt 120 ]; do
					sleep 1
				done
				timeout 20 xl destroy xcab >/dev/null 2>&1
				line=$(tr -d '\r' <"$log" 2>/dev/null | sed -n 's/^xc-boot-ab: //p' | tail -1)
				if [ -z "$line" ]; then
					say "boot-ab round $r $v: no report; the end of its console:"
					tr -d '\r' <"$log" 2>/dev/null | tail -20 | sed 's/^/xc-dom0:   /'
					line="variant=$v init_s=none verdict=no-report"
				fi
			fi
			say "boot-ab round $r: $line"
			# Its kernel log and interrupts, in this log only.
			tr -d '\r' <"$log" 2>/dev/null | sed -n "s/^xc-boot-ab-log: /xc-ab $r $v: /p"
			results="$results${results:+,}$(echo "$line" | tr ' ' ':')"
		done
	done
	extra="$extra xc_boot_ab_results=$results"
}
[ "${BOOT_AB_ROUNDS:-0}" -gt 0 ] && boot_ab "$BOOT_AB_ROUNDS"

say "creating domU ($DOMU_VCPUS vCPUs, $DOMU_MEMORY MiB, limit ${DOMU_TIMEOUT} s)"
t0=$(date +%s)
if ! xl create /xc/domu.cfg "extra=\"$extra\"" >/tmp/xl-create.log 2>&1; then
	cat /tmp/xl-create.log
	say "xl create failed"
	exit 1
fi
log=/var/log/xen/console/guest-xcdomu.log
touch "$log"
# The stream ends by itself once it has passed on the end of the plan.
tail -n +1 -F "$log" 2>/dev/null | while IFS= read -r l; do
	l=${l%$'\r'}
	printf 'domU| %s\n' "$l"
	case $l in "# xen-clock: end of plan"*) break ;; esac
done &
streamer=$!

# host_action ACTION...: what the domU asked for with an "xc-ctl: ACTION" console line
# (guest/tests.sh, host_does). Every xl call is bounded.
host_action() {
	t=$(date +%s)
	case $1 in
	save)
		timeout 120 xl save xcdomu /tmp/xcdomu.save >/tmp/xl-action.log 2>&1 &&
			timeout 120 xl restore /tmp/xcdomu.save >>/tmp/xl-action.log 2>&1
		rc=$?
		rm -f /tmp/xcdomu.save
		;;
	migrate)
		# To this same host, without ssh: xl runs the receiving end itself (-s "").
		timeout 180 xl migrate -s "" xcdomu "xl migrate-receive -e" >/tmp/xl-action.log 2>&1
		rc=$?
		# xenconsoled named the incoming domain's log after its name then; make it reopen
		# the logs under the name it has now, and show what went to the other one.
		kill -HUP "$(cat /run/xenconsoled.pid 2>/dev/null || pidof xenconsoled)" 2>/dev/null
		for l in /var/log/xen/console/guest-xcdomu--incoming.log; do
			[ -f "$l" ] && sed 's/^/domU| /' "$l" && rm -f "$l"
		done
		;;
	pause)
		timeout 20 xl pause xcdomu >/tmp/xl-action.log 2>&1 && sleep "${2:-10}" &&
			timeout 20 xl unpause xcdomu >>/tmp/xl-action.log 2>&1
		rc=$?
		;;
	*)
		echo "unknown action" >/tmp/xl-action.log
		rc=1
		;;
	esac
	say "domU asked to $*: exit $rc after $(($(date +%s) - t)) s"
	[ "$rc" = 0 ] || sed 's/^/xc-dom0:   /' /tmp/xl-action.log
}

verdict="domU shut down"
ended=""
actions=0
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
		# What the hung guest was doing, before it goes: its CPUs' backtraces, blocked
		# tasks, timers and clock event devices (sysrq l, w, q, if its console still takes
		# interrupts), and Xen's view of its vCPUs and timers (debug keys q, a).
		say "domU hung: asking it for sysrq l w q, and Xen for debug keys q a"
		for k in l w q; do timeout 10 xl sysrq xcdomu "$k"; sleep 2; done
		timeout 10 xl vcpu-list xcdomu 2>&1 | sed 's/^/xc-dom0:   /'
		timeout 10 xl debug-keys q; timeout 10 xl debug-keys a
		sleep 3
		timeout 20 xl destroy xcdomu
		break
	fi
	n=$(grep -c '^xc-ctl: ' "$log")
	while [ "$actions" -lt "$n" ]; do
		actions=$((actions + 1))
		host_action $(grep '^xc-ctl: ' "$log" | sed -n "${actions}p" | tr -d '\r' | cut -d' ' -f2-)
	done
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
# The console stream lags behind a domU that printed much at the end (make bench's series,
# whose tail was once cut off here): once the plan ended, wait for the stream to pass its
# end on, for at most 300 s.
if [ -n "$ended" ] || grep -q '^# xen-clock: end of plan' "$log"; then
	w=0
	while kill -0 "$streamer" 2>/dev/null && [ $w -lt 300 ]; do
		sleep 1
		w=$((w + 1))
	done
	[ $w -lt 300 ] || say "the console stream did not catch up in 300 s"
fi
sleep 2
kill "$streamer" 2>/dev/null
say "$verdict after $(($(date +%s) - t0)) s"
