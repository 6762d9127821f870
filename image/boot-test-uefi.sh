#!/usr/bin/env bash
#
# Boot test of the x86_64 image, UEFI route (OVMF -> GRUB EFI/BOOT/
# BOOTX64.EFI): the same scenario as boot-test.sh. Not run in CI (it takes
# as long again); run it after changing the boot partition or grub.cfg.
# Needs the Debian package ovmf. SEGL_SKIP_BUILD=1 uses image/out as it is.

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$IMAGE_DIR/testlib.sh"

OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
{ [ -f "$OVMF_CODE" ] && [ -f "$OVMF_VARS" ]; } || fail "OVMF firmware missing (Debian package ovmf)"

if [ "${SEGL_SKIP_BUILD:-}" != "1" ]; then
	say "building the image"
	"$IMAGE_DIR/build.sh"
	say "image built"
fi

# The NVRAM is per run; the EFI boot entry is found by the removable-media
# path EFI/BOOT/BOOTX64.EFI, as on a fresh PC.
VARS=$(mktemp "${TMPDIR:-/tmp}/segl-ovmf-vars.XXXXXX")
cp "$OVMF_VARS" "$VARS"
# shellcheck disable=SC2034,SC2054 # used by testlib.sh; commas are qemu syntax
QEMU_CMD=(qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp 1 -m 1024
	-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
	-drive "if=pflash,format=raw,unit=1,file=$VARS")
# shellcheck disable=SC2034,SC2054
QEMU_NIC=(-device virtio-net-pci,netdev=n0)
BOOT_MARKER="segl-grub: booting slot a"
boot_test_main "${SEGL_IMAGE_OUT:-$IMAGE_DIR/out}/disk.img"
rm -f "$VARS"
