/* SPDX-License-Identifier: MIT */
/*
 * NVMe wire formats: controller registers, queue entries, status codes,
 * opcodes, command dword fields and the admin data structures a controller
 * returns (Identify, log pages).
 *
 * Written from NVMe Base 2.0c and NVM Command Set 1.0c; facts were checked
 * against Linux include/linux/nvme.h, SPDK include/spdk/nvme_spec.h and QEMU
 * include/block/nvme.h. Everything on the wire is little endian and this
 * header assumes a little-endian host, so fields are plain integers.
 *
 * Conventions (STYLE.md "Spec structs"):
 * - fixed-width fields, no bitfields; reserved fields are named by byte offset;
 * - a sub-field F of a register or dword has F_SHIFT and F_MASK, where F_MASK
 *   is the field's width mask *after* shifting down: use VNVME_FIELD_GET and
 *   VNVME_FIELD_PREP; a one-bit field is a plain bit constant instead;
 * - 0's based values (queue sizes, NLB, NUMD, NR) are kept raw in the struct
 *   and named so in the comment; the helpers below say whether they add one.
 */
#ifndef VNVME_SPEC_H
#define VNVME_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "vnvme assumes a little-endian host: NVMe data structures are little endian");

/* Extract or build a sub-field F (F_SHIFT and F_MASK must exist). */
#define VNVME_FIELD_GET(val, F)  (((val) >> F##_SHIFT) & F##_MASK)
#define VNVME_FIELD_PREP(F, val) (((val)&F##_MASK) << F##_SHIFT)

#define VNVME_NSID_ALL 0xffffffffu /* broadcast NSID */

/* ------------------------------------------------------------------------ */
/* Controller registers (BAR0)                                              */
/* ------------------------------------------------------------------------ */

/* NVMe Base 2.0c §3.1.3 "Controller Properties": offsets within BAR0 (PCIe). */
#define VNVME_REG_CAP     0x0000u /* Controller Capabilities, 64 bit */
#define VNVME_REG_VS      0x0008u /* Version */
#define VNVME_REG_INTMS   0x000cu /* Interrupt Mask Set */
#define VNVME_REG_INTMC   0x0010u /* Interrupt Mask Clear */
#define VNVME_REG_CC      0x0014u /* Controller Configuration */
#define VNVME_REG_CSTS    0x001cu /* Controller Status */
#define VNVME_REG_NSSR    0x0020u /* NVM Subsystem Reset */
#define VNVME_REG_AQA     0x0024u /* Admin Queue Attributes */
#define VNVME_REG_ASQ     0x0028u /* Admin SQ Base Address, 64 bit */
#define VNVME_REG_ACQ     0x0030u /* Admin CQ Base Address, 64 bit */
#define VNVME_REG_CMBLOC  0x0038u /* Controller Memory Buffer Location */
#define VNVME_REG_CMBSZ   0x003cu /* Controller Memory Buffer Size */
#define VNVME_REG_BPINFO  0x0040u /* Boot Partition Information */
#define VNVME_REG_BPRSEL  0x0044u /* Boot Partition Read Select */
#define VNVME_REG_BPMBL   0x0048u /* Boot Partition Memory Buffer Location, 64 bit */
#define VNVME_REG_CMBMSC  0x0050u /* CMB Memory Space Control, 64 bit */
#define VNVME_REG_CMBSTS  0x0058u /* CMB Status */
#define VNVME_REG_CMBEBS  0x005cu /* CMB Elasticity Buffer Size */
#define VNVME_REG_CMBSWTP 0x0060u /* CMB Sustained Write Throughput */
#define VNVME_REG_NSSD    0x0064u /* NVM Subsystem Shutdown */
#define VNVME_REG_CRTO    0x0068u /* Controller Ready Timeouts */
#define VNVME_REG_PMRCAP  0x0e00u /* Persistent Memory Region Capabilities */
#define VNVME_REG_PMRCTL  0x0e04u
#define VNVME_REG_PMRSTS  0x0e08u
#define VNVME_REG_PMREBS  0x0e0cu
#define VNVME_REG_PMRSWTP 0x0e10u
#define VNVME_REG_PMRMSCL 0x0e14u
#define VNVME_REG_PMRMSCU 0x0e18u
#define VNVME_REG_DBS     0x1000u /* SQ 0 Tail Doorbell; doorbells follow */

/* Writing this to NSSR ("NVMe" in ASCII) starts an NVM Subsystem Reset. */
#define VNVME_NSSR_RESET 0x4e564d65u

/* CAP, 64 bit. */
#define VNVME_CAP_MQES_SHIFT   0 /* Maximum Queue Entries Supported, 0's based */
#define VNVME_CAP_MQES_MASK    0xffffull
#define VNVME_CAP_CQR          (1ull << 16) /* Contiguous Queues Required */
#define VNVME_CAP_AMS_SHIFT    17           /* Arbitration Mechanism Supported */
#define VNVME_CAP_AMS_MASK     0x3ull
#define VNVME_CAP_AMS_WRRU     0x1u /* weighted round robin with urgent class */
#define VNVME_CAP_AMS_VS       0x2u /* vendor specific */
#define VNVME_CAP_TO_SHIFT     24   /* Timeout, 500 ms units */
#define VNVME_CAP_TO_MASK      0xffull
#define VNVME_CAP_DSTRD_SHIFT  32 /* Doorbell Stride: 4 << DSTRD bytes */
#define VNVME_CAP_DSTRD_MASK   0xfull
#define VNVME_CAP_NSSRS        (1ull << 36) /* NVM Subsystem Reset Supported */
#define VNVME_CAP_CSS_SHIFT    37           /* Command Sets Supported */
#define VNVME_CAP_CSS_MASK     0xffull
#define VNVME_CAP_CSS_NVM      (1u << 0)    /* within CSS: NVM Command Set */
#define VNVME_CAP_CSS_IOCS     (1u << 6)    /* within CSS: one or more I/O Command Sets */
#define VNVME_CAP_CSS_NOIO     (1u << 7)    /* within CSS: no I/O Command Set (admin only) */
#define VNVME_CAP_BPS          (1ull << 45) /* Boot Partition Support */
#define VNVME_CAP_CPS_SHIFT    46           /* Controller Power Scope */
#define VNVME_CAP_CPS_MASK     0x3ull
#define VNVME_CAP_CPS_NONE     0x0u /* not reported */
#define VNVME_CAP_CPS_CTRL     0x1u /* controller scope */
#define VNVME_CAP_CPS_DOMAIN   0x2u /* domain scope */
#define VNVME_CAP_CPS_NSS      0x3u /* NVM subsystem scope */
#define VNVME_CAP_MPSMIN_SHIFT 48   /* Memory Page Size Minimum: 2^(12 + MPSMIN) */
#define VNVME_CAP_MPSMIN_MASK  0xfull
#define VNVME_CAP_MPSMAX_SHIFT 52 /* Memory Page Size Maximum: 2^(12 + MPSMAX) */
#define VNVME_CAP_MPSMAX_MASK  0xfull
#define VNVME_CAP_PMRS         (1ull << 56) /* Persistent Memory Region Supported */
#define VNVME_CAP_CMBS         (1ull << 57) /* Controller Memory Buffer Supported */
#define VNVME_CAP_NSSS         (1ull << 58) /* NVM Subsystem Shutdown Supported */
#define VNVME_CAP_CRMS_SHIFT   59           /* Controller Ready Modes Supported */
#define VNVME_CAP_CRMS_MASK    0x3ull
#define VNVME_CAP_CRMS_CRWMS   (1u << 0) /* within CRMS: Ready With Media */
#define VNVME_CAP_CRMS_CRIMS   (1u << 1) /* within CRMS: Ready Independent of Media */

/* VS: major 31:16, minor 15:8, tertiary 7:0. */
#define VNVME_VS_MJR_SHIFT 16
#define VNVME_VS_MJR_MASK  0xffffu
#define VNVME_VS_MNR_SHIFT 8
#define VNVME_VS_MNR_MASK  0xffu
#define VNVME_VS_TER_SHIFT 0
#define VNVME_VS_TER_MASK  0xffu
#define VNVME_VS(major, minor, tertiary)                                                           \
	((((uint32_t)(major)&VNVME_VS_MJR_MASK) << VNVME_VS_MJR_SHIFT) |                           \
	 (((uint32_t)(minor)&VNVME_VS_MNR_MASK) << VNVME_VS_MNR_SHIFT) |                           \
	 (((uint32_t)(tertiary)&VNVME_VS_TER_MASK) << VNVME_VS_TER_SHIFT))
_Static_assert(VNVME_VS(1, 4, 0) == 0x00010400u, "VS encoding");
_Static_assert(VNVME_VS(2, 0, 3) == 0x00020003u, "VS encoding");

/* CC. */
#define VNVME_CC_EN           (1u << 0) /* Enable */
#define VNVME_CC_CSS_SHIFT    4         /* I/O Command Set Selected */
#define VNVME_CC_CSS_MASK     0x7u
#define VNVME_CC_CSS_NVM      0x0u
#define VNVME_CC_CSS_IOCS     0x6u /* all supported I/O Command Sets */
#define VNVME_CC_CSS_NOIO     0x7u /* Admin Command Set only */
#define VNVME_CC_MPS_SHIFT    7    /* Memory Page Size: 2^(12 + MPS) */
#define VNVME_CC_MPS_MASK     0xfu
#define VNVME_CC_AMS_SHIFT    11 /* Arbitration Mechanism Selected */
#define VNVME_CC_AMS_MASK     0x7u
#define VNVME_CC_AMS_RR       0x0u /* round robin */
#define VNVME_CC_AMS_WRRU     0x1u /* weighted round robin with urgent class */
#define VNVME_CC_AMS_VS       0x7u /* vendor specific */
#define VNVME_CC_SHN_SHIFT    14   /* Shutdown Notification */
#define VNVME_CC_SHN_MASK     0x3u
#define VNVME_CC_SHN_NONE     0x0u
#define VNVME_CC_SHN_NORMAL   0x1u
#define VNVME_CC_SHN_ABRUPT   0x2u
#define VNVME_CC_IOSQES_SHIFT 16 /* I/O SQ Entry Size, log2 bytes */
#define VNVME_CC_IOSQES_MASK  0xfu
#define VNVME_CC_IOCQES_SHIFT 20 /* I/O CQ Entry Size, log2 bytes */
#define VNVME_CC_IOCQES_MASK  0xfu
#define VNVME_CC_CRIME        (1u << 24) /* Controller Ready Independent of Media Enable */

/* CSTS. */
#define VNVME_CSTS_RDY            (1u << 0) /* Ready */
#define VNVME_CSTS_CFS            (1u << 1) /* Controller Fatal Status */
#define VNVME_CSTS_SHST_SHIFT     2         /* Shutdown Status */
#define VNVME_CSTS_SHST_MASK      0x3u
#define VNVME_CSTS_SHST_NORMAL    0x0u      /* normal operation */
#define VNVME_CSTS_SHST_OCCURRING 0x1u      /* shutdown processing occurring */
#define VNVME_CSTS_SHST_COMPLETE  0x2u      /* shutdown processing complete */
#define VNVME_CSTS_NSSRO          (1u << 4) /* NVM Subsystem Reset Occurred (RW1C) */
#define VNVME_CSTS_PP             (1u << 5) /* Processing Paused */
#define VNVME_CSTS_ST             (1u << 6) /* Shutdown Type: 1 = NVM subsystem shutdown */

/* AQA: both sizes are 0's based, 12 bits (at most 4096 entries). */
#define VNVME_AQA_ASQS_SHIFT 0
#define VNVME_AQA_ASQS_MASK  0xfffu
#define VNVME_AQA_ACQS_SHIFT 16
#define VNVME_AQA_ACQS_MASK  0xfffu

/* CMBLOC and CMBSZ. */
#define VNVME_CMBLOC_BIR_SHIFT  0 /* Base Indicator Register */
#define VNVME_CMBLOC_BIR_MASK   0x7u
#define VNVME_CMBLOC_OFST_SHIFT 12 /* Offset, in CMBSZ.SZU units */
#define VNVME_CMBLOC_OFST_MASK  0xfffffu
#define VNVME_CMBSZ_SQS         (1u << 0) /* Submission Queue Support */
#define VNVME_CMBSZ_CQS         (1u << 1) /* Completion Queue Support */
#define VNVME_CMBSZ_LISTS       (1u << 2) /* PRP SGL List Support */
#define VNVME_CMBSZ_RDS         (1u << 3) /* Read Data Support */
#define VNVME_CMBSZ_WDS         (1u << 4) /* Write Data Support */
#define VNVME_CMBSZ_SZU_SHIFT   8         /* Size Units: 4 KiB << (4 * SZU) */
#define VNVME_CMBSZ_SZU_MASK    0xfu
#define VNVME_CMBSZ_SZ_SHIFT    12 /* Size, in SZU units */
#define VNVME_CMBSZ_SZ_MASK     0xfffffu

/* BPINFO. */
#define VNVME_BPINFO_BPSZ_SHIFT 0 /* Boot Partition Size, 128 KiB units */
#define VNVME_BPINFO_BPSZ_MASK  0x7fffu
#define VNVME_BPINFO_BRS_SHIFT  24 /* Boot Read Status */
#define VNVME_BPINFO_BRS_MASK   0x3u
#define VNVME_BPINFO_ABPID      (1u << 31) /* Active Boot Partition ID */

/* CRTO: both timeouts in 500 ms units. */
#define VNVME_CRTO_CRWMT_SHIFT 0 /* Controller Ready With Media Timeout */
#define VNVME_CRTO_CRWMT_MASK  0xffffu
#define VNVME_CRTO_CRIMT_SHIFT 16 /* Controller Ready Independent of Media Timeout */
#define VNVME_CRTO_CRIMT_MASK  0xffffu

/*
 * Doorbells. NVMe over PCIe Transport 1.0c "Controller Registers": SQ y Tail
 * Doorbell at 1000h + (2y * (4 << DSTRD)), CQ y Head Doorbell at
 * 1000h + ((2y + 1) * (4 << DSTRD)). 64-bit results: qid and dstrd come from
 * the peer and the product can exceed 32 bits.
 */
#define VNVME_DB_STRIDE(dstrd) (4u << (dstrd))

static inline uint64_t vnvme_sq_tdbl_off(uint16_t qid, unsigned dstrd)
{
	return VNVME_REG_DBS + (2ull * qid) * ((uint64_t)4 << dstrd);
}

static inline uint64_t vnvme_cq_hdbl_off(uint16_t qid, unsigned dstrd)
{
	return VNVME_REG_DBS + (2ull * qid + 1) * ((uint64_t)4 << dstrd);
}

/* Memory page size from a CC.MPS or CAP.MPSMIN/MPSMAX value. */
static inline uint64_t vnvme_mps_bytes(unsigned mps)
{
	return (uint64_t)1 << (12 + mps);
}

/* ------------------------------------------------------------------------ */
/* Submission and completion queue entries                                  */
/* ------------------------------------------------------------------------ */

#define VNVME_SQES_LOG2      6      /* 64-byte SQE, the value CC.IOSQES takes */
#define VNVME_CQES_LOG2      4      /* 16-byte CQE, the value CC.IOCQES takes */
#define VNVME_ADMIN_Q_MAX    4096u  /* AQA sizes are 12-bit, 0's based */
#define VNVME_IO_Q_MAX       65536u /* CAP.MQES is 16-bit, 0's based */
#define VNVME_QUEUE_MIN_SIZE 2u     /* a queue needs at least two entries */

/*
 * NVMe Base 2.0c "Scatter Gather List (SGL)": one 16-byte descriptor. The
 * last byte is the SGL Identifier: descriptor type in bits 7:4, sub type in
 * bits 3:0. For a Keyed SGL Data Block the length is 3 bytes at 8 and the
 * key 4 bytes at 11; this layout covers every unkeyed descriptor.
 */
struct vnvme_sgl_desc {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd12[3];
	uint8_t type; /* SGL Identifier */
};
_Static_assert(sizeof(struct vnvme_sgl_desc) == 16, "SGL descriptor is 16 bytes");
_Static_assert(offsetof(struct vnvme_sgl_desc, length) == 8, "SGL length");
_Static_assert(offsetof(struct vnvme_sgl_desc, type) == 15, "SGL identifier");

#define VNVME_SGL_TYPE_SHIFT    4
#define VNVME_SGL_TYPE_MASK     0xfu
#define VNVME_SGL_SUBTYPE_SHIFT 0
#define VNVME_SGL_SUBTYPE_MASK  0xfu

enum vnvme_sgl_type {
	VNVME_SGL_TYPE_DATA_BLOCK = 0x0,
	VNVME_SGL_TYPE_BIT_BUCKET = 0x1,
	VNVME_SGL_TYPE_SEGMENT = 0x2,
	VNVME_SGL_TYPE_LAST_SEGMENT = 0x3,
	VNVME_SGL_TYPE_KEYED_DATA_BLOCK = 0x4,
	VNVME_SGL_TYPE_TRANSPORT_DATA_BLOCK = 0x5,
	VNVME_SGL_TYPE_VENDOR = 0xf,
};

enum vnvme_sgl_subtype {
	VNVME_SGL_SUBTYPE_ADDRESS = 0x0,
	VNVME_SGL_SUBTYPE_OFFSET = 0x1,
};

static inline uint8_t vnvme_sgl_id(unsigned type, unsigned subtype)
{
	return (uint8_t)(VNVME_FIELD_PREP(VNVME_SGL_TYPE, type) |
			 VNVME_FIELD_PREP(VNVME_SGL_SUBTYPE, subtype));
}

static inline unsigned vnvme_sgl_type(const struct vnvme_sgl_desc *d)
{
	return VNVME_FIELD_GET((unsigned)d->type, VNVME_SGL_TYPE);
}

static inline unsigned vnvme_sgl_subtype(const struct vnvme_sgl_desc *d)
{
	return VNVME_FIELD_GET((unsigned)d->type, VNVME_SGL_SUBTYPE);
}

/*
 * NVMe Base 2.0c §3.3.3.1 "Submission Queue Entry": the common command
 * format. Command-specific dwords are decoded with the constants further down.
 */
struct vnvme_sqe {
	uint8_t opc;   /* Opcode */
	uint8_t flags; /* FUSE 1:0, PSDT 7:6 */
	uint16_t cid;  /* Command Identifier */
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr; /* Metadata Pointer */
	union {
		struct {
			uint64_t prp1;
			uint64_t prp2;
		};
		struct vnvme_sgl_desc sgl1;
	} dptr; /* Data Pointer */
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
_Static_assert(sizeof(struct vnvme_sqe) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct vnvme_sqe) == 1u << VNVME_SQES_LOG2, "SQE size and SQES agree");
_Static_assert(offsetof(struct vnvme_sqe, cid) == 2, "SQE cid");
_Static_assert(offsetof(struct vnvme_sqe, nsid) == 4, "SQE nsid");
_Static_assert(offsetof(struct vnvme_sqe, mptr) == 16, "SQE mptr");
_Static_assert(offsetof(struct vnvme_sqe, dptr.prp1) == 24, "SQE prp1");
_Static_assert(offsetof(struct vnvme_sqe, dptr.prp2) == 32, "SQE prp2");
_Static_assert(offsetof(struct vnvme_sqe, dptr.sgl1) == 24, "SQE sgl1");
_Static_assert(offsetof(struct vnvme_sqe, cdw10) == 40, "SQE cdw10");
_Static_assert(offsetof(struct vnvme_sqe, cdw15) == 60, "SQE cdw15");

#define VNVME_SQE_FUSE_SHIFT 0 /* Fused Operation */
#define VNVME_SQE_FUSE_MASK  0x3u
#define VNVME_SQE_PSDT_SHIFT 6 /* PRP or SGL for Data Transfer */
#define VNVME_SQE_PSDT_MASK  0x3u

enum vnvme_fuse {
	VNVME_FUSE_NONE = 0x0,
	VNVME_FUSE_FIRST = 0x1,
	VNVME_FUSE_SECOND = 0x2,
};

enum vnvme_psdt {
	VNVME_PSDT_PRP = 0x0,
	VNVME_PSDT_SGL_MPTR_CONTIG = 0x1, /* SGL data; MPTR is one contiguous buffer */
	VNVME_PSDT_SGL_MPTR_SGL = 0x2,    /* SGL data; MPTR points to an SGL segment */
};

static inline unsigned vnvme_sqe_fuse(const struct vnvme_sqe *sqe)
{
	return VNVME_FIELD_GET((unsigned)sqe->flags, VNVME_SQE_FUSE);
}

static inline unsigned vnvme_sqe_psdt(const struct vnvme_sqe *sqe)
{
	return VNVME_FIELD_GET((unsigned)sqe->flags, VNVME_SQE_PSDT);
}

/*
 * NVMe Base 2.0c §3.3.3.2 "Common Completion Queue Entry". The status
 * half-word holds the Phase Tag in bit 0 and the 15-bit Status Field above it.
 */
struct vnvme_cqe {
	uint32_t dw0;    /* command specific result */
	uint32_t dw1;    /* command specific */
	uint16_t sqhd;   /* SQ Head Pointer */
	uint16_t sqid;   /* SQ Identifier */
	uint16_t cid;    /* Command Identifier */
	uint16_t status; /* P bit 0, Status Field bits 15:1 */
};
_Static_assert(sizeof(struct vnvme_cqe) == 16, "CQE is 16 bytes");
_Static_assert(sizeof(struct vnvme_cqe) == 1u << VNVME_CQES_LOG2, "CQE size and CQES agree");
_Static_assert(offsetof(struct vnvme_cqe, sqhd) == 8, "CQE sqhd");
_Static_assert(offsetof(struct vnvme_cqe, cid) == 12, "CQE cid");
_Static_assert(offsetof(struct vnvme_cqe, status) == 14, "CQE status");

/* Bits of vnvme_cqe.status. */
#define VNVME_CQE_P        (1u << 0) /* Phase Tag */
#define VNVME_CQE_SF_SHIFT 1         /* the Status Field starts at bit 1 */
#define VNVME_CQE_SF_MASK  0x7fffu

/*
 * The Status Field (CQE DW3 bits 31:17) with the phase dropped: the value a
 * vnvme_status holds (STYLE.md "Errors"). Bit positions here are relative to
 * the Status Field; in vnvme_cqe.status each is one higher.
 */
#define VNVME_SF_SC_SHIFT  0 /* Status Code */
#define VNVME_SF_SC_MASK   0xffu
#define VNVME_SF_SCT_SHIFT 8 /* Status Code Type */
#define VNVME_SF_SCT_MASK  0x7u
#define VNVME_SF_CRD_SHIFT 11 /* Command Retry Delay: selects CRDT1..3 */
#define VNVME_SF_CRD_MASK  0x3u
#define VNVME_SF_M         (1u << 13) /* More: see the Error Information log */
#define VNVME_SF_DNR       (1u << 14) /* Do Not Retry */

/*
 * An NVMe status, never an errno. A struct so the compiler refuses one where
 * the other belongs. v is the Status Field layout above; 0 means success.
 */
typedef struct {
	uint16_t v;
} vnvme_status;

/* Build a status from its Status Code Type, Status Code and Do Not Retry. */
static inline vnvme_status vnvme_status_make(unsigned sct, unsigned sc, bool dnr)
{
	vnvme_status s = {(uint16_t)(VNVME_FIELD_PREP(VNVME_SF_SCT, sct) |
				     VNVME_FIELD_PREP(VNVME_SF_SC, sc) | (dnr ? VNVME_SF_DNR : 0))};
	return s;
}

static inline bool vnvme_status_ok(vnvme_status s)
{
	return s.v == 0;
}

static inline unsigned vnvme_status_sct(vnvme_status s)
{
	return VNVME_FIELD_GET((unsigned)s.v, VNVME_SF_SCT);
}

static inline unsigned vnvme_status_sc(vnvme_status s)
{
	return VNVME_FIELD_GET((unsigned)s.v, VNVME_SF_SC);
}

static inline bool vnvme_status_dnr(vnvme_status s)
{
	return (s.v & VNVME_SF_DNR) != 0;
}

/* The CQE status half-word for a status and the queue's current phase. */
static inline uint16_t vnvme_cqe_status_word(vnvme_status s, unsigned phase)
{
	return (uint16_t)(((s.v & VNVME_CQE_SF_MASK) << VNVME_CQE_SF_SHIFT) |
			  (phase & VNVME_CQE_P));
}

/* The status of a posted CQE, phase dropped. */
static inline vnvme_status vnvme_cqe_status(const struct vnvme_cqe *cqe)
{
	vnvme_status s = {(uint16_t)VNVME_FIELD_GET((unsigned)cqe->status, VNVME_CQE_SF)};
	return s;
}

static inline unsigned vnvme_cqe_phase(const struct vnvme_cqe *cqe)
{
	return cqe->status & VNVME_CQE_P;
}

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/* NVMe Base 2.0c "Status Field Definition": Status Code Type values. */
enum vnvme_sct {
	VNVME_SCT_GENERIC = 0x0,
	VNVME_SCT_CMD_SPECIFIC = 0x1,
	VNVME_SCT_MEDIA = 0x2, /* Media and Data Integrity Errors */
	VNVME_SCT_PATH = 0x3,
	VNVME_SCT_VENDOR = 0x7,
};

/* Generic Command Status (SCT 0). 80h and up are NVM Command Set specific. */
enum vnvme_sc_generic {
	VNVME_SC_SUCCESS = 0x00,
	VNVME_SC_INVALID_OPCODE = 0x01,
	VNVME_SC_INVALID_FIELD = 0x02,
	VNVME_SC_CID_CONFLICT = 0x03,
	VNVME_SC_DATA_XFER_ERROR = 0x04,
	VNVME_SC_ABORTED_POWER_LOSS = 0x05,
	VNVME_SC_INTERNAL = 0x06,
	VNVME_SC_ABORT_REQUESTED = 0x07,
	VNVME_SC_ABORTED_SQ_DELETION = 0x08,
	VNVME_SC_ABORTED_FAILED_FUSED = 0x09,
	VNVME_SC_ABORTED_MISSING_FUSED = 0x0a,
	VNVME_SC_INVALID_NS_OR_FORMAT = 0x0b,
	VNVME_SC_CMD_SEQ_ERROR = 0x0c,
	VNVME_SC_INVALID_SGL_SEG_DESC = 0x0d,
	VNVME_SC_INVALID_NUM_SGL_DESC = 0x0e,
	VNVME_SC_DATA_SGL_LEN_INVALID = 0x0f,
	VNVME_SC_MD_SGL_LEN_INVALID = 0x10,
	VNVME_SC_SGL_DESC_TYPE_INVALID = 0x11,
	VNVME_SC_INVALID_CMB_USE = 0x12,
	VNVME_SC_PRP_OFFSET_INVALID = 0x13,
	VNVME_SC_ATOMIC_WRITE_UNIT_EXCEEDED = 0x14,
	VNVME_SC_OPERATION_DENIED = 0x15,
	VNVME_SC_SGL_OFFSET_INVALID = 0x16,
	VNVME_SC_HOSTID_INCONSISTENT_FORMAT = 0x18,
	VNVME_SC_KATO_EXPIRED = 0x19,
	VNVME_SC_KATO_INVALID = 0x1a,
	VNVME_SC_ABORTED_PREEMPT_ABORT = 0x1b,
	VNVME_SC_SANITIZE_FAILED = 0x1c,
	VNVME_SC_SANITIZE_IN_PROGRESS = 0x1d,
	VNVME_SC_SGL_DATA_BLOCK_GRANULARITY_INVALID = 0x1e,
	VNVME_SC_CMD_NOT_SUPPORTED_FOR_CMB_QUEUE = 0x1f,
	VNVME_SC_NS_WRITE_PROTECTED = 0x20,
	VNVME_SC_CMD_INTERRUPTED = 0x21,
	VNVME_SC_TRANSIENT_TRANSPORT_ERROR = 0x22,
	VNVME_SC_CMD_PROHIBITED_BY_LOCKDOWN = 0x23,
	VNVME_SC_ADMIN_CMD_MEDIA_NOT_READY = 0x24,

	VNVME_SC_LBA_OUT_OF_RANGE = 0x80,
	VNVME_SC_CAPACITY_EXCEEDED = 0x81,
	VNVME_SC_NS_NOT_READY = 0x82,
	VNVME_SC_RESERVATION_CONFLICT = 0x83,
	VNVME_SC_FORMAT_IN_PROGRESS = 0x84,
};

/* Command Specific Status (SCT 1). 80h and up are NVM Command Set specific. */
enum vnvme_sc_cmd_specific {
	VNVME_SC_CQ_INVALID = 0x00,
	VNVME_SC_INVALID_QID = 0x01,
	VNVME_SC_INVALID_QSIZE = 0x02,
	VNVME_SC_ABORT_LIMIT_EXCEEDED = 0x03,
	VNVME_SC_AER_LIMIT_EXCEEDED = 0x05,
	VNVME_SC_INVALID_FW_SLOT = 0x06,
	VNVME_SC_INVALID_FW_IMAGE = 0x07,
	VNVME_SC_INVALID_INTERRUPT_VECTOR = 0x08,
	VNVME_SC_INVALID_LOG_PAGE = 0x09,
	VNVME_SC_INVALID_FORMAT = 0x0a,
	VNVME_SC_FW_NEEDS_CONV_RESET = 0x0b,
	VNVME_SC_INVALID_QUEUE_DELETION = 0x0c,
	VNVME_SC_FEATURE_NOT_SAVEABLE = 0x0d,
	VNVME_SC_FEATURE_NOT_CHANGEABLE = 0x0e,
	VNVME_SC_FEATURE_NOT_NS_SPECIFIC = 0x0f,
	VNVME_SC_FW_NEEDS_NSSR = 0x10,
	VNVME_SC_FW_NEEDS_RESET = 0x11,
	VNVME_SC_FW_NEEDS_MAX_TIME_VIOLATION = 0x12,
	VNVME_SC_FW_ACTIVATION_PROHIBITED = 0x13,
	VNVME_SC_OVERLAPPING_RANGE = 0x14,
	VNVME_SC_NS_INSUFFICIENT_CAPACITY = 0x15,
	VNVME_SC_NS_ID_UNAVAILABLE = 0x16,
	VNVME_SC_NS_ALREADY_ATTACHED = 0x18,
	VNVME_SC_NS_IS_PRIVATE = 0x19,
	VNVME_SC_NS_NOT_ATTACHED = 0x1a,
	VNVME_SC_THIN_PROVISIONING_NOT_SUPPORTED = 0x1b,
	VNVME_SC_CTRL_LIST_INVALID = 0x1c,
	VNVME_SC_SELF_TEST_IN_PROGRESS = 0x1d,
	VNVME_SC_BOOT_PARTITION_WRITE_PROHIBITED = 0x1e,
	VNVME_SC_INVALID_CTRL_ID = 0x1f,
	VNVME_SC_INVALID_SECONDARY_CTRL_STATE = 0x20,
	VNVME_SC_INVALID_NUM_CTRL_RESOURCES = 0x21,
	VNVME_SC_INVALID_RESOURCE_ID = 0x22,
	VNVME_SC_SANITIZE_PROHIBITED_PMR = 0x23,
	VNVME_SC_ANA_GROUP_ID_INVALID = 0x24,
	VNVME_SC_ANA_ATTACH_FAILED = 0x25,
	VNVME_SC_INSUFFICIENT_CAPACITY = 0x26,
	VNVME_SC_NS_ATTACH_LIMIT_EXCEEDED = 0x27,
	VNVME_SC_PROHIBIT_CMD_EXEC_NOT_SUPPORTED = 0x28,
	VNVME_SC_IOCS_NOT_SUPPORTED = 0x29,
	VNVME_SC_IOCS_NOT_ENABLED = 0x2a,
	VNVME_SC_IOCS_COMBINATION_REJECTED = 0x2b,
	VNVME_SC_INVALID_IOCS = 0x2c,
	VNVME_SC_IDENTIFIER_UNAVAILABLE = 0x2d,

	VNVME_SC_CONFLICTING_ATTRIBUTES = 0x80,
	VNVME_SC_INVALID_PROTECTION_INFO = 0x81,
	VNVME_SC_WRITE_TO_RO_RANGE = 0x82,
	VNVME_SC_CMD_SIZE_LIMIT_EXCEEDED = 0x83,
};

/* Media and Data Integrity Errors (SCT 2), NVM Command Set. */
enum vnvme_sc_media {
	VNVME_SC_WRITE_FAULT = 0x80,
	VNVME_SC_UNRECOVERED_READ_ERROR = 0x81,
	VNVME_SC_GUARD_CHECK_ERROR = 0x82,
	VNVME_SC_APPTAG_CHECK_ERROR = 0x83,
	VNVME_SC_REFTAG_CHECK_ERROR = 0x84,
	VNVME_SC_COMPARE_FAILURE = 0x85,
	VNVME_SC_ACCESS_DENIED = 0x86,
	VNVME_SC_DEALLOCATED_OR_UNWRITTEN = 0x87,
	VNVME_SC_STORAGE_TAG_CHECK_ERROR = 0x88,
};

/* Path Related Status (SCT 3). */
enum vnvme_sc_path {
	VNVME_SC_INTERNAL_PATH_ERROR = 0x00,
	VNVME_SC_ANA_PERSISTENT_LOSS = 0x01,
	VNVME_SC_ANA_INACCESSIBLE = 0x02,
	VNVME_SC_ANA_TRANSITION = 0x03,
	VNVME_SC_CTRL_PATH_ERROR = 0x60,
	VNVME_SC_HOST_PATH_ERROR = 0x70,
	VNVME_SC_ABORTED_BY_HOST = 0x71,
};

/*
 * The specification's name of a Status Field value (SCT and SC; DNR, More
 * and CRD ignored), or "Unknown Status": the one table of status names, for
 * the controller's logs (nvme/status.c) and the driver (vnvme_status_name).
 */
static inline const char *vnvme_spec_status_name(uint16_t sf)
{
	static const struct {
		uint8_t sct, sc;
		const char *name;
	} names[] = {
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
	    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_FEATURE_NOT_SAVEABLE,
	     "Feature Identifier Not Saveable"},
	    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_FEATURE_NOT_CHANGEABLE, "Feature Not Changeable"},
	    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_FEATURE_NOT_NS_SPECIFIC,
	     "Feature Not Namespace Specific"},
	    {VNVME_SCT_CMD_SPECIFIC, VNVME_SC_CONFLICTING_ATTRIBUTES, "Conflicting Attributes"},
	    {VNVME_SCT_MEDIA, VNVME_SC_WRITE_FAULT, "Write Fault"},
	    {VNVME_SCT_MEDIA, VNVME_SC_UNRECOVERED_READ_ERROR, "Unrecovered Read Error"},
	    {VNVME_SCT_MEDIA, VNVME_SC_COMPARE_FAILURE, "Compare Failure"},
	};
	vnvme_status s = {sf};
	unsigned sct = vnvme_status_sct(s), sc = vnvme_status_sc(s);

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sct == sct && names[i].sc == sc)
			return names[i].name;
	return "Unknown Status";
}

/* ------------------------------------------------------------------------ */
/* Opcodes                                                                  */
/* ------------------------------------------------------------------------ */

/* NVMe Base 2.0c "Admin Command Set" opcodes. */
enum vnvme_admin_opc {
	VNVME_ADM_DELETE_SQ = 0x00,
	VNVME_ADM_CREATE_SQ = 0x01,
	VNVME_ADM_GET_LOG_PAGE = 0x02,
	VNVME_ADM_DELETE_CQ = 0x04,
	VNVME_ADM_CREATE_CQ = 0x05,
	VNVME_ADM_IDENTIFY = 0x06,
	VNVME_ADM_ABORT = 0x08,
	VNVME_ADM_SET_FEATURES = 0x09,
	VNVME_ADM_GET_FEATURES = 0x0a,
	VNVME_ADM_ASYNC_EVENT_REQ = 0x0c,
	VNVME_ADM_NS_MGMT = 0x0d,
	VNVME_ADM_FW_COMMIT = 0x10,
	VNVME_ADM_FW_DOWNLOAD = 0x11,
	VNVME_ADM_DEV_SELF_TEST = 0x14,
	VNVME_ADM_NS_ATTACH = 0x15,
	VNVME_ADM_KEEP_ALIVE = 0x18,
	VNVME_ADM_DIRECTIVE_SEND = 0x19,
	VNVME_ADM_DIRECTIVE_RECV = 0x1a,
	VNVME_ADM_VIRT_MGMT = 0x1c,
	VNVME_ADM_NVME_MI_SEND = 0x1d,
	VNVME_ADM_NVME_MI_RECV = 0x1e,
	VNVME_ADM_CAPACITY_MGMT = 0x20,
	VNVME_ADM_LOCKDOWN = 0x24,
	VNVME_ADM_DBBUF_CONFIG = 0x7c,
	VNVME_ADM_FABRICS = 0x7f,
	VNVME_ADM_FORMAT_NVM = 0x80,
	VNVME_ADM_SECURITY_SEND = 0x81,
	VNVME_ADM_SECURITY_RECV = 0x82,
	VNVME_ADM_SANITIZE = 0x84,
	VNVME_ADM_GET_LBA_STATUS = 0x86,
	VNVME_ADM_VENDOR_START = 0xc0,
};

/* NVM Command Set 1.0c "I/O Commands for the NVM Command Set" opcodes. */
enum vnvme_nvm_opc {
	VNVME_NVM_FLUSH = 0x00,
	VNVME_NVM_WRITE = 0x01,
	VNVME_NVM_READ = 0x02,
	VNVME_NVM_WRITE_UNCOR = 0x04,
	VNVME_NVM_COMPARE = 0x05,
	VNVME_NVM_WRITE_ZEROES = 0x08,
	VNVME_NVM_DSM = 0x09,
	VNVME_NVM_VERIFY = 0x0c,
	VNVME_NVM_RESV_REGISTER = 0x0d,
	VNVME_NVM_RESV_REPORT = 0x0e,
	VNVME_NVM_RESV_ACQUIRE = 0x11,
	VNVME_NVM_RESV_RELEASE = 0x15,
	VNVME_NVM_COPY = 0x19,
	VNVME_NVM_VENDOR_START = 0x80,
};

/* Opcode bits 1:0 give the data transfer direction of every standard opcode. */
#define VNVME_OPC_XFER_SHIFT 0
#define VNVME_OPC_XFER_MASK  0x3u
enum vnvme_xfer {
	VNVME_XFER_NONE = 0x0,
	VNVME_XFER_H2C = 0x1, /* host to controller (e.g. Write) */
	VNVME_XFER_C2H = 0x2, /* controller to host (e.g. Read) */
	VNVME_XFER_BIDIR = 0x3,
};

static inline unsigned vnvme_opc_xfer(uint8_t opc)
{
	return VNVME_FIELD_GET((unsigned)opc, VNVME_OPC_XFER);
}

/* ------------------------------------------------------------------------ */
/* Admin command dwords                                                     */
/* ------------------------------------------------------------------------ */

/* Create I/O Completion Queue: PRP1 is the queue base. */
#define VNVME_CREATE_Q_QID_SHIFT   0 /* cdw10: Queue Identifier */
#define VNVME_CREATE_Q_QID_MASK    0xffffu
#define VNVME_CREATE_Q_QSIZE_SHIFT 16 /* cdw10: Queue Size, 0's based */
#define VNVME_CREATE_Q_QSIZE_MASK  0xffffu
#define VNVME_CREATE_Q_PC          (1u << 0) /* cdw11: Physically Contiguous (SQ and CQ) */
#define VNVME_CREATE_CQ_IEN        (1u << 1) /* cdw11: Interrupts Enabled */
#define VNVME_CREATE_CQ_IV_SHIFT   16        /* cdw11: Interrupt Vector */
#define VNVME_CREATE_CQ_IV_MASK    0xffffu

/* Create I/O Submission Queue: PRP1 is the queue base. */
#define VNVME_CREATE_SQ_QPRIO_SHIFT    1 /* cdw11: Queue Priority (WRR only) */
#define VNVME_CREATE_SQ_QPRIO_MASK     0x3u
#define VNVME_CREATE_SQ_CQID_SHIFT     16 /* cdw11: Completion Queue Identifier */
#define VNVME_CREATE_SQ_CQID_MASK      0xffffu
#define VNVME_CREATE_SQ_NVMSETID_SHIFT 0 /* cdw12: NVM Set Identifier */
#define VNVME_CREATE_SQ_NVMSETID_MASK  0xffffu

enum vnvme_qprio {
	VNVME_QPRIO_URGENT = 0x0,
	VNVME_QPRIO_HIGH = 0x1,
	VNVME_QPRIO_MEDIUM = 0x2,
	VNVME_QPRIO_LOW = 0x3,
};

/* Delete I/O Submission/Completion Queue. */
#define VNVME_DELETE_Q_QID_SHIFT 0 /* cdw10: Queue Identifier */
#define VNVME_DELETE_Q_QID_MASK  0xffffu

/* Identify. */
#define VNVME_IDENTIFY_CNS_SHIFT    0 /* cdw10: Controller or Namespace Structure */
#define VNVME_IDENTIFY_CNS_MASK     0xffu
#define VNVME_IDENTIFY_CNTID_SHIFT  16 /* cdw10: Controller Identifier */
#define VNVME_IDENTIFY_CNTID_MASK   0xffffu
#define VNVME_IDENTIFY_CNSSID_SHIFT 0 /* cdw11: CNS Specific Identifier */
#define VNVME_IDENTIFY_CNSSID_MASK  0xffffu
#define VNVME_IDENTIFY_CSI_SHIFT    24 /* cdw11: Command Set Identifier */
#define VNVME_IDENTIFY_CSI_MASK     0xffu
#define VNVME_IDENTIFY_UUID_SHIFT   0 /* cdw14: UUID Index */
#define VNVME_IDENTIFY_UUID_MASK    0x7fu
#define VNVME_IDENTIFY_DATA_SIZE    4096u /* every Identify data structure */

/* NVMe Base 2.0c "Identify command": CNS values. */
enum vnvme_cns {
	VNVME_CNS_NS = 0x00,                 /* Identify Namespace (NVM Command Set) */
	VNVME_CNS_CTRL = 0x01,               /* Identify Controller */
	VNVME_CNS_ACTIVE_NS_LIST = 0x02,     /* active NSIDs greater than NSID */
	VNVME_CNS_NS_DESC_LIST = 0x03,       /* Namespace Identification Descriptor list */
	VNVME_CNS_NVMSET_LIST = 0x04,        /* NVM Set list */
	VNVME_CNS_CSI_NS = 0x05,             /* I/O Command Set specific Identify Namespace */
	VNVME_CNS_CSI_CTRL = 0x06,           /* I/O Command Set specific Identify Controller */
	VNVME_CNS_CSI_ACTIVE_NS_LIST = 0x07, /* active NSIDs of one I/O Command Set */
	VNVME_CNS_CS_INDEP_NS = 0x08,        /* I/O Command Set Independent Identify Namespace */
	VNVME_CNS_ALLOC_NS_LIST = 0x10,      /* allocated NSIDs greater than NSID */
	VNVME_CNS_ALLOC_NS = 0x11,           /* Identify Namespace of an allocated NSID */
	VNVME_CNS_NS_CTRL_LIST = 0x12,       /* controllers attached to NSID */
	VNVME_CNS_CTRL_LIST = 0x13,          /* controllers in the NVM subsystem */
	VNVME_CNS_PRIMARY_CTRL_CAPS = 0x14,
	VNVME_CNS_SECONDARY_CTRL_LIST = 0x15,
	VNVME_CNS_NS_GRANULARITY_LIST = 0x16,
	VNVME_CNS_UUID_LIST = 0x17,
	VNVME_CNS_DOMAIN_LIST = 0x18,
	VNVME_CNS_ENDGRP_LIST = 0x19,
	VNVME_CNS_CSI_ALLOC_NS_LIST = 0x1a,
	VNVME_CNS_CSI_ALLOC_NS = 0x1b,
	VNVME_CNS_IOCS = 0x1c,              /* Identify I/O Command Set data structure */
	VNVME_CNS_CS_INDEP_ALLOC_NS = 0x1f, /* I/O Command Set Independent, allocated NSID */
};

/* Command Set Identifier (Identify cdw11.CSI, NS descriptor type 4). */
enum vnvme_csi {
	VNVME_CSI_NVM = 0x00,
	VNVME_CSI_KV = 0x01,
	VNVME_CSI_ZNS = 0x02,
};

/* Get Log Page. The byte count is (NUMDU:NUMDL + 1) dwords. */
#define VNVME_GET_LOG_LID_SHIFT   0 /* cdw10: Log Page Identifier */
#define VNVME_GET_LOG_LID_MASK    0xffu
#define VNVME_GET_LOG_LSP_SHIFT   8 /* cdw10: Log Specific Parameter */
#define VNVME_GET_LOG_LSP_MASK    0x7fu
#define VNVME_GET_LOG_RAE         (1u << 15) /* cdw10: Retain Asynchronous Event */
#define VNVME_GET_LOG_NUMDL_SHIFT 16         /* cdw10: Number of Dwords Lower, 0's based */
#define VNVME_GET_LOG_NUMDL_MASK  0xffffu
#define VNVME_GET_LOG_NUMDU_SHIFT 0 /* cdw11: Number of Dwords Upper */
#define VNVME_GET_LOG_NUMDU_MASK  0xffffu
#define VNVME_GET_LOG_LSI_SHIFT   16 /* cdw11: Log Specific Identifier */
#define VNVME_GET_LOG_LSI_MASK    0xffffu
/* cdw12 is LPOL, cdw13 LPOU: the byte offset into the log (dword aligned). */
#define VNVME_GET_LOG_UUID_SHIFT 0 /* cdw14: UUID Index */
#define VNVME_GET_LOG_UUID_MASK  0x7fu
#define VNVME_GET_LOG_OT         (1u << 23) /* cdw14: Offset Type: LPO is an index */
#define VNVME_GET_LOG_CSI_SHIFT  24         /* cdw14: Command Set Identifier */
#define VNVME_GET_LOG_CSI_MASK   0xffu

/* NVMe Base 2.0c "Get Log Page command": Log Page Identifiers. */
enum vnvme_lid {
	VNVME_LID_SUPPORTED_LOGS = 0x00,
	VNVME_LID_ERROR = 0x01,
	VNVME_LID_SMART = 0x02,
	VNVME_LID_FW_SLOT = 0x03,
	VNVME_LID_CHANGED_NS_LIST = 0x04,
	VNVME_LID_CMD_EFFECTS = 0x05,
	VNVME_LID_DEV_SELF_TEST = 0x06,
	VNVME_LID_TELEMETRY_HOST = 0x07,
	VNVME_LID_TELEMETRY_CTRL = 0x08,
	VNVME_LID_ENDGRP_INFO = 0x09,
	VNVME_LID_PLM_PER_NVMSET = 0x0a,
	VNVME_LID_PLM_EVENT_AGG = 0x0b,
	VNVME_LID_ANA = 0x0c,
	VNVME_LID_PERSISTENT_EVENT = 0x0d,
	VNVME_LID_ENDGRP_EVENT_AGG = 0x0f,
	VNVME_LID_MEDIA_UNIT_STATUS = 0x10,
	VNVME_LID_CAPACITY_CONFIG_LIST = 0x11,
	VNVME_LID_FEATURE_EFFECTS = 0x12,
	VNVME_LID_NVME_MI_EFFECTS = 0x13,
	VNVME_LID_CMD_FEATURE_LOCKDOWN = 0x14,
	VNVME_LID_BOOT_PARTITION = 0x15,
	VNVME_LID_ROTATIONAL_MEDIA = 0x16,
	VNVME_LID_DISCOVERY = 0x70,
	VNVME_LID_RESV_NOTIFICATION = 0x80,
	VNVME_LID_SANITIZE_STATUS = 0x81,
	VNVME_LID_VENDOR_START = 0xc0,
};

#define VNVME_CHANGED_NS_LIST_MAX 1024u /* entries in the Changed Namespace List log */

/* Get Features / Set Features. */
#define VNVME_FEAT_FID_SHIFT  0 /* cdw10: Feature Identifier */
#define VNVME_FEAT_FID_MASK   0xffu
#define VNVME_FEAT_SEL_SHIFT  8 /* cdw10 (Get): Select */
#define VNVME_FEAT_SEL_MASK   0x7u
#define VNVME_FEAT_SV         (1u << 31) /* cdw10 (Set): Save */
#define VNVME_FEAT_UUID_SHIFT 0          /* cdw14: UUID Index */
#define VNVME_FEAT_UUID_MASK  0x7fu

enum vnvme_feat_sel {
	VNVME_FEAT_SEL_CURRENT = 0x0,
	VNVME_FEAT_SEL_DEFAULT = 0x1,
	VNVME_FEAT_SEL_SAVED = 0x2,
	VNVME_FEAT_SEL_SUPPORTED = 0x3, /* dw0 returns the capability bits below */
};

/* Get Features with SEL = supported capabilities: bits of dw0. */
#define VNVME_FEAT_CAP_SAVEABLE    (1u << 0)
#define VNVME_FEAT_CAP_NS_SPECIFIC (1u << 1)
#define VNVME_FEAT_CAP_CHANGEABLE  (1u << 2)

/* NVMe Base 2.0c §5.27 "Set Features command": Feature Identifiers. */
enum vnvme_fid {
	VNVME_FID_ARBITRATION = 0x01,
	VNVME_FID_POWER_MGMT = 0x02,
	VNVME_FID_LBA_RANGE_TYPE = 0x03,
	VNVME_FID_TEMP_THRESHOLD = 0x04,
	VNVME_FID_ERROR_RECOVERY = 0x05,
	VNVME_FID_VOLATILE_WC = 0x06,
	VNVME_FID_NUM_QUEUES = 0x07,
	VNVME_FID_IRQ_COALESCING = 0x08,
	VNVME_FID_IRQ_VECTOR_CONFIG = 0x09,
	VNVME_FID_WRITE_ATOMICITY = 0x0a,
	VNVME_FID_ASYNC_EVENT_CONFIG = 0x0b,
	VNVME_FID_APST = 0x0c, /* Autonomous Power State Transition */
	VNVME_FID_HOST_MEM_BUF = 0x0d,
	VNVME_FID_TIMESTAMP = 0x0e,
	VNVME_FID_KATO = 0x0f,  /* Keep Alive Timer */
	VNVME_FID_HCTM = 0x10,  /* Host Controlled Thermal Management */
	VNVME_FID_NOPSC = 0x11, /* Non-Operational Power State Config */
	VNVME_FID_RRL_CONFIG = 0x12,
	VNVME_FID_PLM_CONFIG = 0x13,
	VNVME_FID_PLM_WINDOW = 0x14,
	VNVME_FID_LBA_STATUS_ATTR = 0x15,
	VNVME_FID_HOST_BEHAVIOR = 0x16,
	VNVME_FID_SANITIZE_CONFIG = 0x17,
	VNVME_FID_ENDGRP_EVENT_CONFIG = 0x18,
	VNVME_FID_IOCS_PROFILE = 0x19,
	VNVME_FID_SPINUP_CONTROL = 0x1a,
	VNVME_FID_ENH_CTRL_METADATA = 0x7d,
	VNVME_FID_CTRL_METADATA = 0x7e,
	VNVME_FID_NS_METADATA = 0x7f,
	VNVME_FID_SW_PROGRESS_MARKER = 0x80,
	VNVME_FID_HOST_ID = 0x81,
	VNVME_FID_RESV_NOTIFICATION_MASK = 0x82,
	VNVME_FID_RESV_PERSISTENCE = 0x83,
	VNVME_FID_NS_WRITE_PROTECT = 0x84,
	VNVME_FID_VENDOR_START = 0xc0,
};

/* Feature values (cdw11 of Set Features, dw0 of Get Features). */
#define VNVME_FEAT_ARB_AB_SHIFT   0 /* Arbitration Burst, log2; 7 = no limit */
#define VNVME_FEAT_ARB_AB_MASK    0x7u
#define VNVME_FEAT_ARB_LPW_SHIFT  8 /* Low Priority Weight, 0's based */
#define VNVME_FEAT_ARB_LPW_MASK   0xffu
#define VNVME_FEAT_ARB_MPW_SHIFT  16 /* Medium Priority Weight */
#define VNVME_FEAT_ARB_MPW_MASK   0xffu
#define VNVME_FEAT_ARB_HPW_SHIFT  24 /* High Priority Weight */
#define VNVME_FEAT_ARB_HPW_MASK   0xffu
#define VNVME_FEAT_PM_PS_SHIFT    0 /* Power State */
#define VNVME_FEAT_PM_PS_MASK     0x1fu
#define VNVME_FEAT_PM_WH_SHIFT    5 /* Workload Hint */
#define VNVME_FEAT_PM_WH_MASK     0x7u
#define VNVME_FEAT_TMPTH_SHIFT    0 /* Temperature Threshold, kelvin */
#define VNVME_FEAT_TMPTH_MASK     0xffffu
#define VNVME_FEAT_TMPSEL_SHIFT   16 /* Threshold Temperature Select */
#define VNVME_FEAT_TMPSEL_MASK    0xfu
#define VNVME_FEAT_THSEL_SHIFT    20 /* Threshold Type Select: 0 over, 1 under */
#define VNVME_FEAT_THSEL_MASK     0x3u
#define VNVME_FEAT_ERR_TLER_SHIFT 0 /* Time Limited Error Recovery, 100 ms units */
#define VNVME_FEAT_ERR_TLER_MASK  0xffffu
#define VNVME_FEAT_ERR_DULBE      (1u << 16) /* Deallocated or Unwritten Block Error */
#define VNVME_FEAT_VWC_WCE        (1u << 0)  /* Volatile Write Cache Enable */
#define VNVME_FEAT_NQ_NSQ_SHIFT   0          /* Number of I/O SQs, 0's based */
#define VNVME_FEAT_NQ_NSQ_MASK    0xffffu
#define VNVME_FEAT_NQ_NCQ_SHIFT   16 /* Number of I/O CQs, 0's based */
#define VNVME_FEAT_NQ_NCQ_MASK    0xffffu
#define VNVME_FEAT_IC_THR_SHIFT   0 /* Aggregation Threshold, 0's based */
#define VNVME_FEAT_IC_THR_MASK    0xffu
#define VNVME_FEAT_IC_TIME_SHIFT  8 /* Aggregation Time, 100 us units */
#define VNVME_FEAT_IC_TIME_MASK   0xffu
#define VNVME_FEAT_IVC_IV_SHIFT   0 /* Interrupt Vector */
#define VNVME_FEAT_IVC_IV_MASK    0xffffu
#define VNVME_FEAT_IVC_CD         (1u << 16) /* Coalescing Disable */
#define VNVME_FEAT_WA_DN          (1u << 0)  /* Write Atomicity: Disable Normal */
#define VNVME_FEAT_APST_APSTE     (1u << 0)  /* APST Enable */
#define VNVME_FEAT_HMB_EHM        (1u << 0)  /* Enable Host Memory */
#define VNVME_FEAT_HMB_MR         (1u << 1)  /* Memory Return */
#define VNVME_FEAT_HOST_ID_EXHID  (1u << 0)  /* Enable Extended (128-bit) Host Identifier */
/* Asynchronous Event Configuration: bits 7:0 enable SMART critical warnings
 * (VNVME_SMART_CW_*); the notice enables sit at the VNVME_OAES_* positions. */
#define VNVME_FEAT_AEC_SMART_SHIFT 0
#define VNVME_FEAT_AEC_SMART_MASK  0xffu
#define VNVME_FEAT_AEC_TELEMETRY   (1u << 10) /* Telemetry Log Notices */

/* Abort. dw0 bit 0 of the completion: 0 = aborted, 1 = not aborted. */
#define VNVME_ABORT_SQID_SHIFT      0 /* cdw10: Submission Queue Identifier */
#define VNVME_ABORT_SQID_MASK       0xffffu
#define VNVME_ABORT_CID_SHIFT       16 /* cdw10: Command Identifier */
#define VNVME_ABORT_CID_MASK        0xffffu
#define VNVME_ABORT_DW0_NOT_ABORTED (1u << 0)

/*
 * NVMe Base 2.0c §5.2 "Asynchronous Event Request command": the completion's
 * dw0 carries type 2:0, information 15:8 and the log page to read 23:16.
 */
#define VNVME_AER_TYPE_SHIFT 0
#define VNVME_AER_TYPE_MASK  0x7u
#define VNVME_AER_INFO_SHIFT 8
#define VNVME_AER_INFO_MASK  0xffu
#define VNVME_AER_LID_SHIFT  16
#define VNVME_AER_LID_MASK   0xffu

enum vnvme_aer_type {
	VNVME_AER_TYPE_ERROR = 0x0,
	VNVME_AER_TYPE_SMART = 0x1,
	VNVME_AER_TYPE_NOTICE = 0x2,
	VNVME_AER_TYPE_IO_CMD_SPECIFIC = 0x6,
	VNVME_AER_TYPE_VENDOR = 0x7,
};

enum vnvme_aer_info_error {
	VNVME_AER_ERR_INVALID_DB_REG = 0x00, /* write to an invalid doorbell register */
	VNVME_AER_ERR_INVALID_DB_VALUE = 0x01,
	VNVME_AER_ERR_DIAG_FAILURE = 0x02,
	VNVME_AER_ERR_PERSISTENT_INTERNAL = 0x03,
	VNVME_AER_ERR_TRANSIENT_INTERNAL = 0x04,
	VNVME_AER_ERR_FW_IMAGE_LOAD = 0x05,
};

enum vnvme_aer_info_smart {
	VNVME_AER_SMART_RELIABILITY = 0x00,
	VNVME_AER_SMART_TEMP_THRESHOLD = 0x01,
	VNVME_AER_SMART_SPARE_BELOW_THRESHOLD = 0x02,
};

enum vnvme_aer_info_notice {
	VNVME_AER_NOTICE_NS_ATTR_CHANGED = 0x00,
	VNVME_AER_NOTICE_FW_ACTIVATION_STARTING = 0x01,
	VNVME_AER_NOTICE_TELEMETRY_CHANGED = 0x02,
	VNVME_AER_NOTICE_ANA_CHANGE = 0x03,
	VNVME_AER_NOTICE_PLEA_CHANGED = 0x04,
	VNVME_AER_NOTICE_LBA_STATUS_ALERT = 0x05,
	VNVME_AER_NOTICE_EGEA_CHANGED = 0x06,
	VNVME_AER_NOTICE_DISCOVERY_CHANGED = 0xf0,
};

enum vnvme_aer_info_io {
	VNVME_AER_IO_RESV_LOG_AVAILABLE = 0x00,
	VNVME_AER_IO_SANITIZE_COMPLETED = 0x01,
	VNVME_AER_IO_SANITIZE_COMPLETED_UNEXPECTED_DEALLOC = 0x02,
};

/* Firmware Commit cdw10. */
#define VNVME_FW_COMMIT_FS_SHIFT 0 /* Firmware Slot */
#define VNVME_FW_COMMIT_FS_MASK  0x7u
#define VNVME_FW_COMMIT_CA_SHIFT 3 /* Commit Action */
#define VNVME_FW_COMMIT_CA_MASK  0x7u
#define VNVME_FW_COMMIT_BPID     (1u << 31) /* Boot Partition ID */

/* Format NVM cdw10. The LBA format index is LBAFU:LBAFL. */
#define VNVME_FORMAT_LBAFL_SHIFT 0 /* LBA Format, low 4 bits */
#define VNVME_FORMAT_LBAFL_MASK  0xfu
#define VNVME_FORMAT_MSET        (1u << 4) /* Metadata Settings: 1 = extended LBA */
#define VNVME_FORMAT_PI_SHIFT    5         /* Protection Information type */
#define VNVME_FORMAT_PI_MASK     0x7u
#define VNVME_FORMAT_PIL         (1u << 8) /* Protection Information Location: 1 = first */
#define VNVME_FORMAT_SES_SHIFT   9         /* Secure Erase Settings */
#define VNVME_FORMAT_SES_MASK    0x7u
#define VNVME_FORMAT_LBAFU_SHIFT 12 /* LBA Format, high 2 bits */
#define VNVME_FORMAT_LBAFU_MASK  0x3u

enum vnvme_format_ses {
	VNVME_FORMAT_SES_NONE = 0x0,
	VNVME_FORMAT_SES_USER_DATA = 0x1,
	VNVME_FORMAT_SES_CRYPTO = 0x2,
};

/*
 * Doorbell Buffer Config: PRP1 is the page of shadow doorbells the host
 * writes instead of BAR0, PRP2 the page of EventIdx values the controller
 * writes; both are memory-page aligned and laid out like the doorbells
 * (offset 0 for SQ 0 tail, stride 4 << CAP.DSTRD).
 */

/* ------------------------------------------------------------------------ */
/* NVM command set dwords                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Read, Write, Compare, Write Zeroes, Verify, Write Uncorrectable: SLBA is
 * cdw11:cdw10. cdw12 below; cdw13 holds DSM 7:0 and DSPEC 31:16; cdw14 the
 * reference tag; cdw15 LBAT 15:0 and LBATM 31:16.
 */
#define VNVME_RW_NLB_SHIFT    0 /* cdw12: Number of Logical Blocks, 0's based */
#define VNVME_RW_NLB_MASK     0xffffu
#define VNVME_RW_DTYPE_SHIFT  20 /* cdw12: Directive Type */
#define VNVME_RW_DTYPE_MASK   0xfu
#define VNVME_RW_STC          (1u << 24) /* cdw12: Storage Tag Check */
#define VNVME_WZ_DEAC         (1u << 25) /* cdw12 (Write Zeroes): Deallocate */
#define VNVME_RW_PRINFO_SHIFT 26         /* cdw12: Protection Information Field */
#define VNVME_RW_PRINFO_MASK  0xfu
#define VNVME_RW_PRCHK_REF    (1u << 26) /* check the reference tag */
#define VNVME_RW_PRCHK_APP    (1u << 27) /* check the application tag */
#define VNVME_RW_PRCHK_GUARD  (1u << 28) /* check the guard */
#define VNVME_RW_PRACT        (1u << 29) /* Protection Information Action */
#define VNVME_RW_FUA          (1u << 30) /* Force Unit Access */
#define VNVME_RW_LR           (1u << 31) /* Limited Retry */
#define VNVME_RW_DSM_SHIFT    0          /* cdw13: Dataset Management hints */
#define VNVME_RW_DSM_MASK     0xffu
#define VNVME_RW_DSPEC_SHIFT  16 /* cdw13: Directive Specific */
#define VNVME_RW_DSPEC_MASK   0xffffu

/* Dataset Management: the data buffer holds NR + 1 struct vnvme_dsm_range. */
#define VNVME_DSM_NR_SHIFT   0 /* cdw10: Number of Ranges, 0's based */
#define VNVME_DSM_NR_MASK    0xffu
#define VNVME_DSM_IDR        (1u << 0) /* cdw11: Integral Dataset for Read */
#define VNVME_DSM_IDW        (1u << 1) /* cdw11: Integral Dataset for Write */
#define VNVME_DSM_AD         (1u << 2) /* cdw11: Deallocate */
#define VNVME_DSM_MAX_RANGES 256u

/* NVM Command Set 1.0c "Dataset Management command": one range. */
struct vnvme_dsm_range {
	uint32_t cattr; /* Context Attributes */
	uint32_t nlb;   /* Length in logical blocks (not 0's based) */
	uint64_t slba;  /* Starting LBA */
};
_Static_assert(sizeof(struct vnvme_dsm_range) == 16, "DSM range is 16 bytes");
_Static_assert(offsetof(struct vnvme_dsm_range, nlb) == 4, "DSM range nlb");
_Static_assert(offsetof(struct vnvme_dsm_range, slba) == 8, "DSM range slba");

/* Starting LBA of an LBA-addressed NVM command. */
static inline uint64_t vnvme_sqe_slba(const struct vnvme_sqe *sqe)
{
	return (uint64_t)sqe->cdw11 << 32 | sqe->cdw10;
}

/* Number of logical blocks of a Read/Write-style command: NLB + 1. */
static inline uint32_t vnvme_sqe_nlb(const struct vnvme_sqe *sqe)
{
	return VNVME_FIELD_GET(sqe->cdw12, VNVME_RW_NLB) + 1;
}

/* Number of dwords a Get Log Page asks for: NUMDU:NUMDL + 1 (up to 2^32). */
static inline uint64_t vnvme_get_log_numd(const struct vnvme_sqe *sqe)
{
	uint32_t numd = VNVME_FIELD_GET(sqe->cdw11, VNVME_GET_LOG_NUMDU) << 16 |
			VNVME_FIELD_GET(sqe->cdw10, VNVME_GET_LOG_NUMDL);
	return (uint64_t)numd + 1;
}

/* Log Page Offset of a Get Log Page: LPOU:LPOL. */
static inline uint64_t vnvme_get_log_lpo(const struct vnvme_sqe *sqe)
{
	return (uint64_t)sqe->cdw13 << 32 | sqe->cdw12;
}

/* Queue size of a Create I/O SQ/CQ: QSIZE + 1 entries. */
static inline uint32_t vnvme_create_q_size(const struct vnvme_sqe *sqe)
{
	return VNVME_FIELD_GET(sqe->cdw10, VNVME_CREATE_Q_QSIZE) + 1;
}

/* ------------------------------------------------------------------------ */
/* Identify Controller                                                      */
/* ------------------------------------------------------------------------ */

/* NVMe Base 2.0c "Identify Controller data structure": one power state. */
struct vnvme_psd {
	uint16_t mp; /* Maximum Power, centiwatts (or MXPS scale) */
	uint8_t rsvd2;
	uint8_t flags;  /* MXPS bit 0, NOPS bit 1 */
	uint32_t enlat; /* Entry Latency, microseconds */
	uint32_t exlat; /* Exit Latency, microseconds */
	uint8_t rrt;    /* Relative Read Throughput, 4:0 */
	uint8_t rrl;    /* Relative Read Latency, 4:0 */
	uint8_t rwt;    /* Relative Write Throughput, 4:0 */
	uint8_t rwl;    /* Relative Write Latency, 4:0 */
	uint16_t idlp;  /* Idle Power */
	uint8_t ips;    /* Idle Power Scale, 7:6 */
	uint8_t rsvd19;
	uint16_t actp;   /* Active Power */
	uint8_t apw_aps; /* Active Power Workload 2:0, Active Power Scale 7:6 */
	uint8_t rsvd23[9];
};
_Static_assert(sizeof(struct vnvme_psd) == 32, "power state descriptor is 32 bytes");
_Static_assert(offsetof(struct vnvme_psd, enlat) == 4, "psd enlat");
_Static_assert(offsetof(struct vnvme_psd, idlp) == 16, "psd idlp");
_Static_assert(offsetof(struct vnvme_psd, actp) == 20, "psd actp");

#define VNVME_PSD_MXPS      (1u << 0) /* Max Power Scale: 1 = 0.0001 W units */
#define VNVME_PSD_NOPS      (1u << 1) /* Non-Operational State */
#define VNVME_PSD_IPS_SHIFT 6
#define VNVME_PSD_IPS_MASK  0x3u
#define VNVME_PSD_APW_SHIFT 0
#define VNVME_PSD_APW_MASK  0x7u
#define VNVME_PSD_APS_SHIFT 6
#define VNVME_PSD_APS_MASK  0x3u

#define VNVME_ID_SN_LEN     20
#define VNVME_ID_MN_LEN     40
#define VNVME_ID_FR_LEN     8
#define VNVME_ID_SUBNQN_LEN 256

/* NVMe Base 2.0c "Identify Controller data structure" (CNS 01h). */
struct vnvme_id_ctrl {
	/* Controller capabilities and features */
	uint16_t vid;             /* PCI Vendor ID */
	uint16_t ssvid;           /* PCI Subsystem Vendor ID */
	char sn[VNVME_ID_SN_LEN]; /* Serial Number, ASCII, space padded */
	char mn[VNVME_ID_MN_LEN]; /* Model Number, ASCII, space padded */
	char fr[VNVME_ID_FR_LEN]; /* Firmware Revision, ASCII, space padded */
	uint8_t rab;              /* Recommended Arbitration Burst */
	uint8_t ieee[3];          /* IEEE OUI */
	uint8_t cmic;             /* Controller Multi-Path I/O and Namespace Sharing Capabilities */
	uint8_t mdts;             /* Maximum Data Transfer Size: 2^MDTS * CAP.MPSMIN; 0 = none */
	uint16_t cntlid;          /* Controller ID */
	uint32_t ver;             /* Version, VS register format */
	uint32_t rtd3r;           /* RTD3 Resume Latency, microseconds */
	uint32_t rtd3e;           /* RTD3 Entry Latency, microseconds */
	uint32_t oaes;            /* Optional Asynchronous Events Supported */
	uint32_t ctratt;          /* Controller Attributes */
	uint16_t rrls;            /* Read Recovery Levels Supported */
	uint8_t rsvd102[9];
	uint8_t cntrltype; /* Controller Type */
	uint8_t fguid[16]; /* FRU Globally Unique Identifier */
	uint16_t crdt1;    /* Command Retry Delay Time 1, 100 ms units */
	uint16_t crdt2;
	uint16_t crdt3;
	uint8_t rsvd134[119];
	uint8_t nvmsr; /* NVM Subsystem Report (NVMe-MI) */
	uint8_t vwci;  /* VPD Write Cycle Information (NVMe-MI) */
	uint8_t mec;   /* Management Endpoint Capabilities (NVMe-MI) */

	/* Admin Command Set attributes and optional controller capabilities */
	uint16_t oacs;       /* Optional Admin Command Support */
	uint8_t acl;         /* Abort Command Limit, 0's based */
	uint8_t aerl;        /* Asynchronous Event Request Limit, 0's based */
	uint8_t frmw;        /* Firmware Updates */
	uint8_t lpa;         /* Log Page Attributes */
	uint8_t elpe;        /* Error Log Page Entries, 0's based */
	uint8_t npss;        /* Number of Power States Support, 0's based */
	uint8_t avscc;       /* Admin Vendor Specific Command Configuration */
	uint8_t apsta;       /* Autonomous Power State Transition Attributes */
	uint16_t wctemp;     /* Warning Composite Temperature Threshold, kelvin */
	uint16_t cctemp;     /* Critical Composite Temperature Threshold, kelvin */
	uint16_t mtfa;       /* Maximum Time for Firmware Activation, 100 ms units */
	uint32_t hmpre;      /* Host Memory Buffer Preferred Size, 4 KiB units */
	uint32_t hmmin;      /* Host Memory Buffer Minimum Size, 4 KiB units */
	uint8_t tnvmcap[16]; /* Total NVM Capacity, bytes, 128-bit */
	uint8_t unvmcap[16]; /* Unallocated NVM Capacity, bytes, 128-bit */
	uint32_t rpmbs;      /* Replay Protected Memory Block Support */
	uint16_t edstt;      /* Extended Device Self-test Time, minutes */
	uint8_t dsto;        /* Device Self-test Options */
	uint8_t fwug;        /* Firmware Update Granularity, 4 KiB units */
	uint16_t kas;        /* Keep Alive Support, 100 ms units; 0 = none */
	uint16_t hctma;      /* Host Controlled Thermal Management Attributes */
	uint16_t mntmt;      /* Minimum Thermal Management Temperature */
	uint16_t mxtmt;      /* Maximum Thermal Management Temperature */
	uint32_t sanicap;    /* Sanitize Capabilities */
	uint32_t hmminds;    /* Host Memory Buffer Minimum Descriptor Entry Size */
	uint16_t hmmaxd;     /* Host Memory Maximum Descriptors Entries */
	uint16_t nsetidmax;  /* NVM Set Identifier Maximum */
	uint16_t endgidmax;  /* Endurance Group Identifier Maximum */
	uint8_t anatt;       /* ANA Transition Time, seconds */
	uint8_t anacap;      /* Asymmetric Namespace Access Capabilities */
	uint32_t anagrpmax;  /* ANA Group Identifier Maximum */
	uint32_t nanagrpid;  /* Number of ANA Group Identifiers */
	uint32_t pels;       /* Persistent Event Log Size, 64 KiB units */
	uint16_t domainid;   /* Domain Identifier */
	uint8_t rsvd358[10];
	uint8_t megcap[16]; /* Max Endurance Group Capacity, 128-bit */
	uint8_t rsvd384[128];

	/* NVM Command Set attributes */
	uint8_t sqes;       /* SQ Entry Size: required 3:0, maximum 7:4, log2 bytes */
	uint8_t cqes;       /* CQ Entry Size: required 3:0, maximum 7:4, log2 bytes */
	uint16_t maxcmd;    /* Maximum Outstanding Commands (fabrics) */
	uint32_t nn;        /* Number of Namespaces: the largest valid NSID */
	uint16_t oncs;      /* Optional NVM Command Support */
	uint16_t fuses;     /* Fused Operation Support */
	uint8_t fna;        /* Format NVM Attributes */
	uint8_t vwc;        /* Volatile Write Cache */
	uint16_t awun;      /* Atomic Write Unit Normal, 0's based blocks */
	uint16_t awupf;     /* Atomic Write Unit Power Fail, 0's based blocks */
	uint8_t icsvscc;    /* I/O Command Set Vendor Specific Command Configuration */
	uint8_t nwpc;       /* Namespace Write Protection Capabilities */
	uint16_t acwu;      /* Atomic Compare & Write Unit, 0's based blocks */
	uint16_t ocfs;      /* Optional Copy Formats Supported */
	uint32_t sgls;      /* SGL Support */
	uint32_t mnan;      /* Maximum Number of Allowed Namespaces */
	uint8_t maxdna[16]; /* Maximum Domain Namespace Attachments, 128-bit */
	uint32_t maxcna;    /* Maximum I/O Controller Namespace Attachments */
	uint8_t rsvd564[204];
	char subnqn[VNVME_ID_SUBNQN_LEN]; /* NVM Subsystem NVMe Qualified Name, NUL terminated */
	uint8_t rsvd1024[768];

	/* NVMe over Fabrics; zero on PCIe */
	uint32_t ioccsz; /* I/O Queue Command Capsule Supported Size */
	uint32_t iorcsz; /* I/O Queue Response Capsule Supported Size */
	uint16_t icdoff; /* In Capsule Data Offset */
	uint8_t fcatt;   /* Fabrics Controller Attributes */
	uint8_t msdbd;   /* Maximum SGL Data Block Descriptors */
	uint16_t ofcs;   /* Optional Fabric Commands Support */
	uint8_t dctype;  /* Discovery Controller Type */
	uint8_t rsvd1807[241];

	struct vnvme_psd psd[32]; /* Power State Descriptors 0..31 */
	uint8_t vs[1024];         /* Vendor Specific */
};
_Static_assert(sizeof(struct vnvme_id_ctrl) == 4096, "Identify Controller is 4096 bytes");
_Static_assert(offsetof(struct vnvme_id_ctrl, sn) == 4, "id_ctrl sn");
_Static_assert(offsetof(struct vnvme_id_ctrl, mn) == 24, "id_ctrl mn");
_Static_assert(offsetof(struct vnvme_id_ctrl, fr) == 64, "id_ctrl fr");
_Static_assert(offsetof(struct vnvme_id_ctrl, rab) == 72, "id_ctrl rab");
_Static_assert(offsetof(struct vnvme_id_ctrl, cmic) == 76, "id_ctrl cmic");
_Static_assert(offsetof(struct vnvme_id_ctrl, mdts) == 77, "id_ctrl mdts");
_Static_assert(offsetof(struct vnvme_id_ctrl, cntlid) == 78, "id_ctrl cntlid");
_Static_assert(offsetof(struct vnvme_id_ctrl, ver) == 80, "id_ctrl ver");
_Static_assert(offsetof(struct vnvme_id_ctrl, oaes) == 92, "id_ctrl oaes");
_Static_assert(offsetof(struct vnvme_id_ctrl, ctratt) == 96, "id_ctrl ctratt");
_Static_assert(offsetof(struct vnvme_id_ctrl, cntrltype) == 111, "id_ctrl cntrltype");
_Static_assert(offsetof(struct vnvme_id_ctrl, fguid) == 112, "id_ctrl fguid");
_Static_assert(offsetof(struct vnvme_id_ctrl, crdt1) == 128, "id_ctrl crdt1");
_Static_assert(offsetof(struct vnvme_id_ctrl, nvmsr) == 253, "id_ctrl nvmsr");
_Static_assert(offsetof(struct vnvme_id_ctrl, oacs) == 256, "id_ctrl oacs");
_Static_assert(offsetof(struct vnvme_id_ctrl, frmw) == 260, "id_ctrl frmw");
_Static_assert(offsetof(struct vnvme_id_ctrl, lpa) == 261, "id_ctrl lpa");
_Static_assert(offsetof(struct vnvme_id_ctrl, npss) == 263, "id_ctrl npss");
_Static_assert(offsetof(struct vnvme_id_ctrl, wctemp) == 266, "id_ctrl wctemp");
_Static_assert(offsetof(struct vnvme_id_ctrl, hmpre) == 272, "id_ctrl hmpre");
_Static_assert(offsetof(struct vnvme_id_ctrl, tnvmcap) == 280, "id_ctrl tnvmcap");
_Static_assert(offsetof(struct vnvme_id_ctrl, unvmcap) == 296, "id_ctrl unvmcap");
_Static_assert(offsetof(struct vnvme_id_ctrl, rpmbs) == 312, "id_ctrl rpmbs");
_Static_assert(offsetof(struct vnvme_id_ctrl, kas) == 320, "id_ctrl kas");
_Static_assert(offsetof(struct vnvme_id_ctrl, sanicap) == 328, "id_ctrl sanicap");
_Static_assert(offsetof(struct vnvme_id_ctrl, anatt) == 342, "id_ctrl anatt");
_Static_assert(offsetof(struct vnvme_id_ctrl, anagrpmax) == 344, "id_ctrl anagrpmax");
_Static_assert(offsetof(struct vnvme_id_ctrl, pels) == 352, "id_ctrl pels");
_Static_assert(offsetof(struct vnvme_id_ctrl, domainid) == 356, "id_ctrl domainid");
_Static_assert(offsetof(struct vnvme_id_ctrl, megcap) == 368, "id_ctrl megcap");
_Static_assert(offsetof(struct vnvme_id_ctrl, sqes) == 512, "id_ctrl sqes");
_Static_assert(offsetof(struct vnvme_id_ctrl, cqes) == 513, "id_ctrl cqes");
_Static_assert(offsetof(struct vnvme_id_ctrl, maxcmd) == 514, "id_ctrl maxcmd");
_Static_assert(offsetof(struct vnvme_id_ctrl, nn) == 516, "id_ctrl nn");
_Static_assert(offsetof(struct vnvme_id_ctrl, oncs) == 520, "id_ctrl oncs");
_Static_assert(offsetof(struct vnvme_id_ctrl, fuses) == 522, "id_ctrl fuses");
_Static_assert(offsetof(struct vnvme_id_ctrl, fna) == 524, "id_ctrl fna");
_Static_assert(offsetof(struct vnvme_id_ctrl, vwc) == 525, "id_ctrl vwc");
_Static_assert(offsetof(struct vnvme_id_ctrl, awun) == 526, "id_ctrl awun");
_Static_assert(offsetof(struct vnvme_id_ctrl, icsvscc) == 530, "id_ctrl icsvscc");
_Static_assert(offsetof(struct vnvme_id_ctrl, acwu) == 532, "id_ctrl acwu");
_Static_assert(offsetof(struct vnvme_id_ctrl, ocfs) == 534, "id_ctrl ocfs");
_Static_assert(offsetof(struct vnvme_id_ctrl, sgls) == 536, "id_ctrl sgls");
_Static_assert(offsetof(struct vnvme_id_ctrl, mnan) == 540, "id_ctrl mnan");
_Static_assert(offsetof(struct vnvme_id_ctrl, maxdna) == 544, "id_ctrl maxdna");
_Static_assert(offsetof(struct vnvme_id_ctrl, maxcna) == 560, "id_ctrl maxcna");
_Static_assert(offsetof(struct vnvme_id_ctrl, subnqn) == 768, "id_ctrl subnqn");
_Static_assert(offsetof(struct vnvme_id_ctrl, ioccsz) == 1792, "id_ctrl ioccsz");
_Static_assert(offsetof(struct vnvme_id_ctrl, dctype) == 1806, "id_ctrl dctype");
_Static_assert(offsetof(struct vnvme_id_ctrl, psd) == 2048, "id_ctrl psd");
_Static_assert(offsetof(struct vnvme_id_ctrl, vs) == 3072, "id_ctrl vs");

/* CMIC. */
#define VNVME_CMIC_MPORTS (1u << 0) /* more than one NVM subsystem port */
#define VNVME_CMIC_MCTRS  (1u << 1) /* more than one controller (shared namespaces) */
#define VNVME_CMIC_FT     (1u << 2) /* SR-IOV virtual function */
#define VNVME_CMIC_ANARS  (1u << 3) /* ANA reporting */

/* OAES; the same positions enable the notices in Feature 0Bh. */
#define VNVME_OAES_NS_ATTR          (1u << 8)  /* Namespace Attribute Notices */
#define VNVME_OAES_FW_ACTIVATION    (1u << 9)  /* Firmware Activation Notices */
#define VNVME_OAES_ANA_CHANGE       (1u << 11) /* ANA Change Notices */
#define VNVME_OAES_PLEA_CHANGE      (1u << 12) /* Predictable Latency Event Aggregate */
#define VNVME_OAES_LBA_STATUS       (1u << 13) /* LBA Status Information Alert */
#define VNVME_OAES_EGEA_CHANGE      (1u << 14) /* Endurance Group Event Aggregate */
#define VNVME_OAES_ZONE_DESC        (1u << 27) /* Zone Descriptor Changed (ZNS) */
#define VNVME_OAES_DISCOVERY_CHANGE (1u << 31) /* Discovery Log Change (fabrics) */

/* CTRATT. */
#define VNVME_CTRATT_HIDS   (1u << 0)  /* 128-bit Host Identifier */
#define VNVME_CTRATT_NOPSPM (1u << 1)  /* Non-Operational Power State Permissive Mode */
#define VNVME_CTRATT_NSETS  (1u << 2)  /* NVM Sets */
#define VNVME_CTRATT_RRLVLS (1u << 3)  /* Read Recovery Levels */
#define VNVME_CTRATT_EGS    (1u << 4)  /* Endurance Groups */
#define VNVME_CTRATT_PLM    (1u << 5)  /* Predictable Latency Mode */
#define VNVME_CTRATT_TBKAS  (1u << 6)  /* Traffic Based Keep Alive */
#define VNVME_CTRATT_NG     (1u << 7)  /* Namespace Granularity */
#define VNVME_CTRATT_SQA    (1u << 8)  /* SQ Associations */
#define VNVME_CTRATT_ULIST  (1u << 9)  /* UUID List */
#define VNVME_CTRATT_MDS    (1u << 10) /* Multi-Domain Subsystem */
#define VNVME_CTRATT_FCM    (1u << 11) /* Fixed Capacity Management */
#define VNVME_CTRATT_VCM    (1u << 12) /* Variable Capacity Management */
#define VNVME_CTRATT_DEG    (1u << 13) /* Delete Endurance Group */
#define VNVME_CTRATT_DNVMS  (1u << 14) /* Delete NVM Set */
#define VNVME_CTRATT_ELBAS  (1u << 15) /* Extended LBA Formats Supported */
#define VNVME_CTRATT_MEM    (1u << 16) /* MDTS and size limits exclude metadata */

enum vnvme_cntrltype {
	VNVME_CNTRLTYPE_NOT_REPORTED = 0x0,
	VNVME_CNTRLTYPE_IO = 0x1,
	VNVME_CNTRLTYPE_DISCOVERY = 0x2,
	VNVME_CNTRLTYPE_ADMIN = 0x3,
};

/* OACS. */
#define VNVME_OACS_SECURITY   (1u << 0)  /* Security Send/Receive */
#define VNVME_OACS_FORMAT     (1u << 1)  /* Format NVM */
#define VNVME_OACS_FW         (1u << 2)  /* Firmware Commit/Image Download */
#define VNVME_OACS_NS_MGMT    (1u << 3)  /* Namespace Management/Attachment */
#define VNVME_OACS_SELF_TEST  (1u << 4)  /* Device Self-test */
#define VNVME_OACS_DIRECTIVES (1u << 5)  /* Directive Send/Receive */
#define VNVME_OACS_NVME_MI    (1u << 6)  /* NVMe-MI Send/Receive */
#define VNVME_OACS_VIRT_MGMT  (1u << 7)  /* Virtualization Management */
#define VNVME_OACS_DBBUF      (1u << 8)  /* Doorbell Buffer Config */
#define VNVME_OACS_LBA_STATUS (1u << 9)  /* Get LBA Status */
#define VNVME_OACS_LOCKDOWN   (1u << 10) /* Command and Feature Lockdown */

/* FRMW. */
#define VNVME_FRMW_SLOT1_RO   (1u << 0) /* first firmware slot is read only */
#define VNVME_FRMW_NOFS_SHIFT 1         /* Number Of Firmware Slots, 1..7 */
#define VNVME_FRMW_NOFS_MASK  0x7u
#define VNVME_FRMW_NO_RESET   (1u << 4) /* activation without reset */
#define VNVME_FRMW_SMUD       (1u << 5) /* Support Multiple Update Detection */

/* LPA. */
#define VNVME_LPA_SMART_PER_NS (1u << 0) /* SMART / Health log per namespace */
#define VNVME_LPA_CMD_EFFECTS  (1u << 1) /* Commands Supported and Effects log */
#define VNVME_LPA_EXT_DATA     (1u << 2) /* extended data for Get Log Page (NUMDU, LPO) */
#define VNVME_LPA_TELEMETRY    (1u << 3) /* Telemetry logs */
#define VNVME_LPA_PERSIST_EVT  (1u << 4) /* Persistent Event log */
#define VNVME_LPA_MISC         (1u << 5) /* Supported Logs, Feature/MI effects logs */
#define VNVME_LPA_DA4          (1u << 6) /* Telemetry Data Area 4 */

/* SQES / CQES. */
#define VNVME_QES_MIN_SHIFT 0 /* required (minimum) entry size, log2 bytes */
#define VNVME_QES_MIN_MASK  0xfu
#define VNVME_QES_MAX_SHIFT 4 /* maximum entry size, log2 bytes */
#define VNVME_QES_MAX_MASK  0xfu

/* ONCS. */
#define VNVME_ONCS_COMPARE      (1u << 0)
#define VNVME_ONCS_WRITE_UNCOR  (1u << 1)
#define VNVME_ONCS_DSM          (1u << 2)
#define VNVME_ONCS_WRITE_ZEROES (1u << 3)
#define VNVME_ONCS_SAVE_SELECT  (1u << 4) /* Save in Set Features, Select in Get Features */
#define VNVME_ONCS_RESERVATIONS (1u << 5)
#define VNVME_ONCS_TIMESTAMP    (1u << 6)
#define VNVME_ONCS_VERIFY       (1u << 7)
#define VNVME_ONCS_COPY         (1u << 8)

/* FUSES. */
#define VNVME_FUSES_COMPARE_WRITE (1u << 0)

/* FNA. */
#define VNVME_FNA_FORMAT_ALL_NS (1u << 0) /* Format applies to all namespaces */
#define VNVME_FNA_ERASE_ALL_NS  (1u << 1) /* Secure erase applies to all namespaces */
#define VNVME_FNA_CRYPTO_ERASE  (1u << 2)

/* VWC. */
#define VNVME_VWC_PRESENT        (1u << 0)
#define VNVME_VWC_FLUSH_BC_SHIFT 1 /* Flush with NSID FFFFFFFFh: 2 = no, 3 = yes */
#define VNVME_VWC_FLUSH_BC_MASK  0x3u

/* SGLS. */
#define VNVME_SGLS_SUPPORT_SHIFT 0
#define VNVME_SGLS_SUPPORT_MASK  0x3u
#define VNVME_SGLS_SUPPORT_NONE  0x0u       /* within SUPPORT: no SGLs */
#define VNVME_SGLS_SUPPORT_BYTE  0x1u       /* within SUPPORT: no alignment requirement */
#define VNVME_SGLS_SUPPORT_DWORD 0x2u       /* within SUPPORT: dword alignment and granularity */
#define VNVME_SGLS_KEYED         (1u << 2)  /* Keyed SGL Data Block descriptor */
#define VNVME_SGLS_BIT_BUCKET    (1u << 16) /* SGL Bit Bucket descriptor */
#define VNVME_SGLS_MPTR_CONTIG   (1u << 17) /* byte-aligned contiguous buffer in MPTR */
#define VNVME_SGLS_OVERSIZE      (1u << 18) /* SGL longer than the data is allowed */
#define VNVME_SGLS_MPTR_SGL      (1u << 19) /* MPTR holding an SGL descriptor */
#define VNVME_SGLS_ADDR_OFFSET   (1u << 20) /* Address field as an offset */
#define VNVME_SGLS_TRANSPORT     (1u << 21) /* Transport SGL Data Block descriptor */

/* ------------------------------------------------------------------------ */
/* Identify Namespace                                                       */
/* ------------------------------------------------------------------------ */

/* NVM Command Set 1.0c "LBA Format Data Structure". */
struct vnvme_lbaf {
	uint16_t ms;   /* Metadata Size, bytes per LBA */
	uint8_t lbads; /* LBA Data Size, log2 bytes; 0 = format not supported */
	uint8_t rp;    /* Relative Performance, 1:0 */
};
_Static_assert(sizeof(struct vnvme_lbaf) == 4, "LBA format is 4 bytes");

#define VNVME_LBAF_RP_SHIFT 0
#define VNVME_LBAF_RP_MASK  0x3u
#define VNVME_NLBAF_MAX     64u /* lbaf[] entries */

/* NVM Command Set 1.0c "Identify Namespace data structure" (CNS 00h). */
struct vnvme_id_ns {
	uint64_t nsze;      /* Namespace Size, logical blocks */
	uint64_t ncap;      /* Namespace Capacity, logical blocks */
	uint64_t nuse;      /* Namespace Utilization, logical blocks */
	uint8_t nsfeat;     /* Namespace Features */
	uint8_t nlbaf;      /* Number of LBA Formats, 0's based */
	uint8_t flbas;      /* Formatted LBA Size */
	uint8_t mc;         /* Metadata Capabilities */
	uint8_t dpc;        /* End-to-end Data Protection Capabilities */
	uint8_t dps;        /* End-to-end Data Protection Type Settings */
	uint8_t nmic;       /* Namespace Multi-path I/O and Namespace Sharing Capabilities */
	uint8_t rescap;     /* Reservation Capabilities */
	uint8_t fpi;        /* Format Progress Indicator */
	uint8_t dlfeat;     /* Deallocate Logical Block Features */
	uint16_t nawun;     /* Namespace Atomic Write Unit Normal */
	uint16_t nawupf;    /* Namespace Atomic Write Unit Power Fail */
	uint16_t nacwu;     /* Namespace Atomic Compare & Write Unit */
	uint16_t nabsn;     /* Namespace Atomic Boundary Size Normal */
	uint16_t nabo;      /* Namespace Atomic Boundary Offset */
	uint16_t nabspf;    /* Namespace Atomic Boundary Size Power Fail */
	uint16_t noiob;     /* Namespace Optimal I/O Boundary */
	uint8_t nvmcap[16]; /* NVM Capacity, bytes, 128-bit */
	uint16_t npwg;      /* Namespace Preferred Write Granularity */
	uint16_t npwa;      /* Namespace Preferred Write Alignment */
	uint16_t npdg;      /* Namespace Preferred Deallocate Granularity */
	uint16_t npda;      /* Namespace Preferred Deallocate Alignment */
	uint16_t nows;      /* Namespace Optimal Write Size */
	uint16_t mssrl;     /* Maximum Single Source Range Length (Copy) */
	uint32_t mcl;       /* Maximum Copy Length */
	uint8_t msrc;       /* Maximum Source Range Count, 0's based */
	uint8_t rsvd81;
	uint8_t nulbaf; /* Number of Unique Capability LBA Formats */
	uint8_t rsvd83[9];
	uint32_t anagrpid; /* ANA Group Identifier */
	uint8_t rsvd96[3];
	uint8_t nsattr;    /* Namespace Attributes */
	uint16_t nvmsetid; /* NVM Set Identifier */
	uint16_t endgid;   /* Endurance Group Identifier */
	uint8_t nguid[16]; /* Namespace Globally Unique Identifier */
	uint8_t eui64[8];  /* IEEE Extended Unique Identifier */
	struct vnvme_lbaf lbaf[VNVME_NLBAF_MAX];
	uint8_t vs[3712]; /* Vendor Specific */
};
_Static_assert(sizeof(struct vnvme_id_ns) == 4096, "Identify Namespace is 4096 bytes");
_Static_assert(offsetof(struct vnvme_id_ns, ncap) == 8, "id_ns ncap");
_Static_assert(offsetof(struct vnvme_id_ns, nuse) == 16, "id_ns nuse");
_Static_assert(offsetof(struct vnvme_id_ns, nsfeat) == 24, "id_ns nsfeat");
_Static_assert(offsetof(struct vnvme_id_ns, nlbaf) == 25, "id_ns nlbaf");
_Static_assert(offsetof(struct vnvme_id_ns, flbas) == 26, "id_ns flbas");
_Static_assert(offsetof(struct vnvme_id_ns, dlfeat) == 33, "id_ns dlfeat");
_Static_assert(offsetof(struct vnvme_id_ns, nawun) == 34, "id_ns nawun");
_Static_assert(offsetof(struct vnvme_id_ns, noiob) == 46, "id_ns noiob");
_Static_assert(offsetof(struct vnvme_id_ns, nvmcap) == 48, "id_ns nvmcap");
_Static_assert(offsetof(struct vnvme_id_ns, npwg) == 64, "id_ns npwg");
_Static_assert(offsetof(struct vnvme_id_ns, mcl) == 76, "id_ns mcl");
_Static_assert(offsetof(struct vnvme_id_ns, msrc) == 80, "id_ns msrc");
_Static_assert(offsetof(struct vnvme_id_ns, nulbaf) == 82, "id_ns nulbaf");
_Static_assert(offsetof(struct vnvme_id_ns, anagrpid) == 92, "id_ns anagrpid");
_Static_assert(offsetof(struct vnvme_id_ns, nsattr) == 99, "id_ns nsattr");
_Static_assert(offsetof(struct vnvme_id_ns, nvmsetid) == 100, "id_ns nvmsetid");
_Static_assert(offsetof(struct vnvme_id_ns, nguid) == 104, "id_ns nguid");
_Static_assert(offsetof(struct vnvme_id_ns, eui64) == 120, "id_ns eui64");
_Static_assert(offsetof(struct vnvme_id_ns, lbaf) == 128, "id_ns lbaf");
_Static_assert(offsetof(struct vnvme_id_ns, vs) == 384, "id_ns vs");

/* NSFEAT. */
#define VNVME_NSFEAT_THINP    (1u << 0) /* thin provisioning */
#define VNVME_NSFEAT_NSABP    (1u << 1) /* NAWUN, NAWUPF, NACWU are valid */
#define VNVME_NSFEAT_DAE      (1u << 2) /* Deallocated or Unwritten Block Error supported */
#define VNVME_NSFEAT_UIDREUSE (1u << 3) /* NGUID/EUI64 never reused */
#define VNVME_NSFEAT_OPTPERF  (1u << 4) /* NPWG..NOWS are valid */

/*
 * FLBAS: format index bits 3:0 plus, when NLBAF >= 16, bits 6:5 as index
 * bits 5:4; bit 4 selects extended LBAs (metadata inline with the data).
 */
#define VNVME_FLBAS_LO_SHIFT 0
#define VNVME_FLBAS_LO_MASK  0xfu
#define VNVME_FLBAS_EXTENDED (1u << 4)
#define VNVME_FLBAS_HI_SHIFT 5
#define VNVME_FLBAS_HI_MASK  0x3u

static inline unsigned vnvme_flbas_index(uint8_t flbas)
{
	return VNVME_FIELD_GET((unsigned)flbas, VNVME_FLBAS_LO) |
	       VNVME_FIELD_GET((unsigned)flbas, VNVME_FLBAS_HI) << 4;
}

static inline uint8_t vnvme_flbas_make(unsigned index, bool extended)
{
	return (uint8_t)(VNVME_FIELD_PREP(VNVME_FLBAS_LO, index) |
			 VNVME_FIELD_PREP(VNVME_FLBAS_HI, index >> 4) |
			 (extended ? VNVME_FLBAS_EXTENDED : 0));
}

/* MC, DPC, DPS, NMIC, NSATTR, DLFEAT. */
#define VNVME_MC_EXTENDED        (1u << 0) /* metadata as part of an extended LBA */
#define VNVME_MC_SEPARATE        (1u << 1) /* metadata in a separate buffer (MPTR) */
#define VNVME_DPC_TYPE1          (1u << 0)
#define VNVME_DPC_TYPE2          (1u << 1)
#define VNVME_DPC_TYPE3          (1u << 2)
#define VNVME_DPC_FIRST          (1u << 3) /* PI may be the first 8 bytes of metadata */
#define VNVME_DPC_LAST           (1u << 4) /* PI may be the last 8 bytes of metadata */
#define VNVME_DPS_PIT_SHIFT      0         /* Protection Information Type, 0 = none */
#define VNVME_DPS_PIT_MASK       0x7u
#define VNVME_DPS_FIRST          (1u << 3)
#define VNVME_NMIC_SHRNS         (1u << 0) /* shared namespace */
#define VNVME_NSATTR_WP          (1u << 0) /* write protected */
#define VNVME_DLFEAT_READ_SHIFT  0         /* what a deallocated block reads as */
#define VNVME_DLFEAT_READ_MASK   0x7u
#define VNVME_DLFEAT_READ_NR     0x0u      /* within READ: not reported */
#define VNVME_DLFEAT_READ_ZEROES 0x1u      /* within READ: all bytes 00h */
#define VNVME_DLFEAT_READ_ONES   0x2u      /* within READ: all bytes FFh */
#define VNVME_DLFEAT_WZDS        (1u << 3) /* Write Zeroes supports DEAC */
#define VNVME_DLFEAT_GCRC        (1u << 4) /* deallocated guard is the CRC of the data */

/*
 * NVMe Base 2.0c "Namespace Identification Descriptor" (CNS 03h): a list of
 * these headers, each followed by nidl bytes of identifier, ended by nidt 0.
 */
struct vnvme_ns_id_desc {
	uint8_t nidt; /* Namespace Identifier Type */
	uint8_t nidl; /* Namespace Identifier Length */
	uint8_t rsvd2[2];
};
_Static_assert(sizeof(struct vnvme_ns_id_desc) == 4, "NS identification descriptor header");

enum vnvme_nidt {
	VNVME_NIDT_EUI64 = 0x1,
	VNVME_NIDT_NGUID = 0x2,
	VNVME_NIDT_UUID = 0x3,
	VNVME_NIDT_CSI = 0x4,
};

#define VNVME_NIDT_EUI64_LEN 8u
#define VNVME_NIDT_NGUID_LEN 16u
#define VNVME_NIDT_UUID_LEN  16u
#define VNVME_NIDT_CSI_LEN   1u

/* ------------------------------------------------------------------------ */
/* Log pages                                                                */
/* ------------------------------------------------------------------------ */

/* NVMe Base 2.0c "Error Information (Log Page Identifier 01h)": one entry. */
struct vnvme_error_log_entry {
	uint64_t error_count; /* unique, incrementing; 0 = entry invalid */
	uint16_t sqid;
	uint16_t cid;
	uint16_t status;              /* Status Field, CQE status half-word layout */
	uint16_t parm_error_location; /* byte 7:0 and bit 10:8 within the command */
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;     /* Vendor Specific Information Available: log page ID */
	uint8_t trtype; /* Transport Type */
	uint8_t rsvd30[2];
	uint64_t cs; /* Command Specific Information */
	uint16_t trtype_spec_info;
	uint8_t rsvd42[22];
};
_Static_assert(sizeof(struct vnvme_error_log_entry) == 64, "error log entry is 64 bytes");
_Static_assert(offsetof(struct vnvme_error_log_entry, status) == 12, "error log status");
_Static_assert(offsetof(struct vnvme_error_log_entry, lba) == 16, "error log lba");
_Static_assert(offsetof(struct vnvme_error_log_entry, nsid) == 24, "error log nsid");
_Static_assert(offsetof(struct vnvme_error_log_entry, cs) == 32, "error log cs");
_Static_assert(offsetof(struct vnvme_error_log_entry, trtype_spec_info) == 40,
	       "error log trtype_spec_info");

#define VNVME_PEL_BYTE_SHIFT 0 /* Parameter Error Location: byte in the command */
#define VNVME_PEL_BYTE_MASK  0xffu
#define VNVME_PEL_BIT_SHIFT  8 /* Parameter Error Location: bit in that byte */
#define VNVME_PEL_BIT_MASK   0x7u

/*
 * NVMe Base 2.0c "SMART / Health Information (Log Page Identifier 02h)".
 * 128-bit counters are byte arrays (use vnvme_u128_store); data units are
 * thousands of 512-byte units, rounded up.
 */
struct vnvme_smart_log {
	uint8_t critical_warning;
	uint8_t
	    temperature[2];   /* Composite Temperature, kelvin (unaligned: use vnvme_le16_store) */
	uint8_t avail_spare;  /* percent */
	uint8_t spare_thresh; /* percent */
	uint8_t percent_used; /* may exceed 100 */
	uint8_t endu_grp_crit_warn; /* Endurance Group Critical Warning Summary */
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t host_reads[16];     /* Host Read Commands */
	uint8_t host_writes[16];    /* Host Write Commands */
	uint8_t ctrl_busy_time[16]; /* minutes */
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;  /* minutes above WCTEMP */
	uint32_t critical_comp_time; /* minutes above CCTEMP */
	uint16_t temp_sensor[8];     /* kelvin, 0 = not implemented */
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time; /* seconds */
	uint32_t thm_temp2_total_time; /* seconds */
	uint8_t rsvd232[280];
};
_Static_assert(sizeof(struct vnvme_smart_log) == 512, "SMART log is 512 bytes");
_Static_assert(offsetof(struct vnvme_smart_log, temperature) == 1, "smart temperature");
_Static_assert(offsetof(struct vnvme_smart_log, endu_grp_crit_warn) == 6, "smart endu_grp");
_Static_assert(offsetof(struct vnvme_smart_log, data_units_read) == 32, "smart data_units_read");
_Static_assert(offsetof(struct vnvme_smart_log, host_reads) == 64, "smart host_reads");
_Static_assert(offsetof(struct vnvme_smart_log, power_on_hours) == 128, "smart power_on_hours");
_Static_assert(offsetof(struct vnvme_smart_log, num_err_log_entries) == 176, "smart err entries");
_Static_assert(offsetof(struct vnvme_smart_log, warning_temp_time) == 192, "smart wctemp time");
_Static_assert(offsetof(struct vnvme_smart_log, temp_sensor) == 200, "smart temp_sensor");
_Static_assert(offsetof(struct vnvme_smart_log, thm_temp1_trans_count) == 216, "smart tmt1");
_Static_assert(offsetof(struct vnvme_smart_log, thm_temp2_total_time) == 228, "smart tmt2 time");

/* Critical Warning bits. */
#define VNVME_SMART_CW_SPARE       (1u << 0) /* available spare below threshold */
#define VNVME_SMART_CW_TEMPERATURE (1u << 1) /* temperature threshold crossed */
#define VNVME_SMART_CW_RELIABILITY (1u << 2) /* NVM subsystem reliability degraded */
#define VNVME_SMART_CW_READ_ONLY   (1u << 3) /* media placed in read-only mode */
#define VNVME_SMART_CW_VMBU_FAILED (1u << 4) /* volatile memory backup failed */
#define VNVME_SMART_CW_PMR_RO      (1u << 5) /* persistent memory region read only */

/* NVMe Base 2.0c "Firmware Slot Information (Log Page Identifier 03h)". */
struct vnvme_fw_slot_log {
	uint8_t afi; /* Active Firmware Info */
	uint8_t rsvd1[7];
	char frs[7][8]; /* Firmware Revision for Slot 1..7, ASCII; zero if empty */
	uint8_t rsvd64[448];
};
_Static_assert(sizeof(struct vnvme_fw_slot_log) == 512, "firmware slot log is 512 bytes");
_Static_assert(offsetof(struct vnvme_fw_slot_log, frs) == 8, "fw slot frs");
_Static_assert(offsetof(struct vnvme_fw_slot_log, rsvd64) == 64, "fw slot rsvd64");

#define VNVME_AFI_ACTIVE_SHIFT 0 /* slot currently active */
#define VNVME_AFI_ACTIVE_MASK  0x7u
#define VNVME_AFI_NEXT_SHIFT   4 /* slot active at the next reset; 0 = none */
#define VNVME_AFI_NEXT_MASK    0x7u

/* NVMe Base 2.0c "Commands Supported and Effects (Log Page Identifier 05h)". */
struct vnvme_effects_log {
	uint32_t acs[256];  /* Admin Command Supported, by opcode */
	uint32_t iocs[256]; /* I/O Command Supported, by opcode */
	uint8_t rsvd2048[2048];
};
_Static_assert(sizeof(struct vnvme_effects_log) == 4096, "effects log is 4096 bytes");
_Static_assert(offsetof(struct vnvme_effects_log, iocs) == 1024, "effects log iocs");
_Static_assert(offsetof(struct vnvme_effects_log, rsvd2048) == 2048, "effects log rsvd2048");

#define VNVME_EFFECTS_CSUPP     (1u << 0) /* Command Supported */
#define VNVME_EFFECTS_LBCC      (1u << 1) /* Logical Block Content Change */
#define VNVME_EFFECTS_NCC       (1u << 2) /* Namespace Capability Change */
#define VNVME_EFFECTS_NIC       (1u << 3) /* Namespace Inventory Change */
#define VNVME_EFFECTS_CCC       (1u << 4) /* Controller Capability Change */
#define VNVME_EFFECTS_CSE_SHIFT 16        /* Command Submission and Execution */
#define VNVME_EFFECTS_CSE_MASK  0x7u
#define VNVME_EFFECTS_CSE_ANY   0x0u       /* within CSE: no restriction */
#define VNVME_EFFECTS_CSE_NS    0x1u       /* within CSE: nothing else outstanding to that NS */
#define VNVME_EFFECTS_CSE_CTRL  0x2u       /* within CSE: nothing else outstanding at all */
#define VNVME_EFFECTS_USS       (1u << 19) /* UUID Selection Supported */
#define VNVME_EFFECTS_CSP_SHIFT 20         /* Command Scope */
#define VNVME_EFFECTS_CSP_MASK  0xfffu

/* ------------------------------------------------------------------------ */
/* Little-endian field helpers                                              */
/* ------------------------------------------------------------------------ */

/* Store v into an unaligned 16-bit little-endian field. */
static inline void vnvme_le16_store(uint8_t *f, uint16_t v)
{
	f[0] = (uint8_t)v;
	f[1] = (uint8_t)(v >> 8);
}

/* Store v into a 128-bit little-endian counter; the upper 64 bits become 0. */
static inline void vnvme_u128_store(uint8_t f[16], uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		f[i] = (uint8_t)(v >> (8 * i));
	for (unsigned i = 8; i < 16; i++)
		f[i] = 0;
}

/* Read a 128-bit little-endian counter, saturating at UINT64_MAX. */
static inline uint64_t vnvme_u128_load(const uint8_t f[16])
{
	uint64_t v = 0;

	for (unsigned i = 8; i < 16; i++)
		if (f[i])
			return UINT64_MAX;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)f[i] << (8 * i);
	return v;
}

#endif
