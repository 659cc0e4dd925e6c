/* SPDX-License-Identifier: MIT */
/*
 * Logging. Lines start with the object ("vu nvme0: ..."). Levels:
 *   err   - our own bug or a system failure
 *   warn  - the peer's fault, tagged "guest:"; rate-limited by vn_log_warn_rl
 *   info  - lifecycle
 *   debug - one line per message (only when enabled at run time)
 * vn_log preserves errno.
 */
#ifndef VN_UTIL_LOG_H
#define VN_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

enum vn_log_level {
	VN_LOG_ERR = 0,
	VN_LOG_WARN = 1,
	VN_LOG_INFO = 2,
	VN_LOG_DEBUG = 3,
};

void vn_log(enum vn_log_level level, const char *fmt, ...) VN_PRINTF(2, 3);

/* Messages above this level are dropped. Default: VN_LOG_INFO, or $VNVME_LOG. */
void vn_log_set_level(enum vn_log_level level);
enum vn_log_level vn_log_get_level(void);
/* Parse "err", "warn", "info", "debug" (or 0..3); -EINVAL otherwise. */
int vn_log_parse_level(const char *s, enum vn_log_level *out);

/* Optional sink for tests: receives every line that passes the level. */
typedef void (*vn_log_sink)(enum vn_log_level level, const char *line, void *arg);
void vn_log_set_sink(vn_log_sink sink, void *arg);

/*
 * Rate limiter for peer-caused warnings: at most `burst` lines per second per
 * limiter; the count of suppressed lines is reported with the next one.
 */
struct vn_ratelimit {
	uint64_t window_start_ns;
	uint32_t in_window;
	uint32_t suppressed;
};

bool vn_ratelimit_ok(struct vn_ratelimit *rl, uint32_t burst, uint32_t *suppressed);

#define vn_err(...)  vn_log(VN_LOG_ERR, __VA_ARGS__)
#define vn_warn(...) vn_log(VN_LOG_WARN, __VA_ARGS__)
#define vn_info(...) vn_log(VN_LOG_INFO, __VA_ARGS__)
#define vn_debug(...)                                                                              \
	do {                                                                                       \
		if (unlikely(vn_log_get_level() >= VN_LOG_DEBUG))                                  \
			vn_log(VN_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

/* A peer-caused warning, at most 10 lines a second for this call site's limiter. */
#define vn_warn_rl(rl, fmt, ...)                                                                   \
	do {                                                                                       \
		uint32_t sup_;                                                                     \
		if (vn_ratelimit_ok((rl), 10, &sup_)) {                                            \
			if (sup_)                                                                  \
				vn_log(VN_LOG_WARN, "(%u similar lines suppressed)", sup_);        \
			vn_log(VN_LOG_WARN, fmt, ##__VA_ARGS__);                                   \
		}                                                                                  \
	} while (0)

/* A lifecycle line a peer can cause at will (a reset): at most 10 a second. */
#define vn_info_rl(rl, fmt, ...)                                                                   \
	do {                                                                                       \
		uint32_t sup_;                                                                     \
		if (vn_log_get_level() >= VN_LOG_INFO && vn_ratelimit_ok((rl), 10, &sup_)) {       \
			if (sup_)                                                                  \
				vn_log(VN_LOG_INFO, "(%u similar lines suppressed)", sup_);        \
			vn_log(VN_LOG_INFO, fmt, ##__VA_ARGS__);                                   \
		}                                                                                  \
	} while (0)

uint64_t vn_now_ns(void);

#endif
