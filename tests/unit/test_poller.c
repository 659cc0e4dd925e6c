/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/poller.h"
#include "util/qsbr.h"

struct counter {
	struct vn_pollable pl;
	unsigned polls;
	unsigned limit;       /* removes itself after this many polls */
	struct counter *peer; /* its polls are noted at the removal: */
	unsigned peer_polls;
	uint32_t removed;
	pthread_t thread;
};

static unsigned count_poll(struct vn_pollable *pl)
{
	struct counter *c = vn_container_of(pl, struct counter, pl);

	c->thread = pthread_self();
	if (++c->polls == c->limit) {
		if (c->peer)
			c->peer_polls = c->peer->polls;
		vn_poller_remove(pl->owner, pl);
		__atomic_store_n(&c->removed, 1, __ATOMIC_RELEASE);
	}
	return 1;
}

static struct vn_poller *test_poller;

static void add_fn(void *arg)
{
	struct counter *c = arg;
	vn_poller_add(test_poller, &c->pl);
}

static void test_pollables_run_on_the_poller_and_may_remove_themselves(void **state)
{
	struct counter a = {.pl = {.poll = count_poll}, .limit = 1000};
	struct counter b = {.pl = {.poll = count_poll}, .limit = 10};

	(void)state;
	assert_int_equal(vn_poller_create(-1, NULL, "t", &test_poller), 0);
	assert_int_equal(vn_poller_call(test_poller, add_fn, &a), 0);
	assert_int_equal(vn_poller_call(test_poller, add_fn, &b), 0);
	while (!__atomic_load_n(&a.removed, __ATOMIC_ACQUIRE) ||
	       !__atomic_load_n(&b.removed, __ATOMIC_ACQUIRE))
		usleep(100);
	assert_int_equal(a.polls, 1000);
	assert_int_equal(b.polls, 10);
	assert_false(pthread_equal(a.thread, pthread_self()));
	assert_true(pthread_equal(a.thread, b.thread));
	vn_poller_destroy(test_poller);
}

static void add_two(void *arg)
{
	struct counter *a = arg;
	struct vn_pollable *b = a->pl.next;

	vn_poller_add(test_poller, b);
	vn_poller_add(test_poller, &a->pl);
}

/*
 * A slow pollable waits while the others find work: a busy pollable that
 * removes itself after 64 * 20 polls sees the slow one polled about 20
 * times (once every VN_POLLER_SLOW_EVERY busy rounds), not 1280; once the
 * poller finds no other work, the slow one is polled every round.
 */
static void test_a_slow_pollable_waits_while_others_are_busy(void **state)
{
	struct counter slow = {.pl = {.poll = count_poll, .slow = true}, .limit = 1000000};
	struct counter busy = {
	    .pl = {.poll = count_poll}, .limit = VN_POLLER_SLOW_EVERY * 20, .peer = &slow};
	unsigned during;

	(void)state;
	assert_int_equal(vn_poller_create(-1, NULL, "t", &test_poller), 0);
	/* Both join in one posted call, so they start on the same round. */
	slow.pl.next = &busy.pl; /* add_two's second */
	assert_int_equal(vn_poller_call(test_poller, add_two, &slow), 0);
	while (!__atomic_load_n(&busy.removed, __ATOMIC_ACQUIRE))
		usleep(100);
	during = busy.peer_polls;
	print_message("# slow pollable: %u polls in %u busy rounds\n", during, busy.limit);
	/* About 20 during the busy stretch: a round or two either side. */
	assert_true(during >= 18 && during <= 24);
	/* Alone, it is not starved: a round that skips it finds no work, so
	 * the next one polls it. */
	while (__atomic_load_n(&slow.polls, __ATOMIC_RELAXED) < during + 100)
		usleep(100);
	vn_poller_destroy(test_poller);
}

static void note_thread(void *arg)
{
	*(pthread_t *)arg = pthread_self();
}

static void test_an_idle_poller_sleeps_and_a_post_wakes_it(void **state)
{
	struct vn_poller_stats st;
	pthread_t th = pthread_self();
	struct vn_qsbr q;

	(void)state;
	vn_qsbr_init(&q);
	assert_int_equal(vn_poller_create(-1, &q, "idle", &test_poller), 0);
	for (int i = 0; i < 5000; i++) {
		vn_poller_get_stats(test_poller, &st);
		if (st.sleeps > 2)
			break;
		usleep(1000);
	}
	assert_true(st.sleeps > 2);
	/* A sleeping (offline) poller does not hold up a grace period. */
	vn_qsbr_synchronize(&q);
	assert_int_equal(vn_poller_call(test_poller, note_thread, &th), 0);
	assert_false(pthread_equal(th, pthread_self()));
	vn_poller_destroy(test_poller);
	vn_qsbr_destroy(&q);
}

/* A reader that leaves (unregisters) while a writer waits for it to pass a
 * quiescent state: the writer holds the registry lock as it waits, so the
 * reader must go offline before it takes that lock, or both wait forever. */
struct qsbr_case {
	struct vn_qsbr q;
	struct vn_qsbr_reader r;
	uint32_t synced;
};

static void *qsbr_writer(void *arg)
{
	struct qsbr_case *c = arg;

	vn_qsbr_synchronize(&c->q);
	__atomic_store_n(&c->synced, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *qsbr_leaver(void *arg)
{
	struct qsbr_case *c = arg;

	vn_qsbr_unregister(&c->q, &c->r);
	return NULL;
}

static void test_a_reader_leaving_while_a_writer_waits_does_not_deadlock(void **state)
{
	struct qsbr_case c = {0};
	pthread_t w, l;
	struct timespec ts;

	(void)state;
	vn_qsbr_init(&c.q);
	vn_qsbr_register(&c.q, &c.r, "leaver"); /* online, never quiescent */
	assert_int_equal(pthread_create(&w, NULL, qsbr_writer, &c), 0);
	usleep(50000); /* the writer is waiting for us, its lock held */
	assert_int_equal(__atomic_load_n(&c.synced, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(pthread_create(&l, NULL, qsbr_leaver, &c), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (pthread_timedjoin_np(w, NULL, &ts) != 0)
		fail_msg("a writer still waits for a reader that unregistered 10 s ago");
	assert_int_equal(pthread_timedjoin_np(l, NULL, &ts), 0);
	vn_qsbr_destroy(&c.q);
}

/* Appends its tag to a log: the order posted functions ran in. */
struct order {
	char log[16];
	unsigned n;
};
static struct order order;

static void note_a(void *arg)
{
	(void)arg;
	order.log[order.n++] = 'a';
}

static void note_b(void *arg)
{
	(void)arg;
	order.log[order.n++] = 'b';
}

/*
 * An inline poller (the fuzz harness's) runs nothing by itself: a post
 * waits for vn_poller_step, which runs the posts in order and then one
 * round of every pollable, slow ones included; vn_poller_call runs what
 * was posted before it first; destroy runs what is left. A threaded
 * poller's step does nothing.
 */
static void test_an_inline_poller_runs_only_when_stepped(void **state)
{
	struct counter fast = {.pl = {.poll = count_poll}, .limit = 1000};
	struct counter slow = {.pl = {.poll = count_poll, .slow = true}, .limit = 1000};
	struct vn_poller *p, *threaded;

	(void)state;
	memset(&order, 0, sizeof(order));
	assert_int_equal(vn_poller_create_inline("inl", &p), 0);
	assert_true(vn_poller_is_current(p));
	test_poller = p;
	assert_int_equal(vn_poller_post(p, add_fn, &fast), 0);
	assert_int_equal(vn_poller_post(p, add_fn, &slow), 0);
	assert_int_equal(vn_poller_post(p, note_a, NULL), 0);
	usleep(1000);
	assert_int_equal(order.n, 0); /* nothing ran on its own */
	assert_true(vn_poller_step(p));
	assert_string_equal(order.log, "a");
	assert_int_equal(fast.polls, 1);
	assert_int_equal(slow.polls, 1);
	assert_true(vn_poller_step(p));
	assert_int_equal(fast.polls, 2);
	assert_int_equal(slow.polls, 2);

	assert_int_equal(vn_poller_post(p, note_a, NULL), 0);
	assert_int_equal(vn_poller_call(p, note_b, NULL), 0);
	assert_string_equal(order.log, "aab"); /* the post before the call */
	assert_int_equal(fast.polls, 2);       /* a call is no round */

	assert_int_equal(vn_poller_post(p, note_b, NULL), 0);
	vn_poller_destroy(p);
	assert_string_equal(order.log, "aabb");

	assert_int_equal(vn_poller_create(-1, NULL, "thr", &threaded), 0);
	assert_false(vn_poller_step(threaded));
	vn_poller_destroy(threaded);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pollables_run_on_the_poller_and_may_remove_themselves),
	    cmocka_unit_test(test_an_idle_poller_sleeps_and_a_post_wakes_it),
	    cmocka_unit_test(test_a_slow_pollable_waits_while_others_are_busy),
	    cmocka_unit_test(test_a_reader_leaving_while_a_writer_waits_does_not_deadlock),
	    cmocka_unit_test(test_an_inline_poller_runs_only_when_stepped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
