// SPDX-License-Identifier: GPL-2.0
/*
 * timer-latency: how late a one-shot timer wakes a sleeping task.
 *
 *   timer-latency lat COUNT [PERIOD_US [RAWFILE]]
 *	COUNT sleeps of PERIOD_US (default 1000) each, to an absolute
 *	CLOCK_MONOTONIC deadline; prints the distribution of the lateness
 *	(wake-up time minus deadline) as "key: value" lines, in ns, and
 *	appends each sample to RAWFILE if given.
 *
 *   timer-latency stats RAWFILE
 *	The same distribution, of the samples in RAWFILE (one per line).
 *
 *   timer-latency watch SECONDS [LIMIT_MS]
 *	1 ms sleeps for SECONDS, or until SIGINT or SIGTERM; fails (exit 1) if
 *	one wakes more than LIMIT_MS (default 1000) late, which is what a lost
 *	timer event looks like. Prints the number of sleeps and the largest
 *	overshoot.
 *
 * Exit status 0 on success, 1 on a failed check, 2 on bad usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000LL

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Sleeps until the absolute CLOCK_MONOTONIC time @t; returns how late it woke. */
static int64_t sleep_until(int64_t t)
{
	struct timespec ts = { .tv_sec = t / NSEC_PER_SEC, .tv_nsec = t % NSEC_PER_SEC };
	int ret;

	do {
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	} while (ret == EINTR && !stop);
	return now_ns() - t;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void print_stats(int64_t *late, long count)
{
	qsort(late, count, sizeof(*late), cmp64);
	printf("samples: %ld\n", count);
	printf("min_ns: %lld\n", (long long)late[0]);
	printf("median_ns: %lld\n", (long long)late[count / 2]);
	printf("p90_ns: %lld\n", (long long)late[count * 90 / 100]);
	printf("p99_ns: %lld\n", (long long)late[count * 99 / 100]);
	printf("max_ns: %lld\n", (long long)late[count - 1]);
}

static int latency(long count, long period_us, const char *raw)
{
	int64_t *late = calloc(count, sizeof(*late));
	FILE *f = NULL;
	long i;

	if (!late)
		return 1;
	if (raw && !(f = fopen(raw, "a"))) {
		perror(raw);
		return 1;
	}
	for (i = 0; i < count; i++)
		late[i] = sleep_until(now_ns() + period_us * 1000LL);
	for (i = 0; f && i < count; i++)
		fprintf(f, "%lld\n", (long long)late[i]);
	if (f)
		fclose(f);
	printf("period_us: %ld\n", period_us);
	print_stats(late, count);
	free(late);
	return 0;
}

static int stats(const char *raw)
{
	long count = 0, size = 1024;
	int64_t *late = malloc(size * sizeof(*late));
	long long v;
	FILE *f = fopen(raw, "r");

	if (!f || !late) {
		perror(raw);
		return 1;
	}
	while (fscanf(f, "%lld", &v) == 1) {
		if (count == size) {
			size *= 2;
			late = realloc(late, size * sizeof(*late));
			if (!late)
				return 1;
		}
		late[count++] = v;
	}
	fclose(f);
	if (!count) {
		fprintf(stderr, "%s: no samples\n", raw);
		return 1;
	}
	print_stats(late, count);
	free(late);
	return 0;
}

static int watch(long seconds, long limit_ms)
{
	int64_t end = now_ns() + seconds * NSEC_PER_SEC, worst = 0, late;
	long sleeps = 0;

	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop && now_ns() < end) {
		late = sleep_until(now_ns() + 1000000);
		if (late > worst)
			worst = late;
		sleeps++;
	}
	printf("sleeps: %ld\nmax_overshoot_us: %lld\n", sleeps, (long long)(worst / 1000));
	if (worst > limit_ms * 1000000LL) {
		printf("a 1 ms sleep woke %lld ms late (limit %ld ms)\n",
		       (long long)(worst / 1000000), limit_ms);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "lat")) {
		long count = atol(argv[2]);
		long period = argc > 3 ? atol(argv[3]) : 1000;

		if (count > 0 && period > 0)
			return latency(count, period, argc > 4 ? argv[4] : NULL);
	} else if (argc == 3 && !strcmp(argv[1], "stats")) {
		return stats(argv[2]);
	} else if (argc >= 3 && !strcmp(argv[1], "watch")) {
		long seconds = atol(argv[2]);
		long limit = argc > 3 ? atol(argv[3]) : 1000;

		if (seconds > 0 && limit > 0)
			return watch(seconds, limit);
	}
	fprintf(stderr, "usage: %s lat COUNT [PERIOD_US [RAWFILE]] | stats RAWFILE | watch SECONDS [LIMIT_MS]\n",
		argv[0]);
	return 2;
}
