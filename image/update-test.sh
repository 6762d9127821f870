#!/usr/bin/env bash
#
# A/B firmware update test of the x86_64 image (not in CI: about 4.5 minutes of
# TCG emulation plus the image build). Boots image/out/disk.img in QEMU
# (legacy BIOS -> GRUB) WITHOUT -no-reboot, so every restart is the guest's own:
#
#   v1 (the factory slot a): a mail is queued (sink down), a key generated;
#     a tampered bundle and a bundle of the running version are refused;
#     `segl ctl firmware install v2 --reboot` (from the host, through the
#     forwarded admin port with the box's token and certificate pin);
#   v2 (slot b, trial): segl marks it good; the mail is still queued, the key
#     still there, the box id the same; `segl ctl firmware install v3 --reboot`;
#   v3 (slot a, trial) is the same kernel and initramfs plus an overlay that
#     breaks /sbin/segl-run, so segl never starts; segl-firmwared restarts the
#     box after segl.trial_timeout, GRUB boots the good slot b (v2) by itself,
#     and `segl ctl status` and GET /api/v1/firmware say that v3 failed;
#   finally the sink comes up and the queued mail is delivered.
#
# v2 and v3 are bundles of the same segl build (image/out) with other
# manifests, signed with the development update key (segl-bundle --dev).
# SEGL_SKIP_BUILD=1 uses image/out as it is; KEEP_WORK=1 keeps the logs.
# Prints the figures BENCHMARKS.md records (bundle size, install time, boot
# to banner).

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$IMAGE_DIR/testlib.sh"
OUT=${SEGL_IMAGE_OUT:-$IMAGE_DIR/out}
TRIAL_TIMEOUT=${TRIAL_TIMEOUT:-90}

if [ "${SEGL_SKIP_BUILD:-}" != "1" ]; then
	say "building the image"
	"$IMAGE_DIR/build.sh"
fi
say "building segl (host) and segl-bundle"
cargo build --quiet --locked --manifest-path "$REPO/Cargo.toml" --bin segl --bin segl-bundle
HOST_BIN=${CARGO_TARGET_DIR:-$REPO/target}/debug
SEGL=$HOST_BIN/segl
BUNDLE=$HOST_BIN/segl-bundle

# qemu_boot NAME: like testlib's qemu_start, but the guest may restart itself
# (no -no-reboot): the serial log keeps growing across restarts.
qemu_boot() {
	local name=$1
	SERIAL_LOG=$WORK/$name.serial.log
	MONITOR=$WORK/$name.monitor
	: >"$SERIAL_LOG"
	qemu-system-x86_64 -M pc -accel tcg -cpu max -smp 1 -m 1024 -display none \
		-drive "file=$DISK,format=raw,if=virtio" \
		-serial "file:$SERIAL_LOG" \
		-monitor "unix:$MONITOR,server,nowait" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$SMTP_PORT-:25,hostfwd=tcp:127.0.0.1:$ADMIN_PORT-:8080" \
		-device virtio-net-pci,netdev=n0 >"$WORK/$name.qemu.log" 2>&1 &
	QEMU_PID=$!
	QEMU_PIDS+=("$QEMU_PID")
	say "$name: qemu started (pid $QEMU_PID), console: $SERIAL_LOG"
}

# wait_console TEXT TIMEOUT: until TEXT shows on the serial console.
wait_console() {
	local start
	start=$(date +%s)
	until grep -qF -- "$1" "$SERIAL_LOG"; do
		kill -0 "$QEMU_PID" 2>/dev/null || fail "qemu exited while waiting for \"$1\""
		[ $(($(date +%s) - start)) -lt "$2" ] || fail "\"$1\" not on the console within $2 s"
		sleep 1
	done
}

# wait_down: until the SMTP port stops answering (the guest is restarting).
wait_down() {
	local start
	start=$(date +%s)
	while python3 - "$SMTP_PORT" <<'PY' 2>/dev/null; do
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.settimeout(3)
sys.exit(0 if s.makefile("rb").readline().startswith(b"220") else 1)
PY
		[ $(($(date +%s) - start)) -lt 120 ] || fail "the guest did not restart within 120 s"
		sleep 1
	done
}

# fw_json EXPR: a field of GET /api/v1/firmware (python expression on `v`).
fw_json() {
	local out
	out=$(http /api/v1/firmware "$TOKEN")
	[ "${out%% *}" = "200" ] || fail "GET /api/v1/firmware: $out"
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "${out#* }" "$1"
}

# ctl ARGS...: segl ctl on the host against the guest's admin API.
ctl() {
	"$SEGL" ctl --config "$WORK/host.toml" "$@"
}

# banner_after START: waits for the SMTP banner; prints the seconds since START.
banner_after() {
	local start=$1
	wait_banner >&2
	echo $(($(date +%s) - start))
}

trap cleanup EXIT
trap 'exit 1' INT TERM
WORK=$(mktemp -d "${TMPDIR:-/tmp}/segl-update-test.XXXXXX")
[ -f "$OUT/disk.img" ] && [ -f "$OUT/slot.vfat" ] || fail "$OUT/disk.img or slot.vfat missing: run image/build.sh"
python3 -c 'import aiosmtpd' 2>/dev/null || fail "python3 aiosmtpd missing (.ci/install-deps.sh installs it)"

SMTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
SINK_PORT=$(free_port)
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# ---- the bundles: v2, v3 (broken start), a tampered v2 ----
V1=$(mtype -i "$OUT/slot.vfat" ::slot.toml | sed -n 's/^version = "\(.*\)"/\1/p')
V2="$V1.2"
V3="$V1.3"
say "factory version $V1; bundles $V2 and $V3"
# slot_image VERSION OUT [INITRD]: the factory slot image with slot.toml saying VERSION
# (and another initrd.img).
slot_image() {
	cp "$OUT/slot.vfat" "$2"
	printf 'version = "%s"\nboard = "x86_64-local"\n' "$1" >"$WORK/slot.toml"
	mcopy -o -i "$2" "$WORK/slot.toml" ::slot.toml
	if [ -n "${3:-}" ]; then
		mcopy -o -i "$2" "$3" ::initrd.img
	fi
}
slot_image "$V2" "$WORK/slot-v2.vfat"
"$BUNDLE" make --dev --version "$V2" --board x86_64-local --payload "$WORK/slot-v2.vfat" --out "$WORK/v2.seglfw" >/dev/null
# v3: the same kernel and initramfs, plus a second cpio archive in initrd.img
# (the kernel unpacks them in turn) that replaces /sbin/segl-run: segl never starts.
mkdir -p "$WORK/overlay/sbin"
printf '#!/bin/sh\necho "segl-run: v3 test firmware: segl does not start" >/dev/console\nsleep 30\n' >"$WORK/overlay/sbin/segl-run"
chmod 0755 "$WORK/overlay/sbin/segl-run"
(cd "$WORK/overlay" && find . -mindepth 1 | cpio --create --format=newc --owner=0:0 --quiet | gzip -9 -n) >"$WORK/overlay.cpio.gz"
mcopy -i "$OUT/slot.vfat" ::initrd.img "$WORK/initrd-v2.img"
cat "$WORK/initrd-v2.img" "$WORK/overlay.cpio.gz" >"$WORK/initrd-v3.img"
slot_image "$V3" "$WORK/slot-v3.vfat" "$WORK/initrd-v3.img"
"$BUNDLE" make --dev --version "$V3" --board x86_64-local --payload "$WORK/slot-v3.vfat" --out "$WORK/v3.seglfw" >/dev/null
cp "$WORK/v2.seglfw" "$WORK/tampered.seglfw"
python3 - "$WORK/tampered.seglfw" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-5000] ^= 0x01  # a byte of the payload, after the signed manifest
open(p, "wb").write(bytes(b))
PY
"$BUNDLE" make --dev --version "$V1" --board x86_64-local --payload "$OUT/slot.vfat" --out "$WORK/v1.seglfw" >/dev/null
BUNDLE_SIZE=$(stat -c %s "$WORK/v2.seglfw")
say "bundle v2: $BUNDLE_SIZE bytes (slot image $(stat -c %s "$OUT/slot.vfat") bytes)"

# ---- the disk, provisioned as in boot-test.sh; a shorter trial timeout ----
provision_disk "$OUT/disk.img" segl-update-test.localdomain
mcopy -i "$DISK@@1M" ::grub/grub.cfg "$WORK/grub.cfg"
sed -i "s/segl.trial=\$trial/segl.trial=\$trial segl.trial_timeout=$TRIAL_TIMEOUT/" "$WORK/grub.cfg"
grep -q "segl.trial_timeout=$TRIAL_TIMEOUT" "$WORK/grub.cfg" || fail "cannot set the trial timeout in grub.cfg"
mcopy -o -i "$DISK@@1M" "$WORK/grub.cfg" ::grub/grub.cfg

# ---- boot v1 ----
t=$(date +%s)
qemu_boot update
BOOT_V1=$(banner_after "$t")
wait_console "segl-grub: booting slot a (trial 0)" 5
say "v1 up: banner after $BOOT_V1 s"
# The host side of segl ctl: the token, and the box's admin certificate pinned.
mkdir -p "$WORK/host/admin-tls"
cp "$WORK/ctl.token" "$WORK/host/ctl.token"
python3 - "$ADMIN_PORT" >"$WORK/host/admin-tls/pin.sha256" <<'PY'
import hashlib, ssl, sys
pem = ssl.get_server_certificate(("127.0.0.1", int(sys.argv[1])))
print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest())
PY
cat >"$WORK/host.toml" <<EOF
[storage]
data_dir = "$WORK/host"
[admin]
listen = "127.0.0.1:$ADMIN_PORT"
tls_cert = "pinned"
tls_key = "pinned"
EOF
ctl status >/dev/null || fail "segl ctl cannot reach the guest: $(ctl status 2>&1)"
[ "$(fw_json 'v["running_version"], v["running_slot"]')" = "('$V1', 'a')" ] ||
	fail "v1 is not running from slot a: $(http /api/v1/firmware "$TOKEN")"
BOX_ID=$(ctl license show --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["box_id"])')
ctl key generate --email keep@example.org >/dev/null || fail "key generation failed"
subject="segl-update-test-$(date +%s)-$$"
send_mail "$subject" >/dev/null || fail "sending the mail"
say "v1: box $BOX_ID, key for keep@example.org, mail $subject queued (sink down)"

if out=$(ctl firmware install "$WORK/tampered.seglfw" 2>&1); then
	fail "a tampered bundle was installed: $out"
fi
echo "$out" | grep -q "tampered payload" || fail "tampered bundle: unexpected answer: $out"
say "tampered bundle refused: $(echo "$out" | tail -n 1)"
if out=$(ctl firmware install "$WORK/v1.seglfw" 2>&1); then
	fail "the running version was installed again without --force: $out"
fi
echo "$out" | grep -q "not newer" || fail "same version: unexpected answer: $out"
say "same version refused: $(echo "$out" | tail -n 1)"
[ "$(fw_json 'v["slots"][1]["trial_next"]')" = "False" ] || fail "a refused bundle armed a trial"

# ---- install v2, restart into it ----
t=$(date +%s)
ctl firmware install "$WORK/v2.seglfw" --reboot | tee "$WORK/install-v2.txt"
INSTALL_V2=$(($(date +%s) - t))
grep -q "writing" "$WORK/install-v2.txt" || say "(no progress line seen: the install was quicker than a poll)"
say "v2 installed in $INSTALL_V2 s; the guest restarts by itself"
t=$(date +%s)
wait_down
wait_console "segl-grub: booting slot b (trial 1)" 120
BOOT_V2=$(banner_after "$t")
say "v2 (trial) up: banner $BOOT_V2 s after the install returned"
start=$(date +%s)
until [ "$(fw_json '(v["last"] or {}).get("result")')" = "good" ]; do
	[ $(($(date +%s) - start)) -lt 120 ] || fail "v2 was not marked good: $(http /api/v1/firmware "$TOKEN")"
	sleep 2
done
[ "$(fw_json 'v["running_version"], v["running_slot"], v["trial"]')" = "('$V2', 'b', False)" ] ||
	fail "v2 is not the good slot: $(http /api/v1/firmware "$TOKEN")"
say "v2 marked good after $(($(date +%s) - start)) s more: $(ctl status | grep '^firmware:')"
out=$(http /api/v1/queue "$TOKEN")
echo "$out" | grep -q '"id"' || fail "the queued mail is gone after the update: $out"
ctl key list | grep -q "keep@example.org" || fail "the key is gone after the update"
[ "$(ctl license show --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["box_id"])')" = "$BOX_ID" ] ||
	fail "the box id changed: the keystore was not kept"
say "v2: queued mail, key and box id kept"

# ---- install v3 (segl does not start), fall back to v2 ----
t=$(date +%s)
ctl firmware install "$WORK/v3.seglfw" --reboot >"$WORK/install-v3.txt" || fail "v3 install: $(cat "$WORK/install-v3.txt")"
say "v3 installed in $(($(date +%s) - t)) s; restarting into its trial"
wait_down
wait_console "segl-grub: booting slot a (trial 1)" 120
wait_console "v3 test firmware: segl does not start" 240
say "v3 booted on trial, segl does not start; waiting for the watchdog ($TRIAL_TIMEOUT s)"
wait_console "was not marked good within $TRIAL_TIMEOUT s" $((TRIAL_TIMEOUT + 120))
t=$(date +%s)
wait_console "segl-grub: booting slot b (trial 0)" 120
BOOT_BACK=$(banner_after "$t")
say "back on slot b: banner $BOOT_BACK s after the watchdog fired"
start=$(date +%s)
until [ "$(fw_json '(v["last"] or {}).get("result")')" = "failed" ]; do
	[ $(($(date +%s) - start)) -lt 60 ] || fail "the failed trial is not reported: $(http /api/v1/firmware "$TOKEN")"
	sleep 2
done
[ "$(fw_json 'v["running_version"], v["running_slot"], v["last"]["version"]')" = "('$V2', 'b', '$V3')" ] ||
	fail "not back on v2 or v3 not named: $(http /api/v1/firmware "$TOKEN")"
status=$(ctl status)
echo "$status" | grep -q "firmware: .*failed.*version $V3" || fail "segl ctl status does not say that v3 failed: $status"
say "segl ctl status: $(echo "$status" | grep '^firmware:')"
ctl firmware status | sed 's/^/    /'

# ---- the queued mail reaches the sink ----
mkdir -p "$WORK/sink"
python3 "$REPO/tests/peers/sink.py" --listen "127.0.0.1:$SINK_PORT" --dir "$WORK/sink" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
start=$(date +%s)
while ! grep -qs "Subject: $subject" "$WORK"/sink/*.eml; do
	[ $(($(date +%s) - start)) -lt 120 ] || fail "the queued mail did not reach the sink within 120 s"
	sleep 2
done
say "the mail queued on v1 was delivered on v2 after $(($(date +%s) - start)) s"
poweroff_guest
echo "figures: bundle $BUNDLE_SIZE bytes; install v2 $INSTALL_V2 s (upload, write, read back);" \
	"boot to banner: v1 $BOOT_V1 s, v2 restart+boot $BOOT_V2 s, fallback after watchdog $BOOT_BACK s"
say "PASS ($(elapsed) s)"
