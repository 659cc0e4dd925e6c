/* SPDX-License-Identifier: MIT */
/*
 * The running target: its polling threads and its controllers, which the
 * control thread alone creates and destroys (at start and through the
 * JSON-RPC methods of rpc_methods.c, docs/rpc.md).
 */
#ifndef VN_TARGET_TARGET_H
#define VN_TARGET_TARGET_H

#include "rpc/server.h"
#include "target/config.h"
#include "target/device.h"

struct target_ctrl {
	struct vnvme_dev *dev;
	struct vnvme_dev_conf conf; /* as asked for; owns its namespaces' paths */
	unsigned index;             /* nvme<index>, CNTLID index + 1; never reused */
};

struct target {
	struct vn_evloop *loop;
	struct vn_qsbr qsbr;
	struct vn_poller *pollers[VN_MAX_CPUS];
	int cpus[VN_MAX_CPUS];
	unsigned nr_pollers;
	struct target_ctrl *ctrls; /* nr_ctrls, in order of creation */
	unsigned nr_ctrls, cap_ctrls;
	unsigned next_index;
	int sigfd;
	struct vn_ev *sigev;
	struct vn_rpc_server *rpc;
	char rpc_path[108];
};

/* Create a controller from conf (copied, paths duplicated) and serve its
 * socket. On the control thread. Returns 0 or -errno with a message. */
int target_add_ctrl(struct target *t, const struct vnvme_dev_conf *conf, char *err, size_t errlen);
/* Destroy controller i: its client is disconnected, its queues stopped. */
void target_del_ctrl(struct target *t, unsigned i);
void target_del_all(struct target *t);

/* Serve the JSON-RPC methods on path. Returns 0 or -errno with a message. */
int target_rpc_start(struct target *t, const char *path, char *err, size_t errlen);
void target_rpc_stop(struct target *t);

#endif
