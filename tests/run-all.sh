#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs the real peers the tests talk to,
# then the Rust unit and end-to-end tests, the Buildroot tree check and the image boot test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash .ci/install-deps.sh
cargo build --locked --all-targets
cargo test --locked -- --test-threads=4
# The fuzz targets are a crate of their own (run by fuzz/run.sh on nightly): compile them here on
# stable, so that a change of the gateway's types cannot leave them broken unnoticed.
cargo check --locked --manifest-path fuzz/Cargo.toml --bins
bash buildroot/test.sh
if [ -x image/boot-test.sh ]; then
  bash image/boot-test.sh
fi
echo "all tests finished in $(( $(date +%s) - start )) s"
