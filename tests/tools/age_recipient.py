#!/usr/bin/env python3
"""age_recipient.py FILE...: the age recipient of each ssh-ed25519 public key line in the files.

An independent implementation for cross-checking remote/age.c (tests/unit/test_remote_hostkey.c):
Python's own integers instead of libcrypto's BIGNUM, the bech32 checksum as BIP 173 specifies it.
The Ed25519 key is the y coordinate of a point (its top bit the sign of x); age's X25519 key is
the Montgomery u = (1 + y) / (1 - y) mod 2^255 - 19 (RFC 7748, 4.1), 32 bytes little-endian,
bech32-encoded with the human-readable part "age". A key that is not a point prints "not-a-point".
"""
import base64
import struct
import sys

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32(hrp, data8):
    acc, bits, data = 0, 0, []
    for byte in data8:
        acc = acc << 8 | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            data.append(acc >> bits & 31)
    if bits:
        data.append(acc << (5 - bits) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    chk = polymod(expanded + data + [0] * 6) ^ 1
    data += [chk >> 5 * (5 - i) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data)


def recipient(line):
    fields = line.split()
    blob = base64.b64decode(fields[1] if fields[0] == "ssh-ed25519" else fields[2])
    (n,) = struct.unpack(">I", blob[:4])
    assert blob[4:4 + n] == b"ssh-ed25519", blob[4:4 + n]
    (m,) = struct.unpack(">I", blob[4 + n:8 + n])
    point = blob[8 + n:8 + n + m]
    assert m == 32 and len(blob) == 8 + n + m
    y = int.from_bytes(point, "little") & ((1 << 255) - 1)
    y %= P
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    if pow(x2, (P - 1) // 2, P) not in (0, 1) or y == 1:
        return "not-a-point"
    u = (1 + y) * pow(1 - y, -1, P) % P
    return bech32("age", u.to_bytes(32, "little"))


for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                print(recipient(line))
