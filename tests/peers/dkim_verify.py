#!/usr/bin/env python3
"""Independent DKIM verification with dkimpy (the test's verifier, not Segl's code).

usage: dkim_verify.py MESSAGE NAME=TXT...
Each NAME=TXT answers the DNS TXT query for NAME (e.g. s1._domainkey.example.org) with TXT, the
record `segl ctl dkim show DOMAIN --txt` printed; dkimpy's dnsfunc hook asks nothing else, so
no resolver is involved. Verifies the first (topmost) DKIM-Signature, prints
"pass|fail d=<domain> s=<selector> a=<algorithm>" and the reason dkimpy logged on failure.
"""
import io
import logging
import sys

import dkim

msg = open(sys.argv[1], "rb").read()
records = {}
for arg in sys.argv[2:]:
    name, txt = arg.split("=", 1)
    records[name.lower().rstrip(".")] = txt.encode()


def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return records.get(n.lower().rstrip("."))


out = io.StringIO()
logger = logging.getLogger("dkimpy")
logger.addHandler(logging.StreamHandler(out))
logger.setLevel(logging.DEBUG)
d = dkim.DKIM(msg, logger=logger)
try:
    ok = d.verify(idx=0, dnsfunc=dnsfunc)
except dkim.DKIMException as e:
    ok = False
    out.write(f"exception: {e}\n")
f = d.signature_fields or {}
tag = lambda k: (f.get(k) or b"").decode()
print(("pass" if ok else "fail") + f" d={tag(b'd')} s={tag(b's')} a={tag(b'a')}")
if not ok:
    print(out.getvalue())
