#!/usr/bin/env python3
"""Connection flood against a running gateway (issue 22's acceptance, scripts/hostile.sh):
IDLE connections that send nothing and TRICKLE connections that send a request head one byte
every 3 s, spread over loopback source addresses (127.0.x.y, under the per-client cap), while a
normal upload is timed on a fresh connection every second (in a process of its own); then
CAP+10 connections from one address. Prints when each kind was closed, the uploads' latencies,
the refusals beyond the cap, and the gateway's RSS at start, warmed up (before the flood), at
peak and after. Exit 1 if a connection outlives its deadline (+ 5 s), an upload fails, or the
cap does not refuse exactly the extra ones.
usage: hostile_conns.py PORT PID IDLE TRICKLE CAP FIRST_BYTE_S HEAD_S SETTLE_S"""
import asyncio
import multiprocessing
import os
import socket
import sys
import time

PORT, PID, IDLE, TRICKLE, CAP = (int(a) for a in sys.argv[1:6])
FIRST_BYTE, HEAD, SETTLE = (float(a) for a in sys.argv[6:9])
PER_ADDR = max(1, min(200, CAP - 1)) if CAP else 200
PNG = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                        "media", "photo.png"), "rb").read()
B = "hostileB"
BODY = (('--%s\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
         'Content-Type: image/png\r\n\r\n' % B).encode() + PNG + ("\r\n--%s--\r\n" % B).encode())
UPLOAD = ("POST /media HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
          "Content-Length: %d\r\nConnection: close\r\n\r\n" % (B, len(BODY))).encode() + BODY


def rss_mib(field="VmRSS"):
    for line in open("/proc/%d/status" % PID):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_parts():
    """Anonymous (heap, stacks) and file-backed (the binary's code pages) resident MiB."""
    threads = next((l.split()[1] for l in open("/proc/%d/status" % PID) if l.startswith("Threads:")), "?")
    return "anonymous %.0f, file-backed %.0f, %s threads" % (rss_mib("RssAnon"), rss_mib("RssFile"), threads)


def source(i, base):
    """The i-th connection's loopback source address (PER_ADDR per address, none repeated)."""
    a = base + i // PER_ADDR
    return "127.%d.%d.%d" % (1 + a // (254 * 256), a // 254 % 256, 1 + a % 254)


async def open_from(addr):
    return await asyncio.open_connection("127.0.0.1", PORT, local_addr=(addr, 0))


async def until_closed(r, t0):
    try:
        while await r.read(4096):
            pass
    except (ConnectionError, OSError):
        pass
    return time.monotonic() - t0


async def idle(i, t0, out):
    try:
        r, w = await open_from(source(i, 0))
    except OSError as e:
        out.append(("error", str(e)))
        return
    out.append(("closed", await until_closed(r, t0)))


async def trickle(i, t0, out):
    try:
        r, w = await open_from(source(i, 30000))
    except OSError as e:
        out.append(("error", str(e)))
        return
    head = b"POST /media HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000
    closed = asyncio.create_task(until_closed(r, t0))
    for b in head:
        if closed.done():
            break
        try:
            w.write(bytes([b]))
            await w.drain()
        except (ConnectionError, OSError):
            break
        await asyncio.wait([closed], timeout=3)
    out.append(("closed", await closed))


async def upload():
    t = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", PORT)
    w.write(UPLOAD)
    await w.drain()
    line = await r.readline()
    w.close()
    return time.monotonic() - t, line.split(b" ")[1].decode() if line else "closed"


def timed_uploads(results, stop, t0):
    """A normal upload on a fresh connection every second, timed in a process of its own: the
    flood's event loop (busy opening thousands of sockets) must not delay the measurement."""
    while not stop.is_set():
        t = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=30) as s:
                s.sendall(UPLOAD)
                line = s.makefile("rb").readline()
            status = line.split(b" ")[1].decode() if line else "closed"
        except OSError:
            status = "error"
        results.put((t - t0, time.monotonic() - t, status))
        stop.wait(1)


def summary(name, out, limit):
    times = sorted(t for k, t in out if k == "closed")
    errors = [t for k, t in out if k == "error"]
    worst = times[-1] if times else 0
    print("%s: %d opened, %d open errors, closed after min %.1f s / median %.1f s / max %.1f s "
          "(deadline %.0f s)" % (name, len(out), len(errors), times[0] if times else 0,
                                 times[len(times) // 2] if times else 0, worst, limit))
    return not errors and worst <= limit + 5


async def main():
    cold = rss_mib()
    # The baseline is the gateway serving normally: the first requests allocate once for good
    # (lazy tables, metric families, the upstream connection pool, per-thread caches) — not
    # memory a flood leaves behind. Both are printed.
    for _ in range(20):
        await upload()
    base = rss_mib()
    base_parts = rss_parts()
    t0 = time.monotonic()
    idles, trickles = [], []
    tasks = [asyncio.create_task(idle(i, t0, idles)) for i in range(IDLE)]
    tasks += [asyncio.create_task(trickle(i, t0, trickles)) for i in range(TRICKLE)]
    peak, latencies, statuses = base, [], []
    results, stop = multiprocessing.Queue(), multiprocessing.Event()
    timer = multiprocessing.Process(target=timed_uploads, args=(results, stop, t0))
    timer.start()
    while any(not t.done() for t in tasks):
        await asyncio.sleep(1)
        peak = max(peak, rss_mib())
        if time.monotonic() - t0 > FIRST_BYTE + HEAD + 120:
            break
    stop.set()
    timer.join()
    while not results.empty():
        at, dt, status = results.get()
        if dt > 0.1:
            print("slow upload at %.1f s: %.0f ms" % (at, 1000 * dt))
        latencies.append(dt)
        statuses.append(status)
    await asyncio.gather(*tasks, return_exceptions=True)
    ok = summary("idle", idles, FIRST_BYTE) & summary("trickle", trickles, FIRST_BYTE + HEAD)
    latencies.sort()
    print("uploads during the flood: %d, statuses %s, latency median %.0f ms, max %.0f ms"
          % (len(latencies), sorted(set(statuses)), 1000 * latencies[len(latencies) // 2],
             1000 * latencies[-1]))
    ok &= set(statuses) == {"201"}
    if CAP:
        # The gateway accepts them in its own order: exactly 10 of the CAP + 10 must be closed
        # on accept (at once); the others when their first-byte deadline passes.
        conns = []
        for _ in range(CAP + 10):
            r, w = await open_from("127.0.250.1")
            conns.append((r, w, time.monotonic()))
        closes = await asyncio.gather(
            *(asyncio.wait_for(until_closed(r, t), FIRST_BYTE + 5) for r, _, t in conns),
            return_exceptions=True)
        refused = sum(1 for c in closes if isinstance(c, float) and c < FIRST_BYTE / 2)
        print("per-client cap %d: %d of %d connections from one address closed on accept, the "
              "rest at their first-byte deadline" % (CAP, refused, CAP + 10))
        ok &= refused == 10
        for _, w, _ in conns:
            w.close()
    await asyncio.sleep(SETTLE)
    after = rss_mib()
    print("gateway RSS: %.0f MiB at start, %.0f MiB warmed up (20 uploads) before the flood, "
          "%.0f MiB peak, %.0f MiB %.0f s after (%.2fx warmed, %.2fx start)"
          % (cold, base, peak, after, SETTLE, after / base, after / cold))
    print("  of which before: %s; after: %s" % (base_parts, rss_parts()))
    ok &= after <= 2 * base
    sys.exit(0 if ok else 1)


asyncio.run(main())
