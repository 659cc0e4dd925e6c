/* SPDX-License-Identifier: MIT */
/* The one place that names NVMe statuses, for the target and the driver. */
#include "util/compiler.h"
#include "util/nvme_status.h"
#include "vnvme/spec.h"

struct sc_name {
	uint8_t sct, sc;
	const char *name;
};

static const struct sc_name names[] = {
    {VNVME_SCT_GENERIC, VNVME_SC_SUCCESS, "Successful Completion"},
    {VNVME_SCT_GENERIC, VNVME_SC_INVALID_OPCODE, "Invalid Command Opcode"},
    {VNVME_SCT_GENERIC, VNVME_SC_INVALID_FIELD, "Invalid Field in Command"},
    {VNVME_SCT_GENERIC, VNVME_SC_CID_CONFLICT, "Command ID Conflict"},
    {VNVME_SCT_GENERIC, VNVME_SC_DATA_XFER_ERROR, "Data Transfer Error"},
    {VNVME_SCT_GENERIC, VNVME_SC_INTERNAL, "Internal Error"},
    {VNVME_SCT_GENERIC, VNVME_SC_ABORT_REQUESTED, "Command Abort Requested"},
    {VNVME_SCT_GENERIC, VNVME_SC_ABORTED_SQ_DELETION, "Command Aborted due to SQ Deletion"},
    {VNVME_SCT_GENERIC, VNVME_SC_INVALID_NS_OR_FORMAT, "Invalid Namespace or Format"},
    {VNVME_SCT_GENERIC, VNVME_SC_CMD_SEQ_ERROR, "Command Sequence Error"},
    {VNVME_SCT_GENERIC, VNVME_SC_INVALID_SGL_SEG_DESC, "Invalid SGL Segment Descriptor"},
    {VNVME_SCT_GENERIC, VNVME_SC_INVALID_NUM_SGL_DESC, "Invalid Number of SGL Descriptors"},
    {VNVME_SCT_GENERIC, VNVME_SC_DATA_SGL_LEN_INVALID, "Data SGL Length Invalid"},
    {VNVME_SCT_GENERIC, VNVME_SC_SGL_DESC_TYPE_INVALID, "SGL Descriptor Type Invalid"},
    {VNVME_SCT_GENERIC, VNVME_SC_PRP_OFFSET_INVALID, "PRP Offset Invalid"},
    {VNVME_SCT_GENERIC, VNVME_SC_SGL_OFFSET_INVALID, "SGL Offset Invalid"},
    {VNVME_SCT_GENERIC, VNVME_SC_LBA_OUT_OF_RANGE, "LBA Out of Range"},
    {VNVME_SCT_GENERIC, VNVME_SC_CAPACITY_EXCEEDED, "Capacity Exceeded"},
    {VNVME_SCT_GENERIC, VNVME_SC_NS_NOT_READY, "Namespace Not Ready"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_CQ_INVALID, "Completion Queue Invalid"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_INVALID_QID, "Invalid Queue Identifier"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_INVALID_QSIZE, "Invalid Queue Size"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_ABORT_LIMIT_EXCEEDED, "Abort Command Limit Exceeded"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_AER_LIMIT_EXCEEDED,
     "Asynchronous Event Request Limit Exceeded"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_INVALID_INTERRUPT_VECTOR, "Invalid Interrupt Vector"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_INVALID_LOG_PAGE, "Invalid Log Page"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_INVALID_FORMAT, "Invalid Format"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_INVALID_QUEUE_DELETION, "Invalid Queue Deletion"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_FEATURE_NOT_SAVEABLE, "Feature Identifier Not Saveable"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_FEATURE_NOT_CHANGEABLE, "Feature Not Changeable"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_FEATURE_NOT_NS_SPECIFIC, "Feature Not Namespace Specific"},
    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_CONFLICTING_ATTRIBUTES, "Conflicting Attributes"},
    {VNVME_SCT_MEDIA, VNVME_SC_WRITE_FAULT, "Write Fault"},
    {VNVME_SCT_MEDIA, VNVME_SC_UNRECOVERED_READ_ERROR, "Unrecovered Read Error"},
    {VNVME_SCT_MEDIA, VNVME_SC_COMPARE_FAILURE, "Compare Failure"},
};

const char *vn_nvme_status_name(uint16_t sf)
{
	vnvme_status s = {sf};
	unsigned sct = vnvme_status_sct(s), sc = vnvme_status_sc(s);

	for (unsigned i = 0; i < VN_ARRAY_SIZE(names); i++)
		if (names[i].sct == sct && names[i].sc == sc)
			return names[i].name;
	return "Unknown Status";
}
