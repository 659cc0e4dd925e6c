/* SPDX-License-Identifier: MIT */
/*
 * The vfio-user server's insides, shared by its three parts:
 *  - irq.c: interrupt state (eventfds, masks, pending bits), lock-free for
 *    triggering threads;
 *  - conn.c: the connection: accept, receive framing, the non-blocking
 *    bounded reply queue, disconnect;
 *  - server.c: the message handlers, create and destroy.
 * Everything but the interrupt trigger runs on the control loop's thread.
 */
#ifndef VN_VU_SERVER_PRIV_H
#define VN_VU_SERVER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "vu/codec.h"
#include "vu/server.h"

#define VEC_MASKED  1u
#define VEC_PENDING 2u

/* Messages handled per wake-up before other sockets get a turn. */
#define MSGS_PER_WAKEUP 64

struct vu_irq_vec {
	int fd;         /* eventfd or -1; read by triggering threads */
	uint32_t state; /* VEC_MASKED | VEC_PENDING */
	/* Control thread only: an eventfd that unmasks when signalled (INTx
	 * resample under KVM: the guest's EOI unmasks the line). */
	int unmask_fd;
	struct vn_ev *unmask_ev;
	struct vu_server *srv;
	uint32_t index;
};

enum rx_state { RX_HDR, RX_BODY, RX_DISCARD };

/* A reply the socket had no room for: sent when the client reads. */
struct vu_txq_ent {
	struct vu_txq_ent *next;
	size_t len, off; /* bytes in data[], bytes already sent */
	int fd;          /* to attach to the first byte (not owned), or -1 */
	uint8_t data[];
};

struct vu_server {
	char *path;
	char name[64];
	struct vn_evloop *loop;
	struct vn_qsbr *qsbr;
	struct vu_device dev;
	int reply_timeout_ms;
	size_t txq_max_bytes;
	uint32_t txq_max_msgs;

	int listen_fd;
	struct vn_ev *listen_ev;

	/* The one client. */
	int conn_fd;
	struct vn_ev *conn_ev;
	bool connected;
	bool negotiated;
	unsigned fdless_noted; /* DMA maps without fd seen on this connection */
	struct vu_caps peer_caps;
	enum rx_state rx;
	struct vu_hdr hdr;
	size_t got;
	uint64_t discard_left;
	int fds[VU_MAX_MSG_FDS];
	unsigned nfds;
	int fd_overflow;

	/* Replies waiting for room in the socket, oldest first. */
	struct vu_txq_ent *txq_head, **txq_tail;
	size_t txq_bytes;
	uint32_t txq_msgs;
	/* One timer for both deadlines below (CLOCK_MONOTONIC ns, 0: none). */
	int tx_timer_fd;
	struct vn_ev *tx_timer_ev;
	uint64_t tx_deadline;   /* queued replies must have moved by then */
	uint64_t listen_resume; /* accept paused (out of descriptors) until then */

	/* SIGBUS in a mapping of this client's memory (util/dma.h). */
	int fault_fd;
	struct vn_ev *fault_ev;

	uint8_t *rxbuf; /* one request body */
	uint8_t *txbuf; /* one reply, header included */

	struct vn_dma dma;
	struct vu_irq_vec *irqs[VU_PCI_NUM_IRQS];

	struct vu_server_stats stats;
	struct vn_ratelimit rl;
	struct vn_ratelimit rl_info; /* per-event lifecycle lines (DEVICE_RESET) */
};

#define TX_PAYLOAD(s) ((s)->txbuf + sizeof(struct vu_hdr))
#define TX_ROOM       (VU_MAX_MSG_SIZE - sizeof(struct vu_hdr))

/* irq.c */
int irq_init(struct vu_server *s);
void irq_free(struct vu_server *s);
void irq_mask(struct vu_irq_vec *v);
void irq_unmask(struct vu_irq_vec *v);
int irq_set_unmask_fd(struct vu_server *s, struct vu_irq_vec *v, int fd);
void irq_set_fds(struct vu_server *s, uint32_t index, uint32_t start, uint32_t n, int *fds);
void irq_disable_index(struct vu_server *s, uint32_t index);

/* conn.c */
int conn_init(struct vu_server *s);
void conn_fini(struct vu_server *s);
void conn_close(struct vu_server *s, const char *why);
/* Send (or queue) a reply with the payload in TX_PAYLOAD(s); 0 or -errno
 * (the connection must then be closed). */
int conn_reply(struct vu_server *s, const struct vu_hdr *req, uint32_t flags, uint32_t err,
	       size_t payload_len, int fd);
int conn_attach(struct vu_server *s, int fd);
void conn_listen_event(void *arg, uint32_t events);

/* server.c */
void server_dispatch(struct vu_server *s);

#endif
