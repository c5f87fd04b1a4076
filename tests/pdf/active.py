#!/usr/bin/env python3
"""What pypdf finds in each PDF given: JavaScript (a /JS key or an action of /S /JavaScript),
a launch action, a javascript: link, an XFA form, form actions, embedded files. Walks every
object reachable from the trailer (objects in object streams included, through the xref).
usage: active.py FILE...   prints one JSON line per file: {"file": …, "active": [...], "error": …}
(tests/it/pdf_differential.rs)"""
import json
import sys

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToE"}
KEYS = {"/JS", "/XFA", "/EmbeddedFile", "/EmbeddedFiles"}


def text(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def walk(reader):
    found, seen, stack = set(), set(), [reader.trailer]
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            for k, v in obj.items():
                if k in KEYS:
                    found.add(k)
                if k == "/S" and isinstance(v, NameObject) and v in ACTIONS:
                    found.add(v)
                if k == "/URI":
                    target = "".join(text(v.get_object()).split()).lower()
                    if target.startswith("javascript:"):
                        found.add("javascript: link")
                if k == "/Type" and v == "/EmbeddedFile":
                    found.add("/EmbeddedFile")
                stack.append(v)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    return sorted(found)


for path in sys.argv[1:]:
    out = {"file": path}
    try:
        out["active"] = walk(PdfReader(path, strict=False))
    except Exception as e:  # an unreadable file is reported, not fatal
        out["active"], out["error"] = [], repr(e)
    print(json.dumps(out), flush=True)
