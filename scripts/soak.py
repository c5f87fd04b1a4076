#!/usr/bin/env python3
"""Soak: mixed accepted/refused uploads at a steady rate, with random client aborts, against a
running gateway; samples the gateway's RSS and open file descriptors. usage:
soak.py PORT PID SECONDS RATE  (prints samples and a summary; exit 1 on an unexpected status)"""
import os
import random
import socket
import sys
import threading
import time

PORT, PID, SECONDS, RATE = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
FX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
read = lambda p: open(os.path.join(FX, p), "rb").read()
PNG, JPG, MP4, ELF = read("media/photo.png"), read("media/photo.jpg"), read("media/clip.mp4"), read("hostile/elf-binary.bin")
B = "soakB0undary"


def body(name, ctype, content):
    return (('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
             % (B, name, ctype)).encode() + content + ("\r\n--%s--\r\n" % B).encode())


# (weight, kind, body, expected status)
KINDS = [
    (30, "png", body("p.png", "image/png", PNG), 201),
    (20, "jpg", body("p.jpg", "image/jpeg", JPG), 201),
    (15, "mp4", body("v.mp4", "video/mp4", MP4 + bytes(2 << 20)), 201),
    (15, "mismatch", body("cat.png", "image/png", ELF), 415),
    (10, "too-large", None, 413),
    (10, "abort", body("v.mp4", "video/mp4", MP4 + bytes(4 << 20)), None),
]
counts, lock, bad = {}, threading.Lock(), []


def request(kind, data, expected):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    try:
        length = 600 << 20 if kind == "too-large" else len(data)
        head = ("POST /media HTTP/1.1\r\nHost: soak\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (B, length)).encode()
        if kind == "too-large":
            s.sendall(head)
        elif kind == "abort":
            s.sendall(head + data[: random.randint(100, len(data) - 100)])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return "aborted"
        else:
            s.sendall(head + data)
        status = s.recv(64).split(b" ")[1].decode()
        while s.recv(65536):
            pass
        return status
    except (ConnectionError, socket.timeout, IndexError) as e:
        return "error:%s" % type(e).__name__
    finally:
        s.close()


def sample():
    rss = 0
    for line in open("/proc/%d/status" % PID):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024
    return rss, len(os.listdir("/proc/%d/fd" % PID))


def one(kind, data, expected):
    got = request(kind, data, expected)
    with lock:
        counts[(kind, got)] = counts.get((kind, got), 0) + 1
        if expected is not None and got != str(expected):
            bad.append((kind, got))


start = time.time()
stop = start + SECONDS
every = max(1.0, SECONDS / 20)
samples, next_sample, launched = [(0, *sample())], start + every, 0
weights = [k[0] for k in KINDS]
while time.time() < stop:
    _, kind, data, expected = random.choices(KINDS, weights)[0]
    threading.Thread(target=one, args=(kind, data, expected), daemon=True).start()
    launched += 1
    time.sleep(max(0.0, start + launched / RATE - time.time()))
    if time.time() >= next_sample:
        samples.append((round(time.time() - start), *sample()))
        next_sample += every
time.sleep(3)
samples.append((round(time.time() - start), *sample()))
for t, rss, fds in samples:
    print("t=%5ss rss=%4d MiB fds=%d" % (t, rss, fds))
for (kind, got), n in sorted(counts.items()):
    print("%-10s %-18s %d" % (kind, got, n))
warm = samples[min(2, len(samples) - 1)]
print("requests=%d rss: %d MiB after warm-up -> %d MiB at the end; fds: %d -> %d; unexpected=%d"
      % (launched, warm[1], samples[-1][1], warm[2], samples[-1][2], len(bad)))
if bad:
    print("unexpected answers (first 10):", bad[:10])
    sys.exit(1)
