/* SPDX-License-Identifier: MIT */
/* bench/window.h: the slowest and fastest window, a stalled one included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "window.h"

static void test_window_min_and_max(void **state)
{
	struct window_range w = {0};
	double v[] = {60e6, 58e6, 61e6, 55e6};

	(void)state;
	window_range_add(&w, v[0]);
	assert_true(w.n == 1 && w.min == 60e6 && w.max == 60e6); /* one window is both */
	for (unsigned i = 1; i < 4; i++)
		window_range_add(&w, v[i]);
	assert_int_equal(w.n, 4);
	assert_true(w.min == 55e6 && w.max == 61e6);
}

/* The first window stalled (no I/O): it is the minimum, not "no window". */
static void test_window_a_stalled_first_window_is_the_minimum(void **state)
{
	struct window_range w = {0};

	(void)state;
	window_range_add(&w, 0);
	window_range_add(&w, 60e6);
	window_range_add(&w, 61e6);
	assert_true(w.min == 0 && w.max == 61e6);
}

static void test_window_a_stall_later_is_the_minimum(void **state)
{
	struct window_range w = {0};

	(void)state;
	window_range_add(&w, 60e6);
	window_range_add(&w, 0);
	assert_true(w.min == 0 && w.max == 60e6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_window_min_and_max),
	    cmocka_unit_test(test_window_a_stalled_first_window_is_the_minimum),
	    cmocka_unit_test(test_window_a_stall_later_is_the_minimum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
