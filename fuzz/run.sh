#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each). Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`). Not part of the test suite: a long run of its own.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for t in smtp_command smime_input policy_message license_file; do
  echo "== fuzzing $t for ${secs}s"
  cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048
done
