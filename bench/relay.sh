#!/usr/bin/env bash
# The relay benchmark (issue 15): Segl against a plain Postfix relay and against one `openssl cms`
# process per message, all on loopback in the same run, printed as one table.
#
#   bash bench/relay.sh                      (from the repository root; about 7 minutes)
#   MSGS=5000 SESSIONS="10 50" bash bench/relay.sh
#   LARGE="25 50" bash bench/relay.sh        (also 25 and 50 MB messages through Segl: signed and
#                                            encrypted, and arriving encrypted at that size)
#   LARGE="25 50" LARGE_ONLY=1 bash bench/relay.sh   (the large messages alone, about a minute)
#
# Needs root (the private Postfix instance), Debian `postfix` (postfix, smtp-source, smtp-sink),
# openssl and python3. Everything lives in a temporary directory that is removed at the end.
#
# Rows:
#   postfix relay         a private Postfix (own config_directory and queue_directory, disk queue,
#                         no filters) relaying to smtp-sink
#   segl sign+encrypt     alice@example.org -> bob@partner.test from a trusted relay: signed with
#                         alice's key, encrypted to bob's certificate (and alice's: include_sender)
#   segl s+e two-files    the same on the spool layout of earlier firmware (<id>.msg + <id>.env:
#                         two files, two fsyncs per message; storage.spool_layout = "two-files")
#   segl decrypt+verify   bob@partner.test -> alice@example.org from the internet: a message signed
#                         by bob and encrypted to alice with openssl; Segl decrypts and verifies it
#   openssl cms/msg       `openssl cms -sign | openssl cms -encrypt` per message, cores at once
# Columns: msg/s end to end (smtp-source start until smtp-sink has every message) with the largest
# session count; p50/p99 latency (end of DATA answered -> message arrived at our sink) at half of
# that rate with our loader (bench/relay_load.py), with as many sessions as the row, in rounds
# as well (medians; "p99 worst" the worst round: a stall of the shared VM shows there); CPU seconds per message of the relay (Segl, or
# Postfix's master and all its daemons); peak RSS (Segl: VmHWM; Postfix: the largest sum of its
# processes' PSS sampled every 0.1 s, so shared pages count once).
#
# Knobs (environment): MSGS (2000 messages per throughput run), ROUNDS (3: every relay is
# loaded once per round, one after the other, and the table shows the medians; the latency runs
# too), SESSIONS ("10 50"), SIZE (10240
# bytes), LAT_SECS (5 s of latency load), CMS_MSGS (200), LARGE (""; MB sizes, e.g. "25 50"),
# SEGL_BIN (default: a release build made here), KEEP=1 (keep the temporary directory),
# COMPARE_LAYOUT (1: also sign+encrypt on the two-file spool layout of earlier firmware; "": not).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
MSGS=${MSGS:-2000}
ROUNDS=${ROUNDS:-3}
SESSIONS=${SESSIONS:-"10 50"}
SIZE=${SIZE:-10240}
LAT_SECS=${LAT_SECS:-5}
CMS_MSGS=${CMS_MSGS:-200}
LARGE=${LARGE:-}
LARGE_ONLY=${LARGE_ONLY:-} # 1: only the large messages (no Postfix, throughput or latency runs)
COMPARE_LAYOUT=${COMPARE_LAYOUT-1} # "": skip the sign+encrypt run on the two-file spool layout
[ -z "$LARGE_ONLY" ] || SESSIONS=""
load=(python3 "$root/bench/relay_load.py")

[ "$(id -u)" = 0 ] || { echo "relay.sh: needs root (private Postfix instance)"; exit 2; }
for c in postfix smtp-source smtp-sink openssl python3 curl; do
  command -v "$c" >/dev/null || { echo "relay.sh: need $c"; exit 2; }
done
if [ -z "${SEGL_BIN:-}" ]; then
  cargo build --release --locked --bins >/dev/null 2>&1 || cargo build --release --locked --bins
  SEGL_BIN=$root/target/release/segl
fi
LICENSE_BIN=${LICENSE_BIN:-$(dirname "$SEGL_BIN")/segl-license}

dir=$(mktemp -d /tmp/segl-relay.XXXXXX)
chmod 755 "$dir" # Postfix's daemons run as user postfix
pids=()
pf_running=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$pf_running" ] && postfix -c "$dir/pf/etc" stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { echo "-- $*" >&2; }
results=$dir/results
: >"$results"

# ------------------------------------------------------------------ keys made at run time
pki=$dir/pki
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout pca.key -out pca.pem -days 30 \
    -subj "/CN=Bench Partner CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  for who in bob@partner.test alice@example.org; do
    n=${who%@*}
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s\n' "$who" >"$n.ext"
    openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" -subj "/CN=$n" 2>/dev/null
    openssl x509 -req -in "$n.csr" -CA pca.pem -CAkey pca.key -CAcreateserial -days 30 \
      -extfile "$n.ext" -out "$n.pem" 2>/dev/null
  done
  # A 10 KB text body, as smtp-source sends.
  python3 -c "import sys; sys.stdout.write('Content-Type: text/plain\r\n\r\n' + ('x' * 76 + '\r\n') * ($SIZE // 78))" >content.txt
)

# ------------------------------------------------------------------ measuring helpers
# tput NAME PORT SINKPORT FROM TO RELAYPID [FILE]: one smtp-source run per session count;
# appends "NAME S msg/s cpu_s_per_msg" lines to $results.
tput_runs() {
  local name=$1 port=$2 sink=$3 from=$4 to=$5 pid=$6 file=${7:-}
  local s
  for s in $SESSIONS; do
    (cd "$dir" && exec smtp-sink -u postfix -M "$MSGS" "127.0.0.1:$sink" 1000) >/dev/null 2>&1 &
    local sinkpid=$!
    pids+=("$sinkpid")
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sink") 2>/dev/null && break; sleep 0.1; done
    local c0 t0 t1 c1
    c0=$("${load[@]}" cpu "$pid")
    t0=$(date +%s.%N)
    local src=(smtp-source -s "$s" -m "$MSGS" -f "$from" -t "$to")
    if [ -n "$file" ]; then src+=(-F "$file"); else src+=(-l "$SIZE"); fi
    "${src[@]}" "127.0.0.1:$port" >"$dir/source.log" 2>&1 || log "$name: smtp-source: $(tail -1 "$dir/source.log")"
    local deadline=$((SECONDS + 60 + MSGS / 20))
    while kill -0 "$sinkpid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    t1=$(date +%s.%N)
    c1=$("${load[@]}" cpu "$pid")
    if kill -0 "$sinkpid" 2>/dev/null; then
      log "$name, $s sessions: not every message arrived in time"
      kill "$sinkpid" 2>/dev/null || true
      echo "$name $s FAIL FAIL" >>"$results"
    else
      python3 -c "print('$name', $s, round($MSGS / ($t1 - $t0), 1), round(($c1 - $c0) / $MSGS * 1000, 3))" >>"$results"
    fi
    wait "$sinkpid" 2>/dev/null || true
    log "$(tail -1 "$results")"
  done
}

# lat NAME PORT SINKPORT FROM TO [FILE]: latency at half of the rate measured for NAME, with as
# many sessions as each throughput run (10 and 50 by default); writes NAME.lat.S.json.
lat_run() {
  [ -z "$LARGE_ONLY" ] || return 0
  local name=$1 port=$2 sink=$3 from=$4 to=$5 file=${6:-}
  local s best rate
  local extra=()
  [ -n "$file" ] && extra+=(--file "$file")
  for s in $SESSIONS; do
    best=$(awk -v n="$name" -v s="$s" '$1 == n && $2 == s && $3 != "FAIL" {if ($3 > b) b = $3} END {print b + 0}' "$results")
    [ "$best" = 0 ] && best=100
    rate=$(python3 -c "print(max(1.0, $best / 2))")
    "${load[@]}" latency --target "127.0.0.1:$port" --sink-port "$sink" --rate "$rate" \
      --secs "$LAT_SECS" --sessions "$s" --sender "$from" --rcpt "$to" --size "$SIZE" \
      --dump "$dir/$name.sample.eml" "${extra[@]}" >"$dir/$name.lat.$s.$lat_round.json"
    log "$name latency, $s sessions: $(cat "$dir/$name.lat.$s.$lat_round.json")"
  done
}

rss_start() { "${load[@]}" rss "$1" "$dir/$2.rss" & rss_pid=$!; pids+=("$rss_pid"); }
rss_stop() { kill "$rss_pid" 2>/dev/null || true; wait "$rss_pid" 2>/dev/null || true; }

# ------------------------------------------------------------------ Postfix relay
if [ -z "$LARGE_ONLY" ]; then
log "postfix relay"
pf=$dir/pf
pf_port=$(port)
pf_sink=$(port)
mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
chown postfix "$pf/data"
cat >"$pf/etc/master.cf" <<EOF
127.0.0.1:$pf_port inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
myhostname = pfrelay.bench
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$pf_sink
smtpd_recipient_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
default_process_limit = 200
smtputf8_enable = no
biff = no
maillog_file = $pf/maillog
maillog_file_prefixes = $dir
EOF
postfix -c "$pf/etc" start >/dev/null 2>&1 || { echo "postfix did not start"; exit 1; }
pf_running=1
pf_master=
for _ in $(seq 50); do
  pf_master=$(head -1 "$pf/queue/pid/master.pid" 2>/dev/null | tr -d ' ' || true)
  [ -n "$pf_master" ] && (exec 3<>"/dev/tcp/127.0.0.1/$pf_port") 2>/dev/null && break
  sleep 0.1
done
fi

# ------------------------------------------------------------------ Segl
# start_segl, segl_ctl, stop_segl: bench/segl_instance.sh
source "$(dirname "$0")/segl_instance.sh"
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

log "segl instances"
se_sink=$(port)
start_segl se "$se_sink" '["127.0.0.1/32"]' '[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]'
segl_ctl partner import "$pki/bob.pem" >/dev/null
se_gw=$gw se_port=$gw_port
if [ -z "$LARGE_ONLY" ] && [ -n "$COMPARE_LAYOUT" ]; then
  # The same sign+encrypt load on the spool layout of the firmware before (two files per
  # message: .msg + .env), for what the one-file layout gains in the same run.
  se2_sink=$(port)
  layout=two-files start_segl se2 "$se2_sink" '["127.0.0.1/32"]' '[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]'
  segl_ctl partner import "$pki/bob.pem" >/dev/null
  se2_gw=$gw se2_port=$gw_port
fi
dv_sink=$(port)
start_segl dv "$dv_sink" '[]' ''
segl_ctl trust import "$pki/pca.pem" >/dev/null
segl_ctl key export-cert alice@example.org >"$pki/alice-segl.pem"
(
  cd "$pki"
  openssl cms -sign -in content.txt -signer bob.pem -inkey bob.key -out signed.eml
  openssl cms -encrypt -aes256 -in signed.eml -from bob@partner.test -to alice@example.org \
    -subject "bench" -out encrypted.eml alice-segl.pem
)
dv_gw=$gw dv_port=$gw_port

# ------------------------------------------------------------------ throughput, in rounds
# Every relay is up at once and idle between its runs; each round loads one after the other,
# so that the drift of a shared box hits all of them alike. The table shows medians.
if [ -z "$LARGE_ONLY" ]; then
  rss_start "$pf_master" postfix
  # Each round starts one relay later than the one before (postfix, s+e, dv; then s+e, dv,
  # postfix; ...), so that no relay always runs right after the same other one.
  relays=(postfix segl-sign+encrypt)
  [ -n "${se2_gw:-}" ] && relays+=(segl-s+e-two-files)
  relays+=(segl-decrypt+verify)
  for round in $(seq "$ROUNDS"); do
    log "round $round of $ROUNDS"
    for k in $(seq 0 $((${#relays[@]} - 1))); do
      case ${relays[$(((k + round - 1) % ${#relays[@]}))]} in
      postfix) tput_runs postfix "$pf_port" "$pf_sink" alice@example.org bob@partner.test "$pf_master" ;;
      segl-sign+encrypt) tput_runs segl-sign+encrypt "$se_port" "$se_sink" alice@example.org bob@partner.test "$se_gw" ;;
      segl-s+e-two-files) tput_runs segl-s+e-two-files "$se2_port" "$se2_sink" alice@example.org bob@partner.test "$se2_gw" ;;
      segl-decrypt+verify) tput_runs segl-decrypt+verify "$dv_port" "$dv_sink" bob@partner.test alice@example.org "$dv_gw" "$pki/encrypted.eml" ;;
      esac
    done
  done
  rss_stop
  echo "segl-sign+encrypt $(hwm "$se_gw")" >"$dir/segl-sign+encrypt.rss"
  echo "segl-decrypt+verify $(hwm "$dv_gw")" >"$dir/segl-decrypt+verify.rss"
  if [ -n "${se2_gw:-}" ]; then
    echo "segl-s+e-two-files $(hwm "$se2_gw")" >"$dir/segl-s+e-two-files.rss"
    kill "$se2_gw" 2>/dev/null || true
  fi
  for lat_round in $(seq "$ROUNDS"); do
    log "latency round $lat_round of $ROUNDS"
    lat_run postfix "$pf_port" "$pf_sink" alice@example.org bob@partner.test
    lat_run segl-sign+encrypt "$se_port" "$se_sink" alice@example.org bob@partner.test
    lat_run segl-decrypt+verify "$dv_port" "$dv_sink" bob@partner.test alice@example.org "$pki/encrypted.eml"
  done
  grep -q "application/pkcs7-mime" "$dir/segl-sign+encrypt.sample.eml" ||
    log "WARNING: segl sign+encrypt output is not encrypted"
  grep -qi "^X-Segl-Encryption: decrypted" "$dir/segl-decrypt+verify.sample.eml" ||
    log "WARNING: segl decrypt+verify output was not decrypted"
  postfix -c "$pf/etc" stop >/dev/null 2>&1 || true
  pf_running=
fi

# ------------------------------------------------------------------ large mail
# large_run NAME MB PID PORT SINKPORT FROM TO FILE: one message of FILE, peak RSS (VmHWM reset
# to the current RSS first) into $dir/large.txt.
large_run() {
  local name=$1 mb=$2 pid=$3 port=$4 sink=$5 from=$6 to=$7 file=$8 r0
  r0=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  echo 5 >"/proc/$pid/clear_refs" # resets VmHWM to the current RSS
  "${load[@]}" latency --target "127.0.0.1:$port" --sink-port "$sink" --rate 1 --secs 1 \
    --sessions 1 --sender "$from" --rcpt "$to" --file "$file" --drain 300 >"$dir/large.json"
  echo "$name $mb $(hwm "$pid") $r0 $(cat "$dir/large.json")" >>"$dir/large.txt"
  log "$(tail -1 "$dir/large.txt")"
}
for mb in $LARGE; do
  python3 -c "
import sys
line = ('y' * 76 + '\r\n').encode()
with open('$dir/large.eml', 'wb') as f:
    f.write(b'From: <alice@example.org>\r\nTo: <bob@partner.test>\r\nSubject: large\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n')
    f.write(line * ($mb * 1000 * 1000 // 78 - 2))
"
  large_run large-sign+encrypt "$mb" "$se_gw" "$se_port" "$se_sink" alice@example.org bob@partner.test "$dir/large.eml"
done
for mb in $LARGE; do
  python3 -c "
line = ('z' * 76 + '\r\n').encode()
with open('$pki/large.txt', 'wb') as f:
    f.write(b'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n')
    # The inner content such that the encrypted message on the wire is about $mb MB (base64
    # of the CMS: x 4/3 plus line ends), under the default 50 MiB limit for LARGE=50.
    f.write(line * ($mb * 1000 * 1000 * 70 // 100 // 78))
"
  (
    cd "$pki"
    openssl cms -sign -in large.txt -signer bob.pem -inkey bob.key -out large-signed.eml
    openssl cms -encrypt -aes256 -in large-signed.eml -from bob@partner.test -to alice@example.org \
      -subject large -out large-enc.eml alice-segl.pem
  )
  large_run large-decrypt+verify "$mb" "$dv_gw" "$dv_port" "$dv_sink" bob@partner.test alice@example.org "$pki/large-enc.eml"
done
kill "$se_gw" "$dv_gw" 2>/dev/null || true
wait "$se_gw" "$dv_gw" 2>/dev/null || true

# ------------------------------------------------------------------ one openssl cms per message
sign_s=0
cores=$(nproc)
if [ -z "$LARGE_ONLY" ]; then
log "openssl cms per message"
"${load[@]}" cms --signer "$pki/alice.pem" --key "$pki/alice.key" --cert "$pki/bob.pem" \
  --file "$pki/content.txt" --count "$CMS_MSGS" >"$dir/cms.json"
log "$(cat "$dir/cms.json")"

log "openssl speed rsa2048"
sign_s=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $6}')
cores=$(nproc)
fi

# ------------------------------------------------------------------ the table
python3 - "$dir" "$results" "$sign_s" "$cores" "$MSGS" "$SIZE" "$ROUNDS" <<'PY'
import json, os, sys
d, results, sign_s, cores, msgs, size, rounds = sys.argv[1:8]
sign_s, cores = float(sign_s or 0), int(cores)
import statistics
# One line per run: NAME SESSIONS MSG/S CPU_MS (or FAIL FAIL); runs of the same round are
# neighbours in time, so "x postfix" is the median of the per-round ratios.
runs = {}
for line in open(results):
    name, s, rate, cpu = line.split()
    runs.setdefault((name, int(s)), []).append((rate, cpu))
def med(vals):
    ok = [float(v) for v in vals if v != "FAIL"]
    return statistics.median(ok) if ok and len(ok) == len(vals) else None
rows = {}
for (name, s), v in runs.items():
    rows.setdefault(name, []).append((s, med([r for r, _ in v]), med([c for _, c in v]), [r for r, _ in v]))
def lat(name, s):
    # (rate, median p50, median p99, worst p99) over the latency rounds
    import glob
    js = []
    for f in sorted(glob.glob(os.path.join(d, f"{name}.lat.{s}.*.json"))):
        try:
            j = json.load(open(f))
            if j["p50_ms"] is not None and j["p99_ms"] is not None:
                js.append(j)
        except (OSError, ValueError, KeyError):
            pass
    if not js:
        return None
    return (js[0]["offered_rate"], statistics.median(j["p50_ms"] for j in js),
            statistics.median(j["p99_ms"] for j in js), max(j["p99_ms"] for j in js))
def rss(name):
    try:
        v = open(os.path.join(d, f"{name}.rss")).read().split()[-1]
        return int(v) / 1024
    except (OSError, IndexError, ValueError):
        return None
load = open("/proc/loadavg").read().split()[:3]
ceiling = sign_s * cores
print()
print(f"relay benchmark: {msgs} messages of {size} bytes per run, medians of {rounds} rounds, loopback, {cores} cores, "
      f"load average {' '.join(load)} at the end")
print(f"crypto ceiling: openssl speed rsa2048 {sign_s:,.0f} sign/s x {cores} cores = {ceiling:,.0f} msg/s")
print()
hdr = f"| {'relay':<20} | {'sessions':>8} | {'msg/s':>8} | {'x postfix':>9} | {'of ceiling':>10} | {'p50 ms':>7} | {'p99 ms':>7} | {'p99 worst':>9} | {'at msg/s':>8} | {'CPU ms/msg':>10} | {'peak RSS MiB':>12} |"
print(hdr)
print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
pf = {s: each for s, _, _, each in rows.get("postfix", [])}
def ratio(s, each):
    base = pf.get(s)
    if not base or "FAIL" in base or "FAIL" in each or len(base) != len(each):
        return "-"
    return f"{statistics.median(float(a) / float(b) for a, b in zip(each, base)):.2f}"
for name in ["postfix", "segl-sign+encrypt", "segl-s+e-two-files", "segl-decrypt+verify"]:
    r = rss(name)
    for s, rate, cpu, each in rows.get(name, []):
        l = lat(name, s)
        x = ratio(s, each)
        frac = f"{rate / ceiling * 100:.0f}%" if ceiling and rate and name != "postfix" else "-"
        p50 = f"{l[1]:.1f}" if l and l[1] is not None else "-"
        p99 = f"{l[2]:.1f}" if l and l[2] is not None else "-"
        worst = f"{l[3]:.1f}" if l else "-"
        at = f"{l[0]:.0f}" if l else "-"
        rs = f"{r:.0f}" if r else "-"
        rate_s = f"{rate:.1f}" if rate else "FAIL"
        cpu_s = f"{cpu:.2f}" if cpu else "-"
        print(f"| {name:<20} | {s:>8} | {rate_s:>8} | {x:>9} | {frac:>10} | {p50:>7} | {p99:>7} | {worst:>9} | {at:>8} | {cpu_s:>10} | {rs:>12} |")
try:
    c = json.load(open(os.path.join(d, "cms.json")))
    frac = f"{c['msg_s'] / ceiling * 100:.0f}%" if ceiling else "-"
    print(f"| {'openssl cms/msg':<20} | {cores:>8} | {c['msg_s']:>8.1f} | {'-':>9} | {frac:>10} | {c['p50_ms']:>7.1f} | {c['p99_ms']:>7.1f} | {'-':>9} | {'max':>8} | {c['cpu_s_msg'] * 1000:>10.3f} | {c['peak_rss_kib'] / 1024:>12.0f} |")
except (OSError, ValueError, KeyError):
    pass
try:
    lines = open(os.path.join(d, "large.txt")).read().splitlines()
except OSError:
    lines = []
if lines:
    print()
    print("| large message | MB (10^6 bytes) | peak RSS MiB (VmHWM) | x message | RSS before MiB | arrived |")
    print("|---|---|---|---|---|---|")
    for line in lines:
        name, mb, peak, idle, js = line.split(" ", 4)
        j = json.loads(js)
        print(f"| {name} | {mb} | {int(peak) / 1024:.0f} | {int(peak) * 1024 / (int(mb) * 1e6):.1f} | {int(idle) / 1024:.0f} | {j['arrived']}/{j['sent']} |")
PY
