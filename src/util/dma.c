/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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

/* ------------------------------------------------------------------------ */
/*
 * SIGBUS containment. The registry is an array of vn_dma pointers the
 * handler scans without a lock: a slot is published with a release store and
 * cleared before the vn_dma goes away. The tables the handler reads are safe
 * for the same reason they are safe for any reader: the faulting thread has
 * not passed a quiescent state, so no table it can load is freed under it
 * (publish() waits for it).
 */
static struct vn_dma *fault_reg[VN_DMA_MAX_DOMAINS];
static pthread_mutex_t fault_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction sigbus_prev;

static void poison_note(struct vn_dma *d, uintptr_t base)
{
	for (uint32_t i = 0; i < VN_DMA_POISON_SLOTS; i++) {
		uintptr_t exp = 0;
		if (__atomic_load_n(&d->poison[i], __ATOMIC_ACQUIRE) == base)
			return;
		if (__atomic_compare_exchange_n(&d->poison[i], &exp, base, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
		if (exp == base)
			return;
	}
	__atomic_store_n(&d->poison_overflow, 1u, __ATOMIC_RELEASE);
}

static bool sigbus_contain(uintptr_t a)
{
	for (uint32_t i = 0; i < VN_DMA_MAX_DOMAINS; i++) {
		struct vn_dma *d = vn_load_acquire(&fault_reg[i]);
		struct vn_dma_table *t;

		if (!d)
			continue;
		t = vn_load_acquire(&d->cur);
		for (uint32_t j = 0; t && j < t->nr; j++) {
			struct vn_dma_region *r = &t->r[j];
			uintptr_t b = (uintptr_t)r->map_base;
			uint64_t one = 1;

			if (!b || a < b || a - b >= r->map_len)
				continue;
			/* The whole mapping: one fault, not one per page. Readers
			 * see zeroes and their writes go nowhere until the
			 * control thread takes the mapping away. */
			if (mmap(r->map_base, r->map_len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
				 0) == MAP_FAILED)
				return false;
			/* Tell the control thread, through the vn_dma and not
			 * the table: a table being copied now could lose a flag. */
			poison_note(d, b);
			if (d->fault_fd >= 0 && write(d->fault_fd, &one, sizeof(one)) < 0) {
				/* a full counter already says "fault" */
			}
			return true;
		}
	}
	return false;
}

static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	if (sigbus_contain((uintptr_t)si->si_addr)) {
		errno = saved;
		return; /* the access is retried on the zero pages */
	}
	/* Not ours: the handler we replaced gets it, and ours stays in place
	 * for the maps. With no handler before us, the default disposition
	 * takes the fault when the instruction runs again (the process ends). */
	errno = saved;
	if (sigbus_prev.sa_flags & SA_SIGINFO) {
		if (sigbus_prev.sa_sigaction) {
			sigbus_prev.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (sigbus_prev.sa_handler != SIG_DFL && sigbus_prev.sa_handler != SIG_IGN) {
		sigbus_prev.sa_handler(sig);
		return;
	}
	signal(SIGBUS, SIG_DFL);
}

/*
 * Make sure our handler is the one installed: another component (a test
 * framework, a library) may have replaced it since. What it replaced is
 * what an unknown fault goes to. Called under fault_reg_lock.
 */
static int sigbus_ensure(void)
{
	struct sigaction cur, sa = {.sa_sigaction = sigbus_handler, .sa_flags = SA_SIGINFO};

	if (sigaction(SIGBUS, NULL, &cur) < 0)
		return -errno;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == sigbus_handler)
		return 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &sigbus_prev) < 0)
		return -errno;
	return 0;
}

static int fault_register(struct vn_dma *d)
{
	int ret = -EMFILE;

	pthread_mutex_lock(&fault_reg_lock);
	for (uint32_t i = 0; i < VN_DMA_MAX_DOMAINS; i++) {
		if (!fault_reg[i]) {
			d->reg_idx = i;
			vn_store_release(&fault_reg[i], d);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&fault_reg_lock);
	return ret;
}

static void fault_unregister(struct vn_dma *d)
{
	pthread_mutex_lock(&fault_reg_lock);
	if (fault_reg[d->reg_idx] == d)
		vn_store_release(&fault_reg[d->reg_idx], (struct vn_dma *)NULL);
	pthread_mutex_unlock(&fault_reg_lock);
}

int vn_dma_init(struct vn_dma *d, struct vn_qsbr *qsbr, uint32_t max_maps)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->qsbr = qsbr;
	d->max_maps = max_maps ? max_maps : 65535;
	d->fault_fd = -1;
	d->cur = table_alloc(0);
	if (!d->cur)
		return -ENOMEM;
	ret = fault_register(d);
	if (ret) {
		free(d->cur);
		d->cur = NULL;
	}
	return ret;
}

void vn_dma_set_max_bytes(struct vn_dma *d, uint64_t max_bytes)
{
	d->max_bytes = max_bytes;
}

void vn_dma_set_fault_fd(struct vn_dma *d, int efd)
{
	d->fault_fd = efd;
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
	if (d->max_bytes && nr->len > d->max_bytes - VN_MIN(d->mapped_bytes, d->max_bytes))
		return -EDQUOT;
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

/*
 * A memfd that allows sealing: seal it against shrinking, so its pages
 * cannot vanish under a mapping (QEMU's memory-backend-memfd is sealed
 * already). Anything that cannot be sealed (a regular or hugetlbfs file, a
 * memfd without MFD_ALLOW_SEALING) is left to the SIGBUS containment.
 */
static int seal_shrink(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || (seals & F_SEAL_SHRINK))
		return 0; /* not sealable (EINVAL), or sealed already */
	if (seals & F_SEAL_SEAL)
		return 0; /* cannot be sealed any more: contained */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		return -errno;
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
		if (d->max_bytes && len > d->max_bytes - VN_MIN(d->mapped_bytes, d->max_bytes))
			return -EDQUOT; /* before mmap: no address space spent on it */
		ret = seal_shrink(fd);
		if (ret)
			return ret;
		/* Sealed or not, a mapping can still fault (hugetlbfs out of
		 * pages): the handler must be in place before the device can
		 * touch it. */
		pthread_mutex_lock(&fault_reg_lock);
		ret = sigbus_ensure();
		pthread_mutex_unlock(&fault_reg_lock);
		if (ret)
			return ret;
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

int vn_dma_reap_faults(struct vn_dma *d, void (*cb)(void *arg, uint64_t iova, uint64_t len),
		       void *arg)
{
	const struct vn_dma_table *cur = d->cur;
	bool all = __atomic_exchange_n(&d->poison_overflow, 0u, __ATOMIC_ACQ_REL);
	uintptr_t seen[VN_DMA_POISON_SLOTS];
	struct vn_dma_table *t;
	int n = 0;

	/* The notes as of now; one the handler adds meanwhile stays for the
	 * next call (its eventfd write is still to come or already counted). */
	for (uint32_t i = 0; i < VN_DMA_POISON_SLOTS; i++)
		seen[i] = __atomic_load_n(&d->poison[i], __ATOMIC_ACQUIRE);
	t = table_alloc(cur->nr);
	if (!t)
		return -ENOMEM;
	memcpy(t->r, cur->r, cur->nr * sizeof(t->r[0]));
	for (uint32_t i = 0; i < t->nr; i++) {
		struct vn_dma_region *r = &t->r[i];
		bool hit = all && r->map_base;

		for (uint32_t j = 0; j < VN_DMA_POISON_SLOTS && !hit; j++)
			hit = r->map_base && seen[j] == (uintptr_t)r->map_base;
		if (r->poisoned || !hit)
			continue;
		r->poisoned = 1;
		r->vaddr = NULL; /* vn_dma_find() fails: the device reports it */
		n++;
		if (cb)
			cb(arg, r->iova, r->len);
	}
	for (uint32_t i = 0; i < VN_DMA_POISON_SLOTS; i++) {
		uintptr_t exp = seen[i];
		if (exp)
			__atomic_compare_exchange_n(&d->poison[i], &exp, (uintptr_t)0, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	}
	if (!n) {
		free(t);
		return 0;
	}
	publish(d, t);
	return n;
}

void vn_dma_fini(struct vn_dma *d)
{
	if (!d->cur)
		return;
	fault_unregister(d);
	/* A SIGBUS handler that loaded us from the registry is done with our
	 * tables after a grace period (remove_all waits only if it has maps). */
	if (d->qsbr)
		vn_qsbr_synchronize(d->qsbr);
	vn_dma_remove_all(d);
	free(d->cur);
	d->cur = NULL;
}

const char *vn_dma_explain(const struct vn_dma_table *t, uint64_t iova, uint64_t len, uint32_t prot)
{
	const struct vn_dma_region *r = vn_dma_lookup(t, iova);

	if (!r)
		return "not mapped";
	if (r->poisoned)
		return "gone: the client truncated the memory behind it";
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
