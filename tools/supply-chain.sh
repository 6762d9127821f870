#!/usr/bin/env bash
# Supply-chain checks with cargo-deny against deny.toml (docs/supply-chain.md):
#   bash tools/supply-chain.sh            licences, bans, sources (offline) + advisories if a
#                                          local RustSec database is at hand
#   ADVISORY_DB=/path/to/advisory-db bash tools/supply-chain.sh
# The RustSec advisory database cannot be downloaded where CI runs (only package registries are
# reachable), so advisories are checked against a local git copy of github.com/rustsec/advisory-db
# given by ADVISORY_DB (or found at ~/.cargo/advisory-db); without one that part is skipped and
# says so. cargo-deny is installed when missing (cargo install, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked
echo "== cargo deny: licences, bans, sources (offline)"
cargo deny --offline check licenses bans sources
db=${ADVISORY_DB:-$HOME/.cargo/advisory-db}
if git -C "$db" rev-parse --git-dir >/dev/null 2>&1; then
  echo "== cargo deny: advisories against $db ($(git -C "$db" log -1 --format='%h %cs' 2>/dev/null || echo 'no git'))"
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  # cargo-deny reads a database from <db-path>/<name>-<hash of its URL>; give it a clone there.
  git clone -q "$db" "$work/advisory-db-3157b0e258782691"
  sed -e "s|^\[advisories\]|[advisories]\ndb-path = \"$work\"\ndb-urls = [\"https://github.com/rustsec/advisory-db\"]|" \
    deny.toml > "$work/deny.toml"
  cargo deny --offline --config "$work/deny.toml" check advisories
else
  echo "== advisories: skipped (no local RustSec database; set ADVISORY_DB to a clone of github.com/rustsec/advisory-db)"
fi
