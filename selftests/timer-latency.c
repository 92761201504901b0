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
 *	1 ms sleeps to absolute CLOCK_MONOTONIC deadlines for SECONDS, or until
 *	SIGINT or SIGTERM; fails (exit 1) if one wakes more than LIMIT_MS
 *	(default 1000) late, which is what a lost timer event looks like, if one
 *	wakes before its deadline, or if CLOCK_MONOTONIC ever reads less than
 *	before. Prints the number of sleeps and the largest overshoot.
 *
 *   timer-latency clocks
 *	CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME, read together, in ns.
 *
 *   timer-latency timed FILE
 *	FILE's contents (up to 64 KiB), after two lines "before_ns: N" and
 *	"after_ns: N": CLOCK_MONOTONIC just before and just after FILE was read,
 *	which bracket in time the counters FILE shows.
 *
 *   timer-latency ticks
 *	Every online CPU's tick device fires: a 20 ms sleep pinned to each CPU
 *	must return within 1 s, and the CPU's timer interrupt count (the line
 *	of /proc/interrupts named timerN) must grow. Prints a line per CPU with
 *	its tick device, then CLOCK_MONOTONIC; exit 1 if a CPU has no tick
 *	device, its sleep does not return, or it took no timer interrupt.
 *
 *   timer-latency share THREADS
 *	THREADS threads, each pinned to its own CPU, spin for 1 s of
 *	CLOCK_MONOTONIC at once; prints the smallest share of that second any
 *	of them got as CPU time (CLOCK_THREAD_CPUTIME_ID), in percent: below
 *	100 when the vCPUs do not each get a whole CPU.
 *
 *   timer-latency load SECONDS THREADS
 *	A timer-heavy load: THREADS threads, spread over the CPUs, each looping
 *	over a POSIX timer (signal to the thread), a timerfd and a nanosleep of
 *	a few hundred microseconds; fails if a timer never fires (a 2 s limit on
 *	each wait). Prints the number of timer expiries.
 *
 * Exit status 0 on success, 1 on a failed check, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000LL

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
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
	printf("p10_ns: %lld\n", (long long)late[count / 10]);
	printf("p25_ns: %lld\n", (long long)late[count / 4]);
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
	int64_t end = now_ns() + seconds * NSEC_PER_SEC, worst = 0, late, last = 0, t;
	long sleeps = 0, early = 0, backwards = 0;

	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop && (t = now_ns()) < end) {
		if (t < last)
			backwards++;
		late = sleep_until(t + 1000000);
		last = t + 1000000 + late;
		/* A signal may cut the last sleep short: that is not an early wake-up. */
		if (late < 0 && !stop)
			early++;
		if (late > worst)
			worst = late;
		sleeps++;
	}
	printf("sleeps: %ld\nmax_overshoot_us: %lld\nearly: %ld\nbackwards: %ld\n",
	       sleeps, (long long)(worst / 1000), early, backwards);
	if (worst > limit_ms * 1000000LL) {
		printf("a 1 ms sleep woke %lld ms late (limit %ld ms)\n",
		       (long long)(worst / 1000000), limit_ms);
		return 1;
	}
	if (early || backwards) {
		printf("%ld sleeps woke before their deadline, CLOCK_MONOTONIC went back %ld times\n",
		       early, backwards);
		return 1;
	}
	return 0;
}

static int clocks(void)
{
	int64_t real = clock_ns(CLOCK_REALTIME), mono = clock_ns(CLOCK_MONOTONIC);
	int64_t boot = clock_ns(CLOCK_BOOTTIME);

	printf("%lld %lld %lld\n", (long long)real, (long long)mono, (long long)boot);
	return 0;
}

static int timed(const char *path)
{
	static char buf[1 << 16];
	int64_t before, after;
	size_t len = 0;
	ssize_t n = 0;
	int err, fd = open(path, O_RDONLY);

	if (fd < 0) {
		perror(path);
		return 1;
	}
	before = clock_ns(CLOCK_MONOTONIC);
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += n;
	after = clock_ns(CLOCK_MONOTONIC);
	err = errno;
	close(fd);
	if (n < 0 || len == sizeof(buf)) {
		fprintf(stderr, "%s: %s\n", path, n < 0 ? strerror(err) : "larger than 64 KiB");
		return 1;
	}
	printf("before_ns: %lld\nafter_ns: %lld\n", (long long)before, (long long)after);
	fwrite(buf, 1, len, stdout);
	return 0;
}

/* The timer interrupts CPU @cpu has taken (its VIRQ_TIMER line), or -1. */
static long long timer_irqs(int cpu)
{
	char line[4096], want[16], *tok, *save;
	long long count = -1;
	int col = -1, i;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "timer%d", cpu);
	if (fgets(line, sizeof(line), f)) {
		for (i = 0, tok = strtok_r(line, " \t\n", &save); tok;
		     i++, tok = strtok_r(NULL, " \t\n", &save)) {
			if (!strncmp(tok, "CPU", 3) && atoi(tok + 3) == cpu)
				col = i;
		}
	}
	while (col >= 0 && fgets(line, sizeof(line), f)) {
		char *fields[512];
		int n = 0;

		for (tok = strtok_r(line, " \t\n", &save); tok && n < 512;
		     tok = strtok_r(NULL, " \t\n", &save))
			fields[n++] = tok;
		/* "IRQ: count... chip... name": counts start in the second field. */
		if (n > col + 1 && !strcmp(fields[n - 1], want)) {
			count = atoll(fields[col + 1]);
			break;
		}
	}
	fclose(f);
	return count;
}

static void *pinned_sleep(void *arg)
{
	struct timespec ts = { .tv_nsec = 20000000 };
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET((int)(long)arg, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		return (void *)1L;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return NULL;
}

static int ticks(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int cpu, failed = 0;

	for (cpu = 0; cpu < ncpu; cpu++) {
		char path[128], dev[64] = "";
		long long before, after;
		struct timespec limit;
		pthread_t thread;
		void *ret = NULL;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
		f = fopen(path, "r");
		if (f) {
			int online = fgetc(f) == '1';

			fclose(f);
			if (!online)
				continue;
		}
		snprintf(path, sizeof(path), "/sys/devices/system/clockevents/clockevent%d/current_device", cpu);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(dev, sizeof(dev), f))
				dev[0] = 0;
			dev[strcspn(dev, "\n")] = 0;
			fclose(f);
		}
		if (!dev[0]) {
			printf("cpu%d: no tick device\n", cpu);
			failed = 1;
			continue;
		}
		before = timer_irqs(cpu);
		if (pthread_create(&thread, NULL, pinned_sleep, (void *)(long)cpu)) {
			printf("cpu%d: no thread\n", cpu);
			return 1;
		}
		clock_gettime(CLOCK_REALTIME, &limit);
		limit.tv_sec += 1;
		if (pthread_timedjoin_np(thread, &ret, &limit)) {
			printf("cpu%d (%s): a 20 ms sleep did not return in 1 s\n", cpu, dev);
			/* The thread sleeps on; the process exits with it. */
			failed = 1;
			continue;
		}
		after = timer_irqs(cpu);
		if (ret || after <= before) {
			printf("cpu%d (%s): took no timer interrupt (%lld -> %lld)\n", cpu, dev,
			       before, after);
			failed = 1;
			continue;
		}
		printf("cpu%d: %s, timer interrupts %lld -> %lld\n", cpu, dev, before, after);
	}
	printf("monotonic_ns: %lld\n", (long long)now_ns());
	return failed;
}

static void *spin(void *arg)
{
	long *share = arg;
	int64_t end, cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), t0 = now_ns();
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET((int)*share, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	end = t0 + NSEC_PER_SEC;
	while (now_ns() < end)
		;
	*share = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) * 100 / (now_ns() - t0);
	return NULL;
}

static int share(int threads)
{
	pthread_t *t = calloc(threads, sizeof(*t));
	long *shares = calloc(threads, sizeof(*shares)), least = 100;
	int i;

	if (!t || !shares)
		return 1;
	for (i = 0; i < threads; i++) {
		shares[i] = i;
		if (pthread_create(&t[i], NULL, spin, &shares[i]))
			return 1;
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (shares[i] < least)
			least = shares[i];
	}
	printf("%ld\n", least);
	return 0;
}

struct load_thread {
	pthread_t thread;
	int cpu;
	int64_t end;
	long expiries;
	int failed;
};

/* Waits for @sig for at most 2 s; false if it did not come. */
static int wait_signal(int sig)
{
	struct timespec limit = { .tv_sec = 2 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	return sigtimedwait(&set, NULL, &limit) == sig;
}

static void *load_loop(void *arg)
{
	struct load_thread *lt = arg;
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
	struct itimerspec once = { .it_value = { .tv_nsec = 300000 } };
	struct timespec nap = { .tv_nsec = 200000 };
	cpu_set_t cpus;
	timer_t timer;
	uint64_t n;
	int tfd;

	CPU_ZERO(&cpus);
	CPU_SET(lt->cpu, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	sev._sigev_un._tid = syscall(SYS_gettid);
	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	if (tfd < 0 || timer_create(CLOCK_MONOTONIC, &sev, &timer)) {
		lt->failed = 1;
		return NULL;
	}
	while (!stop && now_ns() < lt->end) {
		timer_settime(timer, 0, &once, NULL);
		if (!wait_signal(SIGRTMIN)) {
			lt->failed = 1;
			break;
		}
		timerfd_settime(tfd, 0, &once, NULL);
		if (read(tfd, &n, sizeof(n)) != sizeof(n)) {
			lt->failed = 1;
			break;
		}
		nanosleep(&nap, NULL);
		lt->expiries += 3;
	}
	timer_delete(timer);
	close(tfd);
	return NULL;
}

static int load(long seconds, int threads)
{
	struct load_thread *lt = calloc(threads, sizeof(*lt));
	long ncpu = sysconf(_SC_NPROCESSORS_CONF), expiries = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int i, failed = 0;
	sigset_t set;

	if (!lt || ncpu < 1)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* The threads wait for their timer signal with sigtimedwait(): block it. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < threads; i++) {
		lt[i].cpu = i % ncpu;
		lt[i].end = now_ns() + seconds * NSEC_PER_SEC;
		if (pthread_create(&lt[i].thread, NULL, load_loop, &lt[i]))
			return 1;
	}
	for (i = 0; i < threads; i++) {
		pthread_join(lt[i].thread, NULL);
		expiries += lt[i].expiries;
		failed |= lt[i].failed;
	}
	printf("threads: %d\ntimer_expiries: %ld\n", threads, expiries);
	if (failed)
		printf("a timer did not fire within 2 s\n");
	free(lt);
	return failed;
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
	} else if (argc == 2 && !strcmp(argv[1], "clocks")) {
		return clocks();
	} else if (argc == 3 && !strcmp(argv[1], "timed")) {
		return timed(argv[2]);
	} else if (argc == 2 && !strcmp(argv[1], "ticks")) {
		return ticks();
	} else if (argc == 3 && !strcmp(argv[1], "share") && atoi(argv[2]) > 0) {
		return share(atoi(argv[2]));
	} else if (argc == 4 && !strcmp(argv[1], "load")) {
		long seconds = atol(argv[2]);
		int threads = atoi(argv[3]);

		if (seconds > 0 && threads > 0)
			return load(seconds, threads);
	}
	fprintf(stderr, "usage: %s lat COUNT [PERIOD_US [RAWFILE]] | stats RAWFILE | watch SECONDS [LIMIT_MS] | clocks | timed FILE | ticks | share THREADS | load SECONDS THREADS\n",
		argv[0]);
	return 2;
}
