#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60), seeded from
# tests/fixtures and the malformed/ambiguous bodies the tests use, with libFuzzer's memory and
# time limits. Findings land in fuzz/artifacts/TARGET/ and become regression tests.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   FUZZ_RUNS=N        run N executions per target instead of SECONDS
#   FUZZ_SANITIZER=X   cargo-fuzz sanitizer (default address; `none` runs several times faster)
#   FUZZ_BUILD=dev     unoptimised targets (CI's smoke: they build in a fraction of the time and
#                      run slower; overflow checks and debug assertions are on either way)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
TARGETS=${*:-multipart differential params sniff credential config traceparent query json structure verdict svg raw_body s3_auth s3_multipart aws_chunked tus}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
scripts/prereqs.sh

python3 - <<'PY'
import os
root = "fuzz/corpus"
fx = "tests/fixtures"
def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    if not os.path.exists(p):
        open(p, "wb").write(data)
def part(name, content, filename=None, ctype=None, extra=b""):
    h = b'--b0undary\r\nContent-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        h += b'; filename="' + filename + b'"'
    h += b"\r\n"
    if ctype:
        h += b"Content-Type: " + ctype + b"\r\n"
    return h + extra + b"\r\n" + content + b"\r\n"
png = open(os.path.join(fx, "media/photo.png"), "rb").read()[:2000]
bodies = {
    "plain": part(b"title", b"hello") + part(b"file", png, b"p.png", b"image/png") + b"--b0undary--\r\n",
    "empty-filename": part(b"avatar", b"#!/bin/sh\n", b"") + b"--b0undary--\r\n",
    "octet": part(b"avatar", b"<svg onload=x>", None, b"application/octet-stream") + b"--b0undary--\r\n",
    "ext-filename": b'--b0undary\r\nContent-Disposition: form-data; name="f"; filename*=UTF-8\'\'%C3%A9.png\r\n\r\nx\r\n--b0undary--\r\n',
    "folded": b'--b0undary\r\nContent-Disposition: form-data;\r\n name="f"\r\n\r\nx\r\n--b0undary--\r\n',
    "dup-header": b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\r\n--b0undary--\r\n',
    "bare-lf": b'--b0undary\nContent-Disposition: form-data; name="a"\n\nx\n--b0undary--\n',
    "preamble": b'junk\r\n--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b0undary--\r\n',
    "epilogue": part(b"a", b"x") + b"--b0undary--\r\ntrailing",
    "quoted": b'--b0undary\r\nContent-Disposition: form-data; name="a\\"b"\r\n\r\nx\r\n--b0undary--\r\n',
}
for k, v in bodies.items():
    put("multipart", k, b"\x07\x20\x03\xff" + v)
    put("differential", k, v)
for k, v in {"plain": b"multipart/form-data; boundary=b0undary",
             "quoted": b'multipart/form-data; boundary="a b"; charset=utf-8',
             "two": b"multipart/form-data; boundary=a; boundary=b",
             "disp": b'form-data; name="file"; filename="a.png"; filename*=UTF-8\'\'a.png'}.items():
    put("params", k, v)
for sub in ("media", "hostile"):
    for f in sorted(os.listdir(os.path.join(fx, sub))):
        if f.endswith(".tsv"):
            continue
        put("sniff", f, open(os.path.join(fx, sub, f), "rb").read()[:65536])
for k, v in {"bearer": b"\x00Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2ln",
             "key": b"\x01so_live_00112233445566778899aabbccddeeff",
             "two": b"\x00Bearer a\nBearer b"}.items():
    put("credential", k, v)
for f in sorted(os.listdir("conf")):
    if f.endswith(".toml"):
        put("config", f, open(os.path.join("conf", f), "rb").read())
for k, v in {"w3c": b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "future": b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"}.items():
    put("traceparent", k, v)
for k, v in {"plain": b"page=1&page_size=10", "encoded": b"page%5Fsize=1%30&x=a+b",
             "twice": b"page_size=1&page_size=2"}.items():
    put("query", k, v)
for k, v in {"url": b'{"url":"https://192.0.2.1/a.mp4"}', "dup": b'{"url":"a","url":"b"}',
             "mapped": b'{"url":"http://[::ffff:7f00:1]/"}', "decimal": b'{"url":"http://2130706433/"}',
             "nested": b'{"url":"http://0x7f.1/","x":{"y":[1,{"z":null}]}}'}.items():
    put("json", k, v)
for i, f in enumerate(["photo.jpg", "photo.png", "photo.gif", "report.pdf", "photo.webp"]):
    put("structure", f, bytes([i, 7]) + open(os.path.join(fx, "media", f), "rb").read()[:65536])
put("structure", "pdf-js", b"\x03\x05%PDF-1.7\n1 0 obj << /S /J#61vaScript /JS (x) >> endobj\n%%EOF\n")
import struct, zlib
for i, f in [(6, "icon.ico"), (7, "report.docx")]:
    put("structure", f, bytes([i, 7]) + open(os.path.join(fx, "media", f), "rb").read()[:65536])
put("structure", "archive.zip", bytes([8, 3]) + open(os.path.join(fx, "hostile/archive.zip"), "rb").read())
ifd = lambda w, h, nxt: struct.pack("<H", 2) + struct.pack("<HHII", 256, 4, 1, w) + struct.pack("<HHII", 257, 4, 1, h) + struct.pack("<I", nxt)
put("structure", "tiff-two-pages", b"\x05\x05II*\x00" + struct.pack("<I", 8) + ifd(10, 10, 38) + ifd(20, 20, 0))
rows = b"".join(b"\x02" + bytes(8) for _ in range(3))
objstm = zlib.compress(b"\x00" + b"2 0 << /JS (x) >>".ljust(8 * 3)[:8] + rows[9:])
put("structure", "pdf-objstm-predictor", b"\x03\x09%PDF-1.7\n1 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 8 >> >>\nstream\r\n" + objstm + b"\nendstream endobj\n%%EOF\n")
for k, v in {"body": b'\x00--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name="upload_gateway_verdict"\r\n\r\n{"version":1,"issued_at":0,"files":[]}\r\n--b\r\nContent-Disposition: form-data; name="upload_gateway_verdict_signature"\r\n\r\nsha256=00\r\n--b--\r\n',
             "clamd": b"\x01stream: Eicar FOUND\x00", "key": b'\x02"abc-123"'}.items():
    put("verdict", k, v)
for k, v in {"clean": b'\x07<?xml version="1.0"?><!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><!-- c --><style><![CDATA[.a{fill:url(#g)}]]></style><use xlink:href="#p"/><text>a &amp; b &#x41;</text></svg>',
             "script": b'\x03<svg xmlns="http://www.w3.org/2000/svg"><x:script xmlns:x="http://www.w3.org/2000/svg">x</x:script></svg>',
             "entity": b'\x05<!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>',
             "hostile": b'\x01' + open(os.path.join(fx, "hostile/scripted.svg"), "rb").read()}.items():
    put("svg", k, v)
for i, f in enumerate(["photo.png", "photo.jpg", "report.pdf", "photo.gif"]):
    put("raw_body", f, bytes([i * 13, i]) + open(os.path.join(fx, "media", f), "rb").read()[:65536])
put("raw_body", "svg", b"\x05\x02" + open(os.path.join(fx, "hostile/scripted.svg"), "rb").read())
for k, v in {"presigned": b"b/k.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=00\n\ncontent-type\nimage/png",
             "header": b"b/k\nAWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\nx-amz-date\n20261206T000000Z",
             "unsigned": b"k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2Fd%2Fr%2Fs3%2Faws4_request\n\nx_amz_copy_source\n/b/o",
             "verified": b"b/k%24.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261206T000000Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=content-type%3Bhost&a=%2B+b&X-Amz-Signature=" + b"0" * 64 + b"\n\ncontent-type\n image/png  x"}.items():
    put("s3_auth", k, v)
for k, v in {"complete": b"\x01" + b'<?xml version="1.0"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a1"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;b2&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>',
             "created": b"\x01" + b'<InitiateMultipartUploadResult><Bucket>m</Bucket><Key>v.mp4</Key><UploadId>VXBsb2Fk</UploadId></InitiateMultipartUploadResult>',
             "part": b"\x00partNumber=3&uploadId=abc%2F1&X-Amz-Date=1",
             "create": b"\x01uploads",
             "form": b"\x01" + b"key=up.jpg\nContent-Type=image/jpeg\nx-amz-algorithm=AWS4-HMAC-SHA256\nx-amz-credential=AKID/20261207/us-east-1/s3/aws4_request\nx-amz-date=20261207T054130Z\nx-amz-signature=" + b"ab" * 32 + b"\npolicy=" + __import__("base64").b64encode(b'{"expiration": "2026-12-07T06:00:00.000Z", "conditions": [["content-length-range", 1, 100000], ["starts-with", "$Content-Type", "image/"], {"key": "up.jpg"}]}')}.items():
    put("s3_multipart", k, v)
for k, v in {"unsigned": b"\x07\x08" + b"5\r\nhello\r\n0\r\n\r\n",
             "crc32": b"\x03\x29" + b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
             "signed": b"\x02\x2c" + b"5;chunk-signature=" + b"a" * 64 + b"\r\nhello\r\n0;chunk-signature=" + b"b" * 64 + b"\r\n\r\n"}.items():
    put("aws_chunked", k, v)
for i, f in enumerate(["photo.png", "photo.jpg", "report.pdf"]):
    head = b"Tus-Resumable: 1.0.0\nUpload-Length: 12\nUpload-Metadata: filetype aW1hZ2UvcG5n\n"
    put("tus", f, bytes([i * 7 + 1, i * 3 + 2, i]) + head + open(os.path.join(fx, "media", f), "rb").read()[:65536])
PY

BUILD=()
[ "${FUZZ_BUILD:-}" = dev ] && BUILD=(--dev)
# Several targets: build them all in one cargo run (their links run in parallel) instead of one
# at a time as each `cargo fuzz run` would.
if [ "$(wc -w <<<"$TARGETS")" -gt 1 ]; then
  cargo +nightly fuzz build --fuzz-dir fuzz -s "${FUZZ_SANITIZER:-address}" "${BUILD[@]}"
fi
for t in $TARGETS; do
  dict=()
  case $t in multipart|differential) dict=(-dict=fuzz/multipart.dict) ;; esac
  limit=(-max_total_time="$SECS")
  [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
  echo "== $t (${limit[*]}, sanitizer ${FUZZ_SANITIZER:-address})"
  mkdir -p "fuzz/corpus/$t"
  out=$(cargo +nightly fuzz run --fuzz-dir fuzz -s "${FUZZ_SANITIZER:-address}" "${BUILD[@]}" "$t" "fuzz/corpus/$t" -- \
    "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -max_len=70000 "${dict[@]}" \
    -print_final_stats=1 2>&1) || true
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|panicked|SUMMARY|Done [0-9]+ runs" <<<"$out" || true
  # A target that never ran (missing corpus, build failure) must not pass as a clean smoke.
  if ! grep -q "stat::number_of_executed_units" <<<"$out"; then
    echo "$t: the fuzzer did not run" >&2
    exit 1
  fi
  if ls "fuzz/artifacts/$t"/crash-* "fuzz/artifacts/$t"/timeout-* "fuzz/artifacts/$t"/oom-* >/dev/null 2>&1; then
    echo "$t: findings in fuzz/artifacts/$t" >&2
    exit 1
  fi
done
