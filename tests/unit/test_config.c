/* SPDX-License-Identifier: MIT */
/* src/target/config.c: sizes, CPU lists, JSON configurations (valid and not)
 * and the checks vn_conf_check adds on top of parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "target/config.h"
#include "../test_filter.h"

/* Under AddressSanitizer the allocator counts live bytes exactly: error paths
 * are checked to free what they allocated. Elsewhere LeakSanitizer at exit
 * is the only leak check (glibc's mallinfo2 counts tcache as in use). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_EXACT 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(HEAP_EXACT)
#define HEAP_EXACT 1
#endif
#ifdef HEAP_EXACT
#include <sanitizer/allocator_interface.h>
static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
	return 0;
}
#endif

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vnvme-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name; the path in path[len]. */
static void write_conf(char *path, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void assert_contains(const char *s, const char *needle)
{
	if (!strstr(s, needle))
		fail_msg("\"%s\" does not contain \"%s\"", s, needle);
}

/* ------------------------------------------------------------------------ */
/* vn_parse_size */

static void test_parse_size_accepts_plain_numbers_and_binary_units(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"512", 512},
	    {"4k", 4096},
	    {"4K", 4096},
	    {"64M", 64ull << 20},
	    {"1G", 1ull << 30},
	    {"2T", 2ull << 40},
	    {"1GiB", 1ull << 30},
	    {"1GB", 1ull << 30},
	    {"0", 0},
	    {"16777215T", 16777215ull << 40}, /* the largest that fits */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		if (vn_parse_size(ok[i].s, &v))
			fail_msg("vn_parse_size(\"%s\") failed", ok[i].s);
		if (v != ok[i].v)
			fail_msg("vn_parse_size(\"%s\") = %llu, not %llu", ok[i].s,
				 (unsigned long long)v, (unsigned long long)ok[i].v);
	}
}

static void test_parse_size_rejects_garbage_signs_and_overflow(void **state)
{
	static const char *const bad[] = {
	    "",
	    "x",
	    "1Q",
	    "-1",
	    "+1",
	    " 1",
	    "1 G",
	    "1Gx",
	    "1GiBB",
	    "k",
	    "99999999999T",
	    "16777216T",
	    "18446744073709551616",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		int ret = vn_parse_size(bad[i], &v);
		if (ret >= 0)
			fail_msg("vn_parse_size(\"%s\") = %d, accepted", bad[i], ret);
		if (v != 42)
			fail_msg("vn_parse_size(\"%s\") wrote %llu on failure", bad[i],
				 (unsigned long long)v);
	}
	assert_int_equal(vn_parse_size(NULL, &(uint64_t){0}), -EINVAL);
}

/* ------------------------------------------------------------------------ */
/* vn_parse_cpus */

static void test_parse_cpus_reads_single_cpus_lists_and_ranges(void **state)
{
	static const struct {
		const char *s;
		unsigned n;
		int cpus[8];
	} ok[] = {
	    {"1", 1, {1}},
	    {"0,2", 2, {0, 2}},
	    {"0-3", 4, {0, 1, 2, 3}},
	    {"0-1,4", 3, {0, 1, 4}},
	    {"5-5", 1, {5}},
	    {"7,3,3", 3, {7, 3, 3}}, /* order kept, as written */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int cpus[8];
		unsigned n = 99;
		memset(cpus, 0xff, sizeof(cpus));
		if (vn_parse_cpus(ok[i].s, cpus, 8, &n))
			fail_msg("vn_parse_cpus(\"%s\") failed", ok[i].s);
		if (n != ok[i].n)
			fail_msg("vn_parse_cpus(\"%s\"): %u CPUs, not %u", ok[i].s, n, ok[i].n);
		assert_memory_equal(cpus, ok[i].cpus, n * sizeof(int));
	}
}

static void test_parse_cpus_rejects_empty_lists_bad_ranges_and_junk(void **state)
{
	static const char *const bad[] = {
	    "", "a", "3-1", "1,,2", "1-", "-1", "1;2", "1-2-3", ",1", "4096", "0-4096",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int cpus[8];
		unsigned n;
		int ret = vn_parse_cpus(bad[i], cpus, 8, &n);
		if (ret != -EINVAL)
			fail_msg("vn_parse_cpus(\"%s\") = %d, not -EINVAL", bad[i], ret);
	}
}

static void test_parse_cpus_returns_e2big_beyond_max(void **state)
{
	int cpus[VN_MAX_CPUS];
	unsigned n;

	(void)state;
	assert_int_equal(vn_parse_cpus("0-3", cpus, 4, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(vn_parse_cpus("0-4", cpus, 4, &n), -E2BIG);
	assert_int_equal(vn_parse_cpus("0,1,2,3,4", cpus, 4, &n), -E2BIG);
	assert_int_equal(vn_parse_cpus("0-4095", cpus, VN_MAX_CPUS, &n), -E2BIG);
	assert_int_equal(n, VN_MAX_CPUS); /* never past the array */
}

/* ------------------------------------------------------------------------ */
/* vn_conf_load_json: valid configurations */

static void test_conf_load_reads_cpus_as_a_string(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";

	(void)state;
	write_conf(path, sizeof(path), "cpus-str.json",
		   "{\"cpus\": \"0-1,4\", \"controllers\": [{\"socket\": \"/run/a\"}]}");
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nr_cpus, 3);
	assert_int_equal(c.cpus[0], 0);
	assert_int_equal(c.cpus[1], 1);
	assert_int_equal(c.cpus[2], 4);
	assert_int_equal(c.nr_ctrls, 1);
	/* Everything not given takes the defaults. */
	struct vnvme_dev_conf def;
	vn_dev_conf_defaults(&def);
	assert_string_equal(c.ctrls[0].socket, "/run/a");
	assert_int_equal(c.ctrls[0].queues, def.queues);
	assert_int_equal(c.ctrls[0].qdepth, def.qdepth);
	assert_int_equal(c.ctrls[0].nr_ns, 1);
	assert_int_equal(c.ctrls[0].ns[0].be.type, VN_BE_RAM);
	assert_int_equal(c.ctrls[0].ns[0].be.size, 1ull << 30);
	assert_int_equal(c.ctrls[0].ns[0].lba_size, 512);
	assert_int_equal(c.ctrls[0].vendor, 0);
	assert_string_equal(c.ctrls[0].serial, "");
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), 0);
	vn_conf_free(&c);
	assert_null(c.ctrls);
	assert_int_equal(c.nr_ctrls, 0);
}

static void test_conf_load_reads_cpus_as_an_array_and_no_cpus_as_none(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";

	(void)state;
	write_conf(path, sizeof(path), "cpus-arr.json",
		   "{\"cpus\": [3, -1, 0], \"controllers\": [{\"socket\": \"/run/a\"}]}");
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nr_cpus, 3);
	assert_int_equal(c.cpus[0], 3);
	assert_int_equal(c.cpus[1], -1); /* unpinned */
	assert_int_equal(c.cpus[2], 0);
	vn_conf_free(&c);

	write_conf(path, sizeof(path), "cpus-none.json",
		   "{\"controllers\": [{\"socket\": \"/run/a\"}]}");
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nr_cpus, 0); /* main() then starts one unpinned poller */
	vn_conf_free(&c);
}

static const char full_conf[] =
    "{\n"
    "  \"cpus\": \"0-1\",\n"
    "  \"controllers\": [\n"
    "    {\n"
    "      \"socket\": \"/run/vnvme/nvme%d.sock\",\n"
    "      \"count\": 3,\n"
    "      \"queues\": 4,\n"
    "      \"qdepth\": 128,\n"
    "      \"max_dma_bytes\": \"16G\",\n"
    "      \"trace\": true,\n"
    "      \"sanitize\": true,\n"
    "      \"pci_id\": \"1234:abcd\",\n"
    "      \"namespaces\": [\n"
    "        {\"backend\": \"null\", \"size\": \"2T\"},\n"
    "        {\"backend\": \"ram\", \"size\": 8388608, \"lba\": 4096, \"hugepages\": false},\n"
    "        {\"backend\": \"file\", \"path\": \"/var/lib/ns.img\", \"size\": \"64M\",\n"
    "         \"direct\": true}\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"socket\": \"/run/vnvme/single\",\n"
    "      \"serial\": \"SN-ONE\",\n"
    "      \"namespaces\": [{\"backend\": \"ram\", \"size\": \"1GiB\", \"hugepages\": true}]\n"
    "    }\n"
    "  ]\n"
    "}\n";

static void test_conf_load_expands_a_counted_controller_and_keeps_its_settings(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";

	(void)state;
	write_conf(path, sizeof(path), "full.json", full_conf);
	if (vn_conf_load_json(path, &c, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_int_equal(c.nr_cpus, 2);
	assert_int_equal(c.nr_ctrls, 4);
	for (unsigned k = 0; k < 3; k++) {
		const struct vnvme_dev_conf *d = &c.ctrls[k];
		char sock[64];

		snprintf(sock, sizeof(sock), "/run/vnvme/nvme%u.sock", k);
		assert_string_equal(d->socket, sock);
		assert_int_equal(d->queues, 4);
		assert_int_equal(d->qdepth, 128);
		assert_int_equal(d->max_dma_bytes, 16ull << 30);
		assert_true(d->trace);
		assert_true(d->sanitize);
		assert_int_equal(d->vendor, 0x1234);
		assert_int_equal(d->device, 0xabcd);
		assert_int_equal(d->nr_ns, 3);
		assert_int_equal(d->ns[0].be.type, VN_BE_NULL);
		assert_int_equal(d->ns[0].be.size, 2ull << 40);
		assert_int_equal(d->ns[0].lba_size, 512);
		assert_int_equal(d->ns[1].be.type, VN_BE_RAM);
		assert_int_equal(d->ns[1].be.size, 8u << 20);
		assert_int_equal(d->ns[1].lba_size, 4096);
		/* false: 4 KiB pages; left out (ns 0): hugepages when free. */
		assert_true(d->ns[1].be.no_hugepages);
		assert_false(d->ns[1].be.hugepages);
		assert_false(d->ns[0].be.hugepages);
		assert_false(d->ns[0].be.no_hugepages);
		assert_int_equal(d->ns[2].be.type, VN_BE_FILE);
		assert_int_equal(d->ns[2].be.size, 64u << 20);
		assert_true(d->ns[2].be.direct);
		assert_non_null(d->ns[2].be.path);
		assert_string_equal(d->ns[2].be.path, "/var/lib/ns.img");
		/* Each copy owns its path: vn_conf_free frees each once. */
		for (unsigned j = 0; j < k; j++)
			assert_ptr_not_equal(d->ns[2].be.path, c.ctrls[j].ns[2].be.path);
	}
	assert_string_equal(c.ctrls[3].socket, "/run/vnvme/single");
	assert_string_equal(c.ctrls[3].serial, "SN-ONE");
	assert_int_equal(c.ctrls[3].max_dma_bytes, 0); /* the server's default */
	assert_false(c.ctrls[3].trace);                /* off by default */
	assert_false(c.ctrls[3].sanitize);
	assert_int_equal(c.ctrls[3].vendor, 0); /* the default, filled in later */
	assert_int_equal(c.ctrls[3].nr_ns, 1);
	assert_int_equal(c.ctrls[3].ns[0].be.size, 1ull << 30);
	assert_true(c.ctrls[3].ns[0].be.hugepages);
	assert_false(c.ctrls[3].ns[0].be.no_hugepages);
	assert_null(c.ctrls[3].ns[0].be.path);
	if (vn_conf_check(&c, err, sizeof(err)))
		fail_msg("check: %s", err);
	vn_conf_free(&c);
	vn_conf_free(&c); /* twice is harmless */
}

static void test_conf_load_replaces_only_the_first_percent_d(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";

	(void)state;
	write_conf(path, sizeof(path), "pct.json",
		   "{\"controllers\": [{\"socket\": \"/r/%s-%d-%d%%\", \"count\": 2}]}");
	if (vn_conf_load_json(path, &c, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_int_equal(c.nr_ctrls, 2);
	assert_string_equal(c.ctrls[0].socket, "/r/%s-0-%d%%");
	assert_string_equal(c.ctrls[1].socket, "/r/%s-1-%d%%");
	vn_conf_free(&c);
}

/* ------------------------------------------------------------------------ */
/* vn_conf_load_json: invalid configurations */

/* Loads text; expects -EINVAL, a message containing needle, nothing left
 * allocated and the output empty. */
static void expect_invalid(const char *text, const char *needle)
{
	struct vnvme_target_conf c;
	char path[128], err[512] = "";
	size_t before, after;
	int ret;

	write_conf(path, sizeof(path), "bad.json", text);
	before = heap_in_use();
	ret = vn_conf_load_json(path, &c, err, sizeof(err));
	after = heap_in_use();
	if (ret != -EINVAL)
		fail_msg("load returned %d, not -EINVAL (err \"%s\")", ret, err);
	print_message("# err: %s\n", err);
	assert_contains(err, needle);
	assert_null(c.ctrls);
	assert_int_equal(c.nr_ctrls, 0);
	if (after != before)
		fail_msg("the failed load left %zu bytes allocated", after - before);
}

static void test_conf_load_rejects_a_file_that_is_not_json(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [", "bad.json");
	expect_invalid("socket = /run/a\n", "bad.json");
}

static void test_conf_load_says_where_the_json_breaks_by_line_and_column(void **state)
{
	(void)state;
	/* The second comma of line 3 is column 22. */
	expect_invalid("{\n  \"controllers\": [\n    { \"socket\": \"x\" ,, }\n  ]\n}\n",
		       "bad.json: line 3, column 22: ");
	expect_invalid("{\"controllers\": [", "bad.json: line 1, column 18: the text ends inside");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\"}]}\n}\n",
		       "bad.json: line 2, column 1: text after");
	expect_invalid("", "bad.json: line 1, column 1: ");
}

static void test_conf_load_rejects_a_missing_file_naming_it(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[512] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.json", tmpdir);
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "does-not-exist.json");
	assert_null(c.ctrls);
}

static void test_conf_load_rejects_a_top_level_that_is_not_an_object(void **state)
{
	(void)state;
	expect_invalid("[{\"socket\": \"/run/a\"}]", "the top level must be an object");
	expect_invalid("\"/run/a\"", "the top level must be an object");
	expect_invalid("42\n", "the top level must be an object");
}

static void test_conf_load_rejects_a_config_without_controllers(void **state)
{
	(void)state;
	expect_invalid("{\"cpus\": \"0\"}", "\"controllers\" must be a non-empty array");
	expect_invalid("{\"controllers\": {\"socket\": \"/run/a\"}}",
		       "\"controllers\" must be a non-empty array");
}

/* "rpc": the control socket; with it, controllers may come later. */
static void test_conf_load_reads_rpc_and_then_allows_no_controllers(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[512] = "";

	(void)state;
	write_conf(path, sizeof(path), "rpc.json", "{\"rpc\": \"/run/vnvme/rpc.sock\"}");
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.rpc, "/run/vnvme/rpc.sock");
	assert_int_equal(c.nr_ctrls, 0);
	vn_conf_free(&c);
	write_conf(path, sizeof(path), "rpc.json",
		   "{\"rpc\": \"/run/r.sock\", \"controllers\": [{\"socket\": \"/run/a\"}]}");
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c.rpc, "/run/r.sock");
	assert_int_equal(c.nr_ctrls, 1);
	vn_conf_free(&c);
	write_conf(path, sizeof(path), "rpc.json",
		   "{\"rpc\": \"/run/r.sock\", \"controllers\": []}");
	assert_int_equal(vn_conf_load_json(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nr_ctrls, 0);
	vn_conf_free(&c);
	expect_invalid("{\"rpc\": 5}", "\"rpc\" must be a socket path");
	expect_invalid("{\"rpc\": \"\"}", "\"rpc\" must be a socket path");
	expect_invalid("{\"rpc\": \"/run/r.sock\", \"controllers\": 3}",
		       "\"controllers\" must be a non-empty array");
}

/* One controller object, as create_controller gets it. */
static void test_conf_parse_ctrl_takes_one_controller_object(void **state)
{
	struct vnvme_dev_conf d;
	char err[512] = "";
	struct json_object *o;

	(void)state;
	o = json_tokener_parse("{\"socket\": \"/run/a\", \"queues\": 3, \"namespaces\": "
			       "[{\"backend\": \"file\", \"path\": \"/x.img\"}]}");
	assert_int_equal(vn_conf_parse_ctrl(o, &d, err, sizeof(err)), 0);
	assert_string_equal(d.socket, "/run/a");
	assert_int_equal(d.queues, 3);
	assert_string_equal(d.ns[0].be.path, "/x.img");
	free((char *)d.ns[0].be.path);
	json_object_put(o);
	o = json_tokener_parse("{\"socket\": \"/run/a%d\", \"count\": 2, \"namespaces\": "
			       "[{\"backend\": \"file\", \"path\": \"/x.img\"}]}");
	assert_int_equal(vn_conf_parse_ctrl(o, &d, err, sizeof(err)), -EINVAL);
	assert_contains(err, "\"count\" must be 1");
	json_object_put(o);
	o = json_tokener_parse("{\"socket\": \"/run/a\", \"queues\": 2000}");
	assert_int_equal(vn_conf_parse_ctrl(o, &d, err, sizeof(err)), -EINVAL);
	assert_contains(err, "\"queues\" must be 1..1024, not 2000");
	json_object_put(o);
}

static void test_conf_load_rejects_an_empty_controller_list(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": []}", "\"controllers\" must be a non-empty array");
}

static void test_conf_load_rejects_a_controller_without_socket(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"queues\": 2}]}", "needs \"socket\"");
	expect_invalid("{\"controllers\": [{\"socket\": 5}]}", "\"socket\" must be a string");
	expect_invalid("{\"controllers\": [\"/run/a\"]}", "each controller must be an object");
}

static void test_conf_load_rejects_a_count_above_one_without_percent_d(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"count\": 2}]}",
		       "\"count\" > 1 needs %d in \"socket\" (/run/a)");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a%d\", \"count\": 0}]}",
		       "\"count\" must be 1..256, not 0");
}

static void test_conf_load_rejects_zero_queues(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"queues\": 0}]}",
		       "\"queues\" must be 1..1024, not 0");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"queues\": 1025}]}",
		       "\"queues\" must be 1..1024, not 1025");
}

static void test_conf_load_rejects_a_queue_depth_of_one(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"qdepth\": 1}]}",
		       "\"qdepth\" must be 2..65536, not 1");
}

static void test_conf_load_rejects_an_unknown_backend(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"backend\": \"nvme\"}]}]}",
		       "backend \"nvme\": use null, ram or file");
}

static void test_conf_load_rejects_unknown_keys_and_names_the_right_ones(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"qdeth\": 64}]}",
		       "unknown key \"qdeth\" in a controller: the keys are socket, count, queues, "
		       "qdepth, serial, pci_id, max_dma_bytes, sanitize, namespaces, trace");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"trace\": 1}]}",
		       "\"trace\" must be true or false");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"sanitize\": 1}]}",
		       "\"sanitize\" must be true or false");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"backend\": \"ram\", \"sise\": \"1G\"}]}]}",
		       "unknown key \"sise\" in a namespace");
	expect_invalid("{\"cpu\": \"0\", \"controllers\": [{\"socket\": \"/run/a\"}]}",
		       "unknown key \"cpu\" in the top level: the keys are cpus, controllers");
}

static void test_conf_load_rejects_a_bad_size(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"size\": \"12 parsecs\"}]}]}",
		       "\"size\" must be a size such as");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"size\": 0}]}]}",
		       "\"size\" must be a size such as");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"size\": -4096}]}]}",
		       "\"size\" must be a size such as");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"max_dma_bytes\": 0}]}",
		       "\"max_dma_bytes\" must be a size such as");
}

static void test_conf_load_rejects_a_bad_pci_id(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"pci_id\": \"1234\"}]}",
		       "pci_id \"1234\": use VVVV:DDDD in hex");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"pci_id\": \"12345:1\"}]}",
		       "pci_id \"12345:1\": use VVVV:DDDD in hex");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"pci_id\": \"zz:1\"}]}",
		       "use VVVV:DDDD in hex");
}

static void test_conf_load_rejects_more_than_32_namespaces(void **state)
{
	char text[2048];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text),
		     "{\"controllers\": [{\"socket\": \"/run/a\", "
		     "\"namespaces\": [");
	for (int i = 0; i < 33; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "%s{\"size\": \"1M\"}",
			      i ? ", " : "");
	snprintf(text + n, sizeof(text) - (size_t)n, "]}]}");
	expect_invalid(text, "\"namespaces\" must be an array of 1..32 objects");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"namespaces\": []}]}",
		       "\"namespaces\" must be an array of 1..32 objects");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"namespaces\": [7]}]}",
		       "each namespace must be an object");
}

static void test_conf_load_rejects_an_lba_given_as_a_string(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"lba\": \"4096\"}]}]}",
		       "\"lba\" must be an integer");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"lba\": 256}]}]}",
		       "\"lba\" must be 512..4096, not 256");
}

static void test_conf_load_rejects_bad_cpus(void **state)
{
	(void)state;
	expect_invalid("{\"cpus\": \"3-1\", \"controllers\": [{\"socket\": \"/run/a\"}]}",
		       "\"cpus\": bad CPU list \"3-1\"");
	expect_invalid("{\"cpus\": [], \"controllers\": [{\"socket\": \"/run/a\"}]}",
		       "\"cpus\": 1..64 entries");
	expect_invalid("{\"cpus\": [\"0\"], \"controllers\": [{\"socket\": \"/run/a\"}]}",
		       "\"cpus\": integers >= -1");
	expect_invalid("{\"cpus\": [-2], \"controllers\": [{\"socket\": \"/run/a\"}]}",
		       "\"cpus\": integers >= -1");
	expect_invalid("{\"cpus\": 1, \"controllers\": [{\"socket\": \"/run/a\"}]}",
		       "\"cpus\" must be \"0-1\" or [0, 1]");
}

static void test_conf_load_rejects_socket_paths_that_do_not_fit(void **state)
{
	char text[512], sock[128];

	(void)state;
	memset(sock, 'a', sizeof(sock));
	sock[0] = '/';
	sock[108] = '\0'; /* 108 bytes: no room for the NUL in sun_path */
	snprintf(text, sizeof(text), "{\"controllers\": [{\"socket\": \"%s\"}]}", sock);
	expect_invalid(text, "socket path too long");
	/* 107 bytes fit, but "%d" -> "100" makes the 101st one 108. */
	sock[105] = '%';
	sock[106] = 'd';
	sock[107] = '\0';
	snprintf(text, sizeof(text), "{\"controllers\": [{\"socket\": \"%s\", \"count\": 101}]}",
		 sock);
	expect_invalid(text, "socket path too long");
}

/* ------------------------------------------------------------------------ */
/* vn_conf_load_json: error paths that must free what they allocated */

/* Fails: a known product bug (see known_bugs[] in main). */
static void test_conf_load_frees_earlier_namespace_paths_when_a_later_namespace_is_bad(void **state)
{
	(void)state;
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"namespaces\": ["
		       "{\"backend\": \"file\", \"path\": \"/var/lib/a.img\"},"
		       "{\"backend\": \"tape\"}]}]}",
		       "backend \"tape\"");
}

static void test_conf_load_frees_each_path_once_when_an_expanded_socket_is_too_long(void **state)
{
	char text[512], sock[128];

	(void)state;
	/* The 101st copy's socket is too long: 100 copies own a path by then. */
	memset(sock, 'a', sizeof(sock));
	sock[0] = '/';
	sock[105] = '%';
	sock[106] = 'd';
	sock[107] = '\0';
	snprintf(text, sizeof(text),
		 "{\"controllers\": [{\"socket\": \"%s\", \"count\": 101, \"namespaces\": "
		 "[{\"backend\": \"file\", \"path\": \"/var/lib/a.img\"}]}]}",
		 sock);
	expect_invalid(text, "socket path too long");
}

static void test_conf_load_rejects_null_and_other_types_where_a_string_belongs(void **state)
{
	(void)state;
	/* json-c gives NULL for a JSON null: each must be refused before use. */
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"pci_id\": null}]}",
		       "\"pci_id\" must be a string");
	expect_invalid("{\"controllers\": [{\"socket\": null}]}", "\"socket\" must be a string");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\", \"serial\": 7}]}",
		       "\"serial\" must be a string");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"backend\": null}]}]}",
		       "\"backend\" must be a string");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"backend\": \"file\", \"path\": null}]}]}",
		       "\"path\" must be a string");
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"namespaces\": [{\"hugepages\": \"yes\"}]}]}",
		       "\"hugepages\" must be true or false");
}

/* ------------------------------------------------------------------------ */
/* Serial numbers and sizes */

static void test_conf_load_gives_each_counted_controller_its_own_serial(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";

	(void)state;
	write_conf(path, sizeof(path), "serial.json",
		   "{\"controllers\": [{\"socket\": \"/run/s%d\", \"count\": 3,"
		   " \"serial\": \"SAME\"}]}");
	if (vn_conf_load_json(path, &c, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_int_equal(c.nr_ctrls, 3);
	assert_string_equal(c.ctrls[0].serial, "SAME-0");
	assert_string_equal(c.ctrls[1].serial, "SAME-1");
	assert_string_equal(c.ctrls[2].serial, "SAME-2");
	vn_conf_free(&c);
	/* 16 characters leave room for the suffix within the 20 of Identify. */
	expect_invalid("{\"controllers\": [{\"socket\": \"/run/a\","
		       " \"serial\": \"0123456789abcdefg\"}]}",
		       "16 characters at most");
}

/* Fails: a known product bug (see known_bugs[] in main). */
static void test_conf_check_rejects_two_controllers_with_one_serial(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";
	int ret;

	(void)state;
	write_conf(path, sizeof(path), "serial2.json",
		   "{\"controllers\": [{\"socket\": \"/run/a\", \"serial\": \"SAME\"},"
		   " {\"socket\": \"/run/b\", \"serial\": \"SAME\"}]}");
	if (vn_conf_load_json(path, &c, err, sizeof(err)))
		fail_msg("load: %s", err);
	ret = vn_conf_check(&c, err, sizeof(err));
	vn_conf_free(&c);
	if (ret == 0)
		fail_msg("vn_conf_check accepts two controllers with serial \"SAME\"");
	assert_contains(err, "SAME");
}

/* Fails: a known product bug (see known_bugs[] in main). */
static void test_conf_load_leaves_a_file_namespace_without_size_at_the_file_size(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[256] = "";
	uint64_t size;

	(void)state;
	write_conf(path, sizeof(path), "filesize.json",
		   "{\"controllers\": [{\"socket\": \"/run/a\","
		   " \"namespaces\": [{\"backend\": \"file\", \"path\": \"/tmp/disk.img\"}]}]}");
	if (vn_conf_load_json(path, &c, err, sizeof(err)))
		fail_msg("load: %s", err);
	size = c.ctrls[0].ns[0].be.size;
	vn_conf_free(&c);
	if (size != 0)
		fail_msg("the file namespace has size %llu, not 0 (the file's own)",
			 (unsigned long long)size);
}

/* ------------------------------------------------------------------------ */
/* vn_conf_check */

/* Loads text, which must parse, and runs vn_conf_check on it. */
static int load_and_check(const char *text, char *err, size_t errlen)
{
	struct vnvme_target_conf c;
	char path[128];
	int ret;

	write_conf(path, sizeof(path), "check.json", text);
	ret = vn_conf_load_json(path, &c, err, errlen);
	if (ret)
		fail_msg("load: %s", err);
	ret = vn_conf_check(&c, err, errlen);
	vn_conf_free(&c);
	print_message("# err: %s\n", err);
	return ret;
}

static void test_conf_check_rejects_two_controllers_on_one_socket(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\"},"
					" {\"socket\": \"/run/b\"}, {\"socket\": \"/run/a\"}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "two controllers on /run/a");
	/* Also across an expansion. */
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/n%d\","
					" \"count\": 4}, {\"socket\": \"/run/n2\"}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "two controllers on /run/n2");
}

static void test_conf_check_rejects_a_file_backend_without_a_path(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{}, {\"backend\": \"file\"}]}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "/run/a ns 2: the file backend needs a path");
}

static void test_conf_check_rejects_an_lba_of_1024(void **state)
{
	char err[256] = "";

	(void)state;
	/* 512..4096 parses; only 512 and 4096 are LBA formats. */
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{\"lba\": 1024}]}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "/run/a ns 1: lba must be 512 or 4096");
}

static void test_conf_check_rejects_what_flags_could_leave_wrong(void **state)
{
	struct vnvme_target_conf c = {0};
	struct vnvme_dev_conf d[1];
	char err[256] = "";

	(void)state;
	vn_dev_conf_defaults(&d[0]);
	c.ctrls = d;
	c.nr_ctrls = 1;
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "controller 0: no socket path");
	snprintf(d[0].socket, sizeof(d[0].socket), "/run/a");
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), 0);
	d[0].ns[0].be.size = 256; /* below one 512-byte LBA */
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "size 256 is not a multiple of the LBA size 512");
	d[0].ns[0].be.size = 0; /* the file's own size */
	d[0].ns[0].be.type = VN_BE_FILE;
	d[0].ns[0].be.path = "/var/lib/a.img";
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), 0);
	d[0].queues = 0;
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "queues must be 1..1024");
	d[0].queues = 1;
	d[0].qdepth = 65537;
	assert_int_equal(vn_conf_check(&c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "qdepth 2..65536");
}

static void test_conf_check_refuses_a_size_that_is_no_whole_number_of_blocks(void **state)
{
	char err[256] = "";

	(void)state;
	/* "--size 1000" was one 512-byte block. */
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{\"size\": 1000}]}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "/run/a ns 1: size 1000 is not a multiple of the LBA size 512 "
			     "(sizes take a unit: 64M, 1G)");
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{\"size\": \"6k\", \"lba\": 4096}]}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "not a multiple of the LBA size 4096");
}

static void test_conf_check_refuses_a_size_below_one_mib_with_a_hint(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{\"size\": 4096}]}]}",
					err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "size 4096 is below 1 MiB, surely a mistake (sizes take a unit");
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{\"size\": \"1M\"}]}]}",
					err, sizeof(err)),
			 0);
	/* A file without a size keeps its own: nothing to check. */
	assert_int_equal(load_and_check("{\"controllers\": [{\"socket\": \"/run/a\","
					" \"namespaces\": [{\"backend\": \"file\","
					" \"path\": \"/a.img\"}]}]}",
					err, sizeof(err)),
			 0);
}

/* docs/target.md: "namespaces" may be left out for one 1 GiB ram namespace. */
static void test_conf_load_gives_a_controller_without_namespaces_one_of_1_gib(void **state)
{
	struct vnvme_target_conf c;
	char path[128], err[512] = "";

	(void)state;
	write_conf(path, sizeof(path), "nons.json",
		   "{\"controllers\": [{\"socket\": \"/run/a\"}]}");
	if (vn_conf_load_json(path, &c, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_int_equal(c.ctrls[0].nr_ns, 1);
	assert_int_equal(c.ctrls[0].ns[0].be.type, VN_BE_RAM);
	assert_int_equal(c.ctrls[0].ns[0].be.size, 1ull << 30);
	assert_int_equal(c.ctrls[0].ns[0].lba_size, 512);
	vn_conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_size_accepts_plain_numbers_and_binary_units),
	    cmocka_unit_test(test_parse_size_rejects_garbage_signs_and_overflow),
	    cmocka_unit_test(test_parse_cpus_reads_single_cpus_lists_and_ranges),
	    cmocka_unit_test(test_parse_cpus_rejects_empty_lists_bad_ranges_and_junk),
	    cmocka_unit_test(test_parse_cpus_returns_e2big_beyond_max),
	    cmocka_unit_test(test_conf_load_reads_cpus_as_a_string),
	    cmocka_unit_test(test_conf_load_reads_cpus_as_an_array_and_no_cpus_as_none),
	    cmocka_unit_test(test_conf_load_expands_a_counted_controller_and_keeps_its_settings),
	    cmocka_unit_test(test_conf_load_replaces_only_the_first_percent_d),
	    cmocka_unit_test(test_conf_load_rejects_a_file_that_is_not_json),
	    cmocka_unit_test(test_conf_load_says_where_the_json_breaks_by_line_and_column),
	    cmocka_unit_test(test_conf_load_rejects_a_missing_file_naming_it),
	    cmocka_unit_test(test_conf_load_rejects_a_top_level_that_is_not_an_object),
	    cmocka_unit_test(test_conf_load_rejects_a_config_without_controllers),
	    cmocka_unit_test(test_conf_load_rejects_an_empty_controller_list),
	    cmocka_unit_test(test_conf_load_rejects_a_controller_without_socket),
	    cmocka_unit_test(test_conf_load_rejects_a_count_above_one_without_percent_d),
	    cmocka_unit_test(test_conf_load_rejects_zero_queues),
	    cmocka_unit_test(test_conf_load_rejects_a_queue_depth_of_one),
	    cmocka_unit_test(test_conf_load_rejects_an_unknown_backend),
	    cmocka_unit_test(test_conf_load_rejects_unknown_keys_and_names_the_right_ones),
	    cmocka_unit_test(test_conf_load_rejects_a_bad_size),
	    cmocka_unit_test(test_conf_load_rejects_a_bad_pci_id),
	    cmocka_unit_test(test_conf_load_rejects_more_than_32_namespaces),
	    cmocka_unit_test(test_conf_load_rejects_an_lba_given_as_a_string),
	    cmocka_unit_test(test_conf_load_rejects_bad_cpus),
	    cmocka_unit_test(test_conf_load_rejects_socket_paths_that_do_not_fit),
	    cmocka_unit_test(
		test_conf_load_frees_each_path_once_when_an_expanded_socket_is_too_long),
	    cmocka_unit_test(test_conf_load_rejects_null_and_other_types_where_a_string_belongs),
	    cmocka_unit_test(test_conf_load_gives_each_counted_controller_its_own_serial),
	    cmocka_unit_test(test_conf_check_rejects_two_controllers_on_one_socket),
	    cmocka_unit_test(test_conf_check_rejects_a_file_backend_without_a_path),
	    cmocka_unit_test(test_conf_check_rejects_an_lba_of_1024),
	    cmocka_unit_test(test_conf_check_rejects_what_flags_could_leave_wrong),
	    cmocka_unit_test(test_conf_check_refuses_a_size_that_is_no_whole_number_of_blocks),
	    cmocka_unit_test(test_conf_check_refuses_a_size_below_one_mib_with_a_hint),
	    cmocka_unit_test(test_conf_load_gives_a_controller_without_namespaces_one_of_1_gib),
	    cmocka_unit_test(test_conf_load_reads_rpc_and_then_allows_no_controllers),
	    cmocka_unit_test(test_conf_parse_ctrl_takes_one_controller_object),
	    /* These three found bugs in config.c, fixed since. */
	    cmocka_unit_test(
		test_conf_load_frees_earlier_namespace_paths_when_a_later_namespace_is_bad),
	    cmocka_unit_test(test_conf_check_rejects_two_controllers_with_one_serial),
	    cmocka_unit_test(test_conf_load_leaves_a_file_namespace_without_size_at_the_file_size),
	};

	if (vn_test_filter(tests, sizeof(tests) / sizeof(tests[0])))
		return 1;
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
