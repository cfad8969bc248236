#!/usr/bin/env python3
"""tests/httpd/make_archives.py OUTDIR: writes the archives the fetch tests serve, generated at
test time (deterministic: fixed names, contents, mtimes) instead of binaries in the repository.

  good.tar.{xz,gz,bz2,zst}  a small tree: nested dirs, an executable, relative symlinks (one
                            climbing with ../), a hardlink, a hardlink to a symlink, an empty file
  many.tar.zst              10,000 small files in 100 directories
  empties.tar.xz            100,000 empty files in 100 directories (about 100 KiB compressed)
  bomb.tar.xz               one 256 MiB file of zeros (about 40 KiB compressed)
  evil-*.tar                one unsafe entry each (after a harmless one):
    dotdot, absolute, symlink-escape, symlink-absolute, symlink-dotdot-after-name,
    hardlink-escape, chardev, blockdev, fifo, setuid, setgid, write-through-symlink, dir-onto-symlink,
    hardlink-to-escaping-symlink, hardlink-to-directory, hardlink-to-missing,
    hardlink-through-symlink, hardlink-to-dot
"""
import io
import os
import subprocess
import sys
import tarfile

MTIME = 1700000000


def info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.linkname, ti.mtime = kind, size, mode, linkname, MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def add_file(tar, name, data, mode=0o644):
    tar.addfile(info(name, size=len(data), mode=mode), io.BytesIO(data))


def add_dir(tar, name):
    tar.addfile(info(name, tarfile.DIRTYPE, mode=0o755))


def write_tar(path, entries, mode="w"):
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tar:
        entries(tar)


def good(tar):
    add_dir(tar, "pkgs")
    add_dir(tar, "pkgs/lib")
    add_file(tar, "pkgs/default.nix", b"{ }: import ./lib\n")
    add_file(tar, "pkgs/lib/default.nix", b"{ answer = 42; }\n" * 50)
    add_file(tar, "pkgs/bin-tool", b"#!/bin/sh\necho tool\n", mode=0o755)
    add_file(tar, "pkgs/empty", b"")
    tar.addfile(info("pkgs/lib/up", tarfile.SYMTYPE, linkname="../default.nix"))
    tar.addfile(info("pkgs/here", tarfile.SYMTYPE, linkname="lib/default.nix"))
    tar.addfile(info("pkgs/hard", tarfile.LNKTYPE, linkname="pkgs/default.nix"))
    # a second name for a symlink, in the same directory: it stays inside from there too
    tar.addfile(info("pkgs/here-again", tarfile.LNKTYPE, linkname="pkgs/here"))


def many(tar):
    for d in range(100):
        add_dir(tar, "many/d%03d" % d)
        for f in range(100):
            add_file(tar, "many/d%03d/f%03d.nix" % (d, f), b"{ d = %d; f = %d; }\n" % (d, f))


def empties(tar):
    for d in range(100):
        add_dir(tar, "e/d%02d" % d)
        for f in range(1000):
            add_file(tar, "e/d%02d/f%03d" % (d, f), b"")


class Zeros(io.RawIOBase):
    def __init__(self, n):
        super().__init__()
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def bomb(tar):
    size = 256 << 20
    tar.addfile(info("bomb/zeros", size=size), io.BufferedReader(Zeros(size)))


def evil(kind):
    def entries(tar):
        add_file(tar, "ok.txt", b"harmless\n")
        if kind == "dotdot":
            add_file(tar, "sub/../../escaped", b"out\n")
        elif kind == "absolute":
            add_file(tar, "/tmp/nmmm-images-absolute-escape", b"out\n")
        elif kind == "symlink-escape":
            tar.addfile(info("link", tarfile.SYMTYPE, linkname="../../etc"))
        elif kind == "symlink-absolute":
            tar.addfile(info("link", tarfile.SYMTYPE, linkname="/etc/passwd"))
        elif kind == "symlink-dotdot-after-name":
            tar.addfile(info("a/link", tarfile.SYMTYPE, linkname="b/../../.."))
        elif kind == "hardlink-escape":
            tar.addfile(info("hl", tarfile.LNKTYPE, linkname="../outside"))
        elif kind == "chardev":
            ti = info("null", tarfile.CHRTYPE, mode=0o666)
            ti.devmajor, ti.devminor = 1, 3
            tar.addfile(ti)
        elif kind == "blockdev":
            ti = info("disk", tarfile.BLKTYPE, mode=0o660)
            ti.devmajor, ti.devminor = 7, 0
            tar.addfile(ti)
        elif kind == "fifo":
            tar.addfile(info("pipe", tarfile.FIFOTYPE))
        elif kind == "setuid":
            add_file(tar, "su", b"#!/bin/sh\n", mode=0o4755)
        elif kind == "setgid":
            add_file(tar, "sg", b"#!/bin/sh\n", mode=0o2755)
        elif kind == "write-through-symlink":
            # an in-tree symlink to a directory, then a file written through it
            add_dir(tar, "real")
            tar.addfile(info("via", tarfile.SYMTYPE, linkname="real"))
            add_file(tar, "via/file", b"through\n")
        elif kind == "dir-onto-symlink":
            # an in-tree symlink to a directory, then a directory entry of the same name, whose
            # mode and times would be applied through the link
            add_dir(tar, "real")
            tar.addfile(info("via", tarfile.SYMTYPE, linkname="real"))
            add_dir(tar, "via")
        elif kind == "hardlink-to-escaping-symlink":
            # the symlink stays inside from a/b; a second name for it at the top leaves
            add_dir(tar, "a")
            add_dir(tar, "a/b")
            tar.addfile(info("a/b/up", tarfile.SYMTYPE, linkname="../../escaped"))
            tar.addfile(info("hl", tarfile.LNKTYPE, linkname="a/b/up"))
        elif kind == "hardlink-to-directory":
            add_dir(tar, "real")
            tar.addfile(info("hl", tarfile.LNKTYPE, linkname="real"))
        elif kind == "hardlink-to-missing":
            tar.addfile(info("hl", tarfile.LNKTYPE, linkname="nothere"))
        elif kind == "hardlink-through-symlink":
            add_dir(tar, "real")
            add_file(tar, "real/f", b"inside\n")
            tar.addfile(info("via", tarfile.SYMTYPE, linkname="real"))
            tar.addfile(info("hl", tarfile.LNKTYPE, linkname="via/f"))
        elif kind == "hardlink-to-dot":
            tar.addfile(info("hl", tarfile.LNKTYPE, linkname="."))
    return entries


EVIL = ["dotdot", "absolute", "symlink-escape", "symlink-absolute", "symlink-dotdot-after-name",
        "hardlink-escape", "chardev", "blockdev", "fifo", "setuid", "setgid", "write-through-symlink", "dir-onto-symlink",
        "hardlink-to-escaping-symlink", "hardlink-to-directory", "hardlink-to-missing",
        "hardlink-through-symlink", "hardlink-to-dot"]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write_tar(os.path.join(out, "good.tar"), good)
    subprocess.run(["xz", "-kf", "-T1", "good.tar"], cwd=out, check=True)
    subprocess.run(["gzip", "-knf", "good.tar"], cwd=out, check=True)
    subprocess.run(["bzip2", "-kf", "good.tar"], cwd=out, check=True)
    subprocess.run(["zstd", "-qf", "good.tar"], cwd=out, check=True)
    write_tar(os.path.join(out, "many.tar"), many)
    subprocess.run(["zstd", "-qf", "--rm", "many.tar"], cwd=out, check=True)
    write_tar(os.path.join(out, "empties.tar"), empties, mode="w")
    subprocess.run(["xz", "-f", "-T1", "empties.tar"], cwd=out, check=True)
    with open(os.path.join(out, "bomb.tar.xz"), "wb") as raw:
        xz = subprocess.Popen(["xz", "-1", "-T1", "-c"], stdin=subprocess.PIPE, stdout=raw)
        with tarfile.open(fileobj=xz.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            bomb(tar)
        xz.stdin.close()
        if xz.wait() != 0:
            sys.exit("xz failed")
    for kind in EVIL:
        write_tar(os.path.join(out, "evil-%s.tar" % kind), evil(kind))


if __name__ == "__main__":
    main()
