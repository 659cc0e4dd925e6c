/* SPDX-License-Identifier: MIT */
/* The one place that maps errno to NVMe status (names: vnvme/spec.h). */
#include <errno.h>

#include "nvme/priv.h"

const char *nvme_status_name(vnvme_status s)
{
	return vnvme_spec_status_name(s.v);
}

vnvme_status nvme_status_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return NVME_OK;
	case EILSEQ:
		return nvme_sc_media(VNVME_SC_COMPARE_FAILURE);
	case ERANGE:
		return nvme_sc(VNVME_SC_LBA_OUT_OF_RANGE);
	case EFAULT:
		return nvme_sc(VNVME_SC_DATA_XFER_ERROR);
	case EIO:
	case ENOSPC:
		return nvme_sc_media(VNVME_SC_WRITE_FAULT);
	case EINVAL:
	case E2BIG:
		return nvme_sc(VNVME_SC_INVALID_FIELD);
	default:
		return nvme_sc(VNVME_SC_INTERNAL);
	}
}
