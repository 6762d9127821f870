#!/usr/bin/env bash
#
# Power-cut test of the x86_64 image: `kill -9` of segl leaves the kernel's
# page cache intact, so only a machine that loses power proves that the
# spool and the keystore fsync what they acknowledge. This boots the image
# (image/build.sh first; SEGL_SKIP_BUILD=1 uses image/out as it is) in QEMU,
# drives steady SMTP load from the host (Python smtplib, LOAD_CLIENTS
# clients; every message that got its 250 is written to a list at once),
# writes a keystore key through the admin API in every round, and cuts the
# power RESETS times (default 5) after LOAD_SECS of load (default 12):
# alternately the QEMU monitor's `system_reset` (with -no-reboot QEMU stops
# at once, no shutdown in the guest) and `kill -9` of QEMU. After the final
# boot, with the load stopped, every acknowledged message must reach the
# sink on the host (from the queue, after the restart), and the keystore
# must open with every key whose creation was acknowledged and no damaged
# record. Prints the figures BENCHMARKS.md records; exits non-zero when a
# single acknowledged message or key is lost.
#
#   bash image/power-cut.sh            KEEP_WORK=1 keeps logs and the disk
#   RESETS=3 LOAD_SECS=8 SEGL_SKIP_BUILD=1 bash image/power-cut.sh
#
# Sends only to 127.0.0.1 (QEMU's forwarded ports); the guest reaches the
# sink through QEMU's user network (10.0.2.2 is the host's loopback).

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$IMAGE_DIR/testlib.sh"

RESETS=${RESETS:-5}
LOAD_SECS=${LOAD_SECS:-12}
LOAD_CLIENTS=${LOAD_CLIENTS:-3}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
LOAD_PID=""

if [ "${SEGL_SKIP_BUILD:-}" != "1" ]; then
	say "building the image"
	"$IMAGE_DIR/build.sh"
	say "image built"
fi

# shellcheck disable=SC2034,SC2054 # used by testlib.sh; commas are qemu syntax
QEMU_CMD=(qemu-system-x86_64 -M pc -accel tcg -cpu max -smp 1 -m 1024)
# shellcheck disable=SC2034,SC2054
QEMU_NIC=(-device virtio-net-pci,netdev=n0)

stop_load() {
	if [ -n "$LOAD_PID" ]; then
		touch "$WORK/load.stop"
		wait "$LOAD_PID" 2>/dev/null || true
		LOAD_PID=""
	fi
}
power_cut_cleanup() {
	stop_load
	cleanup
}

# api METHOD PATH [JSON]: "STATUS BODY" of an admin API call with the token.
api() {
	python3 - "$ADMIN_PORT" "$TOKEN" "$@" <<'PY'
import ssl, sys, urllib.request, urllib.error
port, token, method, path = sys.argv[1:5]
data = sys.argv[5].encode() if len(sys.argv) > 5 else None
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
req = urllib.request.Request(f"https://127.0.0.1:{port}/api/v1{path}", data=data, method=method)
req.add_header("Authorization", "Bearer " + token)
if data:
    req.add_header("Content-Type", "application/json")
try:
    with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print(0, repr(e))
PY
}

# start_load: LOAD_CLIENTS smtplib clients in a loop; each message gets a
# unique Message-ID; those answered 250 go to $WORK/acked (one line each,
# flushed and fsynced before the next message).
start_load() {
	rm -f "$WORK/load.stop"
	python3 - "$SMTP_PORT" "$WORK" "$LOAD_CLIENTS" >>"$WORK/load.log" 2>&1 <<'PY' &
import os, smtplib, sys, threading, time
port, work, clients = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
acked = open(os.path.join(work, "acked"), "a")
counter = [int(time.time() * 1000) % 10**9 * 1000]
def next_id():
    with lock:
        counter[0] += 1
        return counter[0]
def client(n):
    while not os.path.exists(os.path.join(work, "load.stop")):
        mid = f"pc-{n}-{next_id()}"
        body = (f"From: load@partner.example\r\nTo: user@example.org\r\nSubject: {mid}\r\n"
                f"Message-ID: <{mid}@power-cut.invalid>\r\n\r\n" + ("power cut test line\r\n" * 200))
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
                s.sendmail("load@partner.example", ["user@example.org"], body.encode())
        except Exception:
            time.sleep(0.5)
            continue
        with lock:
            acked.write(mid + "\n")
            acked.flush()
            os.fsync(acked.fileno())
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
PY
	LOAD_PID=$!
}

# cut_power N: the monitor's system_reset (odd N) or kill -9 (even N).
cut_power() {
	if [ $(($1 % 2)) -eq 1 ]; then
		python3 - "$MONITOR" <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"system_reset\n")
s.close()
PY
		local n=0
		while kill -0 "$QEMU_PID" 2>/dev/null && [ "$n" -lt 20 ]; do
			sleep 0.25
			n=$((n + 1))
		done
		kill -9 "$QEMU_PID" 2>/dev/null || true
		say "power cut $1: system_reset"
	else
		kill -9 "$QEMU_PID" 2>/dev/null || true
		say "power cut $1: kill -9 of qemu"
	fi
	wait "$QEMU_PID" 2>/dev/null || true
}

main() {
	trap power_cut_cleanup EXIT
	trap 'exit 1' INT TERM
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/segl-power-cut.XXXXXX")
	DISK_SRC=${SEGL_IMAGE_OUT:-$IMAGE_DIR/out}/disk.img
	[ -f "$DISK_SRC" ] || fail "$DISK_SRC missing: run image/build.sh"
	python3 -c 'import aiosmtpd' 2>/dev/null || fail "python3 aiosmtpd missing (.ci/install-deps.sh installs it)"
	SMTP_PORT=$(free_port)
	ADMIN_PORT=$(free_port)
	SINK_PORT=$(free_port)
	TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
	provision_disk "$DISK_SRC" segl-power-cut.localdomain
	QEMU_CMD+=(-drive "file=$DISK,format=raw,if=virtio")
	: >"$WORK/acked"
	: >"$WORK/keys"
	mkdir -p "$WORK/sink"
	python3 "$REPO/tests/peers/sink.py" --listen "127.0.0.1:$SINK_PORT" --dir "$WORK/sink" \
		>"$WORK/sink.log" 2>&1 &
	SINK_PID=$!

	local round out email
	for round in $(seq 1 "$RESETS"); do
		qemu_start "boot$round"
		wait_banner
		start_load
		sleep "$((LOAD_SECS / 2))"
		email="pc$round@example.org"
		out=$(api POST /keys/generate "{\"email\":\"$email\"}")
		if [ "${out%% *}" = "200" ]; then
			echo "$email" >>"$WORK/keys"
		else
			say "key for $email not acknowledged: ${out:0:200}"
		fi
		sleep "$((LOAD_SECS - LOAD_SECS / 2))"
		say "round $round: $(wc -l <"$WORK/acked") messages acknowledged so far"
		cut_power "$round"
		stop_load
	done

	say "final boot (no load)"
	qemu_start final
	wait_banner
	local start acked delivered lost dups extra
	start=$(date +%s)
	while :; do
		out=$(python3 - "$WORK" <<'PY'
import glob, os, re, sys
work = sys.argv[1]
acked = [l.strip() for l in open(os.path.join(work, "acked")) if l.strip()]
seen = {}
for f in glob.glob(os.path.join(work, "sink", "*.eml")):
    m = re.search(rb"^Message-ID: <([^@>]+)@power-cut", open(f, "rb").read(), re.M | re.I)
    if m:
        k = m.group(1).decode()
        seen[k] = seen.get(k, 0) + 1
lost = [a for a in acked if a not in seen]
dups = sum(n - 1 for n in seen.values() if n > 1)
extra = len([k for k in seen if k not in set(acked)])
print(len(acked), len(acked) - len(lost), len(lost), dups, extra, " ".join(lost[:5]))
PY
		)
		read -r acked delivered lost dups extra _ <<<"$out"
		[ "$lost" = "0" ] && break
		[ $(($(date +%s) - start)) -lt "$DRAIN_TIMEOUT" ] || fail "acknowledged but not delivered after $DRAIN_TIMEOUT s: $out"
		sleep 3
	done
	start=$(date +%s)
	while :; do
		out=$(api GET /queue)
		[ "$out" = "200 []" ] && break
		[ $(($(date +%s) - start)) -lt 120 ] || fail "queue not empty at the end: ${out:0:400}"
		sleep 2
	done
	out=$(api GET /status)
	[ "${out%% *}" = "200" ] || fail "status: $out"
	echo "$out" | grep -q '"keystore_damaged":\[\]' || fail "keystore has damaged records: $out"
	local keys_out missing=0 email
	keys_out=$(api GET /keys)
	[ "${keys_out%% *}" = "200" ] || fail "the keystore does not open: $keys_out"
	while read -r email; do
		[ -n "$email" ] || continue
		echo "$keys_out" | grep -q "\"$email\"" || { say "key $email lost"; missing=$((missing + 1)); }
	done <"$WORK/keys"
	[ "$missing" = "0" ] || fail "$missing acknowledged keys lost"
	poweroff_guest
	say "RESULT power cuts: $RESETS; messages acknowledged: $acked, delivered: $delivered, lost: $lost, delivered twice: $dups, delivered without a 250 (cut in flight): $extra; keys acknowledged: $(wc -l <"$WORK/keys"), lost: 0; keystore opens, no damaged record"
	say "PASS ($(elapsed) s)"
}

main "$@"
