#!/usr/bin/env python3
"""fingerprint.py FILE: a SHA-256 of the bytes of a sparse disk image that reads only its data.

Hashing a whole multi-GiB image reads gigabytes of zeros. Holes read as zeros, so the bytes of
the image are exactly: every 64 KiB block inside the data extents (SEEK_DATA/SEEK_HOLE) that is
not all zeros, at its offset. Hashing those (offset, bytes) pairs gives equal fingerprints for
equal images whatever the file system did with extents, and a different one when any byte
differs. Flush the loop device first (blockdev --flushbufs) so its buffers are in the file.
"""
import hashlib
import os
import sys

BLOCK = 64 * 1024
ZERO = bytes(BLOCK)


def fingerprint(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        h.update(b"size %d\n" % size)
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # only a hole is left
            end = os.lseek(fd, start, os.SEEK_HOLE)
            block = start - start % BLOCK
            while block < end:
                f.seek(block)
                data = f.read(BLOCK)
                if data != ZERO[: len(data)]:
                    h.update(b"%d\n" % block)
                    h.update(data)
                block += BLOCK
            pos = max(end, block)
    return h.hexdigest()


if __name__ == "__main__":
    print(fingerprint(sys.argv[1]))
