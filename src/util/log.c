/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

static int log_level = -1;
static vn_log_sink log_sink;
static void *log_sink_arg;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"err", "warn", "info", "debug"};

int vn_log_parse_level(const char *s, enum vn_log_level *out)
{
	for (unsigned i = 0; i < VN_ARRAY_SIZE(level_names); i++) {
		if (!strcmp(s, level_names[i]) || (s[0] == (char)('0' + i) && !s[1])) {
			*out = (enum vn_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum vn_log_level vn_log_get_level(void)
{
	int lvl = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
	if (unlikely(lvl < 0)) {
		enum vn_log_level l = VN_LOG_INFO;
		const char *env = getenv("VNVME_LOG");
		if (env && vn_log_parse_level(env, &l) < 0)
			l = VN_LOG_INFO;
		lvl = (int)l;
		__atomic_store_n(&log_level, lvl, __ATOMIC_RELAXED);
	}
	return (enum vn_log_level)lvl;
}

void vn_log_set_level(enum vn_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

void vn_log_set_sink(vn_log_sink sink, void *arg)
{
	pthread_mutex_lock(&log_lock);
	log_sink = sink;
	log_sink_arg = arg;
	pthread_mutex_unlock(&log_lock);
}

uint64_t vn_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vn_log(enum vn_log_level level, const char *fmt, ...)
{
	int saved = errno;
	char line[1024];
	va_list ap;

	if ((int)level > (int)vn_log_get_level()) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	if (log_sink)
		log_sink(level, line, log_sink_arg);
	fprintf(stderr, "vnvme %s: %s\n", level_names[level], line);
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

bool vn_ratelimit_ok(struct vn_ratelimit *rl, uint32_t burst, uint32_t *suppressed)
{
	uint64_t now = vn_now_ns();

	*suppressed = 0;
	if (now - rl->window_start_ns >= 1000000000ull) {
		*suppressed = rl->suppressed;
		rl->window_start_ns = now;
		rl->in_window = 0;
		rl->suppressed = 0;
	}
	if (rl->in_window >= burst) {
		rl->suppressed++;
		return false;
	}
	rl->in_window++;
	return true;
}
