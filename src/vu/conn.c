/* SPDX-License-Identifier: MIT */
/*
 * vfio-user server, the connection: accept one client, frame what it sends,
 * send the replies without ever blocking the control loop.
 *
 * One control thread serves every device's socket, so no client may make it
 * wait. Replies go out with non-blocking sends; what the socket has no room
 * for waits in a per-connection queue, sent as the client reads. The queue is
 * bounded (txq_max_msgs replies, txq_max_bytes bytes) and must make progress:
 * a client over the bound, or whose queue has not moved for
 * reply_timeout_ms, is disconnected with a log line that says why. A
 * well-behaved client (QEMU, libvnvme) waits for each reply before the next
 * request, so it never has more than one reply queued.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vu/codec.h"
#include "vu/server_priv.h"
#include "vu/sock.h"

static void txq_free(struct vu_server *s)
{
	while (s->txq_head) {
		struct vu_txq_ent *e = s->txq_head;
		s->txq_head = e->next;
		free(e);
	}
	s->txq_tail = &s->txq_head;
	s->txq_bytes = 0;
	s->txq_msgs = 0;
}

/* Accepting stops this long when the process is out of descriptors: the
 * listening socket stays readable, and retrying at once would spin. */
#define ACCEPT_PAUSE_MS 100

/* Arm the timer for the earlier of the two deadlines, or disarm it. */
static void timer_rearm(struct vu_server *s)
{
	uint64_t next = s->tx_deadline;
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (s->listen_resume && (!next || s->listen_resume < next))
		next = s->listen_resume;
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000000000ull);
		its.it_value.tv_nsec = (long)(next % 1000000000ull);
	}
	timerfd_settime(s->tx_timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* (Re)start the no-progress deadline, or stop it (ms == 0). */
static void tx_timer_set(struct vu_server *s, int ms)
{
	s->tx_deadline = ms ? vn_now_ns() + (uint64_t)ms * 1000000ull : 0;
	timer_rearm(s);
}

void conn_close(struct vu_server *s, const char *why)
{
	if (!s->connected)
		return;
	vn_info_rl(&s->rl_info, "vu %s: client disconnected (%s)", s->name, why);
	vn_evloop_del(s->loop, s->conn_ev);
	s->conn_ev = NULL;
	close(s->conn_fd);
	s->conn_fd = -1;
	vu_close_fds(s->fds, s->nfds);
	s->nfds = 0;
	txq_free(s);
	tx_timer_set(s, 0);

	/* The device first (it may still complete work into DMA memory), then
	 * interrupts, then the maps. */
	if (s->dev.reset)
		s->dev.reset(s->dev.opaque, VU_RESET_DISCONNECT);
	for (uint32_t i = 0; i < s->dev.num_irqs; i++)
		irq_disable_index(s, i);
	if (s->dev.dma_unmap) {
		const struct vn_dma_table *t = vn_dma_table_get(&s->dma);
		for (uint32_t i = 0; i < t->nr; i++)
			s->dev.dma_unmap(s->dev.opaque, t->r[i].iova, t->r[i].len);
	}
	vn_dma_remove_all(&s->dma);
	__atomic_store_n(&s->connected, false, __ATOMIC_RELEASE);
	s->negotiated = false;
}

/* Queue what the socket did not take. -ENOBUFS: the client is over its bound. */
static int txq_push(struct vu_server *s, const uint8_t *p, size_t len, int fd)
{
	struct vu_txq_ent *e;

	if (s->txq_msgs >= s->txq_max_msgs || len > s->txq_max_bytes - s->txq_bytes) {
		s->stats.slow_disconnects++;
		vn_warn_rl(&s->rl,
			   "vu %s: guest: the client does not read its replies (%u replies, %zu "
			   "bytes queued; at most %u and %zu): disconnecting it",
			   s->name, s->txq_msgs, s->txq_bytes, s->txq_max_msgs, s->txq_max_bytes);
		return -ENOBUFS;
	}
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->len = len;
	e->off = 0;
	e->fd = fd;
	memcpy(e->data, p, len);
	if (!s->txq_head) {
		int ret = vn_evloop_mod(s->loop, s->conn_ev, EPOLLIN | EPOLLOUT);
		if (ret) {
			free(e);
			return ret;
		}
		tx_timer_set(s, s->reply_timeout_ms);
	}
	*s->txq_tail = e;
	s->txq_tail = &e->next;
	s->txq_bytes += len;
	s->txq_msgs++;
	return 0;
}

int conn_reply(struct vu_server *s, const struct vu_hdr *req, uint32_t flags, uint32_t err,
	       size_t payload_len, int fd)
{
	struct vu_hdr h = {
	    .id = req->id,
	    .cmd = req->cmd,
	    .size = (uint32_t)(sizeof(h) + payload_len),
	    .flags = VU_F_TYPE_REPLY | flags,
	    .error = err,
	};
	size_t len = sizeof(h) + payload_len;
	ssize_t sent = 0;
	int ret;

	memcpy(s->txbuf, &h, sizeof(h));
	/* Replies keep their order: behind a queue, join it. */
	if (!s->txq_head) {
		sent = vu_sock_send_some(s->conn_fd, s->txbuf, len, &fd, fd >= 0);
		if (sent < 0) {
			vn_warn_rl(&s->rl, "vu %s: sending %s reply: %s", s->name,
				   vu_cmd_name(req->cmd), strerror((int)-sent));
			return (int)sent;
		}
		if ((size_t)sent == len)
			return 0;
	}
	/* The descriptor travelled with the first byte, if one went. */
	ret = txq_push(s, s->txbuf + sent, len - (size_t)sent, sent ? -1 : fd);
	return ret;
}

/* The client reads: send what is queued. */
static void conn_flush(struct vu_server *s)
{
	bool progress = false;

	while (s->txq_head) {
		struct vu_txq_ent *e = s->txq_head;
		ssize_t n = vu_sock_send_some(s->conn_fd, e->data + e->off, e->len - e->off, &e->fd,
					      e->off == 0 && e->fd >= 0);

		if (n < 0) {
			conn_close(s, strerror((int)-n));
			return;
		}
		if (n == 0)
			break;
		progress = true;
		e->off += (size_t)n;
		s->txq_bytes -= (size_t)n;
		if (e->off < e->len)
			break;
		s->txq_head = e->next;
		s->txq_msgs--;
		free(e);
	}
	if (!s->txq_head) {
		s->txq_tail = &s->txq_head;
		tx_timer_set(s, 0);
		if (vn_evloop_mod(s->loop, s->conn_ev, EPOLLIN))
			conn_close(s, "epoll");
	} else if (progress) {
		tx_timer_set(s, s->reply_timeout_ms);
	}
}

static void tx_timer_event(void *arg, uint32_t events)
{
	struct vu_server *s = arg;
	uint64_t n, now = vn_now_ns();

	(void)events;
	if (read(s->tx_timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	if (s->listen_resume && now >= s->listen_resume) {
		s->listen_resume = 0;
		if (vn_evloop_mod(s->loop, s->listen_ev, EPOLLIN))
			s->listen_resume = now + ACCEPT_PAUSE_MS * 1000000ull;
	}
	if (s->tx_deadline && now >= s->tx_deadline) {
		s->tx_deadline = 0;
		if (s->connected && s->txq_head) {
			s->stats.slow_disconnects++;
			vn_warn_rl(
			    &s->rl,
			    "vu %s: guest: the client read none of its %u queued replies for "
			    "%d ms: disconnecting it",
			    s->name, s->txq_msgs, s->reply_timeout_ms);
			conn_close(s, "replies not read");
		}
	}
	timer_rearm(s);
}

static bool conn_read(struct vu_server *s)
{
	for (int msgs = 0; msgs < MSGS_PER_WAKEUP;) {
		void *dst;
		size_t want;
		ssize_t n;
		uint8_t sink[4096];

		switch (s->rx) {
		case RX_HDR:
			dst = (uint8_t *)&s->hdr + s->got;
			want = sizeof(s->hdr) - s->got;
			break;
		case RX_BODY:
			dst = s->rxbuf + s->got;
			want = s->hdr.size - sizeof(s->hdr) - s->got;
			break;
		default:
			dst = sink;
			want = (size_t)VN_MIN(s->discard_left, (uint64_t)sizeof(sink));
			break;
		}
		if (want) {
			n = vu_sock_recv(s->conn_fd, dst, want, s->fds, &s->nfds, VU_MAX_MSG_FDS,
					 &s->fd_overflow);
			if (n == -EAGAIN)
				return true;
			if (n <= 0) {
				conn_close(s, n == 0 ? (s->rx == RX_HDR && s->got == 0
							    ? "EOF"
							    : "EOF in the middle of a message")
						     : strerror((int)-n));
				return false;
			}
			s->got += (size_t)n;
			if (s->rx == RX_DISCARD)
				s->discard_left -= (uint64_t)n;
			if ((size_t)n < want)
				continue;
		}

		if (s->rx == RX_HDR) {
			int ret = vu_hdr_check_request(&s->hdr, VU_MAX_MSG_SIZE);

			s->got = 0;
			if (ret == -EMSGSIZE && s->hdr.size > VU_MAX_MSG_SIZE) {
				/* Framed but too big: skip the body, then refuse. */
				vn_warn_rl(&s->rl, "vu %s: guest: %s of %u bytes exceeds %zu",
					   s->name, vu_cmd_name(s->hdr.cmd), s->hdr.size,
					   (size_t)VU_MAX_MSG_SIZE);
				s->rx = RX_DISCARD;
				s->discard_left = s->hdr.size - sizeof(s->hdr);
				continue;
			}
			if (ret) {
				/* Cannot frame it (size < header) or not a command:
				 * answer once, then drop the connection. */
				vn_warn_rl(&s->rl,
					   "vu %s: guest: bad header (cmd %u size %u flags 0x%x)",
					   s->name, s->hdr.cmd, s->hdr.size, s->hdr.flags);
				s->stats.errors++;
				if (!(s->hdr.flags & VU_F_NO_REPLY))
					conn_reply(s, &s->hdr, VU_F_ERROR, (uint32_t)-ret, 0, -1);
				conn_close(s, "malformed header");
				return false;
			}
			s->rx = RX_BODY;
			if (s->hdr.size > sizeof(s->hdr))
				continue;
		} else if (s->rx == RX_DISCARD) {
			if (s->discard_left)
				continue;
			s->stats.errors++;
			vu_close_fds(s->fds, s->nfds);
			s->nfds = 0;
			s->fd_overflow = 0;
			s->rx = RX_HDR;
			s->got = 0;
			msgs++;
			if (!(s->hdr.flags & VU_F_NO_REPLY) &&
			    conn_reply(s, &s->hdr, VU_F_ERROR, EMSGSIZE, 0, -1)) {
				conn_close(s, "reply failed");
				return false;
			}
			continue;
		}
		/* A whole message. */
		s->rx = RX_HDR;
		s->got = 0;
		msgs++;
		server_dispatch(s);
		if (!s->connected)
			return false;
	}
	return true;
}

static void conn_event(void *arg, uint32_t events)
{
	struct vu_server *s = arg;

	if (events & EPOLLOUT) {
		conn_flush(s);
		if (!s->connected)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(s);
}

int conn_attach(struct vu_server *s, int fd)
{
	int fl = fcntl(fd, F_GETFL), ret;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	s->conn_fd = fd;
	s->rx = RX_HDR;
	s->got = 0;
	s->nfds = 0;
	s->fd_overflow = 0;
	s->negotiated = false;
	s->fdless_noted = 0;
	txq_free(s);
	ret = vn_evloop_add(s->loop, fd, EPOLLIN, conn_event, s, &s->conn_ev);
	if (ret)
		return ret;
	s->stats.connections++;
	__atomic_store_n(&s->connected, true, __ATOMIC_RELEASE);
	return 0;
}

void conn_listen_event(void *arg, uint32_t events)
{
	struct vu_server *s = arg;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	(void)events;
	if (fd < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		s->stats.accept_errors++;
		vn_warn_rl(&s->rl, "vu %s: accept: %s%s", s->name, strerror(errno),
			   errno == EMFILE || errno == ENFILE ? " (out of descriptors)" : "");
		/* The connection stays in the backlog and the socket readable:
		 * stop watching it for a while rather than spin. */
		if (!vn_evloop_mod(s->loop, s->listen_ev, 0)) {
			s->listen_resume = vn_now_ns() + ACCEPT_PAUSE_MS * 1000000ull;
			timer_rearm(s);
		}
		return;
	}
	if (s->connected) {
		/* One client per device: the newcomer sees EOF at once. */
		s->stats.refused_busy++;
		vn_warn_rl(&s->rl, "vu %s: refused a second client: one is connected already",
			   s->name);
		close(fd);
		return;
	}
	if (conn_attach(s, fd)) {
		vn_warn_rl(&s->rl, "vu %s: cannot serve new client: %s", s->name, strerror(errno));
		close(fd);
		return;
	}
	vn_info_rl(&s->rl_info, "vu %s: client connected", s->name);
}

int conn_init(struct vu_server *s)
{
	s->txq_tail = &s->txq_head;
	s->tx_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tx_timer_fd < 0)
		return -errno;
	return vn_evloop_add(s->loop, s->tx_timer_fd, EPOLLIN, tx_timer_event, s, &s->tx_timer_ev);
}

/* On the loop's thread, after conn_close(). */
void conn_fini(struct vu_server *s)
{
	txq_free(s);
	vn_evloop_del(s->loop, s->tx_timer_ev);
	s->tx_timer_ev = NULL;
	if (s->tx_timer_fd >= 0)
		close(s->tx_timer_fd);
	s->tx_timer_fd = -1;
}
