#!/usr/bin/env bash
#
# CI boot test of the x86_64 image, legacy BIOS route (SeaBIOS -> GRUB from the MBR):
# builds the image (image/build.sh; SEGL_SKIP_BUILD=1 uses image/out as it
# is), boots it twice in qemu-system-x86_64 (TCG) and checks SMTP, the
# admin API and that the data partition keeps a queued mail across a
# power-off (see image/testlib.sh for the scenario). Prints timings.
# KEEP_WORK=1 keeps the work directory with the serial logs.

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$IMAGE_DIR/testlib.sh"

if [ "${SEGL_SKIP_BUILD:-}" != "1" ]; then
	say "building the image"
	"$IMAGE_DIR/build.sh"
	say "image built"
fi

# shellcheck disable=SC2034,SC2054 # used by testlib.sh; commas are qemu syntax
# QEMU's i6300ESB watchdog: the image arms it (sbin/segl-watchdog) and the test checks it.
QEMU_CMD=(qemu-system-x86_64 -M pc -accel tcg -cpu max -smp 1 -m 1024 -device i6300esb)
# shellcheck disable=SC2034,SC2054
QEMU_NIC=(-device virtio-net-pci,netdev=n0)
BOOT_MARKER="segl-grub: booting slot a"
# shellcheck disable=SC2034 # used by testlib.sh
WATCHDOG_MARKER="segl-watchdog: i6300ESB timer armed"
boot_test_main "${SEGL_IMAGE_OUT:-$IMAGE_DIR/out}/disk.img"
