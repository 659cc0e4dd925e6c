/* SPDX-License-Identifier: MIT */
/*
 * The one place that decides Do Not Retry and maps errno to NVMe status
 * (names: vnvme/spec.h).
 */
#include <errno.h>

#include "nvme/priv.h"

/*
 * NVMe Base 2.0c §4.2.3 "Status Field Definition": DNR set means "if the
 * same command is re-submitted to any controller in the NVM subsystem, then
 * that re-submitted command is expected to fail". As QEMU's hw/nvme decides
 * it per status: set for the host's own errors (an invalid field, opcode,
 * namespace, range, queue, a compare that did not match), clear for what a
 * retry may get through: a transfer that met unmapped memory (QEMU unmaps
 * and maps again), an internal error, a media write or read fault, an
 * abort, a namespace or format that is busy.
 */
static bool dnr(unsigned sct, unsigned sc)
{
	switch (sct) {
	case VNVME_SCT_GENERIC:
		switch (sc) {
		case VNVME_SC_SUCCESS:
		case VNVME_SC_DATA_XFER_ERROR:
		case VNVME_SC_ABORTED_POWER_LOSS:
		case VNVME_SC_INTERNAL:
		case VNVME_SC_ABORT_REQUESTED:
		case VNVME_SC_ABORTED_SQ_DELETION:
		case VNVME_SC_ABORTED_PREEMPT_ABORT:
		case VNVME_SC_SANITIZE_IN_PROGRESS:
		case VNVME_SC_CMD_INTERRUPTED:
		case VNVME_SC_TRANSIENT_TRANSPORT_ERROR:
		case VNVME_SC_ADMIN_CMD_MEDIA_NOT_READY:
		case VNVME_SC_NS_NOT_READY:
		case VNVME_SC_FORMAT_IN_PROGRESS:
			return false;
		default:
			return true;
		}
	case VNVME_SCT_MEDIA:
		return sc != VNVME_SC_WRITE_FAULT && sc != VNVME_SC_UNRECOVERED_READ_ERROR;
	default:
		return true; /* command specific: the command itself is wrong */
	}
}

VN_COLD vnvme_status nvme_status(unsigned sct, unsigned sc)
{
	return vnvme_status_make(sct, sc, dnr(sct, sc));
}

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
		/* -EAGAIN and -EBUSY among them: without DNR, a retry may pass. */
		return nvme_sc(VNVME_SC_INTERNAL);
	}
}
