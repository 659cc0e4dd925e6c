/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dma.h"
#include "util/log.h"

static struct vn_dma_table *table_alloc(uint32_t nr)
{
	struct vn_dma_table *t = calloc(1, sizeof(*t) + (size_t)nr * sizeof(t->r[0]));
	if (t)
		t->nr = nr;
	return t;
}

int vn_dma_init(struct vn_dma *d, struct vn_qsbr *qsbr, uint32_t max_maps)
{
	memset(d, 0, sizeof(*d));
	d->qsbr = qsbr;
	d->max_maps = max_maps ? max_maps : 65535;
	d->cur = table_alloc(0);
	return d->cur ? 0 : -ENOMEM;
}

/* Publish `t`, wait for readers of the old table, then free the old table. */
static void publish(struct vn_dma *d, struct vn_dma_table *t)
{
	struct vn_dma_table *old = d->cur;

	t->gen = ++d->gen;
	/* Pairs with the acquire in vn_dma_table_get(). */
	vn_store_release(&d->cur, t);
	if (d->qsbr)
		vn_qsbr_synchronize(d->qsbr);
	free(old);
}

static void region_release(struct vn_dma_region *r)
{
	if (r->map_base)
		munmap(r->map_base, r->map_len);
}

static int insert(struct vn_dma *d, const struct vn_dma_region *nr)
{
	const struct vn_dma_table *cur = d->cur;
	struct vn_dma_table *t;
	uint32_t pos = 0;

	if (cur->nr >= d->max_maps)
		return -ENOSPC;
	while (pos < cur->nr && cur->r[pos].iova < nr->iova)
		pos++;
	/* Neighbours must not overlap: the one before ends at or before us, the
	 * one at pos starts at or after our end. */
	if (pos > 0 && cur->r[pos - 1].iova + cur->r[pos - 1].len > nr->iova)
		return -EEXIST;
	if (pos < cur->nr && nr->iova + nr->len > cur->r[pos].iova)
		return -EEXIST;

	t = table_alloc(cur->nr + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t->r, cur->r, pos * sizeof(t->r[0]));
	t->r[pos] = *nr;
	memcpy(&t->r[pos + 1], &cur->r[pos], (cur->nr - pos) * sizeof(t->r[0]));
	d->mapped_bytes += nr->len;
	publish(d, t);
	return 0;
}

static int check_range(uint64_t iova, uint64_t len)
{
	if (len == 0)
		return -EINVAL;
	if (iova > UINT64_MAX - len) /* the end must be representable */
		return -EOVERFLOW;
	return 0;
}

int vn_dma_add(struct vn_dma *d, uint64_t iova, uint64_t len, uint32_t prot, int fd,
	       uint64_t offset)
{
	struct vn_dma_region r = {.iova = iova, .len = len, .prot = prot};
	long pg = sysconf(_SC_PAGESIZE);
	int ret = check_range(iova, len);

	if (ret)
		return ret;
	if (prot & ~(VN_DMA_READ | VN_DMA_WRITE))
		return -EINVAL;
	if (fd >= 0) {
		struct stat st;
		uint64_t base, end;
		int mprot = 0;

		if (fstat(fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -EBADF; /* memfd, hugetlbfs and tmpfs files are regular */
		if (offset + len < offset || offset + len > (uint64_t)st.st_size)
			return -ERANGE; /* touching past the end would raise SIGBUS */
		base = offset & ~(uint64_t)(pg - 1);
		end = offset + len;
		if (end > SIZE_MAX - (uint64_t)pg)
			return -ERANGE;
		end = (end + (uint64_t)pg - 1) & ~(uint64_t)(pg - 1);
		if (prot & VN_DMA_READ)
			mprot |= PROT_READ;
		if (prot & VN_DMA_WRITE)
			mprot |= PROT_WRITE;
		r.map_len = (size_t)(end - base);
		r.map_base = mmap(NULL, r.map_len, mprot ? mprot : PROT_NONE,
				  MAP_SHARED | MAP_NORESERVE, fd, (off_t)base);
		if (r.map_base == MAP_FAILED)
			return -errno;
		r.vaddr = (uint8_t *)r.map_base + (offset - base);
	}
	ret = insert(d, &r);
	if (ret)
		region_release(&r);
	return ret;
}

int vn_dma_add_host(struct vn_dma *d, uint64_t iova, uint64_t len, uint32_t prot, void *vaddr)
{
	struct vn_dma_region r = {.iova = iova, .len = len, .prot = prot, .vaddr = vaddr};
	int ret = check_range(iova, len);

	if (ret)
		return ret;
	if (!vaddr || (prot & ~(VN_DMA_READ | VN_DMA_WRITE)))
		return -EINVAL;
	return insert(d, &r);
}

int vn_dma_remove(struct vn_dma *d, uint64_t iova, uint64_t len)
{
	const struct vn_dma_table *cur = d->cur;
	struct vn_dma_region gone;
	struct vn_dma_table *t;
	uint32_t pos;

	for (pos = 0; pos < cur->nr; pos++)
		if (cur->r[pos].iova == iova && cur->r[pos].len == len)
			break;
	if (pos == cur->nr)
		return -ENOENT;
	t = table_alloc(cur->nr - 1);
	if (!t)
		return -ENOMEM;
	gone = cur->r[pos];
	memcpy(t->r, cur->r, pos * sizeof(t->r[0]));
	memcpy(&t->r[pos], &cur->r[pos + 1], (cur->nr - pos - 1) * sizeof(t->r[0]));
	d->mapped_bytes -= gone.len;
	publish(d, t); /* after the grace period nobody can touch `gone` */
	region_release(&gone);
	return 0;
}

void vn_dma_remove_all(struct vn_dma *d)
{
	struct vn_dma_table *old_copy, *t;
	const struct vn_dma_table *cur = d->cur;

	if (cur->nr == 0)
		return;
	old_copy = table_alloc(cur->nr);
	t = table_alloc(0);
	if (!old_copy || !t) {
		/* No memory for the bookkeeping: remove one at a time. */
		free(old_copy);
		free(t);
		while (d->cur->nr)
			if (vn_dma_remove(d, d->cur->r[0].iova, d->cur->r[0].len))
				break;
		return;
	}
	memcpy(old_copy->r, cur->r, cur->nr * sizeof(cur->r[0]));
	d->mapped_bytes = 0;
	publish(d, t);
	for (uint32_t i = 0; i < old_copy->nr; i++)
		region_release(&old_copy->r[i]);
	free(old_copy);
}

void vn_dma_fini(struct vn_dma *d)
{
	if (!d->cur)
		return;
	vn_dma_remove_all(d);
	free(d->cur);
	d->cur = NULL;
}

const char *vn_dma_explain(const struct vn_dma_table *t, uint64_t iova, uint64_t len, uint32_t prot)
{
	const struct vn_dma_region *r = vn_dma_lookup(t, iova);

	if (!r)
		return "not mapped";
	if (!r->vaddr)
		return "shared without a file descriptor (guest RAM must be "
		       "memory-backend-memfd,share=on)";
	if (!vn_range_ok(iova - r->iova, len, r->len))
		return "crosses the end of its mapping";
	if ((prot & VN_DMA_WRITE) && !(r->prot & VN_DMA_WRITE))
		return "not writable";
	if ((prot & VN_DMA_READ) && !(r->prot & VN_DMA_READ))
		return "not readable";
	return NULL;
}
