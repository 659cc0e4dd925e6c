/* SPDX-License-Identifier: MIT */
/*
 * vfio-user message codec: pure functions that check and decode what a peer
 * sent, and encode what we send. No I/O, no state: the fuzz target drives
 * these directly. Every decoder takes the payload as received (pointer and
 * length after the header) and returns 0 or -errno, the errno the error reply
 * carries.
 */
#ifndef VN_VU_CODEC_H
#define VN_VU_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu/proto.h"

/* Negotiated capabilities (vfio-user.rst "Version", capability table). */
struct vu_caps {
	uint32_t max_msg_fds;
	uint64_t max_data_xfer_size;
	uint64_t pgsizes;
	uint32_t max_dma_maps;
	bool migration;      /* the peer offered a migration object */
	bool write_multiple; /* REGION_WRITE_MULTI supported */
	bool twin_socket;    /* the peer offered twin-socket mode */
};

/* The specification's defaults for absent keys. */
void vu_caps_defaults(struct vu_caps *c);

const char *vu_cmd_name(uint16_t cmd);

/*
 * Check a received request header: size in [16, max_size], type "command",
 * no flag bits but NO_REPLY, error field ignored (reserved in commands).
 * Returns 0, -EMSGSIZE (size out of range), -EINVAL (bad flags).
 */
int vu_hdr_check_request(const struct vu_hdr *h, size_t max_size);

/*
 * Check a reply header against the request it answers: type reply, same id,
 * size in [16, max_size]. If VU_F_ERROR is set, *peer_errno is the errno
 * carried (EIO if zero). Returns 0, -EMSGSIZE, -EPROTO.
 */
int vu_hdr_check_reply(const struct vu_hdr *h, uint16_t id, size_t max_size, int *peer_errno);

/*
 * VERSION: major must be 0; the JSON, if present, must be NUL-terminated,
 * at most VU_MAX_VERSION_JSON bytes, an object whose "capabilities" is an
 * object with keys of the right types. Unknown keys are ignored.
 */
int vu_version_decode(const void *p, size_t len, uint16_t *major, uint16_t *minor,
		      struct vu_caps *caps);
/* Encode a VERSION payload (major, minor, JSON) into buf; returns its length. */
int vu_version_encode(void *buf, size_t len, uint16_t major, uint16_t minor,
		      const struct vu_caps *caps, bool client);

int vu_dma_map_decode(const void *p, size_t len, struct vu_dma_map *out);
int vu_dma_unmap_decode(const void *p, size_t len, struct vu_dma_unmap *out);
/* GET_INFO, GET_REGION_INFO, GET_IRQ_INFO: argsz is the reply room. */
int vu_device_info_decode(const void *p, size_t len, struct vu_device_info *out);
int vu_region_info_decode(const void *p, size_t len, struct vu_region_info *out);
int vu_irq_info_decode(const void *p, size_t len, struct vu_irq_info *out);
/*
 * SET_IRQS: exactly one DATA flag and one ACTION flag; DATA_BOOL carries
 * `count` bytes; nfds must be 0 or count for DATA_EVENTFD and 0 otherwise;
 * the disable-all form (DATA_NONE|TRIGGER, count 0) is accepted.
 * *bools points into p for DATA_BOOL, NULL otherwise.
 */
int vu_irq_set_decode(const void *p, size_t len, unsigned nfds, struct vu_irq_set *out,
		      const uint8_t **bools);
/*
 * REGION_READ/WRITE requests: count <= max_xfer; a write carries exactly
 * count bytes (*data points to them), a read carries none.
 */
int vu_region_rw_decode(const void *p, size_t len, bool is_write, uint32_t max_xfer,
			struct vu_region_rw *out, const void **data);

#endif
