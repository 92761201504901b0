// SPDX-License-Identifier: GPL-2.0
/*
 * clock-read-cost: what a program pays to read CLOCK_MONOTONIC with the
 * current clocksource.
 *
 * Reads CLOCK_MONOTONIC in BATCHES batches of READS reads each, twice per
 * batch: through libc (clock_gettime(), which reads in the vDSO where the
 * clocksource has a vDSO mode and makes the system call otherwise) and
 * through the system call itself (syscall(SYS_clock_gettime)), the kernel's
 * read alone. A batch's cost is its elapsed CLOCK_MONOTONIC time over its
 * reads; the two kinds of batch alternate, so that both see the same
 * machine. Prints, for each kind, the minimum, median and maximum of the
 * batches' costs in ns per read, and every batch's cost.
 *
 * Exit status: 0 measured; 2 bad arguments or a read failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One batch of n reads, through libc or the system call: ns per read, or -1. */
static double batch(long n, int by_syscall)
{
	struct timespec start, end, ts;

	if (clock_gettime(CLOCK_MONOTONIC, &start))
		return -1;
	for (long i = 0; i < n; i++) {
		int r = by_syscall ? syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) :
				     clock_gettime(CLOCK_MONOTONIC, &ts);

		if (r)
			return -1;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &end))
		return -1;
	return (double)(ns(&end) - ns(&start)) / n;
}

int main(int argc, char **argv)
{
	static const char *const kinds[] = { "libc", "syscall" };
	long batches = 20, n = 1000;
	double *cost[2];
	int opt;

	while ((opt = getopt(argc, argv, "b:n:")) != -1) {
		switch (opt) {
		case 'b':
			batches = atol(optarg);
			break;
		case 'n':
			n = atol(optarg);
			break;
		default:
			batches = 0;
		}
	}
	if (batches < 1 || n < 1 || optind != argc) {
		fprintf(stderr, "usage: clock-read-cost [-b BATCHES] [-n READS]\n");
		return 2;
	}
	for (int k = 0; k < 2; k++) {
		cost[k] = calloc(batches, sizeof(double));
		if (!cost[k]) {
			perror("clock-read-cost");
			return 2;
		}
	}
	for (long b = 0; b < batches; b++) {
		for (int k = 0; k < 2; k++) {
			cost[k][b] = batch(n, k);
			if (cost[k][b] < 0) {
				perror("clock-read-cost: clock_gettime");
				return 2;
			}
		}
	}
	for (int k = 0; k < 2; k++) {
		printf("%s batches:", kinds[k]);
		for (long b = 0; b < batches; b++)
			printf(" %.1f", cost[k][b]);
		printf("\n");
		qsort(cost[k], batches, sizeof(double), cmp_double);
		printf("%s: %ld batches of %ld reads, ns per read: min %.1f median %.1f max %.1f\n",
		       kinds[k], batches, n, cost[k][0], cost[k][batches / 2],
		       cost[k][batches - 1]);
	}
	return 0;
}
