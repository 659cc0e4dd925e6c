/* SPDX-License-Identifier: MIT */
/* Malformed vfio-user traffic from a raw peer: each case asserts the error
 * returned, that descriptors are not leaked, and that the server still
 * serves (the same connection where it can be kept, the next client where
 * it cannot). */
#include "vu_fixture.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

/* The fixture's client is closed: these tests speak raw. */
static int raw_setup(void **state)
{
	fx_setup(state);
	struct fx *f = *state;
	vu_client_close(f->c);
	f->c = NULL;
	fx_wait_disconnected(f);
	return 0;
}

static void assert_still_serves(struct fx *f)
{
	struct vu_client *c;
	uint32_t v = 0;

	/* The server may not have accepted (then dropped) the bad peer yet:
	 * meanwhile a newcomer is turned away, so retry for a while. */
	int ret = -ECONNRESET;
	for (int i = 0; i < 500 && ret == -ECONNRESET; i++) {
		fx_wait_disconnected(f);
		ret = vu_client_connect(f->path, 5000, &c);
		if (ret == -ECONNRESET)
			usleep(10000);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(vu_client_region_read(c, 0, TD_REG_ID, &v, 4), 0);
	assert_int_equal(v, TD_ID);
	vu_client_close(c);
	fx_wait_disconnected(f);
}

static void assert_conn_serves(int fd)
{
	struct vu_region_rw rw = {.offset = TD_REG_ID, .region = 0, .count = 4};
	uint8_t reply[32];

	assert_int_equal(
	    raw_request(fd, VU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, reply, sizeof(reply)), 0);
	uint32_t v;
	memcpy(&v, reply + 16, 4);
	assert_int_equal(v, TD_ID);
}

static void test_truncated_header_then_disconnect(void **state)
{
	struct fx *f = *state;
	int fd = vu_sock_connect(f->path);
	struct vu_hdr h = {.id = 1, .cmd = VU_CMD_VERSION, .size = 20};

	assert_true(fd >= 0);
	assert_int_equal(raw_send(fd, &h, 8, NULL, 0), 0);
	close(fd);
	assert_still_serves(f);
}

static void test_disconnect_in_the_middle_of_a_body(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	uint8_t buf[16 + 50] = {0};
	struct vu_hdr h = {.id = 2, .cmd = VU_CMD_REGION_WRITE, .size = 16 + 100};
	int efd = eventfd(0, 0);

	memcpy(buf, &h, sizeof(h));
	/* Half a message, with a descriptor attached: the fd must not leak. */
	assert_int_equal(raw_send(fd, buf, sizeof(buf), &efd, 1), 0);
	close(efd);
	close(fd);
	assert_still_serves(f);
}

static void test_size_below_header_is_refused_and_dropped(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	struct vu_hdr h = {.id = 3, .cmd = VU_CMD_DEVICE_GET_INFO, .size = 8};
	uint8_t body[64];

	assert_int_equal(raw_send(fd, &h, sizeof(h), NULL, 0), 0);
	assert_int_equal(raw_reply(fd, &h, body, sizeof(body), NULL), 0);
	assert_true(h.flags & VU_F_ERROR);
	assert_int_equal(h.error, EMSGSIZE);
	assert_int_equal(h.id, 3);
	/* The stream cannot be framed any more: the server hangs up. */
	assert_int_equal(raw_reply(fd, &h, body, sizeof(body), NULL), -ECONNRESET);
	close(fd);
	assert_still_serves(f);
}

static void test_oversized_message_is_skipped_and_refused(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	size_t big = VU_MAX_MSG_SIZE + 4096;
	uint8_t *buf = calloc(1, big);
	struct vu_hdr h = {.id = 4, .cmd = VU_CMD_REGION_WRITE, .size = (uint32_t)big};
	uint8_t body[64];

	assert_non_null(buf);
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(raw_send(fd, buf, big, NULL, 0), 0);
	assert_int_equal(raw_reply(fd, &h, body, sizeof(body), NULL), 0);
	assert_true(h.flags & VU_F_ERROR);
	assert_int_equal(h.error, EMSGSIZE);
	/* Framing was kept: the same connection goes on. */
	assert_conn_serves(fd);
	free(buf);
	close(fd);
}

static void test_huge_size_then_disconnect(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	struct vu_hdr h = {.id = 5, .cmd = VU_CMD_DMA_MAP, .size = 0xffffffff};

	assert_int_equal(raw_send(fd, &h, sizeof(h), NULL, 0), 0);
	close(fd);
	assert_still_serves(f);
}

static void test_reply_typed_message_from_client_drops_it(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	struct vu_hdr h = {
	    .id = 6, .cmd = VU_CMD_DEVICE_GET_INFO, .size = 16, .flags = VU_F_TYPE_REPLY};
	uint8_t body[64];

	assert_int_equal(raw_send(fd, &h, sizeof(h), NULL, 0), 0);
	assert_int_equal(raw_reply(fd, &h, body, sizeof(body), NULL), 0);
	assert_int_equal(h.error, EINVAL);
	close(fd);
	assert_still_serves(f);
}

static void test_commands_before_version_and_version_twice(void **state)
{
	struct fx *f = *state;
	int fd = vu_sock_connect(f->path);
	struct vu_device_info di = {.argsz = 16};
	uint8_t v[4] = {0};

	assert_true(fd >= 0);
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, NULL, 0),
			 EINVAL);
	/* Major 1 is not ours. */
	v[0] = 1;
	assert_int_equal(raw_request(fd, VU_CMD_VERSION, v, 4, NULL, 0, NULL, 0), ENOTSUP);
	/* Bad JSON. */
	uint8_t bad[16] = {0, 0, 0, 0, '{', 'x', 0};
	assert_int_equal(raw_request(fd, VU_CMD_VERSION, bad, 7, NULL, 0, NULL, 0), EINVAL);
	v[0] = 0;
	assert_int_equal(raw_request(fd, VU_CMD_VERSION, v, 4, NULL, 0, NULL, 0), 0);
	assert_int_equal(raw_request(fd, VU_CMD_VERSION, v, 4, NULL, 0, NULL, 0), EINVAL);
	assert_conn_serves(fd);
	close(fd);
}

static void test_unknown_command_gets_enosys(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);

	assert_int_equal(raw_request(fd, 0xffff, NULL, 0, NULL, 0, NULL, 0), ENOSYS);
	assert_int_equal(raw_request(fd, 0, NULL, 0, NULL, 0, NULL, 0), ENOSYS);
	assert_conn_serves(fd);
	close(fd);
}

static void test_argsz_lies_are_refused(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	struct vu_dma_map m = {.argsz = 0xffffffff, .flags = 3, .addr = 0x1000, .size = 0x1000};
	struct vu_region_info ri = {.argsz = 0xffffffff, .index = 0};
	struct vu_irq_set is = {.argsz = 0xffff,
				.flags = VU_IRQ_SET_DATA_BOOL | VU_IRQ_SET_ACTION_TRIGGER,
				.index = VU_PCI_MSIX_IRQ,
				.count = 1};
	uint8_t reply[128];
	struct vu_region_info out;

	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, NULL, 0), EINVAL);
	m.argsz = 8;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, NULL, 0), EINVAL);
	/* Truncated payload. */
	m.argsz = 32;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, 20, NULL, 0, NULL, 0), EINVAL);
	/* Huge reply room is fine: the reply is only as big as it needs. */
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0,
				     reply, sizeof(reply)),
			 0);
	memcpy(&out, reply, sizeof(out));
	assert_int_equal(out.argsz, 32);
	assert_int_equal(out.size, TD_BAR0_SIZE);
	ri.argsz = 4;
	assert_int_equal(
	    raw_request(fd, VU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0, NULL, 0),
	    EINVAL);
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_SET_IRQS, &is, sizeof(is), NULL, 0, NULL, 0),
			 EINVAL);
	assert_conn_serves(fd);
	close(fd);
}

static void test_wrong_fd_counts_are_refused_and_closed(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	int before = count_open_fds();
	int efd[VU_MAX_MSG_FDS + 4];
	struct vu_device_info di = {.argsz = 16};
	struct vu_dma_map m = {.argsz = 32, .flags = 3, .addr = 0x100000, .size = 0x1000};
	struct vu_irq_set is = {.argsz = 20,
				.flags = VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER,
				.index = VU_PCI_MSIX_IRQ,
				.start = 0,
				.count = 2};
	int mfd = memfd_create("x", 0);

	assert_int_equal(ftruncate(mfd, 0x2000), 0);
	for (unsigned i = 0; i < VU_MAX_MSG_FDS + 4; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	/* A descriptor where none belongs. */
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_GET_INFO, &di, sizeof(di), efd, 1, NULL, 0),
			 EINVAL);
	/* Two descriptors for one DMA region. */
	int two[2] = {mfd, mfd};
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), two, 2, NULL, 0), EINVAL);
	/* SET_IRQS count 2 with 1 or 3 descriptors. */
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_SET_IRQS, &is, sizeof(is), efd, 1, NULL, 0),
			 EINVAL);
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_SET_IRQS, &is, sizeof(is), efd, 3, NULL, 0),
			 EINVAL);
	/* More descriptors than the negotiated maximum. */
	assert_int_equal(
	    raw_send(fd, &(struct vu_hdr){.id = 1, .cmd = VU_CMD_DEVICE_GET_INFO, .size = 32}, 16,
		     NULL, 0),
	    0);
	/* (sent as two parts: header now, body with the fds) */
	{
		struct vu_hdr h;
		uint8_t body[64];
		struct iovec iov = {.iov_base = &di, .iov_len = sizeof(di)};
		/* vu_sock_send refuses > VU_MAX_MSG_FDS itself; send 16 + 16 in two goes
		 * of the same message body: 8 bytes with 16 fds, 8 bytes with 4. */
		iov.iov_len = 8;
		assert_int_equal(vu_sock_send(fd, &iov, 1, efd, VU_MAX_MSG_FDS, 2000), 0);
		iov.iov_base = (uint8_t *)&di + 8;
		assert_int_equal(vu_sock_send(fd, &iov, 1, efd + VU_MAX_MSG_FDS, 4, 2000), 0);
		assert_int_equal(raw_reply(fd, &h, body, sizeof(body), NULL), 0);
		assert_int_equal(h.error, EINVAL);
	}
	for (unsigned i = 0; i < VU_MAX_MSG_FDS + 4; i++)
		close(efd[i]);
	close(mfd);
	assert_conn_serves(fd);
	/* Every descriptor the server received was closed (same process). */
	assert_int_equal(count_open_fds(), before);
	close(fd);
}

static void test_dma_map_abuse(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	int mfd = memfd_create("x", 0);
	struct vu_dma_map m = {
	    .argsz = 32, .flags = 3, .offset = 0, .addr = 0x10000, .size = 0x2000};
	struct vu_dma_unmap u = {.argsz = 24, .addr = 0x10000, .size = 0x1000};

	assert_int_equal(ftruncate(mfd, 0x2000), 0);
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &mfd, 1, NULL, 0), 0);
	/* Overlapping, out of the file, wrapping, zero-sized, bad flags. */
	m.addr = 0x11000;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &mfd, 1, NULL, 0), EEXIST);
	m.addr = 0x100000;
	m.offset = 0x1000;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &mfd, 1, NULL, 0), ERANGE);
	m.offset = 0;
	m.addr = UINT64_MAX - 0xfff;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &mfd, 1, NULL, 0), EINVAL);
	m.addr = 0x100000;
	m.size = 0;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &mfd, 1, NULL, 0), EINVAL);
	m.size = 0x1000;
	m.flags = 0x10;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &mfd, 1, NULL, 0), EINVAL);
	/* A socket is no memory. */
	m.flags = 3;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_MAP, &m, sizeof(m), &fd, 1, NULL, 0), EBADF);
	/* Partial unmap (it would cut a map), dirty bitmap, unknown flags. */
	assert_int_equal(raw_request(fd, VU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0),
			 EINVAL);
	u.flags = VU_DMA_UNMAP_F_GET_DIRTY_BITMAP;
	u.size = 0x2000;
	assert_int_equal(raw_request(fd, VU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0),
			 ENOTSUP);
	u.flags = 0;
	uint8_t echo[24];
	assert_int_equal(
	    raw_request(fd, VU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, echo, sizeof(echo)), 0);
	assert_memory_equal(echo, &u, sizeof(u)); /* the reply echoes the entry */
	close(mfd);
	assert_conn_serves(fd);
	close(fd);
}

static void test_region_io_abuse(void **state)
{
	struct fx *f = *state;
	int fd = raw_connect(f->path);
	uint8_t buf[64] = {0};
	struct vu_region_rw rw = {.offset = 0, .region = 0, .count = 4};

	/* Read asking for more than max_data_xfer_size. */
	rw.count = VU_MAX_DATA_XFER + 1;
	assert_int_equal(raw_request(fd, VU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0),
			 EINVAL);
	/* Write whose count disagrees with the data sent. */
	rw.count = 8;
	memcpy(buf, &rw, sizeof(rw));
	assert_int_equal(raw_request(fd, VU_CMD_REGION_WRITE, buf, 16 + 4, NULL, 0, NULL, 0),
			 EINVAL);
	/* Offsets that wrap, regions that do not exist. */
	rw.count = 4;
	rw.offset = UINT64_MAX - 1;
	assert_int_equal(raw_request(fd, VU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0),
			 EINVAL);
	rw.offset = 0;
	rw.region = 0xffffffff;
	assert_int_equal(raw_request(fd, VU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0),
			 EINVAL);
	rw.region = VU_PCI_VGA_REGION;
	assert_int_equal(raw_request(fd, VU_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, NULL, 0),
			 EINVAL);
	/* DEVICE_RESET with a payload. */
	assert_int_equal(raw_request(fd, VU_CMD_DEVICE_RESET, buf, 4, NULL, 0, NULL, 0), EINVAL);
	assert_conn_serves(fd);
	close(fd);
}

static void test_garbage_stream_never_crashes(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4096];
	unsigned seed = 12345;

	printf("# garbage seed %u\n", seed);
	for (int round = 0; round < 20; round++) {
		int fd = raw_connect(f->path);
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		/* Plausible headers now and then. */
		for (size_t off = 0; off + 16 <= sizeof(buf); off += 512) {
			struct vu_hdr h = {.id = (uint16_t)off,
					   .cmd = (uint16_t)(1 + round % 18),
					   .size = 16 + (uint32_t)(off % 96),
					   .flags = 0};
			memcpy(buf + off, &h, sizeof(h));
		}
		raw_send(fd, buf, sizeof(buf), NULL, 0);
		usleep(2000);
		close(fd);
		fx_wait_disconnected(f);
	}
	assert_still_serves(f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, raw_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_truncated_header_then_disconnect),
	    T(test_disconnect_in_the_middle_of_a_body),
	    T(test_size_below_header_is_refused_and_dropped),
	    T(test_oversized_message_is_skipped_and_refused),
	    T(test_huge_size_then_disconnect),
	    T(test_reply_typed_message_from_client_drops_it),
	    T(test_commands_before_version_and_version_twice),
	    T(test_unknown_command_gets_enosys),
	    T(test_argsz_lies_are_refused),
	    T(test_wrong_fd_counts_are_refused_and_closed),
	    T(test_dma_map_abuse),
	    T(test_region_io_abuse),
	    T(test_garbage_stream_never_crashes),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
