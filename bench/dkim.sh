#!/bin/sh
# Runs the DKIM benchmark: sign+encrypt with and without the DKIM stage (RSA-2048 and Ed25519
# DKIM keys), and OpenSSL's RSA-2048 speed as the machine reference in the same run.
# Usage: bench/dkim.sh  (from the repository root)
set -eu
cd "$(dirname "$0")/.."
echo "== openssl speed -seconds 3 rsa2048 (reference) =="
openssl speed -seconds 3 rsa2048 2>/dev/null | tail -3
echo "== cargo bench --bench dkim =="
cargo bench --bench dkim -- --noplot 2>&1 | grep -E "^dkim/|time:|thrpt:"
