/* SPDX-License-Identifier: MIT */
/* vnvme-perf's latency histogram: every value lands in the bucket whose
 * bounds hold it; the sums stay exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "perf/hist.h"

static void check_bucket(uint64_t v)
{
	unsigned i = hist_index(v);

	assert_true(i < HIST_BUCKETS);
	assert_true(hist_bucket_low(i) <= v);
	if (i + 1 < HIST_BUCKETS)
		assert_true(v < hist_bucket_low(i + 1));
}

static void test_hist_every_value_lies_within_its_bucket(void **state)
{
	uint64_t x = 12345;

	for (uint64_t v = 0; v < 100000; v++)
		check_bucket(v);
	for (unsigned e = 1; e < 53; e++) {
		check_bucket((1ull << e) - 1);
		check_bucket(1ull << e);
		check_bucket((1ull << e) + 1);
	}
	/* Seed 12345: values up to 2^53, where the conversion is exact. */
	for (int n = 0; n < 100000; n++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		check_bucket(x >> (11 + n % 50));
	}
}

static void test_hist_buckets_are_within_a_sixteenth(void **state)
{
	/* From 16 on, a bucket spans at most 1/16 of its lower bound. */
	assert_int_equal(hist_bucket_low(5 * HIST_SUB), 16);
	for (unsigned i = 5 * HIST_SUB; i + 1 < HIST_BUCKETS - 1; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_low(i + 1);
		assert_true(hi > lo);
		assert_true(hi - lo <= lo / 16);
	}
	/* Below 16, each value has a bucket of its own. */
	assert_int_equal(hist_index(0), 0);
	assert_int_equal(hist_bucket_low(0), 0);
	for (uint64_t v = 1; v < 16; v++) {
		assert_true(hist_index(v) > hist_index(v - 1));
		assert_int_equal(hist_bucket_low(hist_index(v)), v);
	}
}

static void test_hist_huge_values_stay_in_range(void **state)
{
	assert_true(hist_index(UINT64_MAX) < HIST_BUCKETS);
	assert_true(hist_index(1ull << 63) < HIST_BUCKETS);
	assert_true(hist_index((1ull << 63) - 1) < HIST_BUCKETS);
}

static void test_hist_sums_and_percentiles(void **state)
{
	struct hist h, all;

	hist_init(&h);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_add(&h, v * 1000);
	hist_init(&all);
	hist_merge(&all, &h);
	assert_int_equal(all.count, 1000);
	assert_int_equal(hist_min(&all), 1000);
	assert_int_equal(all.max, 1000000);
	assert_true(hist_mean(&all) == 500500.0);
	/* The population standard deviation of 1000..1000000 step 1000. */
	assert_true(hist_stdev(&all) > 288674.0 && hist_stdev(&all) < 288676.0);
	/* The median, 500000, reported as the upper end of its bucket. */
	assert_true(hist_percentile(&all, 50) >= 500000);
	assert_true(hist_percentile(&all, 50) < 500000 + 500000 / 16);
	assert_int_equal(hist_percentile(&all, 100), 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hist_every_value_lies_within_its_bucket),
	    cmocka_unit_test(test_hist_buckets_are_within_a_sixteenth),
	    cmocka_unit_test(test_hist_huge_values_stay_in_range),
	    cmocka_unit_test(test_hist_sums_and_percentiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
