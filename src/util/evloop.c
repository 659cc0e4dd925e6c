/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/compiler.h"
#include "util/evloop.h"
#include "util/log.h"

struct vn_ev {
	int fd;
	bool dead;
	vn_ev_cb cb;
	void *arg;
	struct vn_ev *next; /* all handles, for destroy; or the graveyard */
};

struct vn_call {
	vn_call_fn fn;
	void *arg;
	bool done;
	struct vn_call *next;
};

struct vn_evloop {
	int epfd;
	int wakefd;
	bool stop;
	bool running;
	pthread_t thread;
	pthread_t runner;
	bool has_thread;
	struct vn_ev *all;
	struct vn_ev *graveyard;
	pthread_mutex_t lock; /* calls queue */
	pthread_cond_t cond;
	struct vn_call *calls;
};

int vn_evloop_create(struct vn_evloop **out)
{
	struct vn_evloop *l = calloc(1, sizeof(*l));
	struct epoll_event e = {.events = EPOLLIN};

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0)
		goto err;
	e.data.ptr = NULL; /* NULL marks the wake-up eventfd */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &e) < 0)
		goto err;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	*out = l;
	return 0;
err:;
	int ret = -errno;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return ret;
}

static void free_list(struct vn_ev *ev)
{
	while (ev) {
		struct vn_ev *n = ev->next;
		free(ev);
		ev = n;
	}
}

void vn_evloop_destroy(struct vn_evloop *l)
{
	if (!l)
		return;
	free_list(l->all);
	free_list(l->graveyard);
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
}

int vn_evloop_add(struct vn_evloop *l, int fd, uint32_t events, vn_ev_cb cb, void *arg,
		  struct vn_ev **out)
{
	struct vn_ev *ev = calloc(1, sizeof(*ev));
	struct epoll_event e = {.events = events};

	if (!ev)
		return -ENOMEM;
	ev->fd = fd;
	ev->cb = cb;
	ev->arg = arg;
	e.data.ptr = ev;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		int ret = -errno;
		free(ev);
		return ret;
	}
	ev->next = l->all;
	l->all = ev;
	*out = ev;
	return 0;
}

int vn_evloop_mod(struct vn_evloop *l, struct vn_ev *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};

	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, ev->fd, &e) < 0)
		return -errno;
	return 0;
}

void vn_evloop_del(struct vn_evloop *l, struct vn_ev *ev)
{
	if (!ev)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	ev->dead = true;
	for (struct vn_ev **pp = &l->all; *pp; pp = &(*pp)->next) {
		if (*pp == ev) {
			*pp = ev->next;
			break;
		}
	}
	/* Freed after the current batch: an event for it may still be pending. */
	ev->next = l->graveyard;
	l->graveyard = ev;
}

static void run_calls(struct vn_evloop *l)
{
	uint64_t v;

	if (read(l->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vn_err("evloop: read wakefd: %s", strerror(errno));
	pthread_mutex_lock(&l->lock);
	while (l->calls) {
		struct vn_call *c = l->calls;
		l->calls = c->next;
		pthread_mutex_unlock(&l->lock);
		c->fn(c->arg);
		pthread_mutex_lock(&l->lock);
		c->done = true;
		pthread_cond_broadcast(&l->cond);
	}
	pthread_mutex_unlock(&l->lock);
}

int vn_evloop_run(struct vn_evloop *l)
{
	struct epoll_event evs[32];

	pthread_mutex_lock(&l->lock);
	l->runner = pthread_self();
	l->running = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(l->epfd, evs, (int)VN_ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			vn_err("evloop: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct vn_ev *ev = evs[i].data.ptr;
			if (!ev) {
				run_calls(l);
				continue;
			}
			if (!ev->dead)
				ev->cb(ev->arg, evs[i].events);
		}
		free_list(l->graveyard);
		l->graveyard = NULL;
	}
	run_calls(l);

	pthread_mutex_lock(&l->lock);
	l->running = false;
	__atomic_store_n(&l->stop, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static void wake(struct vn_evloop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->wakefd, &one, sizeof(one));
	(void)r; /* EAGAIN means a wake-up is already pending */
}

void vn_evloop_stop(struct vn_evloop *l)
{
	__atomic_store_n(&l->stop, true, __ATOMIC_RELEASE);
	wake(l);
}

bool vn_evloop_in_loop(const struct vn_evloop *l)
{
	return l->running && pthread_equal(l->runner, pthread_self());
}

int vn_evloop_call(struct vn_evloop *l, vn_call_fn fn, void *arg)
{
	struct vn_call c = {.fn = fn, .arg = arg};

	pthread_mutex_lock(&l->lock);
	if (!l->running || pthread_equal(l->runner, pthread_self())) {
		pthread_mutex_unlock(&l->lock);
		fn(arg);
		return 0;
	}
	c.next = l->calls;
	l->calls = &c;
	wake(l);
	while (!c.done)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

static void *loop_thread(void *arg)
{
	vn_evloop_run(arg);
	return NULL;
}

int vn_evloop_start_thread(struct vn_evloop *l, const char *name)
{
	int ret = pthread_create(&l->thread, NULL, loop_thread, l);

	if (ret)
		return -ret;
	if (name)
		pthread_setname_np(l->thread, name);
	l->has_thread = true;
	/* Wait until it runs, so vn_evloop_call() queues instead of running here. */
	pthread_mutex_lock(&l->lock);
	while (!l->running)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void vn_evloop_join(struct vn_evloop *l)
{
	if (!l->has_thread)
		return;
	vn_evloop_stop(l);
	pthread_join(l->thread, NULL);
	l->has_thread = false;
}
