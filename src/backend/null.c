/* SPDX-License-Identifier: MIT */
/*
 * Null backend: no storage and no data movement. Every request completes
 * inline with success, and a READ leaves the buffers as they were; it
 * measures everything but the storage.
 */
#include <errno.h>
#include <inttypes.h>

#include "backend/be_impl.h"
#include "util/log.h"

int be_null_create(struct vn_be *be, const struct vn_be_opts *o, const char **err)
{
	/* Nothing is allocated, so any size works; 2^63 keeps byte offsets signed-safe. */
	if (o->size == 0 || o->size > (UINT64_C(1) << 63)) {
		*err = "null: size must be between 1 byte and 2^63 bytes";
		return -EINVAL;
	}
	be->size = o->size;
	vn_info("be null: %" PRIu64 " bytes", be->size);
	return 0;
}

int be_null_submit(struct vn_be_chan *ch, struct vn_be_io *io)
{
	(void)ch;
	io->result = 0;
	return 1;
}
