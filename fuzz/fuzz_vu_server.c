/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a byte stream from an untrusted vfio-user client, fed to
 * the real server (test device, control loop thread) over a socketpair.
 *
 * The input is prefixed with a valid VERSION so the fuzzer reaches every
 * command. Where a header in the input names DMA_MAP or SET_IRQS, the harness
 * attaches descriptors (a memfd, eventfds, or junk) to that message, so the
 * fd paths are fuzzed too. The server must answer or disconnect, never
 * crash, leak (LeakSanitizer) or touch memory it does not own (ASan).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testdev/testdev.h"
#include "util/log.h"
#include "vu/proto.h"
#include "vu/sock.h"

static struct vn_evloop *loop;
static struct testdev *td;

static void init_once(void)
{
	char path[64];

	vn_log_set_level(VN_LOG_ERR);
	snprintf(path, sizeof(path), "/tmp/vnvme-fuzz-%d/dev.sock", getpid());
	if (vn_evloop_create(&loop) || testdev_create(path, loop, true, &td) ||
	    vn_evloop_start_thread(loop, "fuzz-ctl"))
		abort();
}

/* Drain replies so the server never blocks on a full socket. */
static void drain(int fd, int timeout_ms)
{
	uint8_t buf[65536];
	int fds[VU_MAX_MSG_FDS];

	for (;;) {
		unsigned n = 0;
		int ovf = 0;
		if (vu_sock_wait(fd, POLLIN, timeout_ms) <= 0)
			return;
		ssize_t r = vu_sock_recv(fd, buf, sizeof(buf), fds, &n, VU_MAX_MSG_FDS, &ovf);
		vu_close_fds(fds, n);
		if (r <= 0)
			return;
		timeout_ms = 0;
	}
}

static void send_chunk(int fd, const uint8_t *p, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = len};

	while (vu_sock_send(fd, &iov, 1, fds, nfds, 0) == -ETIMEDOUT)
		drain(fd, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t version[20] = {1, 0, VU_CMD_VERSION, 0, 20, 0, 0, 0};
	int sv[2];
	size_t off = 0;

	if (!loop)
		init_once();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if (vu_server_attach(testdev_server(td), sv[0])) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	send_chunk(sv[1], version, sizeof(version), NULL, 0);

	while (off < size) {
		struct vu_hdr h;
		size_t len = size - off;
		int fds[4];
		unsigned nfds = 0;

		if (len >= sizeof(h)) {
			memcpy(&h, data + off, sizeof(h));
			if (h.size >= sizeof(h) && h.size < len)
				len = h.size;
			if (h.cmd == VU_CMD_DMA_MAP || h.cmd == VU_CMD_DMA_UNMAP) {
				int m = memfd_create("fuzz", MFD_CLOEXEC);
				if (m >= 0 && ftruncate(m, 0x4000) == 0)
					fds[nfds++] = m;
				else if (m >= 0)
					close(m);
			} else if (h.cmd == VU_CMD_DEVICE_SET_IRQS) {
				unsigned want = (h.id & 3) + (h.id & 4 ? 1 : 0);
				for (unsigned i = 0; i < want && i < 4; i++) {
					int e = (h.id & 8) ? open("/dev/null", O_RDONLY | O_CLOEXEC)
							   : eventfd(0, EFD_CLOEXEC);
					if (e >= 0)
						fds[nfds++] = e;
				}
			}
		}
		send_chunk(sv[1], data + off, len, fds, nfds);
		vu_close_fds(fds, nfds);
		off += len;
		drain(sv[1], 0);
	}
	/* End of input: the server sees EOF, resets the device, hangs up. */
	shutdown(sv[1], SHUT_WR);
	drain(sv[1], 5000);
	close(sv[1]);
	while (vu_server_connected(testdev_server(td)))
		usleep(100);
	return 0;
}
