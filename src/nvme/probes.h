/* SPDX-License-Identifier: MIT */
/*
 * USDT probes (systemtap's sys/sdt.h, as bpftrace, perf and SystemTap read
 * them; docs/attribution.md), with semaphores: an unattached probe costs a
 * load of its semaphore and a branch, and its arguments are not even
 * computed. A tracer that attaches raises the semaphore; while any of them
 * is raised, an SQ's commands go the general way (sq_process), where every
 * probe fires per command, so the fast path pays one test per batch.
 *
 *   vnvme:cmd_fetch(ctrl, sqid, cid, opc)   the SQE copied out of the SQ
 *   vnvme:cmd_done(ctrl, sqid, cid, result) the backend finished (-errno or 0)
 *   vnvme:cqe_post(ctrl, sqid, cid, status) the CQE about to be written (SF)
 *
 * ctrl is the controller's name ("nvme0"), a C string.
 */
#ifndef VN_NVME_PROBES_H
#define VN_NVME_PROBES_H

#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include "util/compiler.h"

/* Defined in queue.c, in the .probes section the tracer writes. */
extern volatile unsigned short vnvme_cmd_fetch_semaphore, vnvme_cmd_done_semaphore,
    vnvme_cqe_post_semaphore;

#define NVME_PROBE_ON(name) unlikely(vnvme_##name##_semaphore)

/* Any probe attached: one test, of the three semaphores or'ed. */
static inline bool nvme_probes_on(void)
{
	return unlikely(vnvme_cmd_fetch_semaphore | vnvme_cmd_done_semaphore |
			vnvme_cqe_post_semaphore);
}

#define NVME_PROBE4(name, a, b, c, d)                                                              \
	do {                                                                                       \
		if (NVME_PROBE_ON(name))                                                           \
			STAP_PROBE4(vnvme, name, a, b, c, d);                                      \
	} while (0)

#endif
