#!/usr/bin/env python3
"""A burst of small uploads from distinct tenants (issue 22 §2): N uploads, each with its own
HS256 JWT (org_id = its tenant), started evenly over SECONDS from many loopback source
addresses, each on its own connection. Prints the answers by status, the share that got a
decision (2xx or 429), the ones with no answer within 60 s, latency percentiles, and the
gateway's CPU time. Exit 1 if fewer than 99 % got a decision or any hung.
usage: burst.py PORT PID N SECONDS SECRET_FILE"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time

PORT, PID, N = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
SECONDS, SECRET = float(sys.argv[4]), open(sys.argv[5], "rb").read().strip()
PNG = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                        "media", "photo.png"), "rb").read()
B = "burstB"
BODY = (('--%s\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n'
         'Content-Type: image/png\r\n\r\n' % B).encode() + PNG + ("\r\n--%s--\r\n" % B).encode())


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def jwt(tenant):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": "user-" + tenant, "org_id": tenant, "scope": "media:write",
              "exp": int(time.time()) + 3600}
    payload = b64(json.dumps(claims).encode())
    signing = head + b"." + payload
    return (signing + b"." + b64(hmac.new(SECRET, signing, hashlib.sha256).digest())).decode()


def request(tenant):
    return ("POST /media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (jwt(tenant), B, len(BODY))).encode() + BODY


def cpu_seconds():
    fields = open("/proc/%d/stat" % PID).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one(i, start_at, out):
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    t = time.monotonic()
    src = "127.%d.%d.%d" % (1 + i // 200 // (254 * 256), i // 200 // 254 % 256, 1 + i // 200 % 254)
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", PORT, local_addr=(src, 0)), 60)
        w.write(REQS[i])
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 60)
        status = line.split(b" ")[1].decode() if line else "closed"
        w.close()
    except asyncio.TimeoutError:
        status = "no answer in 60 s"
    except OSError as e:
        status = "error: %s" % e.strerror
    out.append((status, time.monotonic() - t))


REQS = [request("burst-tenant-%d" % i) for i in range(N)]


async def main():
    cpu0, out = cpu_seconds(), []
    t0 = time.monotonic() + 0.5
    await asyncio.gather(*(one(i, t0 + SECONDS * i / N, out) for i in range(N)))
    statuses = {}
    for s, _ in out:
        statuses[s] = statuses.get(s, 0) + 1
    lat = sorted(t for _, t in out)
    decided = sum(n for s, n in statuses.items() if s.startswith("2") or s == "429")
    hung = statuses.get("no answer in 60 s", 0)
    pct = lambda p: 1000 * lat[min(len(lat) - 1, int(p * len(lat)))]
    print("%d uploads from %d tenants over %.0f s: %s" % (N, N, SECONDS, dict(sorted(statuses.items()))))
    print("decisions (2xx or 429): %.2f %%, no answer: %d; latency p50 %.0f ms, p99 %.0f ms, max %.0f ms; "
          "gateway CPU %.1f s (%.0f us per upload)"
          % (100.0 * decided / N, hung, pct(0.5), pct(0.99), 1000 * lat[-1],
             cpu_seconds() - cpu0, 1e6 * (cpu_seconds() - cpu0) / N))
    sys.exit(0 if decided >= 0.99 * N and hung == 0 else 1)


asyncio.run(main())
