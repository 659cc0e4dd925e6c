/* SPDX-License-Identifier: MIT */
/* An in-process vnvme-target for the integration tests: a temporary
 * directory for sockets, the control loop, QSBR and polling threads. The
 * tests create their devices (vnvme_dev_create) between tenv_init() and
 * tenv_run(). */
#ifndef VN_TESTS_TARGET_ENV_H
#define VN_TESTS_TARGET_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "target/device.h"

struct target_env {
	char dir[64];
	struct vn_evloop *loop;
	struct vn_qsbr qsbr;
	struct vn_poller *pollers[4];
	unsigned nr_pollers;
	bool running;
};

static inline void tenv_init(struct target_env *e, const char *tag, unsigned nr_pollers)
{
	snprintf(e->dir, sizeof(e->dir), "/tmp/vnvme-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(e->dir));
	vn_qsbr_init(&e->qsbr);
	assert_int_equal(vn_evloop_create(&e->loop), 0);
	assert_true(nr_pollers >= 1 && nr_pollers <= 4);
	for (unsigned i = 0; i < nr_pollers; i++) {
		char name[8];
		snprintf(name, sizeof(name), "p%u", i);
		assert_int_equal(vn_poller_create(-1, &e->qsbr, name, &e->pollers[i]), 0);
	}
	e->nr_pollers = nr_pollers;
}

static inline void tenv_run(struct target_env *e)
{
	assert_int_equal(vn_evloop_start_thread(e->loop, "ctl"), 0);
	e->running = true;
}

/* After the devices are destroyed. */
static inline void tenv_fini(struct target_env *e)
{
	char cmd[128];

	if (e->running)
		vn_evloop_join(e->loop);
	for (unsigned i = 0; i < e->nr_pollers; i++)
		vn_poller_destroy(e->pollers[i]);
	vn_evloop_destroy(e->loop);
	vn_qsbr_destroy(&e->qsbr);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
}

#endif
