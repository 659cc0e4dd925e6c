/* SPDX-License-Identifier: MIT */
/*
 * VNVME_TEST_FILTER for the cmocka programs: a glob over test names (`*`
 * and `?`, as cmocka matches it: `*size*`, not `size`). A filter that
 * matches no test is an error: a run of zero tests must not read as a pass.
 */
#ifndef VN_TESTS_TEST_FILTER_H
#define VN_TESTS_TEST_FILTER_H

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>

/* 0 (filter set, or none asked for), or -1 after saying that nothing matches. */
static inline int vn_test_filter(const struct CMUnitTest *tests, size_t n)
{
	const char *f = getenv("VNVME_TEST_FILTER");

	if (!f || !*f)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (fnmatch(f, tests[i].name, 0) == 0) {
			cmocka_set_test_filter(f);
			return 0;
		}
	fprintf(stderr,
		"VNVME_TEST_FILTER=%s matches no test: it is a glob over test names "
		"(VNVME_TEST_FILTER='*%s*')\n",
		f, f);
	printf("Bail out! VNVME_TEST_FILTER matches no test\n");
	return -1;
}

#endif
