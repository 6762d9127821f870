#!/usr/bin/env python3
"""An SMTP sink for tests, on aiosmtpd (an independent SMTP implementation).

Stores every accepted message as <dir>/<n>.eml with <dir>/<n>.json (envelope, TLS state), and can
be told to misbehave: reject recipients, fail the first N deliveries temporarily, fail DATA
permanently, offer STARTTLS with a given certificate; and to announce PIPELINING (aiosmtpd reads
pipelined commands in order but does not announce the extension by itself).
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, args):
        self.args = args
        # Continue numbering after a restart in the same directory.
        self.count = len([n for n in os.listdir(args.dir) if n.endswith('.eml')])
        self.tempfails_left = args.tempfail
        self.lock = threading.Lock()
        self.rcpt_replies = {}
        for spec in args.reply_rcpt:
            addr, reply = spec.split("=", 1)
            self.rcpt_replies[addr.lower()] = reply

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.args.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        if self.args.only_rcpt and address.lower() not in [a.lower() for a in self.args.only_rcpt]:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.tempfails_left > 0:
                self.tempfails_left -= 1
                return "451 4.3.0 Try again later (test sink)"
            if self.args.data_reply:
                return self.args.data_reply
            self.count += 1
            n = self.count
        base = os.path.join(self.args.dir, f"{n:04d}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "tls": session.ssl is not None,
            "peer": session.peer[0] if session.peer else None,
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK stored"


class NoTlsController(Controller):
    pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--reply-rcpt", action="append", default=[])
    p.add_argument("--only-rcpt", action="append", default=[])
    p.add_argument("--tempfail", type=int, default=0)
    p.add_argument("--data-reply", default="")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    p.add_argument("--ready-file", default="")
    p.add_argument("--pipelining", action="store_true")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    host, port = args.listen.rsplit(":", 1)
    kwargs = {}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = False
    handler = Handler(args)
    ctl = Controller(
        handler,
        hostname=host,
        port=int(port),
        ready_timeout=10,
        server_hostname="sink.test",
        enable_SMTPUTF8=True,
        data_size_limit=100 * 1024 * 1024,
        **kwargs,
    )
    ctl.start()
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("ready\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    ctl.stop()


if __name__ == "__main__":
    sys.exit(main())
