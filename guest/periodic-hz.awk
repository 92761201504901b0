# SPDX-License-Identifier: GPL-2.0
#
# The verdict of ce_periodic_hz (guest/tests.sh) on two snapshots 10 s apart, files p0.j p0.k
# p1.j p1.k: N.j is "MONOTONIC_NS JIFFIES" as /proc/timer_list showed them; N.k is the output
# of "timer-latency timed" on the driver's debugfs clockevents file: CLOCK_MONOTONIC just
# before and just after the read ("before_ns:", "after_ns:"), then a line per CPU with its
# ticks= and dropped_ticks= counters. -v hz=HZ -v ncpu=CPUS.
#
# Exit 1 if jiffies or a CPU's ticks are off HZ by more than 1 % over every window the reads'
# timing allows (each read within 5 ms: at most 0.1 % of 10 s), if a CPU has no counters, or
# if the catch-up dropped a tick. The counters are timed by their own read: make check once
# failed a device that ran 2608 ticks while jiffies, read 116 ms earlier relative to
# /proc/timer_list's clock, counted 2579 (the do_timer CPU's ticks are the jiffies). Tested on
# the host: scripts/test_guest_awk.py.

{ s = (FILENAME ~ /p1\./) }
FILENAME ~ /\.j$/ { t[s] = $1; j[s] = $2; next }
/^before_ns:/ { b[s] = $2; next }
/^after_ns:/ { a[s] = $2; next }
/^cpu[0-9]+ / {
	c = substr($1, 4) + 0
	for (i = 2; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == "ticks") k[s, c] = kv[2]
		if (kv[1] == "dropped_ticks") d[s, c] = kv[2]
	}
}
function check(what, n, lo, hi,   r, off_lo, off_hi) {
	r = n / ((lo + hi) / 2); off_lo = (n / hi - hz) / hz * 100; off_hi = (n / lo - hz) / hz * 100
	printf "%s: %d in %.3f s of guest time: %.2f Hz for HZ=%d, off by %+.3f%% (%+.3f%% to %+.3f%% by the timing of the reads)\n",
		what, n, (lo + hi) / 2, r, hz, (r - hz) / hz * 100, off_lo, off_hi
	if (off_lo > 1 || off_hi < -1) bad = 1
}
END {
	w = (t[1] - t[0]) / 1e9
	if (w <= 0 || !(0 in a) || !(1 in a) || b[1] <= a[0]) { print "snapshots missing or out of order"; exit 1 }
	check("jiffies", j[1] - j[0], w, w)
	for (c = 0; c < ncpu; c++) {
		if (!((0, c) in k) || !((1, c) in k)) { printf "cpu%d: no counters\n", c; bad = 1; continue }
		check("cpu" c " xen-rs ticks", k[1, c] - k[0, c], (b[1] - a[0]) / 1e9, (a[1] - b[0]) / 1e9)
		if (d[1, c] != d[0, c]) { printf "cpu%d: %d ticks dropped by the catch-up\n", c, d[1, c] - d[0, c]; bad = 1 }
	}
	exit bad
}
