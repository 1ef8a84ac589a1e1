#!/usr/bin/env python3
"""Metadata workloads for scripts/bench.sh (SPEC §10). Each prints one JSON object.

Run as the uid being measured (bench.sh wraps it in setpriv). Timings only: no assertions.
  create DIR N        create + write 4 KiB + close, N files: per-file µs, first/last 1,000
  unlink DIR N        unlink those files: per-file µs
  rename DIR NEW      rename a directory: ms
  openclose DIR N     open+close of N known names (dentries warm) and one statfs round trip
  ls DIR              `ls -l DIR`: ms
  find DIR            `find DIR -ls`: ms
  gallery DIR         list DIR, stat each file, read its first 64 KiB: ms
  mixed DIR SECONDS   mixed metadata ops in a private subdir for SECONDS: ops done
  walk DIR            stat every file below DIR (os.walk + lstat): files, ms
"""
import json
import os
import subprocess
import sys
import time

DATA = b"\x5a" * 4096


def now():
    return time.perf_counter()


def create(d, n):
    n = int(n)
    per = []
    for i in range(n):
        t = now()
        fd = os.open(f"{d}/f{i:06d}.dat", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, DATA)
        os.close(fd)
        per.append(now() - t)
    k = min(1000, n)
    us = lambda xs: round(sum(xs) / max(1, len(xs)) * 1e6, 1)
    return {"per_file_us": us(per), "first_us": us(per[:k]), "last_us": us(per[-k:])}


def unlink(d, n):
    n = int(n)
    t = now()
    for i in range(n):
        os.unlink(f"{d}/f{i:06d}.dat")
    return {"per_file_us": round((now() - t) / n * 1e6, 1)}


def rename(d, new):
    t = now()
    os.rename(d, new)
    return {"ms": round((now() - t) * 1e3, 2)}


def openclose(d, n):
    names = sorted(os.listdir(d))[: int(n)]
    paths = [f"{d}/{x}" for x in names]
    for p in paths:
        os.stat(p)
    t = now()
    for p in paths:
        os.close(os.open(p, os.O_RDONLY))
    oc = (now() - t) / len(paths)
    t = now()
    for _ in range(len(paths)):
        os.statvfs(d)
    sf = (now() - t) / len(paths)
    return {"open_close_us": round(oc * 1e6, 1), "statfs_us": round(sf * 1e6, 1)}


def run_ms(argv):
    t = now()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return {"ms": round((now() - t) * 1e3, 1)}


def gallery(d):
    t = now()
    names = os.listdir(d)
    for x in names:
        p = f"{d}/{x}"
        os.stat(p)
        with open(p, "rb") as f:
            f.read(65536)
    return {"ms": round((now() - t) * 1e3, 1), "files": len(names)}


def mixed(d, seconds):
    os.makedirs(d, exist_ok=True)
    end = now() + float(seconds)
    ops = i = 0
    while now() < end:
        a, b = f"{d}/m{i % 16}.txt", f"{d}/n{i % 16}.txt"
        fd = os.open(a, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.close(fd)
        os.stat(a)
        os.rename(a, b)
        os.listdir(d)
        os.unlink(b)
        ops += 5
        i += 1
    return {"ops": ops}


def walk(d):
    t = now()
    files = 0
    for root, _dirs, names in os.walk(d):
        for x in names:
            os.lstat(f"{root}/{x}")
            files += 1
    return {"files": files, "ms": round((now() - t) * 1e3, 1)}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ls":
        out = run_ms(["ls", "-l", args[0]])
    elif cmd == "find":
        out = run_ms(["find", args[0], "-ls"])
    else:
        out = globals()[cmd](*args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
