/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"
#include "vu/client.h"
#include "vu/sock.h"

struct vu_client {
	int fd;
	uint16_t next_id;
	int timeout_ms;
	struct vu_caps server_caps;
	uint8_t *buf; /* one message */
};

#define CLIENT_BUF_SIZE VU_MAX_MSG_SIZE

/* Read exactly len bytes before the deadline; descriptors go to fds. */
static int read_exact(struct vu_client *c, void *buf, size_t len, uint64_t deadline, int *fds,
		      unsigned *nfds)
{
	size_t got = 0;
	int overflow = 0;

	while (got < len) {
		uint64_t now = vn_now_ns();
		int ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		int ret = vu_sock_wait(c->fd, POLLIN, ms);
		ssize_t n;

		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ETIMEDOUT;
		n = vu_sock_recv(c->fd, (uint8_t *)buf + got, len - got, fds, nfds,
				 fds ? VU_MAX_MSG_FDS : 0, &overflow);
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET; /* the server went away */
		got += (size_t)n;
	}
	return 0;
}

static int send_req(struct vu_client *c, uint16_t cmd, uint32_t flags, const void *payload,
		    size_t len, const int *fds, unsigned nfds, uint16_t *id)
{
	struct vu_hdr h = {
	    .id = c->next_id++,
	    .cmd = cmd,
	    .size = (uint32_t)(sizeof(h) + len),
	    .flags = VU_F_TYPE_CMD | flags,
	};
	struct iovec iov[2] = {
	    {.iov_base = &h, .iov_len = sizeof(h)},
	    {.iov_base = (void *)payload, .iov_len = len},
	};

	if (len > CLIENT_BUF_SIZE - sizeof(h))
		return -EMSGSIZE;
	*id = h.id;
	return vu_sock_send(c->fd, iov, len ? 2 : 1, fds, nfds, c->timeout_ms);
}

int vu_client_request(struct vu_client *c, uint16_t cmd, const void *payload, size_t len,
		      const int *fds, unsigned nfds, void *reply, size_t reply_room,
		      size_t *reply_len, int *reply_fd)
{
	uint64_t deadline;
	uint16_t id;
	int ret;

	if (reply_fd)
		*reply_fd = -1;
	if (reply_len)
		*reply_len = 0;
	if (c->fd < 0)
		return -ENOTCONN;
	ret = send_req(c, cmd, 0, payload, len, fds, nfds, &id);
	if (ret)
		return ret;
	deadline = vn_now_ns() + (uint64_t)c->timeout_ms * 1000000ull;

	for (;;) {
		struct vu_hdr h;
		int rfds[VU_MAX_MSG_FDS];
		unsigned nrfds = 0;
		size_t body;
		int peer_err;

		ret = read_exact(c, &h, sizeof(h), deadline, rfds, &nrfds);
		if (ret)
			goto fail;
		if (h.size < sizeof(h) || h.size > CLIENT_BUF_SIZE) {
			vu_close_fds(rfds, nrfds);
			ret = -EPROTO; /* cannot frame: the stream is lost */
			goto fail;
		}
		body = h.size - sizeof(h);
		ret = read_exact(c, c->buf, body, deadline, rfds, &nrfds);
		if (ret) {
			vu_close_fds(rfds, nrfds);
			goto fail;
		}
		if ((h.flags & VU_F_TYPE_MASK) == VU_F_TYPE_CMD) {
			/* A server-to-client request (DMA_READ/WRITE): this
			 * client shares all its memory as fds and serves none. */
			vu_close_fds(rfds, nrfds);
			if (!(h.flags & VU_F_NO_REPLY)) {
				struct vu_hdr e = {.id = h.id,
						   .cmd = h.cmd,
						   .size = sizeof(e),
						   .flags = VU_F_TYPE_REPLY | VU_F_ERROR,
						   .error = ENOTSUP};
				struct iovec iov = {.iov_base = &e, .iov_len = sizeof(e)};
				vu_sock_send(c->fd, &iov, 1, NULL, 0, c->timeout_ms);
			}
			continue;
		}
		ret = vu_hdr_check_reply(&h, id, CLIENT_BUF_SIZE, &peer_err);
		if (ret) {
			vu_close_fds(rfds, nrfds);
			goto fail;
		}
		if (peer_err) {
			vu_close_fds(rfds, nrfds);
			return -peer_err;
		}
		if (reply_fd && nrfds) {
			*reply_fd = rfds[0];
			rfds[0] = -1;
		}
		vu_close_fds(rfds, nrfds);
		if (reply)
			memcpy(reply, c->buf, VN_MIN(body, reply_room));
		if (reply_len)
			*reply_len = body;
		return 0;
	}
fail:
	/* After a framing error or a timeout the stream is out of step: close. */
	vn_warn("vu client: %s: %s; closing the connection", vu_cmd_name(cmd), strerror(-ret));
	close(c->fd);
	c->fd = -1;
	return ret;
}

int vu_client_post(struct vu_client *c, uint16_t cmd, const void *payload, size_t len)
{
	uint16_t id;

	if (c->fd < 0)
		return -ENOTCONN;
	return send_req(c, cmd, VU_F_NO_REPLY, payload, len, NULL, 0, &id);
}

int vu_client_connect(const char *path, int timeout_ms, struct vu_client **out)
{
	struct vu_client *c = calloc(1, sizeof(*c));
	uint8_t req[512];
	struct vu_caps ours;
	size_t rlen;
	uint16_t major, minor;
	int ret, len;

	if (!c)
		return -ENOMEM;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	c->buf = malloc(CLIENT_BUF_SIZE);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->fd = vu_sock_connect(path);
	if (c->fd < 0) {
		ret = c->fd;
		goto err;
	}
	vu_caps_defaults(&ours);
	ours.max_msg_fds = VU_MAX_MSG_FDS;
	ours.max_data_xfer_size = VU_MAX_DATA_XFER;
	len = vu_version_encode(req, sizeof(req), VU_VERSION_MAJOR, VU_VERSION_MINOR, &ours, true);
	if (len < 0) {
		ret = len;
		goto err;
	}
	ret = vu_client_request(c, VU_CMD_VERSION, req, (size_t)len, NULL, 0, NULL, 0, &rlen, NULL);
	if (ret == -EPIPE)
		ret = -ECONNRESET; /* hung up before reading: busy with another client */
	if (ret)
		goto err;
	/* The reply payload is still in c->buf. */
	ret = vu_version_decode(c->buf, rlen, &major, &minor, &c->server_caps);
	if (ret)
		goto err;
	if (major != VU_VERSION_MAJOR || minor > VU_VERSION_MINOR) {
		ret = -EPROTO;
		goto err;
	}
	if (c->server_caps.max_data_xfer_size > VU_MAX_DATA_XFER)
		c->server_caps.max_data_xfer_size = VU_MAX_DATA_XFER;
	*out = c;
	return 0;
err:
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
	return ret;
}

void vu_client_close(struct vu_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

const struct vu_caps *vu_client_server_caps(const struct vu_client *c)
{
	return &c->server_caps;
}

int vu_client_fd(const struct vu_client *c)
{
	return c->fd;
}

int vu_client_dma_map(struct vu_client *c, uint64_t iova, uint64_t size, int fd, uint64_t offset,
		      uint32_t prot)
{
	struct vu_dma_map m = {
	    .argsz = sizeof(m),
	    .flags = prot,
	    .offset = fd >= 0 ? offset : 0,
	    .addr = iova,
	    .size = size,
	};

	return vu_client_request(c, VU_CMD_DMA_MAP, &m, sizeof(m), &fd, fd >= 0, NULL, 0, NULL,
				 NULL);
}

static int unmap(struct vu_client *c, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct vu_dma_unmap u = {.argsz = sizeof(u), .flags = flags, .addr = iova, .size = size};

	return vu_client_request(c, VU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0, NULL, NULL);
}

int vu_client_dma_unmap(struct vu_client *c, uint64_t iova, uint64_t size)
{
	return unmap(c, iova, size, 0);
}

int vu_client_dma_unmap_all(struct vu_client *c)
{
	return unmap(c, 0, 0, VU_DMA_UNMAP_F_ALL);
}

int vu_client_device_info(struct vu_client *c, struct vu_device_info *out)
{
	struct vu_device_info in = {.argsz = sizeof(in)};
	size_t rlen;
	int ret = vu_client_request(c, VU_CMD_DEVICE_GET_INFO, &in, sizeof(in), NULL, 0, out,
				    sizeof(*out), &rlen, NULL);

	if (!ret && rlen < sizeof(*out))
		ret = -EPROTO;
	return ret;
}

static int parse_sparse(const uint8_t *p, size_t len, struct vu_client_region *out,
			uint32_t cap_offset)
{
	/* Walk the capability chain; offsets are from the start of the
	 * region info and must move forward inside the reply. */
	uint32_t off = cap_offset;

	for (unsigned hops = 0; off && hops < 16; hops++) {
		struct vu_cap_hdr h;

		if (off < sizeof(struct vu_region_info) || !vn_range_ok(off, sizeof(h), len))
			return -EPROTO;
		memcpy(&h, p + off, sizeof(h));
		if (h.id == VU_CAP_SPARSE_MMAP) {
			struct vu_cap_sparse_mmap cap;

			if (!vn_range_ok(off, sizeof(cap), len))
				return -EPROTO;
			memcpy(&cap, p + off, sizeof(cap));
			if (cap.nr_areas > VN_ARRAY_SIZE(out->sparse) ||
			    !vn_range_ok(off + sizeof(cap),
					 (uint64_t)cap.nr_areas * sizeof(struct vu_sparse_area),
					 len))
				return -EPROTO;
			out->nr_sparse = cap.nr_areas;
			memcpy(out->sparse, p + off + sizeof(cap),
			       cap.nr_areas * sizeof(struct vu_sparse_area));
		}
		if (h.next && h.next <= off)
			return -EPROTO;
		off = h.next;
	}
	return 0;
}

int vu_client_region_info(struct vu_client *c, uint32_t index, struct vu_client_region *out)
{
	struct vu_region_info in = {.argsz = sizeof(in), .index = index}, ri;
	uint8_t reply[sizeof(struct vu_region_info) + sizeof(struct vu_cap_sparse_mmap) +
		      16 * sizeof(struct vu_sparse_area)];
	size_t rlen;
	int fd = -1, ret;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (fd >= 0)
			close(fd);
		ret = vu_client_request(c, VU_CMD_DEVICE_GET_REGION_INFO, &in, sizeof(in), NULL, 0,
					reply, sizeof(reply), &rlen, &fd);
		if (ret)
			return ret;
		if (rlen < sizeof(ri) || rlen > sizeof(reply)) {
			ret = -EPROTO;
			goto err;
		}
		memcpy(&ri, reply, sizeof(ri));
		if (ri.argsz <= in.argsz)
			break;
		/* The server needs more room for its capabilities: ask again. */
		if (ri.argsz > sizeof(reply)) {
			ret = -EPROTO;
			goto err;
		}
		in.argsz = ri.argsz;
	}
	if (ri.index != index) {
		ret = -EPROTO;
		goto err;
	}
	out->index = index;
	out->flags = ri.flags;
	out->size = ri.size;
	out->offset = ri.offset;
	if (ri.flags & VU_REGION_F_CAPS) {
		ret = parse_sparse(reply, rlen, out, ri.cap_offset);
		if (ret)
			goto err;
	}
	if (ri.flags & VU_REGION_F_MMAP) {
		if (fd < 0) {
			ret = -EPROTO;
			goto err;
		}
		out->fd = fd;
	} else if (fd >= 0) {
		close(fd);
	}
	return 0;
err:
	if (fd >= 0)
		close(fd);
	return ret;
}

int vu_client_region_mmap(const struct vu_client_region *r, uint32_t area, void **ptr, size_t *len)
{
	uint64_t off, size;
	int prot = 0;
	void *p;

	if (!(r->flags & VU_REGION_F_MMAP) || r->fd < 0)
		return -ENOTSUP;
	if (r->nr_sparse) {
		if (area >= r->nr_sparse)
			return -EINVAL;
		off = r->sparse[area].offset;
		size = r->sparse[area].size;
	} else {
		if (area)
			return -EINVAL;
		off = 0;
		size = r->size;
	}
	if (!size || !vn_range_ok(off, size, r->size) || r->offset > UINT64_MAX - off)
		return -EINVAL;
	if (r->flags & VU_REGION_F_READ)
		prot |= PROT_READ;
	if (r->flags & VU_REGION_F_WRITE)
		prot |= PROT_WRITE;
	p = mmap(NULL, size, prot, MAP_SHARED, r->fd, (off_t)(r->offset + off));
	if (p == MAP_FAILED)
		return -errno;
	*ptr = p;
	*len = size;
	return 0;
}

static int region_rw(struct vu_client *c, uint16_t cmd, uint32_t index, uint64_t off, void *buf,
		     size_t len)
{
	size_t chunk_max = (size_t)c->server_caps.max_data_xfer_size;
	uint8_t *p = buf;

	while (len) {
		size_t n = VN_MIN(len, chunk_max);
		struct vu_region_rw rw = {.offset = off, .region = index, .count = (uint32_t)n};
		size_t rlen;
		int ret;

		if (cmd == VU_CMD_REGION_WRITE) {
			/* header + data in one payload */
			uint8_t *tmp = malloc(sizeof(rw) + n);
			if (!tmp)
				return -ENOMEM;
			memcpy(tmp, &rw, sizeof(rw));
			memcpy(tmp + sizeof(rw), p, n);
			ret = vu_client_request(c, cmd, tmp, sizeof(rw) + n, NULL, 0, NULL, 0,
						&rlen, NULL);
			free(tmp);
			if (!ret && rlen < sizeof(rw))
				ret = -EPROTO;
		} else {
			ret = vu_client_request(c, cmd, &rw, sizeof(rw), NULL, 0, NULL, 0, &rlen,
						NULL);
			/* The reply is still in c->buf: offset, region, count, data. */
			if (!ret && rlen != sizeof(rw) + n)
				ret = -EPROTO;
			if (!ret)
				memcpy(p, c->buf + sizeof(rw), n);
		}
		if (ret)
			return ret;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vu_client_region_read(struct vu_client *c, uint32_t index, uint64_t off, void *buf, size_t len)
{
	return region_rw(c, VU_CMD_REGION_READ, index, off, buf, len);
}

int vu_client_region_write(struct vu_client *c, uint32_t index, uint64_t off, const void *buf,
			   size_t len)
{
	return region_rw(c, VU_CMD_REGION_WRITE, index, off, (void *)buf, len);
}

int vu_client_irq_info(struct vu_client *c, uint32_t index, struct vu_irq_info *out)
{
	struct vu_irq_info in = {.argsz = sizeof(in), .index = index};
	size_t rlen;
	int ret = vu_client_request(c, VU_CMD_DEVICE_GET_IRQ_INFO, &in, sizeof(in), NULL, 0, out,
				    sizeof(*out), &rlen, NULL);

	if (!ret && rlen < sizeof(*out))
		ret = -EPROTO;
	return ret;
}

int vu_client_set_irqs(struct vu_client *c, uint32_t index, uint32_t flags, uint32_t start,
		       uint32_t count, const int *fds, const uint8_t *bools)
{
	uint8_t buf[sizeof(struct vu_irq_set) + VU_MAX_IRQS_PER_TYPE];
	struct vu_irq_set is = {
	    .argsz = sizeof(is),
	    .flags = flags,
	    .index = index,
	    .start = start,
	    .count = count,
	};
	size_t len = sizeof(is);
	unsigned nfds = 0;

	if (count > VU_MAX_IRQS_PER_TYPE)
		return -EINVAL;
	if ((flags & VU_IRQ_SET_DATA_BOOL) && bools) {
		is.argsz += count;
		memcpy(buf + sizeof(is), bools, count);
		len += count;
	}
	if ((flags & VU_IRQ_SET_DATA_EVENTFD) && fds) {
		/* Chunks of at most max_msg_fds, as QEMU does. */
		uint32_t max = c->server_caps.max_msg_fds ? c->server_caps.max_msg_fds : 1;
		max = VN_MIN(max, (uint32_t)VU_MAX_MSG_FDS);
		while (count > max) {
			int ret = vu_client_set_irqs(c, index, flags, start, max, fds, NULL);
			if (ret)
				return ret;
			start += max;
			count -= max;
			fds += max;
		}
		is.start = start;
		is.count = count;
		nfds = count;
	}
	memcpy(buf, &is, sizeof(is));
	return vu_client_request(c, VU_CMD_DEVICE_SET_IRQS, buf, len, fds, nfds, NULL, 0, NULL,
				 NULL);
}

int vu_client_reset(struct vu_client *c)
{
	return vu_client_request(c, VU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL);
}
