#!/usr/bin/env bash
#
# Boot test of the aarch64 image (not in CI): builds it
# (image/build-aarch64.sh; SEGL_SKIP_BUILD=1 uses image/out-aarch64 as it
# is), boots it twice in qemu-system-aarch64 -M virt (TCG, cortex-a57,
# kernel and initramfs given to QEMU directly, the disk as virtio-blk) and
# runs the same scenario as the x86_64 test (image/testlib.sh): SMTP banner,
# admin API with the provisioned token, a mail queued while the sink is down
# and delivered to tests/peers/sink.py (10.0.2.2 from the guest) after a
# power-off and a second boot of the same disk. The power button of -M virt
# is a GPIO key (gpio_keys + evdev, BusyBox acpid), which runs the same
# clean shutdown as the ACPI button on x86_64.
# KEEP_WORK=1 keeps the work directory with the serial logs. TCG emulation
# of aarch64 is slow: BOOT_TIMEOUT (default 600 s) bounds each boot.

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
BOOT_TIMEOUT=${BOOT_TIMEOUT:-600}
POWEROFF_TIMEOUT=${POWEROFF_TIMEOUT:-180}
# shellcheck source-path=SCRIPTDIR source=testlib.sh
. "$IMAGE_DIR/testlib.sh"

OUT=${SEGL_IMAGE_OUT:-$IMAGE_DIR/out-aarch64}
if [ "${SEGL_SKIP_BUILD:-}" != "1" ]; then
	say "building the aarch64 image"
	SEGL_IMAGE_OUT=$OUT "$IMAGE_DIR/build-aarch64.sh"
	say "image built"
fi
for f in vmlinuz initrd.img cmdline; do
	[ -f "$OUT/$f" ] || fail "$OUT/$f missing: run image/build-aarch64.sh"
done

# shellcheck disable=SC2034,SC2054 # used by testlib.sh; commas are qemu syntax
QEMU_CMD=(qemu-system-aarch64 -M virt -accel tcg -cpu cortex-a57 -smp "${SMP:-1}" -m 1024
	-kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.img" -append "$(cat "$OUT/cmdline")")
# shellcheck disable=SC2034,SC2054
QEMU_NIC=(-device virtio-net-pci,netdev=n0)
boot_test_main "$OUT/disk.img"
