/* SPDX-License-Identifier: MIT */
/*
 * Start a real vnvme-target for an integration test: args (NULL-ended) plus
 * "--ready-fd 3", stdout and stderr to log (opened with log_flags: O_TRUNC
 * or O_APPEND), and wait until it says "ready" (every socket served), at
 * most 60 s: a cmocka failure naming the log otherwise. Returns its PID.
 */
#ifndef VN_TESTS_TARGET_SPAWN_H
#define VN_TESTS_TARGET_SPAWN_H

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

static inline pid_t target_spawn(const char *bin, const char *const *args, const char *log,
				 int log_flags)
{
	const char *argv[24];
	unsigned n = 0;
	char buf[16] = "";
	struct pollfd pfd;
	int rp[2];
	pid_t pid;

	argv[n++] = bin;
	while (*args && n < 21)
		argv[n++] = *args++;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	argv[n] = NULL;
	assert_int_equal(pipe2(rp, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int lfd = open(log, O_CREAT | O_WRONLY | log_flags, 0600);
		if (lfd < 0)
			_exit(127);
		dup2(lfd, 1);
		dup2(lfd, 2);
		close(lfd);
		dup2(rp[1], 3); /* dup2 clears close-on-exec */
		execv(bin, (char **)argv);
		_exit(127);
	}
	close(rp[1]);
	pfd = (struct pollfd){.fd = rp[0], .events = POLLIN};
	if (poll(&pfd, 1, 60000) != 1 || read(rp[0], buf, sizeof(buf) - 1) <= 0 ||
	    strncmp(buf, "ready", 5) != 0)
		fail_msg("vnvme-target did not say it was ready within 60 s (log: %s)", log);
	close(rp[0]);
	return pid;
}

#endif
