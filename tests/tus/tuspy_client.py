"""tuspy driven by tests/it/tus.rs: uploads one file and prints one JSON line.

Usage: python tuspy_client.py ENDPOINT FILE TOKEN FILETYPE CHUNK_SIZE
"""
import json
import sys

from tusclient import client
from tusclient.exceptions import TusCommunicationError

endpoint, path, token, filetype, chunk = sys.argv[1:6]
c = client.TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
uploader = c.uploader(
    path,
    chunk_size=int(chunk),
    metadata={"filename": path.rsplit("/", 1)[-1], "filetype": filetype},
    retries=0,
)
try:
    uploader.upload()
    print(json.dumps({"ok": True, "url": uploader.url, "offset": uploader.offset}))
except TusCommunicationError as e:
    print(json.dumps({"ok": False, "url": uploader.url, "status": e.status_code,
                      "body": (e.response_content or b"").decode("utf-8", "replace")}))
