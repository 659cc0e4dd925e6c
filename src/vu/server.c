/* SPDX-License-Identifier: MIT */
/*
 * vfio-user server, the message handlers. Everything the client sends is untrusted: the header is
 * checked once (size, flags), each payload is decoded by vu/codec.c into a
 * trusted local, descriptor counts must match exactly, and every descriptor
 * not kept is closed. A message we cannot frame ends the connection; any
 * other bad message gets an error reply and the connection carries on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu/codec.h"
#include "vu/server_priv.h"
#include "vu/sock.h"

/* ------------------------------------------------------------------------ */
/* Command handlers: return the reply payload length (written to
 * TX_PAYLOAD) or -errno for an error reply. `fds` belong to the caller; a
 * handler that keeps one sets its slot to -1. */

struct req {
	const struct vu_hdr *hdr;
	const uint8_t *p;
	size_t len;
	int *fds;
	unsigned nfds;
	int reply_fd; /* one descriptor to attach to the reply, or -1 */
};

static int h_version(struct vu_server *s, struct req *r)
{
	uint16_t major, minor;
	struct vu_caps ours;
	int ret;

	if (s->negotiated)
		return -EINVAL; /* only once, first */
	ret = vu_version_decode(r->p, r->len, &major, &minor, &s->peer_caps);
	if (ret) {
		vn_warn_rl(&s->rl, "vu %s: guest: malformed VERSION (%s)", s->name, strerror(-ret));
		return ret;
	}
	if (major != VU_VERSION_MAJOR) {
		vn_warn_rl(&s->rl, "vu %s: client speaks vfio-user %u.%u, we speak %u.x", s->name,
			   major, minor, VU_VERSION_MAJOR);
		return -ENOTSUP;
	}
	vu_caps_defaults(&ours);
	ours.max_msg_fds = VU_MAX_MSG_FDS;
	ours.max_data_xfer_size = VU_MAX_DATA_XFER;
	ours.pgsizes = VU_PGSIZES;
	ours.max_dma_maps = VU_MAX_DMA_MAPS;
	ret = vu_version_encode(TX_PAYLOAD(s), TX_ROOM, VU_VERSION_MAJOR,
				VN_MIN(minor, (uint16_t)VU_VERSION_MINOR), &ours, false);
	if (ret < 0)
		return ret;
	s->negotiated = true;
	vn_info_rl(&s->rl_info,
		   "vu %s: client negotiated vfio-user %u.%u (max_msg_fds %u, max_data_xfer %llu)",
		   s->name, major, VN_MIN(minor, (uint16_t)VU_VERSION_MINOR),
		   s->peer_caps.max_msg_fds, (unsigned long long)s->peer_caps.max_data_xfer_size);
	return ret;
}

static int h_dma_map(struct vu_server *s, struct req *r)
{
	struct vu_dma_map m;
	uint32_t prot = 0;
	int ret = vu_dma_map_decode(r->p, r->len, &m);

	if (ret)
		return ret;
	if (r->nfds > 1)
		return -EINVAL;
	if (m.flags & VU_DMA_MAP_F_READ)
		prot |= VN_DMA_READ;
	if (m.flags & VU_DMA_MAP_F_WRITE)
		prot |= VN_DMA_WRITE;
	ret = vn_dma_add(&s->dma, m.addr, m.size, prot, r->nfds ? r->fds[0] : -1, m.offset);
	if (ret) {
		if (ret == -EDQUOT)
			vn_warn_rl(
			    &s->rl,
			    "vu %s: guest: DMA_MAP iova 0x%llx size 0x%llx refused: %llu bytes "
			    "mapped already, the limit is %llu (max-dma-bytes)",
			    s->name, (unsigned long long)m.addr, (unsigned long long)m.size,
			    (unsigned long long)s->dma.mapped_bytes,
			    (unsigned long long)s->dma.max_bytes);
		else
			vn_warn_rl(&s->rl,
				   "vu %s: guest: DMA_MAP iova 0x%llx size 0x%llx refused: %s",
				   s->name, (unsigned long long)m.addr, (unsigned long long)m.size,
				   ret == -EEXIST   ? "overlaps an existing map"
				   : ret == -ENOSPC ? "too many maps"
						    : strerror(-ret));
		return ret;
	}
	if (!r->nfds && !s->fdless_noted++)
		vn_info_rl(
		    &s->rl_info,
		    "vu %s: DMA_MAP iova 0x%llx size 0x%llx without fd: recorded, but the "
		    "device cannot reach it (guest RAM must be memory-backend-memfd,share=on; "
		    "ROM and VGA maps are expected)",
		    s->name, (unsigned long long)m.addr, (unsigned long long)m.size);
	else if (r->nfds)
		vn_debug("vu %s: DMA_MAP iova 0x%llx size 0x%llx offset 0x%llx prot %u", s->name,
			 (unsigned long long)m.addr, (unsigned long long)m.size,
			 (unsigned long long)m.offset, prot);
	return 0; /* the fd is closed by the caller: the mapping keeps the memory */
}

/*
 * Unmap [addr, addr + size). The specification asks for an exact match;
 * QEMU with a vIOMMU unmaps whole IOVA ranges that hold several maps (as
 * Linux VFIO type1 allows), so every map inside the range goes. A map the
 * range cuts is refused (EINVAL); a range that holds none is a no-op (as with
 * Linux VFIO type1).
 */
static int unmap_range(struct vu_server *s, uint64_t addr, uint64_t size)
{
	const struct vn_dma_table *t = vn_dma_table_get(&s->dma);
	uint64_t end = addr + size; /* no wrap: checked by the decoder */
	unsigned found = 0;

	for (uint32_t i = 0; i < t->nr; i++) {
		const struct vn_dma_region *r = &t->r[i];
		bool overlaps = r->iova < end && addr < r->iova + r->len;
		bool inside = r->iova >= addr && r->iova + r->len <= end;

		if (overlaps && !inside) {
			vn_warn_rl(
			    &s->rl,
			    "vu %s: guest: DMA_UNMAP iova 0x%llx size 0x%llx cuts the map at "
			    "0x%llx",
			    s->name, (unsigned long long)addr, (unsigned long long)size,
			    (unsigned long long)r->iova);
			return -EINVAL;
		}
		found += inside;
	}
	if (!found) {
		/* Nothing there: a no-op, as with Linux VFIO type1. QEMU's vIOMMU
		 * unmaps large empty ranges when the guest turns translation on. */
		vn_debug("vu %s: DMA_UNMAP iova 0x%llx size 0x%llx: no map inside", s->name,
			 (unsigned long long)addr, (unsigned long long)size);
		return 0;
	}
	/* One at a time: each removal publishes a new table. */
	for (;;) {
		const struct vn_dma_region *r = NULL;
		uint64_t iova, len;
		int ret;

		t = vn_dma_table_get(&s->dma);
		for (uint32_t i = 0; i < t->nr && !r; i++)
			if (t->r[i].iova >= addr && t->r[i].iova + t->r[i].len <= end)
				r = &t->r[i];
		if (!r)
			return 0;
		iova = r->iova;
		len = r->len;
		if (s->dev.dma_unmap)
			s->dev.dma_unmap(s->dev.opaque, iova, len);
		ret = vn_dma_remove(&s->dma, iova, len);
		if (ret)
			return ret;
	}
}

static int h_dma_unmap(struct vu_server *s, struct req *r)
{
	struct vu_dma_unmap u;
	int ret = vu_dma_unmap_decode(r->p, r->len, &u);

	if (ret)
		return ret;
	/* SPDK's initiator sends the region's fd with DMA_UNMAP too; accept and
	 * close it. */
	if (r->nfds > 1)
		return -EINVAL;
	if (u.flags & VU_DMA_UNMAP_F_ALL) {
		const struct vn_dma_table *t = vn_dma_table_get(&s->dma);
		if (s->dev.dma_unmap)
			for (uint32_t i = 0; i < t->nr; i++)
				s->dev.dma_unmap(s->dev.opaque, t->r[i].iova, t->r[i].len);
		vn_dma_remove_all(&s->dma);
	} else {
		ret = unmap_range(s, u.addr, u.size);
		if (ret)
			return ret;
	}
	u.argsz = sizeof(u);
	memcpy(TX_PAYLOAD(s), &u, sizeof(u));
	return sizeof(u);
}

static int h_device_info(struct vu_server *s, struct req *r)
{
	struct vu_device_info in, out = {.argsz = sizeof(out)};
	int ret = vu_device_info_decode(r->p, r->len, &in);

	if (ret)
		return ret;
	out.flags = VU_DEV_F_PCI | (s->dev.reset_supported ? VU_DEV_F_RESET : 0);
	out.num_regions = s->dev.num_regions;
	out.num_irqs = s->dev.num_irqs;
	memcpy(TX_PAYLOAD(s), &out, sizeof(out));
	return sizeof(out);
}

static int h_region_info(struct vu_server *s, struct req *r)
{
	struct vu_region_info in, out;
	const struct vu_region *reg;
	uint8_t *p = TX_PAYLOAD(s);
	size_t need;
	int ret = vu_region_info_decode(r->p, r->len, &in);

	if (ret)
		return ret;
	if (in.index >= s->dev.num_regions)
		return -EINVAL;
	reg = &s->dev.regions[in.index];
	memset(&out, 0, sizeof(out));
	out.index = in.index;
	out.size = reg->size;
	out.flags = reg->size ? reg->flags & (VU_REGION_F_READ | VU_REGION_F_WRITE) : 0;
	need = sizeof(out);
	if (reg->size && (reg->flags & VU_REGION_F_MMAP) && reg->fd >= 0) {
		out.flags |= VU_REGION_F_MMAP;
		out.offset = reg->fd_offset;
		if (reg->nr_sparse)
			need += sizeof(struct vu_cap_sparse_mmap) +
				reg->nr_sparse * sizeof(struct vu_sparse_area);
	}
	out.argsz = (uint32_t)need;
	if (need > sizeof(out)) {
		/* cap_offset is set even in a partial answer: QEMU rejects CAPS
		 * with a cap_offset below the structure (hw/vfio-user/device.c). */
		out.flags |= VU_REGION_F_CAPS;
		out.cap_offset = sizeof(out);
		if (in.argsz < need) {
			/* Too little room: say how much; the client asks again
			 * (VFIO's argsz convention). No fd with a partial answer. */
			memcpy(p, &out, sizeof(out));
			return sizeof(out);
		}
		struct vu_cap_sparse_mmap cap = {
		    .hdr = {.id = VU_CAP_SPARSE_MMAP, .version = 1, .next = 0},
		    .nr_areas = reg->nr_sparse,
		};
		memcpy(p + sizeof(out), &cap, sizeof(cap));
		memcpy(p + sizeof(out) + sizeof(cap), reg->sparse,
		       reg->nr_sparse * sizeof(struct vu_sparse_area));
	}
	memcpy(p, &out, sizeof(out));
	if (out.flags & VU_REGION_F_MMAP)
		r->reply_fd = reg->fd;
	return (int)need;
}

static int h_irq_info(struct vu_server *s, struct req *r)
{
	struct vu_irq_info in, out = {.argsz = sizeof(out)};
	int ret = vu_irq_info_decode(r->p, r->len, &in);

	if (ret)
		return ret;
	if (in.index >= s->dev.num_irqs)
		return -EINVAL;
	out.index = in.index;
	out.count = s->dev.irq_count[in.index];
	if (out.count && (in.index == VU_PCI_ERR_IRQ || in.index == VU_PCI_REQ_IRQ))
		out.flags = VU_IRQ_INFO_EVENTFD;
	else if (out.count && in.index == VU_PCI_INTX_IRQ)
		out.flags = VU_IRQ_INFO_EVENTFD | VU_IRQ_INFO_MASKABLE | VU_IRQ_INFO_AUTOMASKED;
	else if (out.count)
		out.flags = VU_IRQ_INFO_EVENTFD | VU_IRQ_INFO_MASKABLE;
	memcpy(TX_PAYLOAD(s), &out, sizeof(out));
	return sizeof(out);
}

/* Is `fd` an eventfd? Anything else could block or misbehave when written. */
static bool is_eventfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, "anon_inode:[eventfd]");
}

static int h_set_irqs(struct vu_server *s, struct req *r)
{
	struct vu_irq_set is;
	const uint8_t *bools;
	uint32_t data, action;
	int ret = vu_irq_set_decode(r->p, r->len, r->nfds, &is, &bools);

	if (ret) {
		vn_warn_rl(&s->rl, "vu %s: guest: bad SET_IRQS (%s)", s->name, strerror(-ret));
		return ret;
	}
	vn_debug("vu %s: SET_IRQS index %u flags 0x%x start %u count %u fds %u", s->name, is.index,
		 is.flags, is.start, is.count, r->nfds);
	if (is.index >= s->dev.num_irqs)
		return -EINVAL;
	data = is.flags & VU_IRQ_SET_DATA_MASK;
	action = is.flags & VU_IRQ_SET_ACTION_MASK_ALL;

	if (is.count == 0) {
		/* vfio-user.rst: count 0 with DATA_NONE disables the index. */
		if (data != VU_IRQ_SET_DATA_NONE || action != VU_IRQ_SET_ACTION_TRIGGER)
			return -EINVAL;
		irq_disable_index(s, is.index);
		goto done;
	}
	if (!vn_range_ok(is.start, is.count, s->dev.irq_count[is.index]))
		return -EINVAL;

	if (data == VU_IRQ_SET_DATA_EVENTFD) {
		if (action == VU_IRQ_SET_ACTION_MASK)
			return -ENOTSUP; /* mask notification fds: not offered */
		for (unsigned i = 0; i < r->nfds; i++) {
			int fl;
			if (!is_eventfd(r->fds[i]))
				return -EINVAL;
			/* Never block a polling thread on a counter the client filled. */
			fl = fcntl(r->fds[i], F_GETFL);
			if (fl < 0 || fcntl(r->fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
				return -errno;
		}
		if (action == VU_IRQ_SET_ACTION_UNMASK) {
			/* vfio: the eventfd unmasks when signalled (KVM INTx resample).
			 * INTx only, as in Linux VFIO: a client cannot make us hold
			 * a second descriptor per MSI-X vector. */
			if (is.index != VU_PCI_INTX_IRQ)
				return -EINVAL;
			for (uint32_t i = 0; i < is.count; i++) {
				int fd = r->nfds ? r->fds[i] : -1;
				if (r->nfds)
					r->fds[i] = -1;
				ret = irq_set_unmask_fd(s, &s->irqs[is.index][is.start + i], fd);
				if (ret)
					return ret;
			}
			goto done;
		}
		irq_set_fds(s, is.index, is.start, is.count, r->nfds ? r->fds : NULL);
		goto done;
	}
	for (uint32_t i = 0; i < is.count; i++) {
		struct vu_irq_vec *v = &s->irqs[is.index][is.start + i];

		if (bools && !bools[i])
			continue;
		if (action == VU_IRQ_SET_ACTION_TRIGGER)
			vu_server_irq_trigger(s, is.index, is.start + i);
		else if (action == VU_IRQ_SET_ACTION_MASK)
			irq_mask(v);
		else
			irq_unmask(v);
	}
done:
	if (s->dev.irqs_changed)
		s->dev.irqs_changed(s->dev.opaque, is.index);
	return 0;
}

static int region_check(struct vu_server *s, const struct vu_region_rw *rw, uint32_t need)
{
	const struct vu_region *reg;

	if (rw->region >= s->dev.num_regions)
		return -EINVAL;
	reg = &s->dev.regions[rw->region];
	if (!reg->size || !(reg->flags & need))
		return -EINVAL;
	if (!vn_range_ok(rw->offset, rw->count, reg->size))
		return -EINVAL;
	return 0;
}

static int h_region_read(struct vu_server *s, struct req *r)
{
	struct vu_region_rw rw;
	const void *data;
	uint8_t *p = TX_PAYLOAD(s);
	int ret = vu_region_rw_decode(r->p, r->len, false, VU_MAX_DATA_XFER, &rw, &data);

	if (!ret)
		ret = region_check(s, &rw, VU_REGION_F_READ);
	if (ret) {
		vn_warn_rl(&s->rl, "vu %s: guest: bad REGION_READ (%s)", s->name, strerror(-ret));
		return ret;
	}
	ret = s->dev.region_access(s->dev.opaque, rw.region, rw.offset, p + sizeof(rw), rw.count,
				   false);
	if (ret)
		return ret;
	memcpy(p, &rw, sizeof(rw));
	return (int)(sizeof(rw) + rw.count);
}

static int h_region_write(struct vu_server *s, struct req *r)
{
	struct vu_region_rw rw;
	const void *data;
	int ret = vu_region_rw_decode(r->p, r->len, true, VU_MAX_DATA_XFER, &rw, &data);

	if (!ret)
		ret = region_check(s, &rw, VU_REGION_F_WRITE);
	if (ret) {
		vn_warn_rl(&s->rl, "vu %s: guest: bad REGION_WRITE (%s)", s->name, strerror(-ret));
		return ret;
	}
	/* data points into rxbuf, which the callback may use as scratch. */
	ret =
	    s->dev.region_access(s->dev.opaque, rw.region, rw.offset, (void *)data, rw.count, true);
	if (ret)
		return ret;
	memcpy(TX_PAYLOAD(s), &rw, sizeof(rw));
	return sizeof(rw);
}

static int h_reset(struct vu_server *s, struct req *r)
{
	if (r->len)
		return -EINVAL;
	if (!s->dev.reset_supported)
		return -ENOTSUP;
	/* A client may reset in a loop: one line per reset would flood the log. */
	vn_info_rl(&s->rl_info, "vu %s: DEVICE_RESET", s->name);
	if (s->dev.reset)
		s->dev.reset(s->dev.opaque, VU_RESET_DEVICE_RESET);
	return 0;
}

void server_dispatch(struct vu_server *s)
{
	struct req r = {
	    .hdr = &s->hdr,
	    .p = s->rxbuf,
	    .len = s->hdr.size - sizeof(struct vu_hdr),
	    .fds = s->fds,
	    .nfds = s->nfds,
	    .reply_fd = -1,
	};
	bool no_reply = s->hdr.flags & VU_F_NO_REPLY;
	unsigned max_fds = 0;
	int ret;

	s->stats.msgs++;
	vn_debug("vu %s: <- %s id %u size %u fds %u", s->name, vu_cmd_name(s->hdr.cmd), s->hdr.id,
		 s->hdr.size, s->nfds);

	switch (s->hdr.cmd) {
	case VU_CMD_DMA_MAP:
	case VU_CMD_DMA_UNMAP:
		max_fds = 1;
		break;
	case VU_CMD_DEVICE_SET_IRQS:
		max_fds = VU_MAX_MSG_FDS;
		break;
	}
	if (s->fd_overflow || s->nfds > max_fds) {
		ret = -EINVAL;
		vn_warn_rl(&s->rl, "vu %s: guest: %s with %u fds%s", s->name,
			   vu_cmd_name(s->hdr.cmd), s->nfds, s->fd_overflow ? " (too many)" : "");
	} else if (!s->negotiated && s->hdr.cmd != VU_CMD_VERSION) {
		ret = -EINVAL;
		vn_warn_rl(&s->rl, "vu %s: guest: %s before VERSION", s->name,
			   vu_cmd_name(s->hdr.cmd));
	} else {
		switch (s->hdr.cmd) {
		case VU_CMD_VERSION:
			ret = h_version(s, &r);
			break;
		case VU_CMD_DMA_MAP:
			ret = h_dma_map(s, &r);
			break;
		case VU_CMD_DMA_UNMAP:
			ret = h_dma_unmap(s, &r);
			break;
		case VU_CMD_DEVICE_GET_INFO:
			ret = h_device_info(s, &r);
			break;
		case VU_CMD_DEVICE_GET_REGION_INFO:
			ret = h_region_info(s, &r);
			break;
		case VU_CMD_DEVICE_GET_IRQ_INFO:
			ret = h_irq_info(s, &r);
			break;
		case VU_CMD_DEVICE_SET_IRQS:
			ret = h_set_irqs(s, &r);
			break;
		case VU_CMD_REGION_READ:
			ret = h_region_read(s, &r);
			break;
		case VU_CMD_REGION_WRITE:
			ret = h_region_write(s, &r);
			break;
		case VU_CMD_DEVICE_RESET:
			ret = h_reset(s, &r);
			break;
		case VU_CMD_DEVICE_GET_REGION_IO_FDS:
		case VU_CMD_DMA_READ:
		case VU_CMD_DMA_WRITE:
		case VU_CMD_DIRTY_PAGES:
		case VU_CMD_REGION_WRITE_MULTI:
		case VU_CMD_DEVICE_FEATURE:
		case VU_CMD_MIG_DATA_READ:
		case VU_CMD_MIG_DATA_WRITE:
			ret = -ENOTSUP;
			vn_debug("vu %s: %s not supported", s->name, vu_cmd_name(s->hdr.cmd));
			break;
		default:
			ret = -ENOSYS;
			vn_warn_rl(&s->rl, "vu %s: guest: unknown command %u", s->name, s->hdr.cmd);
			break;
		}
	}
	vu_close_fds(s->fds, s->nfds);
	s->nfds = 0;
	s->fd_overflow = 0;
	if (ret < 0)
		s->stats.errors++;
	if (no_reply) {
		if (ret < 0)
			vn_warn_rl(&s->rl, "vu %s: %s (no reply wanted) failed: %s", s->name,
				   vu_cmd_name(s->hdr.cmd), strerror(-ret));
		return;
	}
	if (ret < 0)
		ret = conn_reply(s, &s->hdr, VU_F_ERROR, (uint32_t)-ret, 0, -1);
	else
		ret = conn_reply(s, &s->hdr, 0, 0, (size_t)ret, r.reply_fd);
	if (ret)
		conn_close(s, ret == -ENOBUFS ? "replies not read" : "reply failed");
}

struct attach_call {
	struct vu_server *s;
	int fd;
	int ret;
};

static void attach_in_loop(void *arg)
{
	struct attach_call *c = arg;
	c->ret = c->s->connected ? -EBUSY : conn_attach(c->s, c->fd);
}

int vu_server_attach(struct vu_server *s, int fd)
{
	struct attach_call c = {.s = s, .fd = fd};

	vn_evloop_call(s->loop, attach_in_loop, &c);
	return c.ret;
}

/* ------------------------------------------------------------------------ */

static int check_device(const struct vu_device *d)
{
	if (d->num_regions > VU_PCI_NUM_REGIONS || d->num_irqs > VU_PCI_NUM_IRQS ||
	    !d->region_access)
		return -EINVAL;
	for (uint32_t i = 0; i < d->num_regions; i++) {
		const struct vu_region *r = &d->regions[i];
		if (r->nr_sparse > VU_MAX_SPARSE)
			return -EINVAL;
		for (uint32_t j = 0; j < r->nr_sparse; j++)
			if (!vn_range_ok(r->sparse[j].offset, r->sparse[j].size, r->size))
				return -EINVAL;
	}
	for (uint32_t i = 0; i < d->num_irqs; i++)
		if (d->irq_count[i] > VU_MAX_IRQS_PER_TYPE)
			return -EINVAL;
	return 0;
}

static void fault_one(void *arg, uint64_t iova, uint64_t len)
{
	struct vu_server *s = arg;

	s->stats.dma_faults++;
	vn_warn_rl(&s->rl,
		   "vu %s: guest: the memory behind DMA map iova 0x%llx size 0x%llx was truncated "
		   "while the device used it (SIGBUS contained): the mapping is gone, the device "
		   "fails",
		   s->name, (unsigned long long)iova, (unsigned long long)len);
	if (s->dev.dma_fault)
		s->dev.dma_fault(s->dev.opaque, iova, len);
}

static void fault_event(void *arg, uint32_t events)
{
	struct vu_server *s = arg;
	uint64_t n;

	(void)events;
	if (read(s->fault_fd, &n, sizeof(n)) == sizeof(n))
		vn_dma_reap_faults(&s->dma, fault_one, s);
}

static void server_free(struct vu_server *s)
{
	vn_dma_fini(&s->dma);
	if (s->fault_fd >= 0)
		close(s->fault_fd);
	irq_free(s);
	free(s->rxbuf);
	free(s->txbuf);
	free(s->path);
	free(s);
}

int vu_server_create(const struct vu_server_opts *o, struct vu_server **out)
{
	struct vu_server *s;
	int ret;

	if (!o->path || !o->loop || !o->dev)
		return -EINVAL;
	ret = check_device(o->dev);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = -1;
	s->conn_fd = -1;
	s->tx_timer_fd = -1;
	s->fault_fd = -1;
	s->loop = o->loop;
	s->qsbr = o->qsbr;
	s->dev = *o->dev;
	s->reply_timeout_ms =
	    o->reply_timeout_ms > 0 ? o->reply_timeout_ms : VU_DEFAULT_REPLY_TIMEOUT;
	s->txq_max_msgs = o->txq_max_msgs ? o->txq_max_msgs : VU_DEFAULT_TXQ_MSGS;
	s->txq_max_bytes = o->txq_max_bytes ? o->txq_max_bytes : VU_DEFAULT_TXQ_BYTES;
	snprintf(s->name, sizeof(s->name), "%s", o->dev->name ? o->dev->name : "dev");
	s->path = strdup(o->path);
	s->rxbuf = malloc(VU_MAX_MSG_SIZE);
	s->txbuf = malloc(VU_MAX_MSG_SIZE);
	if (!s->path || !s->rxbuf || !s->txbuf) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = irq_init(s);
	if (ret)
		goto err_free;
	ret = vn_dma_init(&s->dma, s->qsbr, VU_MAX_DMA_MAPS);
	if (ret)
		goto err_free;
	vn_dma_set_max_bytes(&s->dma,
			     o->max_dma_bytes ? o->max_dma_bytes : VU_DEFAULT_MAX_DMA_BYTES);
	s->fault_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->fault_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	vn_dma_set_fault_fd(&s->dma, s->fault_fd);
	ret = vn_evloop_add(s->loop, s->fault_fd, EPOLLIN, fault_event, s, &s->fault_ev);
	if (ret)
		goto err_free;
	ret = conn_init(s);
	if (ret)
		goto err_fault;
	s->listen_fd = vu_sock_listen(s->path);
	if (s->listen_fd < 0) {
		ret = s->listen_fd;
		s->listen_fd = -1;
		vn_err("vu %s: cannot listen on %s: %s%s", s->name, s->path, strerror(-ret),
		       ret == -EADDRINUSE ? " (another live process serves it)"
		       : ret == -EEXIST   ? " (a file that is not a socket is in the way)"
					  : "");
		goto err_conn;
	}
	ret = vn_evloop_add(s->loop, s->listen_fd, EPOLLIN, conn_listen_event, s, &s->listen_ev);
	if (ret)
		goto err_listen;
	vn_info("vu %s: listening on %s", s->name, s->path);
	*out = s;
	return 0;
err_listen:
	close(s->listen_fd);
	unlink(s->path);
err_conn:
	conn_fini(s);
err_fault:
	vn_evloop_del(s->loop, s->fault_ev);
err_free:
	server_free(s);
	return ret;
}

static void destroy_in_loop(void *arg)
{
	struct vu_server *s = arg;

	conn_close(s, "server shutting down");
	conn_fini(s);
	vn_evloop_del(s->loop, s->fault_ev);
	vn_evloop_del(s->loop, s->listen_ev);
	close(s->listen_fd);
	unlink(s->path);
}

void vu_server_destroy(struct vu_server *s)
{
	if (!s)
		return;
	vn_evloop_call(s->loop, destroy_in_loop, s);
	server_free(s);
}

bool vu_server_connected(struct vu_server *s)
{
	return __atomic_load_n(&s->connected, __ATOMIC_ACQUIRE);
}

const struct vn_dma *vu_server_dma(const struct vu_server *s)
{
	return &s->dma;
}

void vu_server_get_stats(const struct vu_server *s, struct vu_server_stats *out)
{
	*out = s->stats;
}
