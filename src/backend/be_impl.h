/* SPDX-License-Identifier: MIT */
/*
 * Private to src/backend/: the layout of a backend and a channel, and the
 * per-type entry points backend.c dispatches to with a switch. Nothing
 * outside this directory includes it.
 */
#ifndef VN_BACKEND_IMPL_H
#define VN_BACKEND_IMPL_H

#include <liburing.h>

#include "backend/backend.h"
#include "util/compiler.h"

/* COMPARE on the file backend reads into one of these per-channel slots. */
#define VN_BE_CMP_SLOTS 4
#define VN_BE_CMP_MAX   (2u << 20)

struct vn_be {
	enum vn_be_type type;
	uint64_t size;
	union {
		struct {
			uint8_t *mem;
			size_t map_len; /* size rounded up to the page size */
			size_t page;    /* 2 MiB with hugepages */
			int fd;
			bool huge;
		} ram;
		struct {
			int fd;
			bool blk;
			unsigned qdepth;
			/*
			 * Set, with relaxed atomics from any channel, once the
			 * file system has answered EOPNOTSUPP; later requests go
			 * straight to the other fallocate mode.
			 */
			bool no_punch;
			bool no_zero_range;
		} file;
	};
};

struct vn_be_chan {
	struct vn_be *be;
	unsigned inflight; /* file: accepted and not yet reaped, backlog included */
	struct vn_be_chan_stats stats;
	/* file backend only */
	unsigned ring_n;                     /* in the io_uring (at most qdepth), not yet reaped */
	struct vn_be_io *bl_head, **bl_tail; /* accepted, waiting for ring room, FIFO */
	struct io_uring ring;
	uint8_t *bounce; /* VN_BE_CMP_SLOTS * VN_BE_CMP_MAX */
	struct vn_be_io *cmp[VN_BE_CMP_SLOTS];
};

/* The iov describes exactly io->len bytes, in at most VN_BE_MAX_IOV pieces. */
static inline bool be_iov_ok(const struct vn_be_io *io)
{
	uint64_t sum = 0;

	if (unlikely(io->iovcnt > VN_BE_MAX_IOV))
		return false;
	for (unsigned i = 0; i < io->iovcnt; i++) {
		if (unlikely(io->iov[i].iov_len > io->len - sum))
			return false;
		sum += io->iov[i].iov_len;
	}
	return sum == io->len;
}

int be_null_create(struct vn_be *be, const struct vn_be_opts *o, const char **err);
int be_null_submit(struct vn_be_chan *ch, struct vn_be_io *io);

int be_ram_create(struct vn_be *be, const struct vn_be_opts *o, const char **err);
void be_ram_destroy(struct vn_be *be);
int be_ram_submit(struct vn_be_chan *ch, struct vn_be_io *io);

int be_file_create(struct vn_be *be, const struct vn_be_opts *o, const char **err);
void be_file_destroy(struct vn_be *be);
int be_file_chan_open(struct vn_be_chan *ch);
void be_file_chan_close(struct vn_be_chan *ch);
int be_file_submit(struct vn_be_chan *ch, struct vn_be_io *io);
int be_file_flush(struct vn_be_chan *ch);
int be_file_poll(struct vn_be_chan *ch, struct vn_be_io **done, int max);

#endif
