#!/usr/bin/env bash
# Soak test: steady load through a real `segl serve` for a bounded time, sampling the gateway's
# resident memory and open file descriptors; fails when either keeps growing.
#
#   bash bench/soak.sh [SECONDS]        (default 600; from the repository root)
#   SEGL_BIN=target/debug/segl bash bench/soak.sh 120   (a quick check with a debug build)
#
# Load: Postfix smtp-source (5 sessions, 10 KB messages) from a trusted relay, every message
# S/MIME-signed with alice's key, delivered to Postfix smtp-sink. Samples every 10 s. Growth test:
# the median of the last third of the samples against the median of the first third (after a
# warm-up of one sample): RSS may not grow by more than 25 % and 16 MiB, fds by more than 16.
# Prints the samples and one summary line, which BENCHMARKS.md records.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
if [ -z "${SEGL_BIN:-}" ]; then
  cargo build --release --locked --bins >/dev/null
  SEGL_BIN=target/release/segl
fi
LICENSE_BIN=${LICENSE_BIN:-$(dirname "$SEGL_BIN")/segl-license}
for c in smtp-source smtp-sink; do
  command -v "$c" >/dev/null || { echo "need $c (Debian postfix)"; exit 2; }
done

dir=$(mktemp -d /tmp/segl-soak.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtp=$(port); sink=$(port); admin=$(port)
cat > "$dir/segl.toml" <<TOML
[smtp]
listen = "127.0.0.1:$smtp"
submission_listen = []
hostname = "soak.test"
max_connections_per_ip = 100
[relay]
trusted_networks = ["127.0.0.1/32"]
local_domains = ["example.org"]
[delivery]
inbound_next_hop = "127.0.0.1:$sink"
outbound_smarthost = "127.0.0.1:$sink"
[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]
[storage]
data_dir = "$dir/data"
[admin]
listen = "127.0.0.1:$admin"
[log]
level = "warn"
TOML
(cd "$dir" && exec smtp-sink -c "127.0.0.1:$sink" 1000) >/dev/null 2>&1 &
pids+=($!)
"$SEGL_BIN" serve --config "$dir/segl.toml" 2>"$dir/segl.log" &
gw=$!; pids+=($gw)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin/health" >/dev/null 2>&1 && break; sleep 0.2; done
ctl() { "$SEGL_BIN" ctl --config "$dir/segl.toml" "$@"; }
"$LICENSE_BIN" issue --dev --customer Soak --keys 10 --expires +30 --out "$dir/lic.txt" >/dev/null
ctl license install "$dir/lic.txt" >/dev/null
ctl key generate --email alice@example.org >/dev/null

( end=$((SECONDS + secs))
  while [ $SECONDS -lt $end ]; do
    if smtp-source -s 5 -m 200 -l 10240 -f alice@example.org -t bob@partner.test "127.0.0.1:$smtp" >/dev/null 2>&1; then
      echo 200 >> "$dir/sent"
    else
      sleep 1
    fi
  done ) &
load=$!; pids+=($load)

printf '%6s %10s %5s\n' "t(s)" "rss(KiB)" "fds" | tee "$dir/samples.txt"
t0=$SECONDS
while kill -0 "$load" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$gw/status")
  fds=$(ls "/proc/$gw/fd" | wc -l)
  printf '%6d %10d %5d\n' $((SECONDS - t0)) "$rss" "$fds" | tee -a "$dir/samples.txt"
  sleep 10
done
wait "$load" 2>/dev/null || true
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$gw/status")
sent=$(awk '{n += $1} END {print n + 0}' "$dir/sent" 2>/dev/null || echo 0)
echo "messages accepted: $sent (signed by alice's key, to smtp-sink)"
python3 - "$dir/samples.txt" "$secs" "$hwm" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
rss = [int(r[1]) for r in rows][1:]
fds = [int(r[2]) for r in rows][1:]
if len(rss) < 6:
    print("soak: too few samples for a verdict (run longer)"); sys.exit(0)
k = len(rss) // 3
r0, r1 = statistics.median(rss[:k]), statistics.median(rss[-k:])
f0, f1 = statistics.median(fds[:k]), statistics.median(fds[-k:])
ok = not (r1 > r0 * 1.25 and r1 - r0 > 16 * 1024) and f1 - f0 <= 16
print(f"soak {sys.argv[2]} s: RSS median {r0/1024:.1f} -> {r1/1024:.1f} MiB, peak {int(sys.argv[3])/1024:.1f} MiB; "
      f"fds {f0:.0f} -> {f1:.0f}; {'PASS' if ok else 'FAIL: growth'}")
sys.exit(0 if ok else 1)
PY
