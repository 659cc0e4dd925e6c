/* SPDX-License-Identifier: MIT */
/*
 * hello_vnvme: the smallest libvnvme program. Opens a controller over
 * vfio-user, prints what it is, writes one block and reads it back.
 *
 *   cc -o hello_vnvme hello_vnvme.c $(pkg-config --cflags --libs vnvme)
 *   ./hello_vnvme /tmp/vnvme/nvme0
 */
#include <stdio.h>
#include <string.h>

#include <vnvme/vnvme.h>

static void done(void *arg, const struct vnvme_cqe *cqe)
{
	*(int *)arg = 1;
	if (vnvme_cqe_sf(cqe))
		fprintf(stderr, "I/O failed: %s\n", vnvme_status_name(vnvme_cqe_sf(cqe)));
}

int main(int argc, char **argv)
{
	struct vnvme_ctrl *c;
	struct vnvme_qpair *q;
	struct vnvme_ns_info ns;
	char *buf;
	int ret, finished = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
		return 2;
	}
	ret = vnvme_ctrl_open(argv[1], NULL, &c);
	if (ret) {
		fprintf(stderr, "%s: cannot open the controller\n", argv[1]);
		return 1;
	}
	if (vnvme_ns_info(c, 1, &ns) || vnvme_qpair_create(c, NULL, &q)) {
		fprintf(stderr, "%s\n", vnvme_ctrl_errmsg(c));
		return 1;
	}
	printf("model '%.40s', %llu blocks of %u bytes\n", vnvme_ctrl_id(c)->mn,
	       (unsigned long long)ns.nlb, ns.lba_size);

	buf = vnvme_dma_alloc(c, ns.lba_size); /* memory the device can reach */
	snprintf(buf, ns.lba_size, "hello, NVMe");
	vnvme_write(q, 1, buf, 0, 1, ns.lba_size, done, &finished);
	while (!finished)
		vnvme_qpair_poll(q, 0); /* rings the doorbell, reaps completions */
	memset(buf, 0, ns.lba_size);
	finished = 0;
	vnvme_read(q, 1, buf, 0, 1, ns.lba_size, done, &finished);
	while (!finished)
		vnvme_qpair_poll(q, 0);
	printf("read back: %s\n", buf);

	vnvme_dma_free(c, buf);
	vnvme_qpair_destroy(q);
	vnvme_ctrl_close(c);
	return 0;
}
