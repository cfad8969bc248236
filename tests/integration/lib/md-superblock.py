#!/usr/bin/env python3
"""md-superblock.py: writes a stale Linux md (mdadm) v1.x member superblock onto a device,
as an old RAID member would leave it. Used by the disk tests to make "dirty" disks on a host
without the md driver (mdadm cannot create arrays there). Test double for a real array member.

The layout is the documented on-disk format (struct mdp_superblock_1 in the kernel's
include/uapi/linux/raid/md_p.h; mdadm's super1.c for where each version puts it):
  v1.2: 4 KiB from the start;  v1.1: at 0;  v1.0: (size - 8 KiB) rounded down to 4 KiB.
The checksum is mdadm's calc_sb_1_csum: the sum of the little-endian 32-bit words of the
256-byte header plus 2*max_dev bytes of dev_roles, folded to 32 bits.

usage: md-superblock.py DEVICE {1.0|1.1|1.2} NAME
"""
import os
import struct
import sys
import time
import uuid

MD_SB_MAGIC = 0xA92B4EFC
MAX_DEV = 2


def superblock(sectors, version, name):
    if version == "1.2":
        sb_offset = 8  # sectors (4 KiB)
        data_offset = 2048
    elif version == "1.1":
        sb_offset = 0
        data_offset = 2048
    else:
        sb_offset = (sectors - 16) & ~7
        data_offset = 0
    data_size = (sb_offset if version == "1.0" else sectors - data_offset) & ~7
    now = int(time.time())
    sb = bytearray(256 + 2 * MAX_DEV)
    struct.pack_into("<IIII", sb, 0, MD_SB_MAGIC, 1, 0, 0)
    sb[16:32] = uuid.uuid4().bytes
    sb[32:64] = name.encode()[:32].ljust(32, b"\0")
    struct.pack_into("<QIIQII", sb, 64, now, 1, 0, data_size, 0, 2)
    struct.pack_into("<QQQQ", sb, 128, data_offset, data_size, sb_offset, 0)
    struct.pack_into("<II", sb, 160, 0, 0)
    sb[168:184] = uuid.uuid4().bytes
    struct.pack_into("<QQQII", sb, 192, now, 1, 0xFFFFFFFFFFFFFFFF, 0, MAX_DEV)
    struct.pack_into("<HH", sb, 256, 0, 1)  # dev_roles: this device is slot 0, the other slot 1
    words = struct.unpack("<%dI" % (len(sb) // 4), bytes(sb))
    total = sum(words)
    csum = (total & 0xFFFFFFFF) + (total >> 32)
    struct.pack_into("<I", sb, 216, csum & 0xFFFFFFFF)
    return sb_offset * 512, bytes(sb)


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in ("1.0", "1.1", "1.2"):
        sys.exit(__doc__.split("usage: ")[1])
    dev, version, name = sys.argv[1:]
    fd = os.open(dev, os.O_RDWR)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        offset, sb = superblock(size // 512, version, name)
        os.pwrite(fd, sb, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
