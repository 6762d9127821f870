#!/usr/bin/env bash
# Installs every Debian/PyPI package the test suite talks to (real peers, not mocks).
# Idempotent: skips apt when everything is already present.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have swaks || need+=(swaks)
# libfuzzer-sys (the fuzz targets' `cargo check` in tests/run-all.sh) compiles libFuzzer's C++.
have g++ || need+=(g++)
perl -MNet::SSLeay -e1 2>/dev/null || need+=(libnet-ssleay-perl libio-socket-ssl-perl)
perl -MAuthen::SASL -e1 2>/dev/null || need+=(libauthen-sasl-perl)
have smtp-sink || need+=(postfix)
have dnsmasq || need+=(dnsmasq-base)
have openssl || need+=(openssl)
have gpgsm || need+=(gpgsm)
have cmsutil || need+=(libnss3-tools)
have faketime || need+=(faketime)
# The tz database the firmware image copies (image/build.sh).
[ -f /usr/share/zoneinfo/Europe/Copenhagen ] || need+=(tzdata)
# Bouncy Castle as a signing peer (tests/peers/BcSign.java, run with `java File.java`).
have java || need+=(default-jdk-headless)
for jar in bcprov bcpkix bcutil bcmail javax.mail javax.activation; do
  [ -f "/usr/share/java/$jar.jar" ] || { need+=(libbcmail-java libbcpkix-java libbcprov-java libbcutil-java libmail-java libactivation-java); break; }
done
# OpenLDAP: the certificate lookup tests run their own slapd on a loopback port.
have slapd || need+=(slapd)
have ldapadd || need+=(ldap-utils)
# Firmware updates (tests/firmware_update.rs): a FAT boot partition with GRUB's environment block.
have grub-editenv || need+=(grub-common)
have mkfs.vfat || need+=(dosfstools)
have mcopy || need+=(mtools)
# Headless Chromium and its WebDriver for the web admin browser tests (tests/webui_browser.rs).
have chromium || need+=(chromium)
have chromedriver || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Postfix must not run as a daemon here: we only want its smtp-sink/smtp-source tools.
python3 - <<'PY' 2>/dev/null || pip install -q aiosmtpd 'cryptography>=43'
import aiosmtpd, cryptography
from cryptography.hazmat.primitives.serialization import pkcs7
assert hasattr(pkcs7, "PKCS7EnvelopeBuilder")
PY
# DKIM: dkimpy verifies Segl's signatures independently (tests/peers/dkim_verify.py); PyNaCl
# gives it ed25519-sha256.
python3 -c 'import dkim, nacl' 2>/dev/null || pip install -q dkimpy pynacl
