/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/evloop.h"

struct ctx {
	struct vn_evloop *l;
	struct vn_ev *ev[2];
	int fds[2][2];
	int calls;
	pthread_t caller;
};

static void on_read(void *arg, uint32_t events)
{
	struct ctx *c = arg;
	char b;

	(void)events;
	c->calls++;
	/* Delete both handles from inside a callback: the other one's event,
	 * pending in the same batch, must not run. */
	if (read(c->fds[0][0], &b, 1) < 0 && read(c->fds[1][0], &b, 1) < 0)
		return;
	vn_evloop_del(c->l, c->ev[0]);
	vn_evloop_del(c->l, c->ev[1]);
	vn_evloop_stop(c->l);
}

static void test_delete_from_callback_suppresses_pending_events(void **state)
{
	struct ctx c = {0};

	(void)state;
	assert_int_equal(vn_evloop_create(&c.l), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(c.fds[i]), 0);
		assert_int_equal(vn_evloop_add(c.l, c.fds[i][0], EPOLLIN, on_read, &c, &c.ev[i]),
				 0);
		assert_int_equal(write(c.fds[i][1], "x", 1), 1);
	}
	assert_int_equal(vn_evloop_run(c.l), 0);
	assert_int_equal(c.calls, 1);
	vn_evloop_destroy(c.l);
	for (int i = 0; i < 2; i++) {
		close(c.fds[i][0]);
		close(c.fds[i][1]);
	}
}

static void record_thread(void *arg)
{
	struct ctx *c = arg;
	c->caller = pthread_self();
	c->calls++;
}

static void test_call_runs_on_the_loop_thread(void **state)
{
	struct ctx c = {0};
	pthread_t me = pthread_self();

	(void)state;
	assert_int_equal(vn_evloop_create(&c.l), 0);
	/* Not running: runs here. */
	vn_evloop_call(c.l, record_thread, &c);
	assert_true(pthread_equal(c.caller, me));
	assert_int_equal(vn_evloop_start_thread(c.l, "t"), 0);
	vn_evloop_call(c.l, record_thread, &c);
	assert_false(pthread_equal(c.caller, me));
	assert_int_equal(c.calls, 2);
	vn_evloop_join(c.l);
	vn_evloop_destroy(c.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete_from_callback_suppresses_pending_events),
	    cmocka_unit_test(test_call_runs_on_the_loop_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
