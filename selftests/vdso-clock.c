// SPDX-License-Identifier: GPL-2.0
/*
 * vdso-clock: can this process read the clock without a system call?
 *
 * Forbids the clock_gettime, gettimeofday and time system calls (a seccomp
 * filter that fails them with EPERM), checks that the filter works (the
 * clock_gettime system call fails with EPERM), then reads CLOCK_MONOTONIC and
 * CLOCK_REALTIME through libc, N times each (default 1000). libc reads them
 * in the vDSO when the current clocksource has a vDSO mode, and otherwise
 * falls back to the forbidden system call: so the reads succeed exactly where
 * the clocksource is read in the vDSO, however fast or slow the machine is.
 * Also checks that CLOCK_MONOTONIC never goes back, and prints the mean cost
 * of a read.
 *
 * Exit status: 0 every read succeeded; 1 a read failed (the clocksource is
 * read through the system call) or went back; 2 the set-up failed.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int forbid_clock_syscalls(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_gettimeofday, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_time, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	};
	struct sock_fprog prog = {
		.len = ARRAY_SIZE(filter),
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("vdso-clock: seccomp");
		return -1;
	}
	return 0;
}

static long long ns(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct {
		clockid_t id;
		const char *name;
	} clocks[] = {
		{ CLOCK_MONOTONIC, "CLOCK_MONOTONIC" },
		{ CLOCK_REALTIME, "CLOCK_REALTIME" },
	};
	struct timespec ts;
	long n = 1000;
	int bad = 0;

	if (argc == 3 && !strcmp(argv[1], "-n"))
		n = atol(argv[2]);
	if (n < 1 || argc == 2 || argc > 3) {
		fprintf(stderr, "usage: vdso-clock [-n READS]\n");
		return 2;
	}
	if (forbid_clock_syscalls())
		return 2;
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != -1 || errno != EPERM) {
		fprintf(stderr, "vdso-clock: the clock_gettime system call is not forbidden\n");
		return 2;
	}
	for (size_t c = 0; c < ARRAY_SIZE(clocks); c++) {
		long long prev = 0, first = 0, last = 0;
		long i;

		for (i = 0; i < n; i++) {
			if (clock_gettime(clocks[c].id, &ts)) {
				printf("%s: read %ld of %ld failed (%s): %s\n", clocks[c].name,
				       i + 1, n, strerror(errno),
				       "read through the system call, not the vDSO");
				bad = 1;
				break;
			}
			if (i == 0)
				first = ns(&ts);
			if (clocks[c].id == CLOCK_MONOTONIC && ns(&ts) < prev) {
				printf("%s: went back by %lld ns at read %ld\n", clocks[c].name,
				       prev - ns(&ts), i + 1);
				bad = 1;
				break;
			}
			last = ns(&ts);
			prev = last;
		}
		if (i == n)
			printf("%s: %ld reads in the vDSO, %.0f ns each on average\n",
			       clocks[c].name, n,
			       n > 1 ? (double)(last - first) / (n - 1) : 0.0);
	}
	return bad;
}
