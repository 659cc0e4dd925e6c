/* SPDX-License-Identifier: MIT */
/*
 * Backend instances and channels. Per-request calls dispatch on the type with
 * one switch rather than an ops table: three known types, and the compiler
 * sees every target.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/be_impl.h"
#include "util/log.h"

int vn_be_create(const struct vn_be_opts *o, struct vn_be **out, const char **err)
{
	const char *unused;
	struct vn_be *be;
	int rc;

	if (!err)
		err = &unused;
	*err = NULL;
	*out = NULL;
	be = calloc(1, sizeof(*be));
	if (!be) {
		*err = "out of memory";
		return -ENOMEM;
	}
	be->type = o->type;
	switch (o->type) {
	case VN_BE_NULL:
		rc = be_null_create(be, o, err);
		break;
	case VN_BE_RAM:
		rc = be_ram_create(be, o, err);
		break;
	case VN_BE_FILE:
		rc = be_file_create(be, o, err);
		break;
	default:
		*err = "unknown backend type";
		rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		free(be);
		return rc;
	}
	*out = be;
	return 0;
}

void vn_be_destroy(struct vn_be *be)
{
	if (!be)
		return;
	switch (be->type) {
	case VN_BE_NULL:
		break;
	case VN_BE_RAM:
		be_ram_destroy(be);
		break;
	case VN_BE_FILE:
		be_file_destroy(be);
		break;
	}
	free(be);
}

uint64_t vn_be_size(const struct vn_be *be)
{
	return be->size;
}

bool vn_be_hugepages(const struct vn_be *be)
{
	return be->type == VN_BE_RAM && be->ram.huge;
}

const char *vn_be_name(const struct vn_be *be)
{
	switch (be->type) {
	case VN_BE_NULL:
		return "null";
	case VN_BE_RAM:
		return "ram";
	case VN_BE_FILE:
		return "file";
	}
	return "?";
}

bool vn_be_can_format(const struct vn_be *be)
{
	/* null has nothing to wipe; ram and file wipe by discard, which reads back zeroes. */
	(void)be;
	return true;
}

bool vn_be_volatile_cache(const struct vn_be *be)
{
	return be->type == VN_BE_FILE;
}

enum vn_be_direct vn_be_direct(const struct vn_be *be, uint8_t **mem)
{
	*mem = NULL;
	switch (be->type) {
	case VN_BE_NULL:
		return VN_BE_DIRECT_NULL;
	case VN_BE_RAM:
		*mem = be->ram.mem;
		return VN_BE_DIRECT_MEM;
	case VN_BE_FILE:
		break;
	}
	return VN_BE_DIRECT_NONE;
}

int vn_be_chan_open(struct vn_be *be, struct vn_be_chan **out)
{
	struct vn_be_chan *ch;
	void *mem;
	int rc;

	*out = NULL;
	/* Its own cache lines: the channel is written by one polling thread only. */
	if (posix_memalign(&mem, VN_CACHELINE, sizeof(*ch)))
		return -ENOMEM;
	ch = memset(mem, 0, sizeof(*ch));
	ch->be = be;
	if (be->type == VN_BE_FILE) {
		rc = be_file_chan_open(ch);
		if (rc < 0) {
			free(ch);
			return rc;
		}
	}
	*out = ch;
	return 0;
}

void vn_be_chan_close(struct vn_be_chan *ch)
{
	if (!ch)
		return;
	if (ch->be->type == VN_BE_FILE)
		be_file_chan_close(ch);
	free(ch);
}

int vn_be_submit(struct vn_be_chan *ch, struct vn_be_io *io)
{
	/*
	 * The caller has checked the range; checking again costs one compare
	 * and keeps a bug upstream from scribbling past the ram mapping or
	 * growing the file.
	 */
	if (unlikely(io->op > VN_BE_COMPARE))
		return -EINVAL;
	if (unlikely(io->op != VN_BE_FLUSH && !vn_range_ok(io->off, io->len, ch->be->size)))
		return -ERANGE;
	switch (ch->be->type) {
	case VN_BE_NULL:
		return be_null_submit(ch, io);
	case VN_BE_RAM:
		return be_ram_submit(ch, io);
	case VN_BE_FILE:
		return be_file_submit(ch, io);
	}
	return -EINVAL;
}

int vn_be_flush(struct vn_be_chan *ch)
{
	if (ch->be->type == VN_BE_FILE)
		return be_file_flush(ch);
	return 0;
}

int vn_be_poll(struct vn_be_chan *ch, struct vn_be_io **done, int max)
{
	if (ch->be->type == VN_BE_FILE)
		return be_file_poll(ch, done, max);
	return 0;
}

unsigned vn_be_inflight(const struct vn_be_chan *ch)
{
	return ch->inflight;
}

void vn_be_chan_stats(const struct vn_be_chan *ch, struct vn_be_chan_stats *out)
{
	*out = ch->stats;
}
