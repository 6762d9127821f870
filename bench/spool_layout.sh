#!/usr/bin/env bash
# The spool layouts against each other (issue 15): two Segl instances side by side, one writing
# one file per message (storage.spool_layout = "auto": <id>.mail) and one the two-file layout of
# earlier firmware ("two-files": <id>.msg + <id>.env), the same sign+encrypt load on each in
# alternating rounds (bench/ab.sh). Prints msg/s and Segl's CPU ms per message for each round
# and the median of each layout.
#
#   bash bench/spool_layout.sh                 (from the repository root; about a minute)
#   ROUNDS=6 MSGS=5000 SESSIONS=50 bash bench/spool_layout.sh
#
# Needs Debian `postfix` (smtp-source, smtp-sink), openssl and python3; root only for
# smtp-sink's -u. SEGL_BIN (default: a release build made here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SEGL_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  SEGL_BIN=$root/target/release/segl
fi
VARIANTS="one-file=$SEGL_BIN:auto two-files=$SEGL_BIN:two-files" exec bash "$root/bench/ab.sh"
