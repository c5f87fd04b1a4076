#!/usr/bin/env python3
"""N concurrent slow 100 MiB uploads: each sends headers, a multipart head and a real MP4 start, then trickles
1 KiB a second. Prints the target's RSS (MiB) once all N are mid-body. usage: slow.py PORT N PID[,PID..] [AUTH_HEADER_LINE]"""
import asyncio
import os
import sys

MP4 = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "media", "clip.mp4"),
           "rb").read()


def rss(pids):
    total = 0.0
    for pid in pids:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


async def one(port, auth, started):
    _, w = await asyncio.open_connection("127.0.0.1", port)
    b = "slowB"
    head = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
            % b).encode()
    req = ("POST /media HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n%s\r\n"
           % (b, 100 * 1024 * 1024, auth)).encode()
    w.write(req + head + MP4)
    await w.drain()
    started.append(1)
    try:
        while True:
            await asyncio.sleep(1.0)
            w.write(b"\0" * 1024)
            await w.drain()
    except Exception:
        pass


async def main():
    port, n, pid = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3].split(",")]
    auth = (sys.argv[4] + "\r\n") if len(sys.argv) > 4 and sys.argv[4] else ""
    base = rss(pid)
    started = []
    tasks = [asyncio.create_task(one(port, auth, started)) for _ in range(n)]
    for _ in range(120):
        await asyncio.sleep(0.5)
        if len(started) >= n:
            break
    await asyncio.sleep(5)
    during = rss(pid)
    per = (during - base) * 1024 / max(len(started), 1)
    print("connections=%d rss_before=%.1f rss_during=%.1f MiB growth=%.1f MiB per_connection=%.1f KiB"
          % (len(started), base, during, during - base, per))
    for t in tasks:
        t.cancel()


asyncio.run(main())
