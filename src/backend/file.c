/* SPDX-License-Identifier: MIT */
/*
 * File backend: a regular file or a block device, driven through one io_uring
 * per channel. vn_be_submit only fills an SQE (no syscall); vn_be_flush pushes
 * everything queued with one io_uring_enter; vn_be_poll reaps the CQ ring
 * without entering the kernel.
 *
 * - READ/WRITE: read/write for one iovec, readv/writev otherwise. The kernel
 *   copies the iovec array at submission (IORING_FEAT_SUBMIT_STABLE), so
 *   io->iov must stay valid until vn_be_flush, as the buffers must until the
 *   request completes. A transfer shorter than io->len fails with -EIO.
 * - FLUSH: fsync with IORING_FSYNC_DATASYNC.
 * - VN_BE_FUA: a WRITE goes with RWF_DSYNC (durable when its CQE comes: the
 *   kernel writes the pages back and flushes the device's cache); a
 *   WRITE_ZEROES or DISCARD is followed, once its fallocate succeeded, by an
 *   fsync with IORING_FSYNC_DATASYNC, and completes with that.
 * - WRITE_ZEROES and DISCARD: fallocate, asynchronous in io_uring for
 *   regular files and block devices alike. WRITE_ZEROES prefers
 *   FALLOC_FL_ZERO_RANGE (keeps the blocks allocated), DISCARD prefers
 *   FALLOC_FL_PUNCH_HOLE (frees them); both only promise that reads return
 *   zeroes, so when the file system answers EOPNOTSUPP for one mode (tmpfs
 *   has no ZERO_RANGE; a block device without write-zeroes offload has no
 *   PUNCH_HOLE) the request is retried with the other and the backend
 *   remembers it. On a block device both modes zero the range through the
 *   block layer (blkdev_fallocate); offset and length must then be
 *   multiples of its logical block size.
 * - COMPARE: read into one of VN_BE_CMP_SLOTS bounce buffers of the channel,
 *   VN_BE_CMP_MAX bytes each, memcmp when it completes. Longer compares are
 *   refused with -E2BIG; with every slot in flight, -EBUSY.
 *
 * At most qdepth requests are in the io_uring per channel: the CQ ring,
 * twice the SQ ring, can then never overflow. A request that finds the ring
 * at qdepth, or (COMPARE) every bounce slot taken, is accepted all the same
 * and waits on the channel's backlog, in order; vn_be_poll and vn_be_flush
 * move it into the ring as completions make room. A busy device applies
 * back-pressure, it never fails a command it would serve when idle; the
 * backlog is bounded by the caller's requests (the controller's request
 * slots).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdalign.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/be_impl.h"
#include "util/log.h"

#define QDEPTH_DEFAULT 256
#define QDEPTH_MAX     32768 /* IORING_MAX_ENTRIES */
/* The CQE result is an int, and the kernel caps one transfer below 2 GiB. */
#define RW_MAX (UINT64_C(1) << 30)

/*
 * user_data is the io pointer with the kind of request in its low bits: a
 * failed fallocate needs the mode it tried, a compare its bounce slot.
 */
enum {
	TAG_RW,
	TAG_PUNCH,
	TAG_ZERO_RANGE,
	TAG_COMPARE,
	TAG_SYNC, /* the fdatasync after a VN_BE_FUA fallocate */
	TAG_MASK = 7,
};
_Static_assert(alignof(struct vn_be_io) > TAG_MASK, "vn_be_io too loosely aligned for tags");

int be_file_create(struct vn_be *be, const struct vn_be_opts *o, const char **err)
{
	int flags = O_RDWR | O_CLOEXEC;
	uint64_t fsize;
	struct stat st;
	int fd, rc;

	if (!o->path || !*o->path) {
		*err = "file: a path is required";
		return -EINVAL;
	}
	if (o->size > (uint64_t)INT64_MAX) {
		*err = "file: size must be below 2^63 bytes";
		return -EINVAL;
	}
	if (o->qdepth > QDEPTH_MAX) {
		*err = "file: qdepth must be at most 32768";
		return -EINVAL;
	}
	if (o->direct)
		flags |= O_DIRECT;
	/* Only an explicit size may create the file: an empty one exports nothing. */
	if (o->size)
		flags |= O_CREAT;
	fd = open(o->path, flags, 0644);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EISDIR)
			*err = "file: path is a directory";
		else if (rc == -ENOENT)
			*err = "file: no such file (give a size to create it)";
		else if (rc == -EINVAL && o->direct)
			*err = "file: the file system does not support O_DIRECT";
		else
			*err = "file: cannot open path read-write";
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		*err = "file: cannot stat path";
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &fsize) < 0) {
			rc = -errno;
			*err = "file: cannot read the block device's size";
			goto err_close;
		}
		be->file.blk = true;
	} else if (S_ISREG(st.st_mode)) {
		fsize = (uint64_t)st.st_size;
	} else {
		rc = -EINVAL;
		*err = "file: path is neither a regular file nor a block device";
		goto err_close;
	}

	be->size = o->size ? o->size : fsize;
	if (!be->size) {
		rc = -EINVAL;
		*err = "file: the file is empty; give a size";
		goto err_close;
	}
	if (be->size > fsize) {
		if (be->file.blk) {
			rc = -ENOSPC;
			*err = "file: size is larger than the block device";
			goto err_close;
		}
		if (ftruncate(fd, (off_t)be->size) < 0) {
			rc = -errno;
			*err = "file: cannot extend the file to size";
			goto err_close;
		}
	}
	be->file.fd = fd;
	be->file.qdepth = o->qdepth ? o->qdepth : QDEPTH_DEFAULT;
	vn_info("be file %s: %" PRIu64 " bytes%s%s, io_uring of %u per thread", o->path, be->size,
		be->file.blk ? ", block device" : "", o->direct ? ", O_DIRECT" : "",
		be->file.qdepth);
	return 0;

err_close:
	close(fd);
	return rc;
}

void be_file_destroy(struct vn_be *be)
{
	close(be->file.fd);
}

int be_file_chan_open(struct vn_be_chan *ch)
{
	unsigned qd = ch->be->file.qdepth;
	int rc;

	/* Keep submitting past a bad SQE; its error comes back as its CQE. */
	rc = io_uring_queue_init(qd, &ch->ring, IORING_SETUP_SUBMIT_ALL);
	if (rc == -EINVAL) /* before Linux 5.18 */
		rc = io_uring_queue_init(qd, &ch->ring, 0);
	if (rc < 0)
		return rc;
	/* Page-aligned for O_DIRECT; untouched pages cost nothing. */
	ch->bounce = mmap(NULL, VN_BE_CMP_SLOTS * VN_BE_CMP_MAX, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ch->bounce == MAP_FAILED) {
		rc = -errno;
		io_uring_queue_exit(&ch->ring);
		return rc;
	}
	ch->bl_head = NULL;
	ch->bl_tail = &ch->bl_head;
	return 0;
}

void be_file_chan_close(struct vn_be_chan *ch)
{
	struct io_uring_cqe *cqe;
	int rc;

	/*
	 * The caller should have reaped everything. If not, wait: the kernel
	 * could otherwise still write into its buffers and our bounce slots.
	 */
	if (ch->inflight) {
		vn_err("be file: channel closed with %u requests in flight; waiting", ch->inflight);
		/* The backlog never reached the kernel: nothing to wait for. */
		ch->bl_head = NULL;
		ch->bl_tail = &ch->bl_head;
		io_uring_submit(&ch->ring);
		while (ch->ring_n) {
			rc = io_uring_wait_cqe(&ch->ring, &cqe);
			if (rc == -EINTR)
				continue;
			if (rc < 0)
				break;
			io_uring_cqe_seen(&ch->ring, cqe);
			ch->ring_n--;
		}
		ch->inflight = 0;
	}
	munmap(ch->bounce, VN_BE_CMP_SLOTS * VN_BE_CMP_MAX);
	io_uring_queue_exit(&ch->ring);
}

static struct io_uring_sqe *file_sqe(struct vn_be_chan *ch)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ch->ring);

	if (unlikely(!sqe)) {
		/* The SQ ring is full of unflushed requests: push them now. */
		io_uring_submit(&ch->ring);
		sqe = io_uring_get_sqe(&ch->ring);
	}
	return sqe;
}

/* The fallocate mode for a WRITE_ZEROES or DISCARD, or -EOPNOTSUPP if none is left. */
static int zero_mode(const struct vn_be *be, unsigned op)
{
	bool punch = !vn_load_relaxed(&be->file.no_punch);
	bool zero_range = !vn_load_relaxed(&be->file.no_zero_range);

	if (op == VN_BE_DISCARD && punch)
		return TAG_PUNCH;
	if (zero_range)
		return TAG_ZERO_RANGE;
	return punch ? TAG_PUNCH : -EOPNOTSUPP;
}

static void file_prep(struct vn_be_chan *ch, struct vn_be_io *io, struct io_uring_sqe *sqe, int tag,
		      unsigned slot)
{
	int fd = ch->be->file.fd;

	switch (tag) {
	case TAG_PUNCH:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->off, (off_t)io->len);
		break;
	case TAG_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->off, (off_t)io->len);
		break;
	case TAG_COMPARE:
		io_uring_prep_read(sqe, fd, ch->bounce + (size_t)slot * VN_BE_CMP_MAX,
				   (unsigned)io->len, io->off);
		break;
	case TAG_SYNC:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		ch->stats.syncs++;
		break;
	default:
		if (io->op == VN_BE_FLUSH) {
			io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
			ch->stats.syncs++;
		} else if (io->iovcnt == 1 && io->op == VN_BE_READ) {
			io_uring_prep_read(sqe, fd, io->iov[0].iov_base,
					   (unsigned)io->iov[0].iov_len, io->off);
		} else if (io->iovcnt == 1) {
			io_uring_prep_write(sqe, fd, io->iov[0].iov_base,
					    (unsigned)io->iov[0].iov_len, io->off);
		} else if (io->op == VN_BE_READ) {
			io_uring_prep_readv(sqe, fd, io->iov, io->iovcnt, io->off);
		} else {
			io_uring_prep_writev(sqe, fd, io->iov, io->iovcnt, io->off);
		}
		/* Force Unit Access: written back, the device's cache flushed,
		 * before the CQE (pwritev2(2) RWF_DSYNC). */
		if (io->op == VN_BE_WRITE && (io->flags & VN_BE_FUA)) {
			sqe->rw_flags = RWF_DSYNC;
			ch->stats.dsync_writes++;
		}
		break;
	}
	io_uring_sqe_set_data64(sqe, (uintptr_t)io | (unsigned)tag);
}

/* Into the ring if it has room (and a bounce slot for a COMPARE); false if not. */
static bool file_start(struct vn_be_chan *ch, struct vn_be_io *io, int tag)
{
	struct io_uring_sqe *sqe;
	unsigned slot = 0;

	if (unlikely(ch->ring_n >= ch->be->file.qdepth))
		return false;
	if (tag == TAG_COMPARE) {
		while (slot < VN_BE_CMP_SLOTS && ch->cmp[slot])
			slot++;
		if (slot == VN_BE_CMP_SLOTS)
			return false;
	}
	/* With ring_n below the ring's entries there is always a free SQE. */
	sqe = file_sqe(ch);
	if (unlikely(!sqe))
		return false;
	if (tag == TAG_COMPARE)
		ch->cmp[slot] = io;
	file_prep(ch, io, sqe, tag, slot);
	ch->ring_n++;
	return true;
}

/* Move what waits on the backlog into the ring, in order, while it has room. */
static VN_COLD bool file_backlog_push(struct vn_be_chan *ch)
{
	bool moved = false;

	while (ch->bl_head && file_start(ch, ch->bl_head, ch->bl_head->be_tag)) {
		ch->bl_head = ch->bl_head->next;
		moved = true;
	}
	if (!ch->bl_head)
		ch->bl_tail = &ch->bl_head;
	return moved;
}

static VN_COLD void file_backlog_add(struct vn_be_chan *ch, struct vn_be_io *io, int tag)
{
	io->be_tag = (uint16_t)tag;
	io->next = NULL;
	*ch->bl_tail = io;
	ch->bl_tail = &io->next;
}

int be_file_submit(struct vn_be_chan *ch, struct vn_be_io *io)
{
	int tag = TAG_RW;

	/* Everything that can refuse goes first: an SQE once taken must be filled. */
	switch (io->op) {
	case VN_BE_READ:
	case VN_BE_WRITE:
		if (unlikely(!be_iov_ok(io)))
			return -EINVAL;
		if (unlikely(io->len > RW_MAX))
			return -E2BIG;
		break;
	case VN_BE_COMPARE:
		if (unlikely(!be_iov_ok(io)))
			return -EINVAL;
		if (unlikely(io->len > VN_BE_CMP_MAX))
			return -E2BIG;
		tag = TAG_COMPARE;
		break;
	case VN_BE_WRITE_ZEROES:
	case VN_BE_DISCARD:
		if (unlikely(!io->len)) { /* fallocate refuses an empty range */
			io->result = 0;
			return 1;
		}
		tag = zero_mode(ch->be, io->op);
		if (unlikely(tag < 0))
			return tag;
		break;
	case VN_BE_FLUSH:
		break;
	default:
		return -EINVAL;
	}
	ch->inflight++;
	/* Behind the backlog, never past it: requests start in order. */
	if (unlikely(ch->bl_head) || unlikely(!file_start(ch, io, tag)))
		file_backlog_add(ch, io, tag);
	return 0;
}

int be_file_flush(struct vn_be_chan *ch)
{
	if (unlikely(ch->bl_head))
		file_backlog_push(ch);
	/*
	 * Whatever the kernel did not take (-EAGAIN, -EBUSY) stays in the SQ
	 * ring and goes with the next flush.
	 */
	if (!io_uring_sq_ready(&ch->ring))
		return 0;
	return io_uring_submit(&ch->ring);
}

/* A VN_BE_FUA fallocate succeeded: requeue the request as its fdatasync. */
static bool file_requeue_sync(struct vn_be_chan *ch, struct vn_be_io *io)
{
	struct io_uring_sqe *sqe = file_sqe(ch);

	if (!sqe)
		return false;
	file_prep(ch, io, sqe, TAG_SYNC, 0);
	return true;
}

/* A fallocate mode the file system lacks: remember it and requeue with the other. */
static VN_COLD bool file_retry_zero(struct vn_be_chan *ch, struct vn_be_io *io, int tag)
{
	struct vn_be *be = ch->be;
	bool *flag = tag == TAG_PUNCH ? &be->file.no_punch : &be->file.no_zero_range;
	struct io_uring_sqe *sqe;
	int next;

	if (!__atomic_exchange_n(flag, true, __ATOMIC_RELAXED))
		vn_info("be file: fallocate %s not supported here; using the other mode",
			tag == TAG_PUNCH ? "PUNCH_HOLE" : "ZERO_RANGE");
	next = zero_mode(be, io->op);
	if (next < 0)
		return false;
	sqe = file_sqe(ch);
	if (!sqe)
		return false;
	file_prep(ch, io, sqe, next, 0);
	return true;
}

static int file_compare_done(struct vn_be_chan *ch, struct vn_be_io *io, int res)
{
	const uint8_t *buf;
	unsigned slot = 0;

	while (slot < VN_BE_CMP_SLOTS && ch->cmp[slot] != io)
		slot++;
	assert(slot < VN_BE_CMP_SLOTS);
	ch->cmp[slot] = NULL;
	if (res < 0)
		return res;
	if ((uint64_t)res != io->len)
		return -EIO;
	buf = ch->bounce + (size_t)slot * VN_BE_CMP_MAX;
	for (unsigned i = 0; i < io->iovcnt; i++) {
		if (memcmp(buf, io->iov[i].iov_base, io->iov[i].iov_len))
			return -EILSEQ;
		buf += io->iov[i].iov_len;
	}
	return 0;
}

int be_file_poll(struct vn_be_chan *ch, struct vn_be_io **done, int max)
{
	struct io_uring_cqe *cqes[32];
	bool requeued = false;
	int n = 0;

	while (n < max) {
		unsigned want = VN_MIN((unsigned)(max - n), (unsigned)VN_ARRAY_SIZE(cqes));
		unsigned got = io_uring_peek_batch_cqe(&ch->ring, cqes, want);

		if (!got)
			break;
		for (unsigned i = 0; i < got; i++) {
			uint64_t ud = io_uring_cqe_get_data64(cqes[i]);
			struct vn_be_io *io =
			    (struct vn_be_io *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
			int tag = (int)(ud & TAG_MASK), res = cqes[i]->res;

			if (tag == TAG_COMPARE) {
				res = file_compare_done(ch, io, res);
			} else if (unlikely(res == -EOPNOTSUPP &&
					    (tag == TAG_PUNCH || tag == TAG_ZERO_RANGE))) {
				if (file_retry_zero(ch, io, tag)) {
					requeued = true;
					continue;
				}
			} else if (res >= 0 && (tag == TAG_PUNCH || tag == TAG_ZERO_RANGE) &&
				   (io->flags & VN_BE_FUA)) {
				if (file_requeue_sync(ch, io)) {
					requeued = true;
					continue;
				}
				res = -EAGAIN; /* no SQE: cannot happen with qdepth in flight */
			} else if (res >= 0) {
				/* fallocate and fsync return 0; a transfer, its length. */
				bool xfer = tag == TAG_RW && io->op != VN_BE_FLUSH;

				res = xfer && (uint64_t)res != io->len ? -EIO : 0;
			}
			io->result = res;
			ch->inflight--;
			ch->ring_n--;
			done[n++] = io;
		}
		io_uring_cq_advance(&ch->ring, got);
	}
	/* The completions made room for what waits. */
	if (unlikely(ch->bl_head) && file_backlog_push(ch))
		requeued = true;
	/* Rare, and the caller may not flush again before it sees progress. */
	if (unlikely(requeued))
		io_uring_submit(&ch->ring);
	return n;
}
