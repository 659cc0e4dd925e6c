/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vu/codec.h"

static size_t version_payload(uint8_t *buf, uint16_t major, uint16_t minor, const char *json)
{
	struct vu_version v = {.major = major, .minor = minor};
	size_t n = json ? strlen(json) + 1 : 0;

	memcpy(buf, &v, sizeof(v));
	if (json)
		memcpy(buf + sizeof(v), json, n);
	return sizeof(v) + n;
}

static void test_hdr_accepts_command_and_no_reply(void **state)
{
	struct vu_hdr h = {.id = 1, .cmd = VU_CMD_VERSION, .size = 16, .flags = 0};

	(void)state;
	assert_int_equal(vu_hdr_check_request(&h, 4096), 0);
	h.flags = VU_F_NO_REPLY;
	assert_int_equal(vu_hdr_check_request(&h, 4096), 0);
}

static void test_hdr_rejects_size_below_header_and_above_max(void **state)
{
	struct vu_hdr h = {.cmd = VU_CMD_VERSION, .size = 15};

	(void)state;
	assert_int_equal(vu_hdr_check_request(&h, 4096), -EMSGSIZE);
	h.size = 4097;
	assert_int_equal(vu_hdr_check_request(&h, 4096), -EMSGSIZE);
	h.size = 0xffffffff;
	assert_int_equal(vu_hdr_check_request(&h, 4096), -EMSGSIZE);
}

static void test_hdr_rejects_reply_type_and_unknown_flags(void **state)
{
	struct vu_hdr h = {.cmd = VU_CMD_VERSION, .size = 16, .flags = VU_F_TYPE_REPLY};

	(void)state;
	assert_int_equal(vu_hdr_check_request(&h, 4096), -EINVAL);
	h.flags = VU_F_ERROR;
	assert_int_equal(vu_hdr_check_request(&h, 4096), -EINVAL);
	h.flags = 0x100;
	assert_int_equal(vu_hdr_check_request(&h, 4096), -EINVAL);
}

static void test_reply_check_reports_peer_errno_and_id_mismatch(void **state)
{
	struct vu_hdr h = {.id = 7, .size = 16, .flags = VU_F_TYPE_REPLY | VU_F_ERROR, .error = 22};
	int e;

	(void)state;
	assert_int_equal(vu_hdr_check_reply(&h, 7, 4096, &e), 0);
	assert_int_equal(e, 22);
	h.error = 0;
	assert_int_equal(vu_hdr_check_reply(&h, 7, 4096, &e), 0);
	assert_int_equal(e, EIO);
	assert_int_equal(vu_hdr_check_reply(&h, 8, 4096, &e), -EPROTO);
	h.flags = 0;
	assert_int_equal(vu_hdr_check_reply(&h, 7, 4096, &e), -EPROTO);
}

static void test_version_parses_qemu_capabilities(void **state)
{
	uint8_t buf[512];
	const char *json = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,"
			   "\"pgsizes\":4096,\"max_dma_maps\":65535,\"migration\":{\"pgsize\":4096,"
			   "\"max_bitmap_size\":268435456},\"write_multiple\":true}}";
	size_t n = version_payload(buf, 0, 0, json);
	struct vu_caps c;
	uint16_t major, minor;

	(void)state;
	assert_int_equal(vu_version_decode(buf, n, &major, &minor, &c), 0);
	assert_int_equal(major, 0);
	assert_int_equal(minor, 0);
	assert_int_equal(c.max_msg_fds, 16);
	assert_int_equal(c.max_data_xfer_size, 1048576);
	assert_int_equal(c.pgsizes, 4096);
	assert_int_equal(c.max_dma_maps, 65535);
	assert_true(c.migration);
	assert_true(c.write_multiple);
}

static void test_version_without_json_uses_spec_defaults(void **state)
{
	uint8_t buf[16];
	size_t n = version_payload(buf, 0, 1, NULL);
	struct vu_caps c;
	uint16_t major, minor;

	(void)state;
	assert_int_equal(vu_version_decode(buf, n, &major, &minor, &c), 0);
	assert_int_equal(minor, 1);
	assert_int_equal(c.max_msg_fds, 1);
	assert_int_equal(c.max_data_xfer_size, 1048576);
	assert_false(c.write_multiple);
}

static void test_version_rejects_bad_json(void **state)
{
	static const char *const bad[] = {
	    "{",                                          /* truncated */
	    "[1,2]",                                      /* not an object */
	    "{\"capabilities\":5}",                       /* caps not an object */
	    "{\"capabilities\":{\"max_msg_fds\":\"x\"}}", /* wrong type */
	    "{\"capabilities\":{\"max_msg_fds\":-1}}",    /* negative */
	    "{\"capabilities\":{\"pgsizes\":0}}",         /* zero page sizes */
	    "{\"capabilities\":{\"migration\":true}}",    /* migration must be an object */
	    "{\"capabilities\":{\"write_multiple\":1}}",  /* must be a boolean */
	    "{} trailing",                                /* garbage after the object */
	};
	uint8_t buf[512];
	struct vu_caps c;
	uint16_t major, minor;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = version_payload(buf, 0, 0, bad[i]);
		assert_int_equal(vu_version_decode(buf, n, &major, &minor, &c), -EINVAL);
	}
}

static void test_version_rejects_missing_nul_and_short_payload(void **state)
{
	uint8_t buf[64];
	struct vu_caps c;
	uint16_t major, minor;
	size_t n = version_payload(buf, 0, 0, "{}");

	(void)state;
	/* Drop the NUL. */
	assert_int_equal(vu_version_decode(buf, n - 1, &major, &minor, &c), -EINVAL);
	/* A NUL in the middle. */
	buf[5] = '\0';
	assert_int_equal(vu_version_decode(buf, n, &major, &minor, &c), -EINVAL);
	assert_int_equal(vu_version_decode(buf, 3, &major, &minor, &c), -EINVAL);
}

static void test_version_rejects_oversized_json(void **state)
{
	static uint8_t buf[VU_MAX_VERSION_JSON + 64];
	struct vu_caps c;
	uint16_t major, minor;

	(void)state;
	memset(buf, ' ', sizeof(buf));
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(vu_version_decode(buf, sizeof(buf), &major, &minor, &c), -E2BIG);
}

static void test_version_encode_roundtrips(void **state)
{
	uint8_t buf[256];
	struct vu_caps in, out;
	uint16_t major, minor;
	int n;

	(void)state;
	vu_caps_defaults(&in);
	in.max_msg_fds = 16;
	in.max_data_xfer_size = 1 << 20;
	n = vu_version_encode(buf, sizeof(buf), 0, 1, &in, false);
	assert_true(n > 4);
	/* QEMU reads the reply into a buffer of about 214 bytes. */
	assert_true(n < 200);
	assert_int_equal(vu_version_decode(buf, (size_t)n, &major, &minor, &out), 0);
	assert_int_equal(out.max_msg_fds, 16);
	assert_int_equal(out.max_data_xfer_size, 1 << 20);
	assert_int_equal(vu_version_encode(buf, 10, 0, 1, &in, false), -ENOSPC);
}

static void test_dma_map_checks_argsz_flags_and_range(void **state)
{
	struct vu_dma_map m = {.argsz = 32, .flags = 3, .offset = 0, .addr = 0x1000, .size = 4096},
			  out;
	uint8_t buf[64];

	(void)state;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vu_dma_map_decode(buf, 32, &out), 0);
	assert_int_equal(out.addr, 0x1000);
	assert_int_equal(vu_dma_map_decode(buf, 31, &out), -EINVAL); /* truncated */
	m.argsz = 64;                                                /* claims more than sent */
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vu_dma_map_decode(buf, 32, &out), -EINVAL);
	m.argsz = 0xffffffff;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vu_dma_map_decode(buf, 32, &out), -EINVAL);
	m.argsz = 32;
	m.flags = 4;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vu_dma_map_decode(buf, 32, &out), -EINVAL);
	m.flags = 1;
	m.size = 0;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vu_dma_map_decode(buf, 32, &out), -EINVAL);
	m.size = 0x2000;
	m.addr = UINT64_MAX - 0x1000;
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vu_dma_map_decode(buf, 32, &out), -EINVAL);
}

static void test_dma_unmap_rejects_dirty_bitmap_and_bad_all(void **state)
{
	struct vu_dma_unmap u = {.argsz = 24, .flags = 0, .addr = 0x1000, .size = 0x1000}, out;

	(void)state;
	assert_int_equal(vu_dma_unmap_decode(&u, sizeof(u), &out), 0);
	u.flags = VU_DMA_UNMAP_F_GET_DIRTY_BITMAP;
	assert_int_equal(vu_dma_unmap_decode(&u, sizeof(u), &out), -ENOTSUP);
	u.flags = VU_DMA_UNMAP_F_ALL;
	assert_int_equal(vu_dma_unmap_decode(&u, sizeof(u), &out), -EINVAL);
	u.addr = u.size = 0;
	assert_int_equal(vu_dma_unmap_decode(&u, sizeof(u), &out), 0);
	u.flags = 0x80;
	assert_int_equal(vu_dma_unmap_decode(&u, sizeof(u), &out), -EINVAL);
	u.argsz = 8;
	u.flags = 0;
	assert_int_equal(vu_dma_unmap_decode(&u, sizeof(u), &out), -EINVAL);
}

static void test_info_decoders_need_room_for_the_structure(void **state)
{
	struct vu_region_info ri = {.argsz = 16, .index = 0}, out;
	struct vu_device_info di = {.argsz = 16}, dout;
	struct vu_irq_info ii = {.argsz = 15}, iout;

	(void)state;
	assert_int_equal(vu_region_info_decode(&ri, sizeof(ri), &out), -EINVAL);
	ri.argsz = 0xffffffff; /* huge room is fine: the reply is what it is */
	assert_int_equal(vu_region_info_decode(&ri, sizeof(ri), &out), 0);
	assert_int_equal(vu_region_info_decode(&ri, 31, &out), -EINVAL);
	assert_int_equal(vu_device_info_decode(&di, sizeof(di), &dout), 0);
	assert_int_equal(vu_device_info_decode(&di, 8, &dout), -EINVAL);
	assert_int_equal(vu_irq_info_decode(&ii, sizeof(ii), &iout), -EINVAL);
}

static void test_irq_set_checks_flags_data_and_fd_count(void **state)
{
	uint8_t buf[64];
	struct vu_irq_set is = {.argsz = 20, .index = 2, .start = 0, .count = 2}, out;
	const uint8_t *bools;

	(void)state;
	is.flags = VU_IRQ_SET_DATA_EVENTFD | VU_IRQ_SET_ACTION_TRIGGER;
	memcpy(buf, &is, sizeof(is));
	assert_int_equal(vu_irq_set_decode(buf, 20, 2, &out, &bools), 0);
	assert_int_equal(vu_irq_set_decode(buf, 20, 0, &out, &bools), 0); /* de-assign */
	assert_int_equal(vu_irq_set_decode(buf, 20, 1, &out, &bools), -EINVAL);
	assert_int_equal(vu_irq_set_decode(buf, 20, 3, &out, &bools), -EINVAL);

	is.flags = VU_IRQ_SET_DATA_BOOL | VU_IRQ_SET_ACTION_MASK;
	is.argsz = 22;
	memcpy(buf, &is, sizeof(is));
	buf[20] = 1;
	buf[21] = 0;
	assert_int_equal(vu_irq_set_decode(buf, 22, 0, &out, &bools), 0);
	assert_non_null(bools);
	assert_int_equal(bools[0], 1);
	assert_int_equal(vu_irq_set_decode(buf, 21, 0, &out, &bools), -EINVAL); /* short */

	is.flags = VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_DATA_BOOL | VU_IRQ_SET_ACTION_MASK;
	is.argsz = 20;
	memcpy(buf, &is, sizeof(is));
	assert_int_equal(vu_irq_set_decode(buf, 20, 0, &out, &bools), -EINVAL);
	is.flags = VU_IRQ_SET_DATA_NONE;
	memcpy(buf, &is, sizeof(is));
	assert_int_equal(vu_irq_set_decode(buf, 20, 0, &out, &bools), -EINVAL); /* no action */
	is.flags = VU_IRQ_SET_DATA_NONE | VU_IRQ_SET_ACTION_TRIGGER;
	memcpy(buf, &is, sizeof(is));
	assert_int_equal(vu_irq_set_decode(buf, 20, 1, &out, &bools), -EINVAL); /* fd w/o data */
	is.count = 0x7fffffff;
	memcpy(buf, &is, sizeof(is));
	assert_int_equal(vu_irq_set_decode(buf, 20, 0, &out, &bools), -EINVAL);
}

static void test_region_rw_checks_count_against_payload(void **state)
{
	uint8_t buf[64];
	struct vu_region_rw rw = {.offset = 0, .region = 0, .count = 4}, out;
	const void *data;

	(void)state;
	memcpy(buf, &rw, sizeof(rw));
	assert_int_equal(vu_region_rw_decode(buf, 20, true, 1024, &out, &data), 0);
	assert_ptr_equal(data, buf + 16);
	assert_int_equal(vu_region_rw_decode(buf, 19, true, 1024, &out, &data), -EINVAL);
	assert_int_equal(vu_region_rw_decode(buf, 21, true, 1024, &out, &data), -EINVAL);
	assert_int_equal(vu_region_rw_decode(buf, 16, false, 1024, &out, &data), 0);
	assert_int_equal(vu_region_rw_decode(buf, 20, false, 1024, &out, &data), -EINVAL);
	rw.count = 2048;
	memcpy(buf, &rw, sizeof(rw));
	assert_int_equal(vu_region_rw_decode(buf, 16, false, 1024, &out, &data), -EINVAL);
	rw.count = 0;
	memcpy(buf, &rw, sizeof(rw));
	assert_int_equal(vu_region_rw_decode(buf, 16, false, 1024, &out, &data), -EINVAL);
}

static void test_cmd_names(void **state)
{
	(void)state;
	assert_string_equal(vu_cmd_name(VU_CMD_DMA_MAP), "DMA_MAP");
	assert_string_equal(vu_cmd_name(999), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hdr_accepts_command_and_no_reply),
	    cmocka_unit_test(test_hdr_rejects_size_below_header_and_above_max),
	    cmocka_unit_test(test_hdr_rejects_reply_type_and_unknown_flags),
	    cmocka_unit_test(test_reply_check_reports_peer_errno_and_id_mismatch),
	    cmocka_unit_test(test_version_parses_qemu_capabilities),
	    cmocka_unit_test(test_version_without_json_uses_spec_defaults),
	    cmocka_unit_test(test_version_rejects_bad_json),
	    cmocka_unit_test(test_version_rejects_missing_nul_and_short_payload),
	    cmocka_unit_test(test_version_rejects_oversized_json),
	    cmocka_unit_test(test_version_encode_roundtrips),
	    cmocka_unit_test(test_dma_map_checks_argsz_flags_and_range),
	    cmocka_unit_test(test_dma_unmap_rejects_dirty_bitmap_and_bad_all),
	    cmocka_unit_test(test_info_decoders_need_room_for_the_structure),
	    cmocka_unit_test(test_irq_set_checks_flags_data_and_fd_count),
	    cmocka_unit_test(test_region_rw_checks_count_against_payload),
	    cmocka_unit_test(test_cmd_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
