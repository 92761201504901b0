#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# harness.sh run|check|check-pvh|bench|soak: the commands of the README.
#   run    set up, build, boot Xen with a domU that loads the driver, show
#          what the guest saw.
#   check  the same preparation, then the host tests and the guest's test
#          plan; ends with "N passed, N failed" and fails on any failure.
#   bench  the read cost of xen-rs against the C xen clocksource, per CPU,
#          kept in results/bench-<time>.txt.
#   check-pvh  the test matrix of check with PVH guests (outside CI: the platform fails).
#   soak   the long runs outside CI (guest/plans/soak.txt), on the debug kernel.
# PLAN=NAME runs guest/plans/NAME.txt (or experiments/known-failure/plans/NAME.txt) instead
# of the mode's own plan.
# Logs of every run stay in results/<mode>-<time>/ (results/latest points
# at the newest).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:?usage: harness.sh run|check|check-pvh|bench|soak}
# A plan's "# time-limit: SECONDS" line bounds its guest, unless DOMU_TIMEOUT is given.
user_timeout=${DOMU_TIMEOUT:-}
case "$mode" in
run) plan=run; : "${DOMU_TIMEOUT:=300}" ;;
check | check-pvh) plan=check; : "${DOMU_TIMEOUT:=1800}" ;;
bench) plan=bench; : "${DOMU_TIMEOUT:=1500}" "${DOMU_EXTRA=tsc=reliable}" ;;
soak) plan=soak; : "${DOMU_TIMEOUT:=14400}" ;;
*) die "unknown mode $mode" ;;
esac
plan=${PLAN:-$plan}
export DOMU_TIMEOUT
out=$RESULTS/$mode-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
ln -sfn "$(basename "$out")" "$RESULTS/latest"

if [ "$(id -u)" = 0 ]; then
	bash "$REPO/scripts/setup-host.sh"
else
	note "not root: skipping host set-up, assuming it was done"
fi
report_args=()
if [ "$mode" = check ] || [ "$mode" = check-pvh ]; then
	# The driver's arithmetic is tested on the host before any kernel is built (after the
	# host set-up, which installs the pinned toolchain and busybox the tests use).
	stage "host tests"
	hs=0
	RESULTS=$out bash "$REPO/scripts/host-test.sh" >"$out/host-test.log" 2>&1 || hs=$?
	grep -E '^test result:|panicked|error(\[|:)' "$out/host-test.log" | sed 's/^/    /' || true
	for t in test_report test_guest_awk test_bench_pool; do
		python3 "$REPO/scripts/$t.py" >>"$out/host-test.log" 2>&1 || hs=$?
		grep '^test result:' "$out/host-test.log" | tail -1 | sed 's/^/    /'
	done
	report_args+=(--cargo-log "$out/host-test.log" --cargo-status "$hs")
fi

bash "$REPO/scripts/build-kernel.sh"
# The guest boots: NAME PLAN KERNEL TYPE VCPUS EXTRA...
#   KERNEL  m (driver as a module), y (built in) or d (as a module, in the debug kernel of
#           configs/debug.config: lockdep, DEBUG_VM, ..., and the fault injection);
#   TYPE    pv or pvh (QEMU then presents its AMD CPU model without RDTSCP: TCG emulates
#           only AMD's SVM, which PVH needs, and Xen 4.20 mis-decodes RDTSCP without NRIP
#           save);
#   EXTRA   added to the guest's command line.
# check boots the test matrix for PV guests (module and built in, one-shot and periodic) and
# the stress run on the debug kernel, so that "no lockdep splat" means something, and a guest
# on the stable-tsc platform (a plan's "# platform:" line names it; lib.sh); the other
# modes, and any PLAN=, one guest (DOMU_TYPE, DOMU_VCPUS, XC_BUILTIN, XC_DEBUG, DOMU_EXTRA).
if [ "$mode" = check ] && [ -z "${PLAN:-}" ]; then
	boots=(
		"module check m pv 4"
		"builtin builtin y pv 2"
		"periodic periodic d pv 2 highres=off nohz=off"
		"builtin-periodic builtin-periodic y pv 2 highres=off nohz=off"
		"stress stress d pv 2"
		"stable stable m pv 2"
		"stable-builtin stable-builtin y pv 2 xen_timer_slop=100000"
	)
elif [ "$mode" = check-pvh ] && [ -z "${PLAN:-}" ]; then
	# The same matrix for PVH guests, outside make check: under QEMU TCG a PVH domU dies
	# (triple fault) or sees wrong user memory under load with or without this driver
	# (Documentation/testing.rst, "Known failures").
	boots=(
		"pvh-module check m pvh 2"
		"pvh-builtin builtin y pvh 2"
		"pvh-periodic periodic d pvh 2 highres=off nohz=off"
		"pvh-builtin-periodic builtin-periodic y pvh 2 highres=off nohz=off"
	)
elif [ "$mode" = bench ] && [ -z "${PLAN:-}" ]; then
	# The benchmarks, then what a program pays to read the clock where Xen promises a stable
	# TSC (the stable-tsc platform), which the first guest's Xen does not.
	boots=(
		"bench bench m pv ${DOMU_VCPUS:-2} $DOMU_EXTRA"
		"bench-stable bench-stable m pv ${DOMU_VCPUS:-2} $DOMU_EXTRA"
	)
elif [ "$mode" = soak ] && [ -z "${PLAN:-}" ]; then
	# 1000 cycles print more than the default 128 KiB ring holds, and dmesg_clean needs it
	# whole from "Linux version" on.
	boots=("soak soak d pv ${DOMU_VCPUS:-2} log_buf_len=16M")
else
	kind=m
	[ "${XC_BUILTIN:-0}" = 1 ] && kind=y
	[ "${XC_DEBUG:-0}" = 1 ] && kind=d
	boots=("$mode $plan $kind ${DOMU_TYPE:-pv} ${DOMU_VCPUS:-2} ${DOMU_EXTRA:-}")
fi
# plan_file NAME: the plan's file, among the product's plans or the experiments'.
plan_file() {
	local f
	for f in "$REPO/guest/plans/$1.txt" "$REPO/experiments/known-failure/plans/$1.txt"; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
	die "no plan $1 in guest/plans/ or experiments/known-failure/plans/"
}
experiment=0
for b in "${boots[@]}"; do
	read -r _ bplan _ <<<"$b"
	case $(plan_file "$bplan") in */experiments/*) experiment=1 ;; esac
done
export XC_EXPERIMENT=$experiment
# Lint checks the driver as the built-in tree compiles it too.
if printf '%s\n' "${boots[@]}" | awk '$3 == "y"' | grep -q . ||
	[ "$mode" = check ] || [ "$mode" = check-pvh ]; then
	XC_BUILTIN=1 bash "$REPO/scripts/build-kernel.sh"
fi
if printf '%s\n' "${boots[@]}" | awk '$3 == "d"' | grep -q .; then
	XC_DEBUG=1 bash "$REPO/scripts/build-kernel.sh"
fi
if [ "$mode" = check ] || [ "$mode" = check-pvh ]; then
	stage "lint: rustfmt, clippy, rustdoc, checkpatch --strict, the driver patches, sphinx-build -W"
	ls=0
	bash "$REPO/scripts/lint.sh" >"$out/lint.tap" 2>&1 || ls=$?
	grep -E '^(not )?ok ' "$out/lint.tap" | sed 's/^/    /'
	report_args+=(--lint "$out/lint.tap" --lint-status "$ls")
fi
bash "$REPO/scripts/build-selftests.sh"
# plan_platform FILE: the Xen platform the plan's "# platform: NAME" line asks for (lib.sh,
# XEN_PLATFORM), by default the one XEN_PLATFORM gave (debian unless set).
default_platform=$XEN_PLATFORM
plan_platform() { sed -n 's/^# platform: *\([a-z-]*\)$/\1/p' "$1" | grep . || echo "$default_platform"; }
for p in $(for b in "${boots[@]}"; do read -r _ bplan _ <<<"$b"; plan_platform "$(plan_file "$bplan")"; done | sort -u); do
	XEN_PLATFORM=$p bash "$REPO/scripts/build-dom0.sh"
done

for b in "${boots[@]}"; do
	read -r name bplan kernel type vcpus extra <<<"$b"
	builtin=0 debug=0
	[ "$kernel" = y ] && builtin=1
	[ "$kernel" = d ] && debug=1
	if [ "${#boots[@]}" = 1 ]; then bout=$out; else bout=$out/$name; fi
	mkdir -p "$bout"
	case $kernel in
	y) what="driver built in" ;;
	d) what="driver as a module, debug kernel" ;;
	*) what="driver as a module" ;;
	esac
	cpu=${QEMU_CPU:-max,vendor=GenuineIntel}
	xen_extra=${XEN_EXTRA:-}
	# TCG emulates only AMD's SVM, which a PVH guest needs; without NRIP save Xen 4.20
	# mis-decodes RDTSCP, and without ASIDs the guest lives longer under load.
	[ "$type" = pvh ] && { cpu=${QEMU_CPU:-max,-rdtscp}; xen_extra=${XEN_EXTRA:-asid=0}; }
	pf=$(plan_file "$bplan")
	platform=$(plan_platform "$pf")
	limit=$DOMU_TIMEOUT
	if [ -z "$user_timeout" ]; then
		plan_limit=$(sed -n 's/^# time-limit: *\([0-9][0-9]*\)$/\1/p' "$pf" | head -1)
		limit=${plan_limit:-$DOMU_TIMEOUT}
	fi
	[ "${#boots[@]}" = 1 ] ||
		stage "guest run $name: $type, $vcpus vCPUs, plan $bplan, $what${extra:+, guest command line + $extra}, Xen platform $platform, at most $limit s"
	export XEN_PLATFORM=$platform
	XC_BUILTIN=$builtin XC_DEBUG=$debug DOMU_EXTRA="$extra" DOMU_TYPE=$type DOMU_VCPUS=$vcpus \
		DOMU_TIMEOUT=$limit bash "$REPO/scripts/build-guest.sh" "$pf" "$CACHE/boot"
	s=0
	# As many physical CPUs for Xen as the domU has vCPUs (at least 2): with fewer, Xen shares
	# them out and the guest accounts steal time, which CPU-time timers (posix_timers'
	# ITIMER_VIRTUAL) see as time not spent.
	smp=${QEMU_SMP:-$((vcpus > 2 ? vcpus : 2))}
	QEMU_CPU=$cpu QEMU_SMP=$smp XEN_EXTRA=$xen_extra DOMU_TIMEOUT=$limit \
		bash "$REPO/scripts/boot.sh" "$CACHE/boot/dom0-initrd.cpio" "$bout" || s=$?
	report_args+=(--run "$name,$pf,$bout/domu.log,$bout/console.log,$s")
done

if [ "$mode" = run ]; then
	stage "what the guest saw"
	sed -n '/^xc-domU:/,/^# xen-clock: end of plan/p' "$out/domu.log" | sed 's/^/    /'
fi
if [ "$mode" = bench ]; then
	stage "benchmark"
	# With PLAN= one guest, in $out itself.
	bdir=$out
	[ -d "$out/bench" ] && bdir=$out/bench
	{
		echo "# xen-clock bench, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$REPO" describe --always --dirty 2>/dev/null)"
		echo "# one read of each clocksource, interleaved, interrupts off, TSC-timed; ns"
		echo "# then timer latency: lateness of 1 ms one-shot sleeps on CPU 1, c_* with the C device,"
		echo "# rs_* with xen-rs, rs_all_* with xen-rs measuring every event, rs_cs_* with xen-rs as the"
		echo "# clocksource too (the others keep the boot's), c2_* with the C device again (what equal devices"
		echo "# differ by); LAT_ARMS may add rs_off_* (no event measured), rs_abs_* (deadline=absolute),"
		echo "# rs_read_* (coupled=0: Xen time read for every deadline) or rs_hook_* (the C device behind the"
		echo "# loaded module's hook); each arm after each other equally"
		echo "# often (guest/arm-order.awk), each arm's first LAT_WARMUP sleeps (100) not counted; same boot; ns"
		# Without run_test's "NAME: starting at" lines.
		sed -n '/^ok [0-9]* - module_insmod/,/^ok [0-9]* - bench_timer_latency/p' "$bdir/domu.log" |
			sed -n 's/^# //p' | grep -v -e ': starting at [0-9.]*s$' -e ' batches: '
		echo "# then the deadline policies (guest/tests.sh, t_bench_deadline_policies)"
		sed -n '/^ok [0-9]* - bench_timer_latency/,/^ok [0-9]* - bench_deadline_policies/p' "$bdir/domu.log" |
			sed -n 's/^# //p' | grep -v -e '^series ' -e ': starting at [0-9.]*s$'
		if [ -f "$out/bench-stable/domu.log" ]; then
			echo "# then, in a second guest on the stable-tsc platform, what a program pays to read the clock"
			sed -n '/^ok [0-9]* - xen_stable_tsc/,/^ok [0-9]* - bench_user_read/p' "$out/bench-stable/domu.log" |
				sed -n 's/^# //p' | grep -v -e ': starting at [0-9.]*s$' -e ' batches: '
		fi
	} | tee "$RESULTS/bench-$(date +%Y%m%d-%H%M%S).txt" | sed 's/^/    /'
	sed -n 's/^# \(series .*\)/\1/p' "$bdir/domu.log" >"$bdir/series.txt"
	# The table and the plot of Documentation/deadline-policies.rst, from this run.
	# Debian's python3, which has Debian's matplotlib (setup-host.sh).
	# PLAN=bench-latency has no policy runs to report.
	if [ "$plan" = bench ]; then
		/usr/bin/python3 "$REPO/scripts/bench_report.py" "$bdir" || note "bench_report.py failed"
	fi
fi
stage "results ($out)"
python3 "$REPO/scripts/report.py" "${report_args[@]}" | tee "$out/summary.txt"
exit "${PIPESTATUS[0]}"
