/* SPDX-License-Identifier: MIT */
/* The latency histogram (vnvme-perf, the controller's service times): every
 * value lands in the bucket whose bounds hold it; the sums stay exact; a
 * batch, a clear, a copy and an interval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/hist.h"

static void check_bucket(uint64_t v)
{
	unsigned i = vn_hist_index(v);

	assert_true(i < VN_HIST_BUCKETS);
	assert_true(vn_hist_bucket_low(i) <= v);
	if (i + 1 < VN_HIST_BUCKETS)
		assert_true(v < vn_hist_bucket_low(i + 1));
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
	assert_int_equal(vn_hist_bucket_low(5 * VN_HIST_SUB), 16);
	for (unsigned i = 5 * VN_HIST_SUB; i + 1 < VN_HIST_BUCKETS - 1; i++) {
		uint64_t lo = vn_hist_bucket_low(i), hi = vn_hist_bucket_low(i + 1);
		assert_true(hi > lo);
		assert_true(hi - lo <= lo / 16);
	}
	/* Below 16, each value has a bucket of its own. */
	assert_int_equal(vn_hist_index(0), 0);
	assert_int_equal(vn_hist_bucket_low(0), 0);
	for (uint64_t v = 1; v < 16; v++) {
		assert_true(vn_hist_index(v) > vn_hist_index(v - 1));
		assert_int_equal(vn_hist_bucket_low(vn_hist_index(v)), v);
	}
}

static void test_hist_huge_values_stay_in_range(void **state)
{
	assert_true(vn_hist_index(UINT64_MAX) < VN_HIST_BUCKETS);
	assert_true(vn_hist_index(1ull << 63) < VN_HIST_BUCKETS);
	assert_true(vn_hist_index((1ull << 63) - 1) < VN_HIST_BUCKETS);
}

static void test_hist_sums_and_percentiles(void **state)
{
	struct vn_hist h, all;

	vn_hist_init(&h);
	for (uint64_t v = 1; v <= 1000; v++)
		vn_hist_add(&h, v * 1000);
	vn_hist_init(&all);
	vn_hist_merge(&all, &h);
	assert_int_equal(all.count, 1000);
	assert_int_equal(vn_hist_min(&all), 1000);
	assert_int_equal(all.max, 1000000);
	assert_true(vn_hist_mean(&all) == 500500.0);
	/* The population standard deviation of 1000..1000000 step 1000. */
	assert_true(vn_hist_stdev(&all) > 288674.0 && vn_hist_stdev(&all) < 288676.0);
	/* The median, 500000, reported as the upper end of its bucket. */
	assert_true(vn_hist_percentile(&all, 50) >= 500000);
	assert_true(vn_hist_percentile(&all, 50) < 500000 + 500000 / 16);
	assert_int_equal(vn_hist_percentile(&all, 100), 1000000);
}

static void test_hist_batch_counts_as_its_samples(void **state)
{
	struct vn_hist a, b, c;

	vn_hist_init(&a);
	vn_hist_init(&b);
	for (int i = 0; i < 7; i++)
		vn_hist_add(&a, 5000);
	vn_hist_add(&a, 90);
	vn_hist_add_n(&b, 5000, 7);
	vn_hist_add_n(&b, 90, 1);
	vn_hist_copy(&c, &b);
	assert_int_equal(c.count, 8);
	assert_memory_equal(a.b, c.b, sizeof(a.b));
	assert_int_equal(a.sum, c.sum);
	assert_true(a.sumsq == c.sumsq);
	assert_int_equal(c.min, 90);
	assert_int_equal(c.max, 5000);
}

static void test_hist_clear_empties_it(void **state)
{
	static const struct vn_hist zero = {.min = UINT64_MAX};
	struct vn_hist h;

	vn_hist_init(&h);
	vn_hist_add_n(&h, 3, 2);
	vn_hist_add_n(&h, 1ull << 40, 3);
	vn_hist_clear(&h);
	assert_memory_equal(&h, &zero, sizeof(h));
	vn_hist_clear(&h); /* empty: nothing to do */
	assert_memory_equal(&h, &zero, sizeof(h));
	vn_hist_add(&h, 77);
	vn_hist_copy(&h, &h);
	assert_int_equal(h.count, 1);
	/* A difference from a clock that went back: past 2^62 the index
	 * wraps below min's, and min..max bounds no bucket range. */
	vn_hist_clear(&h);
	vn_hist_add(&h, 1000);
	vn_hist_add(&h, (1ull << 63) + 5);
	assert_true(vn_hist_index((1ull << 63) + 5) < vn_hist_index(1000));
	vn_hist_clear(&h);
	assert_memory_equal(&h, &zero, sizeof(h));
}

static void test_hist_interval_is_the_difference(void **state)
{
	struct vn_hist h, t0, t1, d;

	vn_hist_init(&h);
	vn_hist_add_n(&h, 100, 10);
	vn_hist_add_n(&h, 1000000, 1);
	vn_hist_copy(&t0, &h);
	vn_hist_add_n(&h, 2000, 4);
	vn_hist_add_n(&h, 3000, 1);
	vn_hist_copy(&t1, &h);
	vn_hist_sub(&d, &t1, &t0);
	assert_int_equal(d.count, 5);
	assert_int_equal(d.sum, 4 * 2000 + 3000);
	assert_true(vn_hist_mean(&d) == 2200.0);
	/* Bounded by the buckets left, not by all time's min and max. */
	assert_true(d.min <= 2000 && d.min > 2000 - 2000 / 16);
	assert_true(d.max >= 3000 && d.max < 3000 + 3000 / 16);
	assert_true(vn_hist_percentile(&d, 50) >= 2000 && vn_hist_percentile(&d, 50) < 3000);
	assert_true(vn_hist_percentile(&d, 99) >= 3000 && vn_hist_percentile(&d, 99) <= d.max);
	/* Nothing new: empty. */
	vn_hist_sub(&d, &t1, &t1);
	assert_int_equal(d.count, 0);
	assert_int_equal(vn_hist_percentile(&d, 50), 0);
	/* Snapshots the wrong way round (a reset between): no bucket below 0. */
	vn_hist_sub(&d, &t0, &t1);
	assert_int_equal(d.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hist_every_value_lies_within_its_bucket),
	    cmocka_unit_test(test_hist_buckets_are_within_a_sixteenth),
	    cmocka_unit_test(test_hist_huge_values_stay_in_range),
	    cmocka_unit_test(test_hist_sums_and_percentiles),
	    cmocka_unit_test(test_hist_batch_counts_as_its_samples),
	    cmocka_unit_test(test_hist_clear_empties_it),
	    cmocka_unit_test(test_hist_interval_is_the_difference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
