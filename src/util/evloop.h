/* SPDX-License-Identifier: MIT */
/*
 * A small epoll event loop for control-plane work (vfio-user sockets,
 * signals). It never runs on a polling thread. One loop serves any number of
 * servers; callbacks run on the loop's thread only.
 */
#ifndef VN_UTIL_EVLOOP_H
#define VN_UTIL_EVLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vn_evloop;
struct vn_ev;

typedef void (*vn_ev_cb)(void *arg, uint32_t events);
typedef void (*vn_call_fn)(void *arg);

int vn_evloop_create(struct vn_evloop **out);
/* The loop must not be running. Handles still registered are freed. */
void vn_evloop_destroy(struct vn_evloop *l);

/* Watch fd for `events` (EPOLLIN ...). Returns 0 and a handle, or -errno. */
int vn_evloop_add(struct vn_evloop *l, int fd, uint32_t events, vn_ev_cb cb, void *arg,
		  struct vn_ev **out);
/* Change the events watched for (EPOLLIN | EPOLLOUT ...). Returns 0 or -errno. */
int vn_evloop_mod(struct vn_evloop *l, struct vn_ev *ev, uint32_t events);
/* Stop watching; safe from within any callback of the same loop. */
void vn_evloop_del(struct vn_evloop *l, struct vn_ev *ev);

/* Run callbacks until vn_evloop_stop(). Returns 0 or -errno. */
int vn_evloop_run(struct vn_evloop *l);
/* Thread-safe and async-signal-safe. */
void vn_evloop_stop(struct vn_evloop *l);

/* Run the loop on a thread of its own / stop it and join. */
int vn_evloop_start_thread(struct vn_evloop *l, const char *name);
void vn_evloop_join(struct vn_evloop *l);

/*
 * Run fn(arg) on the loop's thread and wait for it; runs it directly when
 * called from the loop's thread or when the loop is not running.
 */
int vn_evloop_call(struct vn_evloop *l, vn_call_fn fn, void *arg);

bool vn_evloop_in_loop(const struct vn_evloop *l);

#endif
