#!/usr/bin/env python3
"""Independent DKIM signing with dkimpy (the test's signer, not Segl's code).

usage: dkim_sign.py MESSAGE SELECTOR DOMAIN KEY.pem
Writes MESSAGE with a DKIM-Signature (rsa-sha256, relaxed/relaxed, d=DOMAIN s=SELECTOR) added
at the top to standard output.
"""
import sys

import dkim

msg = open(sys.argv[1], "rb").read()
selector, domain, key = sys.argv[2].encode(), sys.argv[3].encode(), open(sys.argv[4], "rb").read()
sig = dkim.sign(
    msg,
    selector,
    domain,
    key,
    canonicalize=(b"relaxed", b"relaxed"),
    include_headers=[b"from", b"to", b"subject", b"date", b"message-id", b"content-type"],
)
sys.stdout.buffer.write(sig + msg)
