/* SPDX-License-Identifier: MIT */
/*
 * Why vn_qsbr_quiescent() needs no fence: a reader that announces counter g
 * loaded g with acquire semantics, so every published pointer it loads next is
 * at least as new as what the writer stored before advancing to g. If the
 * announcement itself lingers in the store buffer the writer only waits a
 * little longer. Going online is different: the announcement carries an old
 * counter that the writer may already have passed, so the reader must make it
 * visible (full fence) before loading anything; see vn_qsbr_online().
 */
#include <time.h>

#include "util/log.h"
#include "util/qsbr.h"

void vn_qsbr_init(struct vn_qsbr *q)
{
	q->gp = 1;
	pthread_mutex_init(&q->lock, NULL);
	q->readers = NULL;
}

void vn_qsbr_destroy(struct vn_qsbr *q)
{
	pthread_mutex_destroy(&q->lock);
}

void vn_qsbr_register(struct vn_qsbr *q, struct vn_qsbr_reader *r, const char *name)
{
	r->name = name;
	pthread_mutex_lock(&q->lock);
	r->next = q->readers;
	q->readers = r;
	vn_qsbr_online(q, r);
	pthread_mutex_unlock(&q->lock);
}

void vn_qsbr_unregister(struct vn_qsbr *q, struct vn_qsbr_reader *r)
{
	/* Offline before the lock: a writer in vn_qsbr_synchronize() holds it
	 * while it waits for us, and waits no more once we are offline. */
	vn_qsbr_offline(r);
	pthread_mutex_lock(&q->lock);
	for (struct vn_qsbr_reader **pp = &q->readers; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&q->lock);
}

void vn_qsbr_synchronize(struct vn_qsbr *q)
{
	pthread_mutex_lock(&q->lock);
	/* Seq-cst: orders the caller's publication before the new counter, and
	 * the counter before our reads of the readers' announcements. */
	uint64_t target = __atomic_add_fetch(&q->gp, 1, __ATOMIC_SEQ_CST);

	for (struct vn_qsbr_reader *r = q->readers; r; r = r->next) {
		uint64_t t0 = 0;
		unsigned spins = 0;

		for (;;) {
			uint64_t c = vn_load_acquire(&r->ctr);
			if (c == 0 || c >= target)
				break;
			if (spins++ < 64) {
				vn_cpu_relax();
				continue;
			}
			if (!t0)
				t0 = vn_now_ns();
			else if (t0 != 1 && vn_now_ns() - t0 > 2000000000ull) {
				vn_warn("qsbr: reader %s has not passed a quiescent state for 2 s",
					r->name ? r->name : "?");
				t0 = 1;
			}
			struct timespec ts = {0, 20000};
			nanosleep(&ts, NULL);
		}
	}
	pthread_mutex_unlock(&q->lock);
}
