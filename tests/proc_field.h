/* SPDX-License-Identifier: MIT */
/*
 * One number from a /proc file of "Key: value" lines, for the tests that
 * check memory: proc_field("/proc/self/status", "VmRSS:") (KiB), or
 * proc_field("/proc/meminfo", "HugePages_Free:"). 0 when the file or the
 * key is missing.
 */
#ifndef VN_TESTS_PROC_FIELD_H
#define VN_TESTS_PROC_FIELD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline unsigned long proc_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned long v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			v = strtoul(line + strlen(key), NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

#endif
