#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each): bash fuzz/run.sh [SECONDS] [TARGET...]
# Needs the nightly toolchain and cargo-fuzz (installed when missing). Not part of the test
# suite: a long run of its own. Seeds for the corpus are made here, at run time, from the
# project's own material (default config, openssl-made PKCS#12 and CMS, SMTP lines, a
# development licence); what the fuzzer finds stays in fuzz/corpus (git-ignored), crashes in
# fuzz/artifacts. Every crash found gets a fix and a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(smtp_command smime_input policy_message license_file key_import config_text)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seed() { mkdir -p "corpus/$1"; cat > "corpus/$1/$2"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
seed config_text default.toml < ../firmware/src/default.toml
printf 'EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d.example\r\nDATA\r\n' | seed smtp_command session.txt
if command -v openssl >/dev/null; then
  (cd "$tmp"
   openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fuzz@example.org -keyout k.pem -out c.pem 2>/dev/null
   openssl pkcs12 -export -inkey k.pem -in c.pem -passout pass:secret -out k.p12
   printf 'Content-Type: text/plain\r\n\r\nhello\r\n' > m.txt
   openssl cms -sign -in m.txt -signer c.pem -inkey k.pem -outform DER -out signed.der -nodetach
   openssl cms -encrypt -in m.txt -outform DER -out enveloped.der c.pem)
  seed key_import k.p12 < "$tmp/k.p12"
  cat "$tmp/k.pem" "$tmp/c.pem" | seed key_import k.pem
  seed smime_input signed.der < "$tmp/signed.der"
  seed smime_input enveloped.der < "$tmp/enveloped.der"
  seed policy_message m.txt < "$tmp/m.txt"
  # Lines over 998 octets: the re-encoding path (smime::lines) before signing.
  { printf 'From: alice@example.org\r\nSubject: %s\r\n\r\n' "$(printf 'word%.0s ' $(seq 300))"
    printf 'x%.0s' $(seq 1500); printf '\r\n'; } | seed policy_message long-lines.txt
fi
if [ -x ../target/debug/segl-license ]; then
  ../target/debug/segl-license issue --dev --customer Fuzz --keys 5 --expires +30 --out "$tmp/l.txt" >/dev/null 2>&1 &&
    seed license_file dev.txt < "$tmp/l.txt" || true
fi

for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${secs}s"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048
done
