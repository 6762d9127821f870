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

# Network and time settings, the console menu: the same scripts as the local
# image (image/rootfs/, the checkout this tree lives in), not copies of them.
# /etc/init.d/network applies /data/network.conf (S40network of the overlay
# runs it at boot), /sbin/segl-netd is the root helper that applies segl's
# later changes and keeps the clock with "segl sntp", /sbin/segl-console the
# console (address, web admin URL, certificate, set-up link, menu),
# /sbin/segl-grow-data the growth of the data partition (the overlay's
# /usr/sbin/segl-data calls it), /sbin/segl-watchdog the hardware watchdog's
# feeder.
SEGL_ROOTFS="${BOARD_DIR}/../../../image/rootfs"
for f in sbin/segl-netd sbin/segl-console sbin/segl-grow-data sbin/segl-watchdog etc/init.d/network; do
	if [ ! -f "${SEGL_ROOTFS}/${f}" ]; then
		echo "${SEGL_ROOTFS}/${f} not found: buildroot/ must stay in the segl checkout" >&2
		exit 1
	fi
	install -D -m 0755 "${SEGL_ROOTFS}/${f}" "${TARGET_DIR}/${f}"
done
# init respawns the helper (after rcS, so S40network has made /run/segl-netd),
# and the console runs the menu instead of a login prompt (a root shell only
# with segl.shell=1 on the kernel command line).
if ! grep -q '/sbin/segl-netd' "${TARGET_DIR}/etc/inittab"; then
	echo '::respawn:/sbin/segl-netd' >> "${TARGET_DIR}/etc/inittab"
fi
# The hardware watchdog (the board's timer is built into the kernel:
# linux.fragment), armed and fed as on the local image.
if ! grep -q '/sbin/segl-watchdog' "${TARGET_DIR}/etc/inittab"; then
	echo '::respawn:/sbin/segl-watchdog' >> "${TARGET_DIR}/etc/inittab"
fi
# The root helper of RAUC installs asked for by segl (the overlay's
# /usr/sbin/segl-raucd; S40network makes its /run/segl-rauc).
if ! grep -q '/usr/sbin/segl-raucd' "${TARGET_DIR}/etc/inittab"; then
	echo '::respawn:/usr/sbin/segl-raucd' >> "${TARGET_DIR}/etc/inittab"
fi
sed -i 's~^console::respawn:/sbin/getty .*~console::respawn:/sbin/segl-console~' \
	"${TARGET_DIR}/etc/inittab"
if ! grep -q '/sbin/segl-console' "${TARGET_DIR}/etc/inittab"; then
	echo 'console::respawn:/sbin/segl-console' >> "${TARGET_DIR}/etc/inittab"
fi
# The time zone (BR2_TARGET_TZ_INFO installs the zoneinfo): segl-netd points
# /run/segl-netd/localtime at the zone of /data/time.conf; the root file system
# is read-only, so /etc/localtime is a fixed link there (UTC until it exists).
ln -sfn /run/segl-netd/localtime "${TARGET_DIR}/etc/localtime"
rm -f "${TARGET_DIR}/etc/timezone"
# Replaced by segl-netd (a leftover of an older build in the same output).
rm -f "${TARGET_DIR}/etc/init.d/S49ntpd"

# The keyring RAUC checks bundles against: SEGL_RAUC_KEYRING (the vendor's
# update CA, PEM), or for development builds a throw-away CA made here, its
# key next to the images (rauc-dev/) to sign test bundles. A release
# (SEGL_RELEASE=1) refuses to build without the production keyring, as for
# the licence and segl's own update key (firmware/build.rs).
install_rauc_keyring() {
	keyring="${TARGET_DIR}/etc/rauc/keyring.pem"
	if [ -n "${SEGL_RAUC_KEYRING:-}" ]; then
		install -D -m 0644 "${SEGL_RAUC_KEYRING}" "${keyring}"
		return
	fi
	case "${SEGL_RELEASE:-}" in
	"" | 0) ;;
	*)
		echo "SEGL_RELEASE=1 needs SEGL_RAUC_KEYRING=<update CA, PEM>" >&2
		exit 1
		;;
	esac
	dev="${BINARIES_DIR}/rauc-dev"
	if [ ! -f "${dev}/ca.cert.pem" ]; then
		mkdir -p "${dev}"
		openssl req -x509 -newkey rsa:3072 -nodes -days 3650 \
			-subj "/CN=Segl development update CA (never for production)" \
			-keyout "${dev}/ca.key.pem" -out "${dev}/ca.cert.pem" 2>/dev/null
	fi
	install -D -m 0644 "${dev}/ca.cert.pem" "${keyring}"
}

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
	# RAUC: slot A is good at first; grub.cfg reads and writes this block.
	"${HOST_DIR}/bin/grub-editenv" "${BINARIES_DIR}/efi-part/boot/grub/grubenv" create
	"${HOST_DIR}/bin/grub-editenv" "${BINARIES_DIR}/efi-part/boot/grub/grubenv" \
		set ORDER="A B" A_OK=1 B_OK=1 A_TRY=0 B_TRY=0
	install -D -m 0644 "${BOARD_DIR}/x86_64/rauc-system.conf" \
		"${TARGET_DIR}/etc/rauc/system.conf"
	install_rauc_keyring
	mkdir -p "${TARGET_DIR}/efi"
	if ! grep -q '^LABEL=SEGLBOOT' "${TARGET_DIR}/etc/fstab"; then
		echo 'LABEL=SEGLBOOT	/efi	vfat	noatime,nodev,nosuid,noexec	0	0' \
			>> "${TARGET_DIR}/etc/fstab"
	fi
	;;
qemu-aarch64-virt | rpi4-64)
	# RAUC with U-Boot: boot.scr (post-image.sh) counts the attempts in
	# U-Boot's environment, uboot.env on the boot partition, which Linux
	# mounts on /boot/firmware and reads with fw_printenv (fw_env.config).
	install -D -m 0644 "${BOARD_DIR}/${BOARD}/rauc-system.conf" \
		"${TARGET_DIR}/etc/rauc/system.conf"
	install -D -m 0644 "${BOARD_DIR}/${BOARD}/fw_env.config" \
		"${TARGET_DIR}/etc/fw_env.config"
	install_rauc_keyring
	mkdir -p "${TARGET_DIR}/boot/firmware"
	if ! grep -q '^LABEL=SEGLBOOT' "${TARGET_DIR}/etc/fstab"; then
		echo 'LABEL=SEGLBOOT	/boot/firmware	vfat	noatime,nodev,nosuid,noexec	0	0' \
			>> "${TARGET_DIR}/etc/fstab"
	fi
	;;
esac

case "${BOARD}" in
rpi4-64)
	# A login prompt on the HDMI console too.
	if ! grep -q '^tty1::' "${TARGET_DIR}/etc/inittab"; then
		echo 'tty1::respawn:/sbin/getty -L tty1 0 vt100 # HDMI console' \
			>> "${TARGET_DIR}/etc/inittab"
	fi
	;;
esac
