/* SPDX-License-Identifier: MIT */
/*
 * vfio-user server, interrupts: per vector an eventfd the client gave
 * (SET_IRQS), a mask and a pending bit. Triggering is lock-free and runs on
 * polling threads; everything else runs on the control thread. What one
 * client can hold is bounded by the device's vector counts
 * (VU_MAX_IRQS_PER_TYPE each): two descriptors per vector at most.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vu/server_priv.h"
#include "vu/sock.h"

static int fire(struct vu_irq_vec *v)
{
	/* Pairs with the release exchange in irq_set_fd(): a swapped-out fd is
	 * closed only after a grace period, so this fd stays valid until our
	 * next quiescent state. */
	int fd = vn_load_acquire(&v->fd);
	uint64_t one = 1;

	if (fd < 0)
		return 0;
	/* The eventfd is non-blocking: a full counter (EAGAIN) already means
	 * "interrupt pending" to the reader. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return 0;
	return 1;
}

int vu_server_irq_trigger(struct vu_server *s, uint32_t index, uint32_t vec)
{
	struct vu_irq_vec *v;
	uint32_t st;

	if (unlikely(index >= VU_PCI_NUM_IRQS || vec >= s->dev.irq_count[index]))
		return -EINVAL;
	v = &s->irqs[index][vec];
	st = vn_load_acquire(&v->state);
	if (index == VU_PCI_INTX_IRQ) {
		/* INTx is AUTOMASKED (as VFIO's): it masks itself when it fires
		 * and stays masked until the client unmasks it (EOI). */
		for (;;) {
			uint32_t nst = (st & VEC_MASKED) ? st | VEC_PENDING : st | VEC_MASKED;
			if (__atomic_compare_exchange_n(&v->state, &st, nst, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return (st & VEC_MASKED) ? 0 : fire(v);
		}
	}
	while (st & VEC_MASKED) {
		/* Masked: remember it; unmasking fires it (see irq_unmask()). */
		if (__atomic_compare_exchange_n(&v->state, &st, st | VEC_PENDING, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return 0;
	}
	return fire(v);
}

bool vu_server_irq_enabled(struct vu_server *s, uint32_t index, uint32_t vec)
{
	struct vu_irq_vec *v;

	if (index >= VU_PCI_NUM_IRQS || vec >= s->dev.irq_count[index])
		return false;
	v = &s->irqs[index][vec];
	return vn_load_acquire(&v->fd) >= 0 && !(vn_load_acquire(&v->state) & VEC_MASKED);
}

void irq_unmask(struct vu_irq_vec *v)
{
	uint32_t old = __atomic_fetch_and(&v->state, ~(VEC_MASKED | VEC_PENDING), __ATOMIC_ACQ_REL);
	if (old & VEC_PENDING)
		vu_server_irq_trigger(v->srv, v->index, (uint32_t)(v - v->srv->irqs[v->index]));
}

static void unmask_event(void *arg, uint32_t events)
{
	struct vu_irq_vec *v = arg;
	uint64_t cnt;

	(void)events;
	if (read(v->unmask_fd, &cnt, sizeof(cnt)) == sizeof(cnt))
		irq_unmask(v);
}

/* Replace the unmask eventfd of one vector; fd < 0 removes it. Consumes fd. */
int irq_set_unmask_fd(struct vu_server *s, struct vu_irq_vec *v, int fd)
{
	int ret = 0;

	if (v->unmask_ev) {
		vn_evloop_del(s->loop, v->unmask_ev);
		v->unmask_ev = NULL;
	}
	if (v->unmask_fd >= 0)
		close(v->unmask_fd);
	v->unmask_fd = fd;
	if (fd >= 0) {
		ret = vn_evloop_add(s->loop, fd, EPOLLIN, unmask_event, v, &v->unmask_ev);
		if (ret) {
			close(fd);
			v->unmask_fd = -1;
		}
	}
	return ret;
}

void irq_mask(struct vu_irq_vec *v)
{
	__atomic_fetch_or(&v->state, VEC_MASKED, __ATOMIC_ACQ_REL);
}

/* Replace fds of vectors [start, start + n); fds == NULL de-assigns. The
 * old descriptors are closed after a grace period. Consumes fds. */
void irq_set_fds(struct vu_server *s, uint32_t index, uint32_t start, uint32_t n, int *fds)
{
	int old[VU_MAX_MSG_FDS];
	unsigned nold = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct vu_irq_vec *v = &s->irqs[index][start + i];
		int nfd = fds ? fds[i] : -1;
		int ofd = __atomic_exchange_n(&v->fd, nfd, __ATOMIC_ACQ_REL);

		if (fds)
			fds[i] = -1;
		if (ofd >= 0) {
			if (nold == VU_MAX_MSG_FDS) {
				if (s->qsbr)
					vn_qsbr_synchronize(s->qsbr);
				vu_close_fds(old, nold);
				nold = 0;
			}
			old[nold++] = ofd;
		}
	}
	if (nold) {
		if (s->qsbr)
			vn_qsbr_synchronize(s->qsbr);
		vu_close_fds(old, nold);
	}
}

void irq_disable_index(struct vu_server *s, uint32_t index)
{
	uint32_t cnt = s->dev.irq_count[index];

	for (uint32_t start = 0; start < cnt; start += VU_MAX_MSG_FDS) {
		uint32_t n = VN_MIN(cnt - start, (uint32_t)VU_MAX_MSG_FDS);
		irq_set_fds(s, index, start, n, NULL);
	}
	for (uint32_t i = 0; i < cnt; i++) {
		irq_set_unmask_fd(s, &s->irqs[index][i], -1);
		vn_store_release(&s->irqs[index][i].state, 0u);
	}
}

int irq_init(struct vu_server *s)
{
	for (uint32_t i = 0; i < s->dev.num_irqs; i++) {
		s->irqs[i] = calloc(s->dev.irq_count[i] + 1, sizeof(*s->irqs[i]));
		if (!s->irqs[i])
			return -ENOMEM;
		for (uint32_t v = 0; v < s->dev.irq_count[i]; v++) {
			s->irqs[i][v].fd = -1;
			s->irqs[i][v].unmask_fd = -1;
			s->irqs[i][v].srv = s;
			s->irqs[i][v].index = i;
		}
	}
	return 0;
}

void irq_free(struct vu_server *s)
{
	for (uint32_t i = 0; i < VU_PCI_NUM_IRQS; i++) {
		free(s->irqs[i]);
		s->irqs[i] = NULL;
	}
}
