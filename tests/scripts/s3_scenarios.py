"""boto3 against the gateway fronting an S3 server that verifies signatures (tests/it/s3.rs).

usage: s3_scenarios.py GATEWAY STORAGE ACCESS_KEY SECRET FIXTURES [all|quota|https|virtual|multipart|instances|post]
(https: GATEWAY is an https:// URL and AWS_CA_BUNDLE names its certificate; boto3 then sends
aws-chunked bodies with a CRC32 trailer. virtual: GATEWAY is http://s3.example.com:PORT, which
this script resolves, with every *.s3.example.com, to 127.0.0.1; requests are virtual-hosted.
multipart: upload_file and hand-driven multipart uploads. instances: the parts of one upload
through GATEWAY and the gateway in $GATEWAY2, which share a Redis store. post: presigned POST
forms as a browser sends them.)
Prints one JSON object: each scenario's outcome (status, S3 error code, and for stored objects
the SHA-256 read back through the gateway).
"""

import hashlib
import http.client
import json
import re
import socket
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

gateway, storage, key_id, secret, fixtures = sys.argv[1:6]
scenario = sys.argv[6] if len(sys.argv) > 6 else "all"
BUCKET = "media"


def client(endpoint, key=key_id, secret_key=secret, style="path"):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": style},
            signature_version="s3v4",
            retries={"max_attempts": 1},
        ),
    )


gw = client(gateway)
direct = client(storage)


def fixture(name):
    with open(f"{fixtures}/{name}", "rb") as f:
        return f.read()


def error(e):
    return {
        "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        "code": e.response["Error"].get("Code"),
        "message": e.response["Error"].get("Message"),
    }


def raw_put(url, body, headers):
    req = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return {"status": r.status}
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else None
        return {"status": e.code, "code": code, "body": text}


def presigned_put(c, key, content_type, body, extra=None):
    url = c.generate_presigned_url(
        "put_object",
        Params={"Bucket": BUCKET, "Key": key, "ContentType": content_type},
        ExpiresIn=600,
    )
    return raw_put(url, body, {"Content-Type": content_type, **(extra or {})})


def put_object(c, key, content_type, body):
    try:
        r = c.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
        return {"status": r["ResponseMetadata"]["HTTPStatusCode"]}
    except ClientError as e:
        return error(e)


def stored(key):
    """The object's SHA-256, read back through the gateway, or the error."""
    try:
        body = gw.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return {"sha256": hashlib.sha256(body).hexdigest()}
    except ClientError as e:
        return error(e)


png = fixture("media/photo.png")
jpg = fixture("media/photo.jpg")
elf = fixture("hostile/elf-binary.bin")
svg = fixture("hostile/scripted.svg")
late_svg = (
    b'<svg xmlns="http://www.w3.org/2000/svg">'
    + b"<g/>" * 20000
    + b"<script>alert(1)</script></svg>"
)
out = {}
MiB = 1 << 20


def padded_mp4(size):
    """The corpus MP4 grown to `size` bytes by a trailing `free` box."""
    head = fixture("media/clip.mp4")
    pad = size - len(head)
    return head + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)


def code_of(e):
    m = re.search(r"\(([A-Za-z]+)\)", str(e))
    return m.group(1) if m else str(e)


def hand_driven(key, data, part_size, order, part_client=None, done_client=None, ctype="video/mp4"):
    """Create, upload the parts numbered in `order` (each through part_client(n)), Complete."""
    try:
        up = gw.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType=ctype)["UploadId"]
    except ClientError as e:
        return {"create": error(e)}
    chunks = [data[i:i + part_size] for i in range(0, len(data), part_size)]
    etags, parts = {}, {}
    for n in order:
        c = part_client(n) if part_client else gw
        try:
            etags[n] = c.upload_part(Bucket=BUCKET, Key=key, UploadId=up, PartNumber=n, Body=chunks[n - 1])["ETag"]
            parts[n] = 200
        except ClientError as e:
            parts[n] = error(e)
    listed = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
    try:
        (done_client or gw).complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=up, MultipartUpload={"Parts": listed})
        done = {"status": 200}
    except ClientError as e:
        done = error(e)
    return {"upload_id": up, "parts": parts, "complete": done}


def still_open(key, up):
    """Whether the storage still takes parts for the upload. An aborted one does not: S3 says
    NoSuchUpload, s3s-fs AccessDenied (it knows no such upload for the key)."""
    try:
        direct.upload_part(Bucket=BUCKET, Key=key, UploadId=up, PartNumber=9, Body=b"x")
        return True
    except ClientError as e:
        return error(e)["code"] not in ("NoSuchUpload", "AccessDenied")


if scenario == "multipart":
    from boto3.s3.transfer import TransferConfig
    from boto3.exceptions import S3UploadFailedError
    import tempfile

    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    sent_parts = []
    gw.meta.events.register("before-send.s3.UploadPart", lambda request, **_: sent_parts.append(1))

    def upload_file(key, data, ctype):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            try:
                gw.upload_file(f.name, BUCKET, key, ExtraArgs={"ContentType": ctype}, Config=cfg)
                return {"status": 200}
            except S3UploadFailedError as e:
                return {"code": code_of(e), "error": str(e)}

    big = padded_mp4(64 * MiB)
    out["mp4_sha256"] = hashlib.sha256(big).hexdigest()
    out["upload_file_mp4"] = upload_file("big.mp4", big, "video/mp4")
    out["upload_file_parts"] = len(sent_parts)
    out["upload_file_mp4_stored"] = stored("big.mp4")
    out["upload_file_elf"] = upload_file("elf.mp4", elf + bytes(64 * MiB - len(elf)), "video/mp4")
    out["upload_file_elf_stored"] = stored("elf.mp4")
    small = padded_mp4(16 * MiB)
    out["small_sha256"] = hashlib.sha256(small).hexdigest()
    out["reverse"] = hand_driven("reverse.mp4", small, 5 * MiB, [4, 3, 2, 1])
    out["reverse_stored"] = stored("reverse.mp4")
    try:
        gw.complete_multipart_upload(Bucket=BUCKET, Key="reverse.mp4", UploadId=out["reverse"]["upload_id"],
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]})
        out["reverse_again"] = {"status": 200}
    except ClientError as e:
        out["reverse_again"] = error(e)
    # Part 1 sent straight to the storage (an ELF), the rest through the gateway.
    elf_first = elf + bytes(5 * MiB - len(elf)) + small[5 * MiB:]
    out["bypass"] = hand_driven("bypass.mp4", elf_first, 5 * MiB, [1, 2, 3, 4],
                                part_client=lambda n: direct if n == 1 else gw)
    out["bypass_open"] = still_open("bypass.mp4", out["bypass"]["upload_id"])
    out["bypass_stored"] = stored("bypass.mp4")
    out["no_first"] = hand_driven("nofirst.mp4", small, 5 * MiB, [2, 3, 4])
    out["no_first_open"] = still_open("nofirst.mp4", out["no_first"]["upload_id"])
    out["create_png"] = hand_driven("p.png", png, 5 * MiB, [1], ctype="image/png")
    out["create_exe"] = hand_driven("x.exe", elf, 5 * MiB, [1], ctype="application/x-msdownload")
    # Another tenant's key cannot add to this upload (the record is per tenant and key).
    other = client(gateway, "AKIDORGB", "x" * 40)
    stolen = hand_driven("stolen.mp4", small, 5 * MiB, [1, 2, 3, 4],
                         part_client=lambda n: other if n == 2 else gw)
    out["other_tenant_part"] = stolen["parts"][2]
    out["other_tenant_complete"] = stolen["complete"]
    out["listed"] = sorted(o["Key"] for o in gw.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    print(json.dumps(out))
    sys.exit(0)
if scenario == "instances":
    import os

    gw2 = client(os.environ["GATEWAY2"])
    small = padded_mp4(16 * MiB)
    out["small_sha256"] = hashlib.sha256(small).hexdigest()
    out["alternating"] = hand_driven("alt.mp4", small, 5 * MiB, [2, 1, 4, 3],
                                     part_client=lambda n: gw2 if n % 2 else gw, done_client=gw2)
    out["alternating_stored"] = stored("alt.mp4")
    big = padded_mp4(24 * MiB)
    out["too_large"] = hand_driven("large.mp4", big, 6 * MiB, [1, 2, 3, 4],
                                   part_client=lambda n: gw2 if n % 2 else gw)
    out["too_large_open"] = still_open("large.mp4", out["too_large"]["upload_id"])
    out["listed"] = sorted(o["Key"] for o in gw.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    print(json.dumps(out))
    sys.exit(0)
def form_post(c, key, fields, conditions, file_name, data, extra_after=None, edit=None, expires=600):
    """A presigned POST for `key` signed by client `c`, sent as a browser form (file last)."""
    p = c.generate_presigned_post(BUCKET, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)
    form = dict(p["fields"])
    if edit:
        edit(form)
    boundary = "----ugwform" + hashlib.sha256(data).hexdigest()[:16]
    body = b""
    for k, v in form.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    ctype = fields.get("Content-Type", "application/octet-stream")
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
             f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    for k, v in (extra_after or {}).items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(p["url"], data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(Stay).open(req) as r:
            return {"status": r.status}
    except urllib.error.HTTPError as e:
        text = e.read().decode("utf-8", "replace")
        code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else None
        return {"status": e.code, "code": code, "body": text}
    except (ConnectionError, urllib.error.URLError) as e:
        return {"status": None, "error": str(e)}


if scenario == "post":
    pdf = fixture("media/report.pdf")
    images = [["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 1000000]]
    jpeg = {"Content-Type": "image/jpeg"}
    out["jpeg"] = form_post(gw, "up.jpg", jpeg, images, "up.jpg", jpg)
    out["jpeg_stored"] = stored("up.jpg")
    out["jpeg_sha256"] = hashlib.sha256(jpg).hexdigest()
    out["pdf_as_jpeg"] = form_post(gw, "pdf.jpg", jpeg, images, "pdf.jpg", pdf)
    out["pdf_as_pdf"] = form_post(gw, "doc.pdf", {"Content-Type": "application/pdf"}, images, "doc.pdf", pdf)
    small = [["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 10000]]
    out["too_large"] = form_post(gw, "big.jpg", jpeg, small, "big.jpg", jpg)  # 16,877 bytes
    # Over the range only well after the sniff window: refused as it streams.
    videos = [["starts-with", "$Content-Type", "video/"], ["content-length-range", 1, 500000]]
    out["too_large_streamed"] = form_post(gw, "big.mp4", {"Content-Type": "video/mp4"}, videos,
                                          "big.mp4", padded_mp4(MiB))
    out["file_not_last"] = form_post(gw, "late.jpg", jpeg, images, "late.jpg", jpg,
                                     extra_after={"x-amz-meta-note": "after the file"})
    out["unknown_key"] = form_post(client(gateway, "AKIDUNKNOWN", "x" * 40), "u.jpg", jpeg, images, "u.jpg", jpg)

    def tamper(form):
        form["x-amz-signature"] = "0" * 64

    out["tampered"] = form_post(gw, "t.jpg", jpeg, images, "t.jpg", jpg, edit=tamper)
    out["expired"] = form_post(gw, "old.jpg", jpeg, images, "old.jpg", jpg, expires=-60)
    # A form that asks to be redirected on success (303): stored, and counted (tests/it/s3_post.rs).
    back = "http://app.example/uploaded"
    out["redirected"] = form_post(gw, "back.jpg", {**jpeg, "success_action_redirect": back},
                                  images + [{"success_action_redirect": back}], "back.jpg", jpg)
    out["listed"] = sorted(o["Key"] for o in gw.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    print(json.dumps(out))
    sys.exit(0)
if scenario == "virtual":
    resolve = socket.getaddrinfo

    def local(host, *args, **kwargs):
        if host == "s3.example.com" or host.endswith(".s3.example.com"):
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    socket.getaddrinfo = local
    hosts = []
    send = http.client.HTTPConnection.putheader

    def record(self, header, *values):
        if header.lower() == "host":
            hosts.append(values[0])
        return send(self, header, *values)

    http.client.HTTPConnection.putheader = record
    gw = client(gateway, style="virtual")
    out["presigned_png"] = presigned_put(gw, "presigned.png", "image/png", png)
    out["host_sent"] = hosts[-1] if hosts else None
    out["presigned_png_stored"] = stored("presigned.png")
    out["put_object_png"] = put_object(gw, "put.png", "image/png", png)
    out["put_object_png_stored"] = stored("put.png")
    out["presigned_elf"] = presigned_put(gw, "elf.png", "image/png", elf)
    try:
        gw.put_bucket_acl(Bucket=BUCKET, ACL="public-read")
        out["bucket_write"] = {"status": 200}
    except ClientError as e:
        out["bucket_write"] = error(e)
    signed = dict(Params={"Bucket": BUCKET, "Key": "t.png", "ContentType": "image/png"}, ExpiresIn=600)
    url = gw.generate_presigned_url("put_object", **signed)
    out["tampered"] = raw_put(url, jpg, {"Content-Type": "image/jpeg"})
    print(json.dumps(out))
    sys.exit(0)
if scenario == "quota":
    # Refused by the gateway, refused by the storage, accepted, then over the tenant's quota;
    # and a second tenant's key (unknown to the storage) is not refused for the first's quota.
    out["spoof"] = put_object(gw, "spoof.png", "image/png", elf)
    out["bad_signature"] = put_object(client(gateway, key_id, "wrong" * 8), "bad.png", "image/png", png)
    out["first"] = put_object(gw, "first.png", "image/png", png)
    out["second"] = put_object(gw, "second.png", "image/png", png)
    out["other_tenant"] = put_object(client(gateway, "AKIDORGB", "x" * 40), "b.png", "image/png", png)
    out["listed"] = sorted(o["Key"] for o in gw.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    print(json.dumps(out))
    sys.exit(0)
if scenario == "https":
    out["put_object_png"] = put_object(gw, "chunked.png", "image/png", png)
    out["put_object_png_stored"] = stored("chunked.png")
    out["put_object_spoof"] = put_object(gw, "spoof.png", "image/png", elf)
    out["put_object_late_script"] = put_object(gw, "late.svg", "image/svg+xml", late_svg)

    def corrupt_trailer(request, **_):
        body = request.body.read()
        out["sent_aws_chunked"] = request.headers.get("Content-Encoding") == b"aws-chunked"
        request.body = re.sub(rb"(x-amz-checksum-crc32:)[A-Za-z0-9+/=]+", rb"\1AAAAAA==", body)

    gw.meta.events.register("before-send.s3.PutObject", corrupt_trailer)
    out["wrong_checksum"] = put_object(gw, "wrong.png", "image/png", png)
    gw.meta.events.unregister("before-send.s3.PutObject", corrupt_trailer)
    # upload_file in parts over https: each UploadPart is aws-chunked with its own trailer.
    from boto3.s3.transfer import TransferConfig
    import tempfile

    chunked_parts = []
    gw.meta.events.register("before-send.s3.UploadPart",
                            lambda request, **_: chunked_parts.append(request.headers.get("Content-Encoding")))
    video = padded_mp4(12 * MiB)
    with tempfile.NamedTemporaryFile() as f:
        f.write(video)
        f.flush()
        gw.upload_file(f.name, BUCKET, "parts.mp4", ExtraArgs={"ContentType": "video/mp4"},
                       Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    out["parts_encodings"] = sorted(set(e.decode() if isinstance(e, bytes) else str(e) for e in chunked_parts))
    out["parts_stored"] = stored("parts.mp4")
    out["parts_sha256"] = hashlib.sha256(video).hexdigest()
    out["listed"] = sorted(o["Key"] for o in gw.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    print(json.dumps(out))
    sys.exit(0)
out["presigned_png"] = presigned_put(gw, "presigned.png", "image/png", png)
out["presigned_png_stored"] = stored("presigned.png")
out["presigned_elf"] = presigned_put(gw, "elf.png", "image/png", elf)
out["presigned_svg"] = presigned_put(gw, "script.svg", "image/svg+xml", svg)
out["put_object_png"] = put_object(gw, "put.png", "image/png", png)
out["put_object_png_stored"] = stored("put.png")
out["put_object_spoof"] = put_object(gw, "spoof.png", "image/png", elf)
out["put_object_late_script"] = put_object(gw, "late.svg", "image/svg+xml", late_svg)
out["unsigned_amz_header"] = presigned_put(
    gw, "copied.png", "image/png", png, {"x-amz-copy-source": f"{BUCKET}/put.png"}
)
try:
    gw.copy_object(Bucket=BUCKET, Key="copy.png", CopySource=f"{BUCKET}/put.png")
    out["copy_object"] = {"status": 200}
except ClientError as e:
    out["copy_object"] = error(e)
out["unknown_key"] = put_object(client(gateway, "AKIDUNKNOWN", "x" * 40), "u.png", "image/png", png)
# The storage verifies signatures: a signed header changed after signing is refused by it,
# straight and through the gateway (relayed unchanged).
signed = dict(Params={"Bucket": BUCKET, "Key": "t.jpg", "ContentType": "image/png"}, ExpiresIn=600)
direct_url = direct.generate_presigned_url("put_object", **signed)
out["signed_direct"] = raw_put(direct_url, png, {"Content-Type": "image/png"})
out["tampered_direct"] = raw_put(direct_url, jpg, {"Content-Type": "image/jpeg"})
url = gw.generate_presigned_url("put_object", **signed)
out["tampered_via_gateway"] = raw_put(url, jpg, {"Content-Type": "image/jpeg"})
out["listed"] = sorted(o["Key"] for o in gw.list_objects_v2(Bucket=BUCKET).get("Contents", []))
print(json.dumps(out))
