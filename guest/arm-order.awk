# SPDX-License-Identifier: GPL-2.0
#
# The order of the timer latency benchmark's arms in round R (guest/tests.sh,
# t_bench_timer_latency): row R of a Williams design, read from the arms on one line,
# printed one per line.
#
#   echo "c rs rs_cs c2" | awk -v r=R -f arm-order.awk
#
# Over k rows (2k for an odd number k of arms) every arm runs first as often as any other and
# right after every other arm equally often. An arm's lateness depends on the arm before it
# (the module's hand-back, say): with a rotation every arm had the same predecessor in every
# round, and with a shuffle seeded by the round every boot repeated the same imbalance.
{
	k = NF
	rows = k % 2 ? 2 * k : k
	row = r % rows
	# The first row 0, 1, k-1, 2, k-2, ...; the others add the row's number, modulo k; for
	# odd k, rows k to 2k-1 are the first k reversed.
	for (m = 0; m < k; m++) {
		s = m % 2 ? (m + 1) / 2 : (m ? k - m / 2 : 0)
		order[m] = (s + row) % k
	}
	for (m = 0; m < k; m++)
		print $(order[row >= k ? k - 1 - m : m] + 1)
}
