#!/usr/bin/env python3
"""raid-signatures.py: writes the metadata of old firmware ("fake") RAID members into a region of
a device, as a disk that once sat on such a controller would keep it. Test double for real
members: the controllers cannot exist on the test host. Each record carries just what libblkid
(util-linux libblkid/src/superblocks/*_raid.c, 2.38) checks before it reports the member, so
`wipefs` and `blkid -p` on the region show it. The region is [START, START+SIZE) in bytes; the
positions are those libblkid probes, counted from the region's start or its end:

  hpt37x   HighPoint 37x: magic 0x5a7816f0 at 4608+32            hpt37x_raid_member
  hpt45x   HighPoint 45x: magic 0x5a7816f3, 11th sector from end  hpt45x_raid_member
  isw      Intel Matrix: "Intel Raid ISM Cfg Sig. ", 2nd from end isw_raid_member
  nvidia   "NVIDIA", 2nd sector from the end                      nvidia_raid_member
  promise  "Promise Technology, Inc.", 63rd sector from the end   promise_fasttrack_raid_member
  ddf      SNIA DDF header 0xDE11DE11, 257th sector from the end  ddf_raid_member
  via      0xAA55 + 8-bit checksum, last sector                   via_raid_member
  silicon  magic 0x2F000000 + 16-bit checksum, last sector        silicon_medley_raid_member
  lsi      "$XIDE$", last sector                                  lsi_mega_raid_member
  jmicron  "JM", last sector                                      jmicron_raid_member
  adaptec  0x37FC4D1E + "DPTM", last sector                       adaptec_raid_member

The last-sector kinds (via, silicon, lsi, jmicron, adaptec) share one place: one per region, as
isw and nvidia share theirs.

usage: raid-signatures.py DEVICE START SIZE KIND...
"""
import os
import struct
import sys
import uuid

SECTOR = 512


def hpt37x(size):
    return 4608, b"\0" * 32 + struct.pack("<I", 0x5A7816F0)


def hpt45x(size):
    return size - 11 * SECTOR, struct.pack("<I", 0x5A7816F3)


def isw(size):
    sig = b"Intel Raid ISM Cfg Sig. 1.0.00"
    return size - 2 * SECTOR, sig.ljust(32, b"\0") + struct.pack("<IIII", 0, 512, 1, 1)


def nvidia(size):
    return size - 2 * SECTOR, b"NVIDIA  " + struct.pack("<IIH", 30, 0, 100)


def promise(size):
    return size - 63 * SECTOR, b"Promise Technology, Inc."


def ddf(size):
    hdr = bytearray(b"\xff" * SECTOR)
    struct.pack_into(">II", hdr, 0, 0xDE11DE11, 0)
    hdr[8:32] = uuid.uuid4().hex[:24].encode()
    hdr[32:40] = b"01.02.00"
    struct.pack_into(">QQ", hdr, 96, 0, 0)  # no primary LBA: nothing else to check
    return size - 257 * SECTOR, bytes(hdr)


def via(size):
    meta = bytearray(51)
    struct.pack_into("<HB", meta, 0, 0xAA55, 2)
    meta[50] = sum(meta[:50]) & 0xFF
    return size - SECTOR, bytes(meta)


def silicon(size):
    meta = bytearray(SECTOR)
    struct.pack_into("<I", meta, 0x60, 0x2F000000)
    struct.pack_into("<HHHH", meta, 0x104, 0x3112, 0x1095, 0, 2)  # product, vendor, minor, major
    meta[0x116] = 0  # disk number
    words = struct.unpack_from("<%dH" % (0x13E // 2), meta, 0)
    struct.pack_into("<H", meta, 0x13E, -sum(words) & 0xFFFF)
    return size - SECTOR, bytes(meta)


def lsi(size):
    return size - SECTOR, b"$XIDE$"


def jmicron(size):
    return size - SECTOR, b"JM" + bytes([0, 1])


def adaptec(size):
    meta = bytearray(SECTOR)
    struct.pack_into(">I", meta, 0, 0x37FC4D1E)
    struct.pack_into(">I", meta, 256, 0x4450544D)  # "DPTM"
    return size - SECTOR, bytes(meta)


KINDS = {f.__name__: f for f in (hpt37x, hpt45x, isw, nvidia, promise, ddf, via, silicon, lsi, jmicron, adaptec)}


def main():
    if len(sys.argv) < 5 or any(k not in KINDS for k in sys.argv[4:]):
        sys.exit(__doc__.split("usage: ")[1].strip() + "\nkinds: " + " ".join(KINDS))
    dev, start, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fd = os.open(dev, os.O_WRONLY)
    try:
        for kind in sys.argv[4:]:
            off, data = KINDS[kind](size)
            os.pwrite(fd, data, start + off)
        os.fsync(fd)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
