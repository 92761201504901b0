#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's timer selftests (tools/testing/selftests/timers) of the
# same tree, statically, for the busybox guest.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PROGS=(posix_timers nanosleep nsleep-lat set-timer-lat mqueue-lat inconsistency-check
       raw_skew threadtest clocksource-switch)
OUT=$CACHE/selftests

stage "kselftest timer programs"
TWIN=$REPO/experiments/known-failure/twin
key="$LINUX_SOURCE_VER ${PROGS[*]} experiment=${XC_EXPERIMENT:-0} $(cat "$REPO/selftests/timer-latency.c" "$REPO/selftests/vdso-clock.c" "$REPO/selftests/clock-read-cost.c" "$REPO/selftests/finit-module.c" "$TWIN/"* "$KOUT/Module.symvers" | sha256sum | cut -c1-16)"
if stamp_ok selftests "$key"; then
	note "cached: ${PROGS[*]}"
	exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"
make -s -C "$KSRC/tools/testing/selftests/timers" OUTPUT="$OUT" CC=gcc \
	CFLAGS="-O2 -static -Wall -I$KSRC/tools/testing/selftests -I$KOUT/usr/include" \
	LDLIBS="-lrt -lpthread -lm" "${PROGS[@]/#/$OUT/}" >"$OUT/build.log" 2>&1 ||
	{ tail -20 "$OUT/build.log"; die "selftest build failed"; }
# For the experiment exp-raw-skew only (experiments/known-failure/): raw_skew with a 30 s
# measurement instead of 120 s, built from the same source.
if [ "${XC_EXPERIMENT:-0}" = 1 ]; then
	sed 's/sleep(120)/sleep(30)/' "$KSRC/tools/testing/selftests/timers/raw_skew.c" >"$OUT/raw_skew_short.c"
	grep -q 'sleep(30)' "$OUT/raw_skew_short.c" || die "raw_skew.c no longer sleeps 120 s: update build-selftests.sh"
	gcc -O2 -static -Wall -I"$KSRC/tools/testing/selftests/timers" -I"$KSRC/tools/testing/selftests" \
		-I"$KOUT/usr/include" -o "$OUT/raw_skew_short" "$OUT/raw_skew_short.c" -lrt -lpthread -lm
	rm "$OUT/raw_skew_short.c"
fi
# The project's own timer tests (selftests/), built the same way.
gcc -O2 -static -Wall -Werror -o "$OUT/timer-latency" "$REPO/selftests/timer-latency.c" -lrt -lpthread
gcc -O2 -static -Wall -Werror -o "$OUT/vdso-clock" "$REPO/selftests/vdso-clock.c"
gcc -O2 -static -Wall -Werror -o "$OUT/clock-read-cost" "$REPO/selftests/clock-read-cost.c"
gcc -O2 -static -Wall -Werror -o "$OUT/finit-module" "$REPO/selftests/finit-module.c"
# The C twin of the xen-rs clock event device, for the experiments on the known failure
# (experiments/known-failure/, XC_EXPERIMENT=1 when one of their plans runs): built out of tree
# against the module kernel, from a copy (M= writes next to the sources). It needs the hook of
# patches/, so the XC_VANILLA=1 kernel has no twin.
if [ "${XC_EXPERIMENT:-0}" = 1 ] && [ "${XC_VANILLA:-0}" != 1 ]; then
	rm -rf "$CACHE/twin"
	cp -r "$TWIN" "$CACHE/twin"
	make -s -C "$KSRC" O="$KOUT" M="$CACHE/twin" LLVM="$LLVM_SUFFIX" modules >>"$OUT/build.log" 2>&1 ||
		{ tail -20 "$OUT/build.log"; die "xen_twin.ko build failed"; }
	cp "$CACHE/twin/xen_twin.ko" "$OUT/"
fi
PROGS+=(timer-latency vdso-clock clock-read-cost finit-module)
for p in "${PROGS[@]}"; do
	[ -x "$OUT/$p" ] || die "selftest $p was not built (log: $OUT/build.log)"
done
note "built: ${PROGS[*]} $(ls "$OUT"/*.ko 2>/dev/null | xargs -rn1 basename)"
stamp_set selftests "$key"
