#!/usr/bin/env bash
# Soak test: steady load through a real `segl serve` for a bounded time, sampling the gateway's
# resident memory, open file descriptors and queue length; fails when memory or fds keep growing
# or when mail does not flow (a queue that only grows is a backlog, not a steady state).
#
#   bash bench/soak.sh [SECONDS]        (default 600; from the repository root)
#   SEGL_BIN=target/debug/segl bash bench/soak.sh 120   (a quick check with a debug build)
#
# Load: Postfix smtp-source (5 sessions, 10 KB messages) from a trusted relay, every message
# S/MIME-signed with alice's key, delivered to Postfix smtp-sink. Samples every 10 s.
# Verdict (after a warm-up of one sample):
# - memory: RSS may plateau (allocator arenas, sled's fixed-size metrics histograms, the
#   outbound connection cache fill up in the first minutes) but may not grow in the second half
#   of the run: the least-squares slope over the second half, times its length, must stay under
#   8 MiB or 10 % of the median;
# - fds: median of the last third at most 16 above the first third;
# - flow: the queue (messages in spool/queue) stays under 1,000 at the median of the last third,
#   and every message is delivered within 60 s after the load stops.
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
# smtp-sink refuses to run as root without -u (it then exits at once, and every message would
# wait in the queue: that is what the first soak measured).
sink_user=()
[ "$(id -u)" = 0 ] && sink_user=(-u nobody)
(cd "$dir" && exec smtp-sink "${sink_user[@]}" "127.0.0.1:$sink" 1000) >"$dir/sink.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sink") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$sink") 2>/dev/null || { echo "smtp-sink did not start:"; cat "$dir/sink.log"; exit 2; }
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

queued() { find "$dir/data/spool/queue" \( -name '*.env' -o -name '*.mail' \) | wc -l; }
printf '%6s %10s %5s %7s\n' "t(s)" "rss(KiB)" "fds" "queued" | tee "$dir/samples.txt"
t0=$SECONDS
while kill -0 "$load" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$gw/status")
  fds=$(ls "/proc/$gw/fd" | wc -l)
  printf '%6d %10d %5d %7d\n' $((SECONDS - t0)) "$rss" "$fds" "$(queued)" | tee -a "$dir/samples.txt"
  sleep 10
done
wait "$load" 2>/dev/null || true
for _ in $(seq 60); do [ "$(queued)" = 0 ] && break; sleep 1; done
left=$(queued)
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$gw/status")
sent=$(awk '{n += $1} END {print n + 0}' "$dir/sent" 2>/dev/null || echo 0)
echo "messages accepted: $sent (signed by alice's key, to smtp-sink)"
echo "still queued 60 s after the load stopped: $left"
python3 - "$dir/samples.txt" "$secs" "$hwm" "$left" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
t = [int(r[0]) for r in rows][1:]
rss = [int(r[1]) for r in rows][1:]
fds = [int(r[2]) for r in rows][1:]
que = [int(r[3]) for r in rows][1:]
if len(rss) < 6:
    print("soak: too few samples for a verdict (run longer)"); sys.exit(0)
k = len(rss) // 3
r0, r1 = statistics.median(rss[:k]), statistics.median(rss[-k:])
f0, f1 = statistics.median(fds[:k]), statistics.median(fds[-k:])
q1 = statistics.median(que[-k:])
# Growth in the second half: least-squares slope (KiB/s) times the half's length.
h = len(rss) // 2
xs, ys = t[h:], rss[h:]
mx, my = statistics.mean(xs), statistics.mean(ys)
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1, sum((x - mx) ** 2 for x in xs))
grow = slope * (xs[-1] - xs[0])
fails = []
if grow > 8 * 1024 and grow > 0.10 * my:
    fails.append("RSS growth in the second half")
if f1 - f0 > 16:
    fails.append("fd growth")
if q1 > 1000 or int(sys.argv[4]) > 0:
    fails.append("mail does not flow (queue backlog)")
print(f"soak {sys.argv[2]} s: RSS median {r0/1024:.1f} -> {r1/1024:.1f} MiB, peak {int(sys.argv[3])/1024:.1f} MiB, "
      f"second half {grow/1024:+.1f} MiB; fds {f0:.0f} -> {f1:.0f}; queue (last third) {q1:.0f}, left {sys.argv[4]}; "
      f"{'PASS' if not fails else 'FAIL: ' + ', '.join(fails)}")
sys.exit(0 if not fails else 1)
PY
