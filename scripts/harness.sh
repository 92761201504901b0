#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# harness.sh run|check|bench: the commands of the README.
#   run    set up, build, boot Xen with a domU that loads the driver, show
#          what the guest saw.
#   check  the same preparation, then the host tests and the guest's test
#          plan; ends with "N passed, N failed" and fails on any failure.
#   bench  the read cost of xen-rs against the C xen clocksource, per CPU,
#          kept in results/bench-<time>.txt.
# PLAN=NAME runs guest/plans/NAME.txt instead of the mode's own plan.
# Logs of every run stay in results/<mode>-<time>/ (results/latest points
# at the newest).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=${1:?usage: harness.sh run|check|bench}
case "$mode" in
run) plan=run; : "${DOMU_TIMEOUT:=300}" ;;
check) plan=check; : "${DOMU_TIMEOUT:=900}" ;;
bench) plan=bench; : "${DOMU_TIMEOUT:=600}" ;;
*) die "unknown mode $mode" ;;
esac
plan=${PLAN:-$plan}
export DOMU_TIMEOUT
out=$RESULTS/$mode-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
ln -sfn "$(basename "$out")" "$RESULTS/latest"

report_args=()
if [ "$mode" = check ]; then
	# The driver's arithmetic is tested on the host before any kernel is built.
	stage "host tests"
	hs=0
	RESULTS=$out bash "$REPO/scripts/host-test.sh" >"$out/host-test.log" 2>&1 || hs=$?
	grep -E '^test result:|panicked|error(\[|:)' "$out/host-test.log" | sed 's/^/    /' || true
	python3 "$REPO/scripts/test_report.py" >>"$out/host-test.log" 2>&1 || hs=$?
	grep '^test result:' "$out/host-test.log" | tail -1 | sed 's/^/    report parser: /'
	report_args+=(--cargo-log "$out/host-test.log" --cargo-status "$hs")
fi

if [ "$(id -u)" = 0 ]; then
	bash "$REPO/scripts/setup-host.sh"
else
	note "not root: skipping host set-up, assuming it was done"
fi
bash "$REPO/scripts/build-kernel.sh"
if [ "$mode" = check ]; then
	stage "lint: rustfmt, clippy, rustdoc, checkpatch --strict"
	ls=0
	bash "$REPO/scripts/lint.sh" >"$out/lint.tap" 2>&1 || ls=$?
	grep -E '^(not )?ok ' "$out/lint.tap" | sed 's/^/    /'
	report_args+=(--lint "$out/lint.tap" --lint-status "$ls")
fi
# The guest boots: NAME PLAN KERNEL EXTRA..., KERNEL m (driver as a module), y (built in) or d
# (as a module, in the debug kernel of configs/debug.config: lockdep, DEBUG_VM, ...), EXTRA
# added to the guest's command line. check boots four guests, the stress run on the debug
# kernel so that "no lockdep splat" means something; the other modes, and any PLAN=, one.
if [ "$mode" = check ] && [ -z "${PLAN:-}" ]; then
	boots=("module check m" "builtin builtin y" "periodic periodic m highres=off nohz=off"
		"stress stress d")
else
	kind=m
	[ "${XC_BUILTIN:-0}" = 1 ] && kind=y
	[ "${XC_DEBUG:-0}" = 1 ] && kind=d
	boots=("$mode $plan $kind ${DOMU_EXTRA:-}")
fi
if printf '%s\n' "${boots[@]}" | awk '$3 == "y"' | grep -q .; then
	XC_BUILTIN=1 bash "$REPO/scripts/build-kernel.sh"
fi
if printf '%s\n' "${boots[@]}" | awk '$3 == "d"' | grep -q .; then
	XC_DEBUG=1 bash "$REPO/scripts/build-kernel.sh"
fi
bash "$REPO/scripts/build-selftests.sh"
bash "$REPO/scripts/build-dom0.sh"

for b in "${boots[@]}"; do
	read -r name bplan kernel extra <<<"$b"
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
	[ "${#boots[@]}" = 1 ] || stage "guest run $name: plan $bplan, $what${extra:+, guest command line + $extra}"
	XC_BUILTIN=$builtin XC_DEBUG=$debug DOMU_EXTRA="$extra" bash "$REPO/scripts/build-guest.sh" "$bplan" "$CACHE/boot"
	s=0
	bash "$REPO/scripts/boot.sh" "$CACHE/boot/dom0-initrd.cpio" "$bout" || s=$?
	report_args+=(--run "$name,$REPO/guest/plans/$bplan.txt,$bout/domu.log,$bout/console.log,$s")
done

if [ "$mode" = run ]; then
	stage "what the guest saw"
	sed -n '/^xc-domU:/,/^# xen-clock: end of plan/p' "$out/domu.log" | sed 's/^/    /'
fi
if [ "$mode" = bench ]; then
	stage "benchmark"
	{
		echo "# xen-clock bench, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$REPO" describe --always --dirty 2>/dev/null)"
		echo "# one read of each clocksource, interleaved, interrupts off, TSC-timed; ns"
		echo "# then timer latency: lateness of 1 ms one-shot sleeps on CPU 1, c_xen_* with the C"
		echo "# device, xen_rs_* with xen-rs, alternating rounds in the same boot; ns"
		sed -n '/^ok [0-9]* - module_insmod/,/^ok [0-9]* - bench_timer_latency/p' "$out/domu.log" | sed -n 's/^# //p'
	} | tee "$RESULTS/bench-$(date +%Y%m%d-%H%M%S).txt" | sed 's/^/    /'
fi
stage "results ($out)"
python3 "$REPO/scripts/report.py" "${report_args[@]}" | tee "$out/summary.txt"
exit "${PIPESTATUS[0]}"
