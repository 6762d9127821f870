#!/usr/bin/env bash
# Segl against Segl (issue 15): two or more variants — builds, or spool layouts of one build —
# side by side, the same load on each in alternating rounds, so that the box's drift (a shared
# VM swings by +-25 % from minute to minute) hits all alike. Prints msg/s and Segl's CPU ms per
# message for every round and the median of each variant, and each variant against the first.
#
#   VARIANTS="before=/tmp/old/segl after=target/release/segl" bash bench/ab.sh
#   VARIANTS="one-file=target/release/segl:auto two-files=target/release/segl:two-files" \
#     bash bench/ab.sh                       (what bench/spool_layout.sh runs)
#   MODE=decrypt+verify ROUNDS=6 MSGS=5000 SESSIONS=50 bash bench/ab.sh
#
# VARIANTS: NAME=BINARY[:SPOOL_LAYOUT] ... (default: the release build made here, as "this").
# MODE: sign+encrypt (alice@example.org -> bob@partner.test from a trusted relay, the default)
# or decrypt+verify (a message bob signed and encrypted to alice with openssl, from outside).
# Needs Debian `postfix` (smtp-source, smtp-sink), openssl and python3; root only for
# smtp-sink's -u. LICENSE_BIN (default: segl-license beside the first binary).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-4}
MSGS=${MSGS:-3000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-10240}
MODE=${MODE:-sign+encrypt}
if [ -z "${VARIANTS:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  VARIANTS="this=$root/target/release/segl"
fi
read -r -a variants <<<"$VARIANTS"
first_bin=${variants[0]#*=}
first_bin=${first_bin%%:*}
LICENSE_BIN=${LICENSE_BIN:-$(dirname "$first_bin")/segl-license}
case $MODE in
sign+encrypt | decrypt+verify) ;;
*) echo "ab.sh: MODE is sign+encrypt or decrypt+verify"; exit 2 ;;
esac
dir=$(mktemp -d /tmp/segl-ab.XXXXXX)
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
python3 -c "import sys; sys.stdout.write('From: <bob@partner.test>\r\nTo: <alice@example.org>\r\nSubject: ab\r\nContent-Type: text/plain\r\n\r\n' + ('x' * 76 + '\r\n') * ($SIZE // 78))" >"$dir/content.eml"
openssl cms -sign -in "$dir/content.eml" -signer "$dir/bob.pem" -inkey "$dir/bob.key" -out "$dir/signed.eml"
source "$root/bench/segl_instance.sh"
declare -A smtp sink gwpid source_args
names=()
for v in "${variants[@]}"; do
  name=${v%%=*}
  spec=${v#*=}
  SEGL_BIN=${spec%%:*}
  layout=auto
  [[ $spec == *:* ]] && layout=${spec#*:}
  names+=("$name")
  sink[$name]=$(port)
  if [ "$MODE" = sign+encrypt ]; then
    layout=$layout start_segl "$name" "${sink[$name]}" '["127.0.0.1/32"]' '[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]'
    segl_ctl partner import "$dir/bob.pem" >/dev/null
    source_args[$name]="-l $SIZE -f alice@example.org -t bob@partner.test"
  else
    layout=$layout start_segl "$name" "${sink[$name]}" '[]' ''
    segl_ctl trust import "$dir/bob.pem" >/dev/null
    segl_ctl key export-cert alice@example.org >"$dir/$name-alice.pem"
    openssl cms -encrypt -aes256 -in "$dir/signed.eml" -from bob@partner.test -to alice@example.org \
      -subject ab -out "$dir/$name-enc.eml" "$dir/$name-alice.pem"
    source_args[$name]="-F $dir/$name-enc.eml -f bob@partner.test -t alice@example.org"
  fi
  smtp[$name]=$gw_port
  gwpid[$name]=$gw
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for round in $(seq "$ROUNDS"); do
  for name in "${names[@]}"; do
    smtp-sink -u postfix -M "$MSGS" "127.0.0.1:${sink[$name]}" 1000 >/dev/null 2>&1 &
    sp=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/${sink[$name]}") 2>/dev/null && break; sleep 0.1; done
    c0=$(cpu_ticks "${gwpid[$name]}")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    smtp-source -s "$SESSIONS" -m "$MSGS" ${source_args[$name]} "127.0.0.1:${smtp[$name]}"
    wait "$sp"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "${gwpid[$name]}")
    echo "$name $round $t0 $t1 $c0 $c1" >>"$dir/rounds"
  done
done
python3 - "$dir/rounds" "$MSGS" "$SESSIONS" "$(getconf CLK_TCK)" "$MODE" "${names[@]}" <<'PY'
import statistics, sys
path, msgs, sessions, hz, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
names = sys.argv[6:]
rows = {n: [] for n in names}
print(f"{mode}, {msgs} messages of 10 KB per round, {sessions} sessions")
print("| variant | round | msg/s | CPU ms/msg |")
print("|---|---|---|---|")
for line in open(path):
    name, rnd, t0, t1, c0, c1 = line.split()
    rate = msgs / (float(t1) - float(t0))
    cpu = (float(c1) - float(c0)) / hz / msgs * 1000
    rows[name].append((rate, cpu))
    print(f"| {name} | {rnd} | {rate:.0f} | {cpu:.2f} |")
print()
print("| variant | median msg/s | median CPU ms/msg | msg/s x first | CPU x first |")
print("|---|---|---|---|---|")
med = {n: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for n, v in rows.items()}
r0, c0 = med[names[0]]
for n in names:
    r, c = med[n]
    print(f"| {n} | {r:.0f} | {c:.2f} | {r / r0:.2f} | {c / c0:.2f} |")
PY
