#!/bin/sh
#
# Post-image script for all Segl boards: assemble the disk image with
# genimage from board/segl/<board>/genimage.cfg.
# $1: images directory, $2: board (x86_64, qemu-aarch64-virt, rpi4-64).

set -eu

BOARD_DIR="$(dirname "$0")"
BOARD="${2:?board name expected in BR2_ROOTFS_POST_SCRIPT_ARGS}"
GENIMAGE_CFG="${BOARD_DIR}/${BOARD}/genimage.cfg"

# Write the little-endian 64-bit number $2 at byte offset $3 of file $1.
put_le64() {
	v=$2
	bytes=""
	for _ in 1 2 3 4 5 6 7 8; do
		bytes="${bytes}$(printf '\\%03o' $((v & 255)))"
		v=$((v >> 8))
	done
	# shellcheck disable=SC2059 # the format is the escaped bytes
	printf "${bytes}" | dd of="$1" bs=1 seek="$3" conv=notrunc status=none
}

case "${BOARD}" in
x86_64)
	# GRUB for BIOS on a GPT disk: the core image goes into the BIOS boot
	# partition at LBA 2048 (genimage.cfg), not right after the MBR. Do what
	# grub-bios-setup does: tell boot.img (kernel_sector, offset 0x5c) where
	# the core image starts, and the core image's first sector (blocklist
	# start, offset 0x1f4) where the rest of it follows.
	BIOS_LBA=2048
	boot_img=""
	for f in "${BUILD_DIR}"/grub2-*/build-i386-pc/grub-core/boot.img \
		"${TARGET_DIR}/lib/grub/i386-pc/boot.img"; do
		if [ -f "$f" ]; then
			boot_img=$f
			break
		fi
	done
	if [ -z "${boot_img}" ]; then
		echo "GRUB i386-pc boot.img not found (BR2_TARGET_GRUB2_I386_PC?)" >&2
		exit 1
	fi
	cp -f "${boot_img}" "${BINARIES_DIR}/boot.img"
	put_le64 "${BINARIES_DIR}/boot.img" "${BIOS_LBA}" $((0x5c))
	cp -f "${BINARIES_DIR}/grub.img" "${BINARIES_DIR}/grub-bios.img"
	put_le64 "${BINARIES_DIR}/grub-bios.img" $((BIOS_LBA + 1)) $((0x1f4))
	size=$(wc -c < "${BINARIES_DIR}/grub-bios.img")
	if [ "${size}" -gt 1048576 ]; then
		echo "GRUB core image (${size} bytes) does not fit the BIOS boot partition" >&2
		exit 1
	fi
	;;
qemu-aarch64-virt | rpi4-64)
	# U-Boot's boot script: RAUC's slot choice and boot counting (boot.cmd).
	"${HOST_DIR}/bin/mkimage" -A arm64 -O linux -T script -C none \
		-n "Segl ${BOARD} A/B boot" \
		-d "${BOARD_DIR}/${BOARD}/boot.cmd" "${BINARIES_DIR}/boot.scr"
	# U-Boot's environment and its redundant copy (u-boot.fragment,
	# fw_env.config), zeros: neither is valid, so U-Boot starts from its
	# default environment and writes them in turn; fw_setenv needs both files.
	for f in uboot.env uboot-redund.env; do
		dd if=/dev/zero of="${BINARIES_DIR}/${f}" bs=1024 count=16 2>/dev/null
	done
	;;
esac

support/scripts/genimage.sh -c "${GENIMAGE_CFG}"
