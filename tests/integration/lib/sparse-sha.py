#!/usr/bin/env python3
"""sparse-sha.py FILE: a SHA-256 of a sparse file's content that reads only its data extents
(SEEK_DATA/SEEK_HOLE), hashing each extent's offset with its bytes. Two files give the same
digest exactly when they hold the same bytes in the same allocated places, so a write anywhere
(even of zeros into a hole, which allocates) changes it — at the cost of reading only what is
allocated, where sha256sum of a multi-GiB loop device takes a minute on a busy machine."""
import hashlib
import os
import sys


def digest(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        h.update(b"size %d\n" % end)
        pos = 0
        while pos < end:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # only a hole is left
            stop = os.lseek(fd, start, os.SEEK_HOLE)
            h.update(b"extent %d\n" % start)
            os.lseek(fd, start, os.SEEK_SET)
            left = stop - start
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
            pos = stop
    finally:
        os.close(fd)
    return h.hexdigest()


if __name__ == "__main__":
    print(digest(sys.argv[1]))
