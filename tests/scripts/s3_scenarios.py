"""boto3 against the gateway fronting an S3 server that verifies signatures (tests/it/s3.rs).

usage: s3_scenarios.py GATEWAY STORAGE ACCESS_KEY SECRET FIXTURES [all|quota|https|virtual]
(https: GATEWAY is an https:// URL and AWS_CA_BUNDLE names its certificate; boto3 then sends
aws-chunked bodies with a CRC32 trailer. virtual: GATEWAY is http://s3.example.com:PORT, which
this script resolves, with every *.s3.example.com, to 127.0.0.1; requests are virtual-hosted.)
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
