/* SPDX-License-Identifier: MIT */
/* The fuzz targets' input reader: little-endian fields taken from the
 * front of the input; bytes past its end read as zero. */
#ifndef VN_FUZZ_INPUT_H
#define VN_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v |= (in->n ? (uint64_t)*in->p : 0) << (8 * i);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

#endif
