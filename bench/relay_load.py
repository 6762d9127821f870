#!/usr/bin/env python3
"""Helpers of bench/relay.sh (standard library only).

  latency   open-loop SMTP load at a fixed rate through a relay into our own sink; prints JSON
            with the per-message latency from the end of DATA (our final dot answered with 250)
            to the arrival of the whole message at the sink.
  cms       one `openssl cms` sign | encrypt pipeline per message, as many at once as cores;
            prints JSON with msg/s, latency, CPU s/msg and peak RSS of the openssl processes.
  cpu PID   CPU seconds of PID and its direct children (live ones, plus reaped ones through
            cutime/cstime): Postfix's master and its daemons, or Segl.
  rss PID OUT   sample the memory (PSS) of PID and its direct children every 0.1 s until
            killed; writes the peak sum in KiB to OUT.
"""
import argparse
import asyncio
import json
import os
import re
import resource
import signal
import statistics
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
SEQ = re.compile(rb"bench-(\d+)@relay\.bench")


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def stat_times(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return [int(x) for x in fields[11:15]]


def cpu_seconds(pid):
    u, s, cu, cs = stat_times(pid)
    total = u + s + cu + cs
    for c in children(pid):
        try:
            utime, stime, _, _ = stat_times(c)
            total += utime + stime
        except OSError:
            pass
    return total / TICK


def rss_kib(pid):
    """Proportional set size (shared pages split between the processes that map them) of
    PID and its children: for many forked daemons the honest sum, where RSS counts the
    shared libraries once per process."""
    total = 0
    for p in [pid] + children(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def sample_rss(pid, out):
    peak = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop and os.path.exists(f"/proc/{pid}"):
        peak = max(peak, rss_kib(pid))
        with open(out + ".tmp", "w") as f:
            f.write(str(peak))
        os.replace(out + ".tmp", out)
        time.sleep(0.1)


# ---------------------------------------------------------------- latency: sink and loader


class Sink:
    """A minimal SMTP server that notes when each bench message has arrived in full."""

    def __init__(self, dump=None):
        self.arrived = {}
        self.event = asyncio.Event()
        self.dump = dump

    async def session(self, reader, writer):
        try:
            writer.write(b"220 sink ESMTP\r\n")
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd = line[:4].upper()
                if cmd in (b"EHLO", b"HELO"):
                    writer.write(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 209715200\r\n")
                elif cmd == b"DATA":
                    writer.write(b"354 go\r\n")
                    await writer.drain()
                    head = b""
                    dump, self.dump = self.dump, None
                    keep = dump is not None
                    while True:
                        l = await reader.readline()
                        if not l or l == b".\r\n":
                            break
                        if keep or len(head) < 8192:
                            head += l
                    if keep:
                        with open(dump, "wb") as f:
                            f.write(head)
                    m = SEQ.search(head)
                    if m:
                        self.arrived.setdefault(int(m.group(1)), time.monotonic())
                        self.event.set()
                    writer.write(b"250 ok\r\n")
                elif cmd == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def reply(reader):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return line


async def client(host, port, args, queue, done):
    reader, writer = await asyncio.open_connection(host, port)
    await reply(reader)
    writer.write(b"EHLO loader.bench\r\n")
    await writer.drain()
    await reply(reader)
    while True:
        item = await queue.get()
        if item is None:
            break
        seq, body = item
        writer.write(f"MAIL FROM:<{args.sender}>\r\nRCPT TO:<{args.rcpt}>\r\nDATA\r\n".encode())
        await writer.drain()
        for _ in range(2):
            await reply(reader)
        r = await reply(reader)
        if not r.startswith(b"354"):
            done[seq] = None
            continue
        writer.write(body)
        await writer.drain()
        r = await reply(reader)
        done[seq] = time.monotonic() if r.startswith(b"250") else None
    writer.write(b"QUIT\r\n")
    await writer.drain()
    writer.close()


def make_body(seq, args, template):
    head = (
        f"Message-ID: <bench-{seq}@relay.bench>\r\n"
    ).encode()
    if template is not None:
        data = head + template
    else:
        filler = ("x" * 76 + "\r\n") * max(1, args.size // 78)
        data = head + (
            f"From: <{args.sender}>\r\nTo: <{args.rcpt}>\r\nSubject: bench {seq}\r\n\r\n{filler}"
        ).encode()
    # dot-stuffing
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


async def latency(args):
    template = None
    if args.file:
        raw = open(args.file, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        template = raw
    sink = Sink(args.dump)
    server = await asyncio.start_server(sink.session, "127.0.0.1", args.sink_port)
    host, port = args.target.rsplit(":", 1)
    queue = asyncio.Queue()
    done = {}
    tasks = [
        asyncio.create_task(client(host, int(port), args, queue, done))
        for _ in range(args.sessions)
    ]
    n = int(args.rate * args.secs)
    start = time.monotonic()
    for seq in range(n):
        t = start + seq / args.rate
        delay = t - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await queue.put((seq, make_body(seq, args, template)))
    for _ in tasks:
        await queue.put(None)
    await asyncio.gather(*tasks, return_exceptions=True)
    accepted = [s for s, t in done.items() if t is not None]
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline and any(s not in sink.arrived for s in accepted):
        sink.event.clear()
        try:
            await asyncio.wait_for(sink.event.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
    server.close()
    lat = [(sink.arrived[s] - done[s]) * 1000 for s in accepted if s in sink.arrived]
    print(
        json.dumps(
            {
                "offered_rate": args.rate,
                "sent": n,
                "accepted": len(accepted),
                "arrived": len(lat),
                "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99),
                "max_ms": max(lat) if lat else None,
            }
        )
    )


# ---------------------------------------------------------------- one openssl process per message


async def cms(args):
    sem = asyncio.Semaphore(args.parallel)
    lat = []
    pipeline = (
        f"openssl cms -sign -signer {args.signer} -inkey {args.key} -in {args.file} "
        f"| openssl cms -encrypt -aes256 -out /dev/null {args.cert}"
    )

    async def one():
        async with sem:
            t0 = time.monotonic()
            p = await asyncio.create_subprocess_shell(pipeline)
            rc = await p.wait()
            if rc != 0:
                raise SystemExit(f"openssl failed: {rc}")
            lat.append((time.monotonic() - t0) * 1000)

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(args.count)))
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(
        json.dumps(
            {
                "msgs": args.count,
                "msg_s": args.count / wall,
                "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99),
                "cpu_s_msg": cpu / args.count,
                "peak_rss_kib": r1.ru_maxrss,
            }
        )
    )


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    lp = sub.add_parser("latency")
    lp.add_argument("--target", required=True)
    lp.add_argument("--sink-port", type=int, required=True)
    lp.add_argument("--rate", type=float, required=True)
    lp.add_argument("--secs", type=float, default=5)
    lp.add_argument("--sessions", type=int, default=10)
    lp.add_argument("--sender", required=True)
    lp.add_argument("--rcpt", required=True)
    lp.add_argument("--size", type=int, default=10240)
    lp.add_argument("--file", help="message (headers and body) sent instead of generated text")
    lp.add_argument("--drain", type=float, default=30)
    lp.add_argument("--dump", help="write the first message that arrives to this file")
    cp = sub.add_parser("cms")
    for a in ("--signer", "--key", "--cert", "--file"):
        cp.add_argument(a, required=True)
    cp.add_argument("--count", type=int, default=200)
    cp.add_argument("--parallel", type=int, default=os.cpu_count() or 1)
    sp = sub.add_parser("cpu")
    sp.add_argument("pid", type=int)
    rp = sub.add_parser("rss")
    rp.add_argument("pid", type=int)
    rp.add_argument("out")
    args = ap.parse_args()
    if args.mode == "latency":
        asyncio.run(latency(args))
    elif args.mode == "cms":
        asyncio.run(cms(args))
    elif args.mode == "cpu":
        print(f"{cpu_seconds(args.pid):.2f}")
    elif args.mode == "rss":
        sample_rss(args.pid, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
