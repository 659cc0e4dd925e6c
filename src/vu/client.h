/* SPDX-License-Identifier: MIT */
/*
 * vfio-user client: a small synchronous library the driver's vfio-user
 * transport and the tests use. One thread at a time per client (the caller
 * serialises); the data path does not go through it: doorbells are written
 * into the mmapped sparse areas, DMA memory is shared as file descriptors.
 * Every request waits at most the client's timeout; a dead server is an
 * error (-ECONNRESET, -ETIMEDOUT), never a hang.
 */
#ifndef VN_VU_CLIENT_H
#define VN_VU_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu/codec.h"
#include "vu/proto.h"

struct vu_client;

struct vu_client_region {
	uint32_t index;
	uint32_t flags; /* VU_REGION_F_* */
	uint64_t size;
	uint64_t offset; /* mmap offset in fd */
	int fd;          /* -1 unless VU_REGION_F_MMAP */
	uint32_t nr_sparse;
	struct vu_sparse_area sparse[16];
};

/* Connect to `path` and negotiate the version; timeout_ms 0 means 5000. */
int vu_client_connect(const char *path, int timeout_ms, struct vu_client **out);
/* Close the socket; mappings made by vu_client_region_mmap() stay valid. */
void vu_client_close(struct vu_client *c);

const struct vu_caps *vu_client_server_caps(const struct vu_client *c);
int vu_client_fd(const struct vu_client *c);

/*
 * One request and its reply. The reply payload (up to reply_room bytes) is
 * copied to `reply`; *reply_len gets its length. A descriptor the server
 * attaches is returned in *reply_fd (or -1). An error reply returns -errno.
 * Any of reply, reply_len, reply_fd may be NULL.
 */
int vu_client_request(struct vu_client *c, uint16_t cmd, const void *payload, size_t len,
		      const int *fds, unsigned nfds, void *reply, size_t reply_room,
		      size_t *reply_len, int *reply_fd);
/* A request with VU_F_NO_REPLY: returns once sent. */
int vu_client_post(struct vu_client *c, uint16_t cmd, const void *payload, size_t len);

/* fd < 0: a map without a descriptor. prot: VU_DMA_MAP_F_READ | _WRITE. */
int vu_client_dma_map(struct vu_client *c, uint64_t iova, uint64_t size, int fd, uint64_t offset,
		      uint32_t prot);
int vu_client_dma_unmap(struct vu_client *c, uint64_t iova, uint64_t size);
int vu_client_dma_unmap_all(struct vu_client *c);

int vu_client_device_info(struct vu_client *c, struct vu_device_info *out);
/* Region info, with the sparse-mmap capability parsed; out->fd is ours to close. */
int vu_client_region_info(struct vu_client *c, uint32_t index, struct vu_client_region *out);
/* mmap sparse area `area` of a region (or the whole region if it has no
 * sparse areas and area == 0). Returns 0 and the pointer and length. */
int vu_client_region_mmap(const struct vu_client_region *r, uint32_t area, void **ptr, size_t *len);

/* Split into max_data_xfer_size pieces. */
int vu_client_region_read(struct vu_client *c, uint32_t index, uint64_t off, void *buf, size_t len);
int vu_client_region_write(struct vu_client *c, uint32_t index, uint64_t off, const void *buf,
			   size_t len);

int vu_client_irq_info(struct vu_client *c, uint32_t index, struct vu_irq_info *out);
/*
 * SET_IRQS. flags: one VU_IRQ_SET_DATA_* and one VU_IRQ_SET_ACTION_*. fds:
 * `count` eventfds for DATA_EVENTFD (NULL: de-assign); bools: `count` bytes
 * for DATA_BOOL.
 */
int vu_client_set_irqs(struct vu_client *c, uint32_t index, uint32_t flags, uint32_t start,
		       uint32_t count, const int *fds, const uint8_t *bools);
int vu_client_reset(struct vu_client *c);

#endif
