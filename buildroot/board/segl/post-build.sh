#!/bin/sh
#
# Post-build script for all Segl boards.
# $1: target directory, $2: board (x86_64, qemu-aarch64-virt, rpi4-64),
# from BR2_ROOTFS_POST_SCRIPT_ARGS.

set -eu

BOARD_DIR="$(dirname "$0")"
BOARD="${2:?board name expected in BR2_ROOTFS_POST_SCRIPT_ARGS}"

# Mount point of the persistent data partition.
mkdir -p "${TARGET_DIR}/data"

# Bring up /data (make its file system on first boot, mount it) before any
# init script runs: after "mount -a", before rcS.
if ! grep -q '/usr/sbin/segl-data' "${TARGET_DIR}/etc/inittab"; then
	sed -i '\~^::sysinit:/etc/init.d/rcS~i\
::sysinit:/usr/sbin/segl-data' "${TARGET_DIR}/etc/inittab"
fi

case "${BOARD}" in
x86_64)
	# The same menu for GRUB EFI (/EFI/BOOT) and GRUB BIOS (/boot/grub,
	# its prefix is (hd0,gpt2)/boot/grub), both on the EFI system partition.
	mkdir -p "${BINARIES_DIR}/efi-part/EFI/BOOT" \
		"${BINARIES_DIR}/efi-part/boot/grub"
	cp -f "${BOARD_DIR}/x86_64/grub.cfg" \
		"${BINARIES_DIR}/efi-part/EFI/BOOT/grub.cfg"
	cp -f "${BOARD_DIR}/x86_64/grub.cfg" \
		"${BINARIES_DIR}/efi-part/boot/grub/grub.cfg"
	# The i386-pc build installs a useless grub.cfg in the root file system.
	rm -rf "${TARGET_DIR}/boot/grub"
	;;
rpi4-64)
	# A login prompt on the HDMI console too.
	if ! grep -q '^tty1::' "${TARGET_DIR}/etc/inittab"; then
		echo 'tty1::respawn:/sbin/getty -L tty1 0 vt100 # HDMI console' \
			>> "${TARGET_DIR}/etc/inittab"
	fi
	;;
esac
