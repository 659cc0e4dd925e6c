#!/usr/bin/env python3
# Writes the seed corpora of fuzz_nvme_ctrl and fuzz_dptr (the input formats
# are described in those harnesses). Run from the repository root:
#   python3 fuzz/corpus/gen_seeds.py
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_nvme_ctrl: a program of host actions --------------------------
(REG_WRITE32, REG_WRITE, REG_READ, DOORBELL, MEMWRITE, ENABLE, SUBMIT, CREATE_PAIR,
 DELETE, REAP, SYNC, RESET, DISABLE, DBBUF, IO_BURST, ADMIN) = range(16)
G_BASE = 0x100000
DATA = G_BASE + 0xa0000


def sqe(opc, nsid=0, prp1=0, prp2=0, d10=0, d11=0, d12=0, flags=0, cid=0):
    return struct.pack('<BBHIIIQQQIIIIII', opc, flags, cid, nsid, 0, 0, 0, prp1, prp2,
                       d10, d11, d12, 0, 0, 0)


def enable(asqs=15, acqs=15):
    return bytes([ENABLE, asqs, acqs])


def create_pair(q, sqs, cqs, fl=0x02):
    return bytes([CREATE_PAIR, q]) + struct.pack('<HHB', sqs, cqs, fl)


def burst(q, n, cmd):
    return bytes([IO_BURST, q - 1, n - 1]) + cmd[:52]


def admin(opc, d10=0, d11=0, pg=0):
    return bytes([ADMIN, opc]) + struct.pack('<IIB', d10, d11, pg)


def rw(opc, nsid, nlb, prp1=DATA, prp2=0, slba=0):
    return sqe(opc, nsid=nsid, prp1=prp1, prp2=prp2, d10=slba, d12=nlb - 1)


ctrl = {
    'identify': b'\0' + enable() + admin(0x06, 1) + admin(0x06, 0, 0, 0) + admin(0x06, 2)
    + admin(0x02, 0x00ff0002) + admin(0x0a, 7) + admin(0x09, 7, 0x00030003),
    'io_rw': b'\0' + enable() + create_pair(1, 31, 31) + burst(1, 8, rw(0x01, 1, 8))
    + burst(1, 8, rw(0x02, 1, 8)) + burst(1, 4, rw(0x02, 2, 1)),
    'prp_list': b'\0' + enable() + bytes([MEMWRITE, 0]) + (0xa0000 + 0x8000).to_bytes(3, 'little')
    + bytes([24]) + struct.pack('<QQQ', DATA + 0x1000, DATA + 0x2000, DATA + 0x3000)
    + create_pair(2, 15, 15) + burst(2, 2, rw(0x02, 1, 32, DATA, DATA + 0x8000)),
    'sgl': b'\0' + enable() + create_pair(1, 7, 7)
    + burst(1, 2, struct.pack('<BBHIIIQQIxxxBIII', 0x02, 0x40, 0, 1, 0, 0, 0, DATA, 4096, 0x00, 0, 0, 7)),
    'dbbuf': b'\0' + enable() + bytes([DBBUF, 0]) + create_pair(1, 15, 15)
    + burst(1, 4, rw(0x01, 1, 1)) + burst(1, 4, rw(0x00, 1, 1)),
    'odd_queues': b'\0' + enable(1, 1) + create_pair(1, 3, 63) + create_pair(2, 63, 2)
    + create_pair(3, 1023, 1023) + bytes([DELETE, 1, DELETE, 0x81]) + create_pair(4, 5, 6, 0x42)
    + burst(2, 64, rw(0x02, 1, 1)) + bytes([DOORBELL, 4]) + struct.pack('<I', 5000)
    + bytes([DOORBELL, 5]) + struct.pack('<I', 0xffffffff) + bytes([SYNC, 3]),
    'disable_reenable': b'\1' + enable() + create_pair(1, 15, 15) + burst(1, 4, rw(0x01, 1, 1))
    + bytes([DISABLE, 1]) + enable(3, 7) + create_pair(1, 15, 15) + bytes([DISABLE, 2, RESET])
    + enable() + bytes([REAP, 0]),
    'regs': b'\0' + bytes([REG_WRITE32, 0x24 // 4]) + struct.pack('<I', 0x000f000f)
    + bytes([REG_WRITE, 0x28, 0, 8]) + struct.pack('<Q', G_BASE)
    + bytes([REG_WRITE, 0x30, 0, 8]) + struct.pack('<Q', G_BASE + 0x1000)
    + bytes([REG_WRITE32, 0x14 // 4]) + struct.pack('<I', 0x00460001)
    + bytes([REG_READ, 0x1c, 0, 4, REG_WRITE32, 0x0c // 4]) + struct.pack('<I', 1)
    + bytes([SUBMIT, 0]) + sqe(0x06, d10=1, prp1=DATA) + bytes([REG_READ, 0, 0, 8]),
}

# ---- fuzz_dptr: regions, mode, length, data pointer, memory patches ------


def dptr(regions, mode, length, flags, prp1, prp2, patches=(), top=False):
    b = bytes([len(regions) | (0x10 if top else 0), mode]) + length.to_bytes(3, 'little')
    for gap, pages, fl in regions:
        b += bytes([gap, pages - 1, fl])
    b += bytes([flags]) + struct.pack('<QQ', prp1, prp2)
    for off, data in patches:
        data = data + bytes(-len(data) % 8)
        b += off.to_bytes(3, 'little') + bytes([len(data) // 8 - 1]) + data
    return b


def sgl(addr, length, typ):
    return struct.pack('<QIxxxB', addr, length, typ << 4)


RW = 3
dp = {
    'prp_two_pages': dptr([(0, 4, RW)], 2, 8192, 0, 0x200, 0x1000),
    'prp_list': dptr([(0, 8, RW)], 3, 5 * 4096, 0, 0x0, 0x3000,
                     [(0x3000, struct.pack('<4Q', 0x1000, 0x2000, 0x4000, 0x5000))]),
    'prp_list_chain_self': dptr([(0, 4, RW)], 2, 600 * 4096, 0, 0x0, 0x1ff8,
                                [(0x1ff8, struct.pack('<Q', 0x1ff8))]),
    'prp_edges': dptr([(0, 1, RW), (0, 1, 1), (2, 1, 4 | RW)], 3, 3 * 4096, 0, 0x800, 0x2000,
                      top=True),
    'sgl_block': dptr([(0, 4, RW)], 6, 4096, 0x40, 0x1000, 4096 | (0 << 60)),
    'sgl_segment': dptr([(0, 8, RW)], 6, 8192, 0x40, 0x3000, 32 | (0x30 << 56),
                        [(0x3000, sgl(0x1000, 4096, 0) + sgl(0x5000, 4096, 0))]),
    'sgl_chain_self': dptr([(0, 8, RW)], 6, 8192, 0x40, 0x3000, 32 | (0x20 << 56),
                           [(0x3000, sgl(0x1000, 0, 0) + sgl(0x3000, 32, 2))]),
    'sgl_bit_bucket': dptr([(0, 8, RW)], 7, 8192, 0x40, 0x3000, 32 | (0x30 << 56),
                           [(0x3000, sgl(0x1000, 4096, 0) + sgl(0, 4096, 1))]),
    # Zero-length data blocks in a 64 KiB segment whose last entry chains
    # back to itself (issue 11, "SGL walks"): 256 segments of 4096 entries.
    'sgl_self_chain_zero_len': dptr([(0, 16, RW)], 6, 4096, 0x40, 0, 0x10000 | (0x20 << 56),
                                    [(0xfff0, sgl(0, 0x10000, 2))]),
    'copy_in_prp': dptr([(1, 2, 1)], 0, 4096, 0, 0x1004, 0x2000),
    'top_of_space': dptr([], 3, 8192, 0, (1 << 64) - 0x2001, (1 << 64) - 0x1001, top=True),
}


def write(name, seeds):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(d, k), 'wb') as f:
            f.write(v)


write('nvme_ctrl', ctrl)
write('dptr', dp)
