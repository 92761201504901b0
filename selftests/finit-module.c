// SPDX-License-Identifier: GPL-2.0
/*
 * finit-module FILE [PARAMS]: load a kernel module once, with finit_module(2).
 *
 * busybox's insmod tries init_module(2) after a failed finit_module(2), so a
 * module whose init fails is loaded, and its init run, twice. Tests of a
 * failing init use this instead. Exit status: 0 loaded; 1 the load failed
 * (the error is printed); 2 usage or FILE cannot be opened.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: finit-module FILE [PARAMS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "finit-module: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (syscall(SYS_finit_module, fd, argc == 3 ? argv[2] : "", 0)) {
		fprintf(stderr, "finit-module: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
