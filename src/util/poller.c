/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/poller.h"
#include "util/tsc.h"

struct msg {
	void (*fn)(void *);
	void *arg;
	struct msg *next;
};

struct vn_poller {
	/* Poller-owned, hot. */
	VN_CACHE_ALIGNED struct vn_pollable *list;
	struct vn_pollable *slow;   /* the slow pollables, on a list of their own */
	struct vn_pollable *cursor; /* next to poll; removal-safe iteration */
	struct vn_qsbr *qsbr;
	struct vn_qsbr_reader rd;
	struct vn_poller_stats st; /* busy_ns and idle_ns in TSC ticks here */

	/* Shared with posting threads. */
	VN_CACHE_ALIGNED uint32_t has_msgs;
	uint32_t sleeping;
	uint32_t stop;
	pthread_mutex_t lock;
	struct msg *head, **tail;
	int wakefd;

	pthread_t thread; /* an inline poller's: its creator */
	bool inline_;     /* no thread: vn_poller_step runs it */
	int cpu;
	char name[32];
};

static void run_msgs(struct vn_poller *p)
{
	struct msg *m;

	pthread_mutex_lock(&p->lock);
	m = p->head;
	p->head = NULL;
	p->tail = &p->head;
	/* Cleared under the lock: a post after this sets it again. */
	vn_store_relaxed(&p->has_msgs, 0u);
	pthread_mutex_unlock(&p->lock);
	while (m) {
		struct msg *n = m->next;
		m->fn(m->arg);
		free(m);
		m = n;
		p->st.posts++;
	}
}

static void sleep_idle(struct vn_poller *p, unsigned us)
{
	struct pollfd pfd = {.fd = p->wakefd, .events = POLLIN};
	uint64_t v;

	if (p->qsbr)
		vn_qsbr_offline(&p->rd);
	vn_store_relaxed(&p->sleeping, 1u);
	/* Full fence: a poster that missed our flag must see sleeping = 1 and
	 * write the eventfd; we re-check has_msgs after announcing. */
	vn_smp_mb();
	if (!vn_load_relaxed(&p->has_msgs) && !vn_load_relaxed(&p->stop))
		poll(&pfd, 1, (int)((us + 999) / 1000));
	vn_store_relaxed(&p->sleeping, 0u);
	if (read(p->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vn_err("poller %s: wakefd: %s", p->name, strerror(errno));
	if (p->qsbr)
		vn_qsbr_online(p->qsbr, &p->rd);
	p->st.sleeps++;
}

/* Poll every pollable of one list; each may remove itself (p->cursor). */
static inline unsigned poll_list(struct vn_poller *p, struct vn_pollable *head)
{
	unsigned work = 0;

	for (p->cursor = head; p->cursor;) {
		struct vn_pollable *pl = p->cursor;
		p->cursor = pl->next; /* pl may remove itself */
		work += pl->poll(pl);
	}
	return work;
}

/* The list a pollable is on: slow ones have their own. */
static inline struct vn_pollable **list_of(struct vn_poller *p, const struct vn_pollable *pl)
{
	return pl->slow ? &p->slow : &p->list;
}

static void *poller_main(void *arg)
{
	struct vn_poller *p = arg;
	/* Time in TSC ticks: one instruction per round, no vDSO call. */
	uint64_t spin = vn_tsc_from_ns(VN_POLLER_SPIN_NS);
	uint64_t last = vn_tsc(), idle_since = 0;
	unsigned sleep_us = 0;

	if (p->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(p->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			vn_warn("poller %s: cannot pin to CPU %d", p->name, p->cpu);
	}
	if (p->qsbr)
		vn_qsbr_register(p->qsbr, &p->rd, p->name);

	_Static_assert((VN_POLLER_SLOW_EVERY & (VN_POLLER_SLOW_EVERY - 1)) == 0, "a power of 2");
	while (!vn_load_acquire(&p->stop)) {
		unsigned work;
		uint64_t now;

		if (vn_load_acquire(&p->has_msgs))
			run_msgs(p);
		work = poll_list(p, p->list);
		/* Slow pollables wait while the rounds find work, but every
		 * VN_POLLER_SLOW_EVERY-th. */
		if (p->slow && (idle_since || !(p->st.rounds & (VN_POLLER_SLOW_EVERY - 1))))
			work += poll_list(p, p->slow);
		if (p->qsbr)
			vn_qsbr_quiescent(p->qsbr, &p->rd);
		p->st.rounds++;
		/* Time accounting once per round, not per command. */
		now = vn_tsc();
		if (work) {
			p->st.busy_rounds++;
			p->st.busy_ns += now - last;
			idle_since = 0;
			sleep_us = 0;
		} else {
			p->st.idle_ns += now - last;
			if (!idle_since)
				idle_since = now;
			if (now - idle_since >= spin) {
				sleep_us =
				    sleep_us ? VN_MIN(sleep_us * 2, VN_POLLER_MAX_SLEEP_US) : 50;
				sleep_idle(p, sleep_us);
				now = vn_tsc(); /* the sleep counts as idle next round */
			} else {
				vn_cpu_relax();
			}
		}
		last = now;
	}
	if (vn_load_acquire(&p->has_msgs))
		run_msgs(p);
	if (p->qsbr)
		vn_qsbr_unregister(p->qsbr, &p->rd);
	return NULL;
}

static int poller_new(int cpu, struct vn_qsbr *qsbr, const char *name, bool inline_,
		      struct vn_poller **out)
{
	struct vn_poller *p;
	int ret;

	vn_tsc_ns_per_tick(); /* measured here once, not on the polling thread */
	if (posix_memalign((void **)&p, VN_CACHELINE, sizeof(*p)))
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->cpu = cpu;
	p->qsbr = qsbr;
	p->inline_ = inline_;
	p->tail = &p->head;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "poller");
	pthread_mutex_init(&p->lock, NULL);
	p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wakefd < 0) {
		ret = -errno;
		goto err;
	}
	if (inline_) {
		p->thread = pthread_self();
		*out = p;
		return 0;
	}
	ret = -pthread_create(&p->thread, NULL, poller_main, p);
	if (ret)
		goto err;
	pthread_setname_np(p->thread, p->name);
	*out = p;
	return 0;
err:
	if (p->wakefd >= 0)
		close(p->wakefd);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return ret;
}

int vn_poller_create(int cpu, struct vn_qsbr *qsbr, const char *name, struct vn_poller **out)
{
	return poller_new(cpu, qsbr, name, false, out);
}

int vn_poller_create_inline(const char *name, struct vn_poller **out)
{
	return poller_new(-1, NULL, name, true, out);
}

bool vn_poller_step(struct vn_poller *p)
{
	if (!p->inline_)
		return false;
	if (vn_load_acquire(&p->has_msgs))
		run_msgs(p);
	if (poll_list(p, p->list) + poll_list(p, p->slow))
		p->st.busy_rounds++;
	p->st.rounds++;
	return true;
}

static void wake(struct vn_poller *p)
{
	uint64_t one = 1;

	if (vn_load_relaxed(&p->sleeping)) {
		ssize_t r = write(p->wakefd, &one, sizeof(one));
		(void)r; /* EAGAIN: a wake-up is pending already */
	}
}

void vn_poller_destroy(struct vn_poller *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	if (p->inline_) {
		if (vn_load_acquire(&p->has_msgs))
			run_msgs(p);
		goto out;
	}
	vn_store_release(&p->stop, 1u);
	if (write(p->wakefd, &one, sizeof(one)) < 0)
		vn_err("poller %s: wake for stop: %s", p->name, strerror(errno));
	pthread_join(p->thread, NULL);
out:
	close(p->wakefd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int vn_poller_post(struct vn_poller *p, void (*fn)(void *), void *arg)
{
	struct msg *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = m;
	p->tail = &m->next;
	vn_store_release(&p->has_msgs, 1u);
	pthread_mutex_unlock(&p->lock);
	/* Pairs with the fence in sleep_idle(): either it sees has_msgs, or we
	 * see sleeping and wake it. */
	vn_smp_mb();
	wake(p);
	return 0;
}

struct call {
	void (*fn)(void *);
	void *arg;
	uint32_t done;
};

static void call_fn(void *arg)
{
	struct call *c = arg;

	c->fn(c->arg);
	vn_store_release(&c->done, 1u);
}

int vn_poller_call(struct vn_poller *p, void (*fn)(void *), void *arg)
{
	struct call c = {.fn = fn, .arg = arg};
	int ret;

	if (vn_poller_is_current(p)) {
		if (p->inline_ && vn_load_acquire(&p->has_msgs))
			run_msgs(p); /* in order after what was posted before */
		fn(arg);
		return 0;
	}
	ret = vn_poller_post(p, call_fn, &c);
	if (ret)
		return ret;
	while (!vn_load_acquire(&c.done)) {
		struct timespec ts = {0, 10000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

bool vn_poller_is_current(const struct vn_poller *p)
{
	return pthread_equal(p->thread, pthread_self());
}

void vn_poller_add(struct vn_poller *p, struct vn_pollable *pl)
{
	struct vn_pollable **head = list_of(p, pl);

	pl->owner = p;
	pl->next = *head;
	*head = pl;
}

void vn_poller_remove(struct vn_poller *p, struct vn_pollable *pl)
{
	for (struct vn_pollable **pp = list_of(p, pl); *pp; pp = &(*pp)->next) {
		if (*pp == pl) {
			*pp = pl->next;
			break;
		}
	}
	if (p->cursor == pl)
		p->cursor = pl->next;
	pl->owner = NULL;
	pl->next = NULL;
}

void vn_poller_get_stats(const struct vn_poller *p, struct vn_poller_stats *out)
{
	/* Single-writer counters read racily: a snapshot, not a transaction. */
	memcpy(out, &p->st, sizeof(*out));
	out->busy_ns = vn_tsc_to_ns(out->busy_ns);
	out->idle_ns = vn_tsc_to_ns(out->idle_ns);
}

int vn_poller_cpu(const struct vn_poller *p)
{
	return p->cpu;
}

const char *vn_poller_name(const struct vn_poller *p)
{
	return p->name;
}
