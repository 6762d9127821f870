#!/bin/sh
# Runs the S/MIME engine benchmark and, in the same run, OpenSSL's RSA-2048 speed as the
# reference for the machine. Usage: bench/smime.sh  (from the repository root)
set -eu
cd "$(dirname "$0")/.."
echo "== openssl speed -seconds 3 rsa2048 (reference) =="
openssl speed -seconds 3 rsa2048 2>/dev/null | tail -3
echo "== cargo bench --bench smime =="
cargo bench --bench smime -- --noplot 2>&1 | grep -E "^smime/|time:|thrpt:"
