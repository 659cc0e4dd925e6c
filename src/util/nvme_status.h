/* SPDX-License-Identifier: MIT */
#ifndef VN_UTIL_NVME_STATUS_H
#define VN_UTIL_NVME_STATUS_H

#include <stdint.h>

/* The specification's name of a Status Field value (SCT and SC; DNR, More
 * and CRD ignored), or "Unknown Status". */
const char *vn_nvme_status_name(uint16_t sf);

#endif
