#!/usr/bin/env bash
# The spool layouts against each other (issue 15): two Segl instances side by side, one writing
# one file per message (storage.spool_layout = "auto": <id>.mail) and one the two-file layout of
# earlier firmware ("two-files": <id>.msg + <id>.env), the same sign+encrypt load on each in
# alternating rounds, so that the box's drift (a shared VM swings by +-25 % from minute to
# minute) hits both alike. Prints msg/s and Segl's CPU ms per message for each round and the
# median of each layout.
#
#   bash bench/spool_layout.sh                 (from the repository root; about a minute)
#   ROUNDS=6 MSGS=5000 SESSIONS=50 bash bench/spool_layout.sh
#
# Needs Debian `postfix` (smtp-source, smtp-sink), openssl and python3; root only for
# smtp-sink's -u. SEGL_BIN (default: a release build made here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-4}
MSGS=${MSGS:-3000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-10240}
if [ -z "${SEGL_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  SEGL_BIN=$root/target/release/segl
fi
LICENSE_BIN=${LICENSE_BIN:-$(dirname "$SEGL_BIN")/segl-license}
dir=$(mktemp -d /tmp/segl-layout.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/bob.key" -out "$dir/bob.pem" \
  -subj "/CN=bob/emailAddress=bob@partner.test" -addext "subjectAltName=email:bob@partner.test" \
  -days 30 2>/dev/null
source "$root/bench/segl_instance.sh"
declare -A smtp sink gwpid
for layout in auto two-files; do
  sink[$layout]=$(port)
  layout=$layout start_segl "$layout" "${sink[$layout]}" '["127.0.0.1/32"]' '[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]'
  smtp[$layout]=$gw_port
  gwpid[$layout]=$gw
  segl_ctl partner import "$dir/bob.pem" >/dev/null
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq "$ROUNDS"); do
  for layout in auto two-files; do
    smtp-sink -u postfix -M "$MSGS" "127.0.0.1:${sink[$layout]}" 1000 >/dev/null 2>&1 &
    sp=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/${sink[$layout]}") 2>/dev/null && break; sleep 0.1; done
    c0=$(cpu_ticks "${gwpid[$layout]}")
    t0=$(date +%s.%N)
    smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f alice@example.org -t bob@partner.test \
      "127.0.0.1:${smtp[$layout]}"
    wait "$sp"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "${gwpid[$layout]}")
    echo "$layout $round $t0 $t1 $c0 $c1" >>"$dir/rounds"
  done
done
python3 - "$dir/rounds" "$MSGS" "$SESSIONS" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
path, msgs, sessions, hz = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = {}
print(f"sign+encrypt, {msgs} messages per round, {sessions} sessions")
print("| layout | round | msg/s | CPU ms/msg |")
print("|---|---|---|---|")
for line in open(path):
    layout, rnd, t0, t1, c0, c1 = line.split()
    rate = msgs / (float(t1) - float(t0))
    cpu = (float(c1) - float(c0)) / hz / msgs * 1000
    rows.setdefault(layout, []).append((rate, cpu))
    print(f"| {layout} | {rnd} | {rate:.0f} | {cpu:.2f} |")
print()
print("| layout | median msg/s | median CPU ms/msg |")
print("|---|---|---|")
for layout, v in rows.items():
    print(f"| {layout} | {statistics.median(r for r, _ in v):.0f} | {statistics.median(c for _, c in v):.2f} |")
a, b = rows.get("auto"), rows.get("two-files")
if a and b:
    ra = statistics.median(r for r, _ in a) / statistics.median(r for r, _ in b)
    ca = statistics.median(c for _, c in a) / statistics.median(c for _, c in b)
    print(f"\none file per message: {ra:.2f} x the msg/s, {ca:.2f} x the CPU per message of two files")
PY
