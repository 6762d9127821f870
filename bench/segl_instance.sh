# shellcheck shell=bash
# A Segl instance for the benchmarks (sourced by bench/relay.sh and bench/ab.sh).
# Expects: dir (a temporary directory), pids (an array the caller's cleanup kills), SEGL_BIN,
# LICENSE_BIN and a function `port` printing a free loopback port. `layout` in the environment
# of start_segl sets storage.spool_layout (default "auto").

# start_segl NAME SINKPORT TRUSTED EXTRA_TOML: a fresh instance with its own data dir
# (relay.trusted_networks = TRUSTED); sets gw, gw_port, segl_conf.
start_segl() {
  local name=$1 sink=$2 trusted=$3 extra=$4
  local d=$dir/$name
  mkdir -p "$d"
  gw_port=$(port)
  local admin
  admin=$(port)
  cat >"$d/segl.toml" <<TOML
[smtp]
listen = "127.0.0.1:$gw_port"
submission_listen = []
hostname = "segl.bench"
max_connections_per_ip = 100
[relay]
local_domains = ["example.org"]
trusted_networks = $trusted
[delivery]
inbound_next_hop = "127.0.0.1:$sink"
outbound_smarthost = "127.0.0.1:$sink"
max_concurrency = 50
[storage]
data_dir = "$d/data"
spool_layout = "${layout:-auto}"
[admin]
listen = "127.0.0.1:$admin"
[log]
level = "warn"
$extra
TOML
  "$SEGL_BIN" serve --config "$d/segl.toml" 2>"$d/segl.log" &
  gw=$!
  pids+=("$gw")
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$admin/health" >/dev/null 2>&1 && break; sleep 0.1; done
  segl_conf=$d/segl.toml
  "$LICENSE_BIN" issue --dev --customer Bench --keys 10 --expires +30 --out "$d/lic.txt" >/dev/null
  segl_ctl license install "$d/lic.txt" >/dev/null
  segl_ctl key generate --email alice@example.org >/dev/null
}
segl_ctl() { "$SEGL_BIN" ctl --config "$segl_conf" "$@"; }
stop_segl() { kill "$gw" 2>/dev/null || true; wait "$gw" 2>/dev/null || true; }
