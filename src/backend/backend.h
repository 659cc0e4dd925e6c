/* SPDX-License-Identifier: MIT */
/*
 * Storage backends behind an emulated namespace: null, ram, file.
 *
 * The interface is asynchronous from the start. A backend instance (struct
 * vn_be) is shared by every thread; each polling thread opens its own
 * channel (struct vn_be_chan: an io_uring for the file backend, nothing for
 * null and ram) and submits requests there. A request either completes
 * inline (submit returns 1, io->result set) or later, when the thread's
 * vn_be_poll() returns it. No allocation, lock or syscall per request on the
 * null and ram paths; the file path makes one io_uring_enter per poll
 * iteration at most (vn_be_flush), not one per request.
 *
 * Offsets and lengths are in bytes; the caller has checked them against the
 * namespace size (vn_be_size()).
 */
#ifndef VN_BACKEND_H
#define VN_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VN_BE_MAX_IOV 64

enum vn_be_op {
	VN_BE_READ,
	VN_BE_WRITE,
	VN_BE_FLUSH,        /* durable on return (file: fdatasync semantics) */
	VN_BE_WRITE_ZEROES, /* no iov */
	VN_BE_DISCARD,      /* deallocate; reads return zeroes afterwards */
	VN_BE_COMPARE,      /* result -EILSEQ on mismatch */
};

/*
 * Flags of a request. VN_BE_FUA: a WRITE, WRITE_ZEROES or DISCARD is
 * durable when it completes (file: RWF_DSYNC, or an fdatasync after the
 * fallocate); null and ram have no cache between the request and their
 * medium, so every request is as durable as it gets when it completes.
 */
#define VN_BE_FUA (1u << 0)

struct vn_be_io {
	uint8_t op;      /* enum vn_be_op */
	uint8_t iovcnt;  /* <= VN_BE_MAX_IOV */
	uint16_t flags;  /* VN_BE_FUA */
	uint16_t be_tag; /* the backend's: a file request's kind while it waits */
	uint16_t rsvd;
	int32_t result; /* 0 or -errno, set by the backend */
	uint64_t off;
	uint64_t len;
	struct iovec *iov;
	void *ctx;             /* the caller's */
	struct vn_be_io *next; /* the backend's: a file channel's backlog */
};

enum vn_be_type {
	VN_BE_NULL,
	VN_BE_RAM,
	VN_BE_FILE,
};

struct vn_be_opts {
	enum vn_be_type type;
	uint64_t size;    /* bytes; file: 0 means the file's size */
	const char *path; /* file backend */
	/* ram backend: 2 MiB hugetlb pages when enough are free, else 4 KiB
	 * pages (one warning per process); hugepages: hugetlb pages or fail;
	 * no_hugepages: 4 KiB pages. */
	bool hugepages;
	bool no_hugepages;
	bool direct;     /* file backend: O_DIRECT */
	unsigned qdepth; /* file backend: io_uring entries per channel */
};

struct vn_be;
struct vn_be_chan;

/* Create a backend; returns 0 or -errno and fills *err with a reason. */
int vn_be_create(const struct vn_be_opts *o, struct vn_be **out, const char **err);
void vn_be_destroy(struct vn_be *be);
uint64_t vn_be_size(const struct vn_be *be);
/* A ram backend on 2 MiB hugetlb pages (false for every other). */
bool vn_be_hugepages(const struct vn_be *be);
const char *vn_be_name(const struct vn_be *be);
/* Whether Format NVM may wipe it (ram, null: yes; file: yes, by discard). */
bool vn_be_can_format(const struct vn_be *be);
/*
 * Whether completed writes may sit in a volatile cache until a FLUSH (file:
 * the page cache, and the device's own cache under O_DIRECT). null and ram
 * have none: what a request wrote is in their medium when it completes.
 */
bool vn_be_volatile_cache(const struct vn_be *be);

/*
 * Backends whose reads and writes are plain memory operations: null (no data
 * at all) and ram (a memcpy to or from *mem + offset, *mem set here). The
 * controller's fast path does those inline, with no request and no call per
 * I/O; VN_BE_DIRECT_NONE backends go through vn_be_submit().
 */
enum vn_be_direct {
	VN_BE_DIRECT_NONE,
	VN_BE_DIRECT_NULL,
	VN_BE_DIRECT_MEM,
};
enum vn_be_direct vn_be_direct(const struct vn_be *be, uint8_t **mem);

/* Per polling thread. */
int vn_be_chan_open(struct vn_be *be, struct vn_be_chan **out);
void vn_be_chan_close(struct vn_be_chan *ch);

/*
 * Returns 1: completed inline (io->result set); 0: queued; -errno: refused
 * (a request the backend can never serve). A busy backend never refuses: the
 * file backend keeps what its io_uring has no room for on a backlog and
 * submits it as room comes back (back-pressure, bounded by the caller's
 * requests).
 */
int vn_be_submit(struct vn_be_chan *ch, struct vn_be_io *io);
/* Push queued requests to the kernel (one syscall for all); no-op inline. */
int vn_be_flush(struct vn_be_chan *ch);
/* Reap up to max completions into done[]; returns the count. */
int vn_be_poll(struct vn_be_chan *ch, struct vn_be_io **done, int max);
/* Requests submitted and not yet reaped. */
unsigned vn_be_inflight(const struct vn_be_chan *ch);

/* What a channel asked of the kernel for durability (file; 0 otherwise). */
struct vn_be_chan_stats {
	uint64_t dsync_writes; /* writes with RWF_DSYNC (VN_BE_FUA) */
	uint64_t syncs;        /* fdatasyncs: FLUSH, and after a VN_BE_FUA fallocate */
};
void vn_be_chan_stats(const struct vn_be_chan *ch, struct vn_be_chan_stats *out);

#endif
