#!/usr/bin/env bash
#
# Build the Segl x86_64 disk image from local parts:
#   - segl, built here statically (cargo profile "image"),
#   - the Debian kernel (linux-image-amd64) and the modules the image needs,
#   - busybox-static, e2fsprogs (mkfs/fsck for /data) and blkid,
#   - image/rootfs/ (/init, inittab, scripts) and the factory configuration
#     buildroot/board/segl/segl.toml (the same file as the Buildroot route),
# packed as an initramfs; then a disk image (genimage) that boots with legacy
# BIOS and UEFI, both through GRUB (A/B firmware slots with fallback, image/README.md).
#
# Output in image/out/: disk.img, slot.vfat (the firmware slot image, the payload of update
# bundles), boot.vfat, vmlinuz, initrd.img, segl, sizes.txt. Missing Debian packages are installed with apt-get (as root).
#
# Environment: CARGO_TARGET_DIR (default <repo>/target), SEGL_IMAGE_OUT
# (default image/out), SEGL_SKIP_CARGO=1 to reuse the last segl build,
# SEGL_FIRMWARE_VERSION (dotted numbers; default: the crate version) for slot.toml.
# A release image: SEGL_RELEASE=1 SEGL_LICENSE_PUBKEY=<vendor.pub> (the build
# fails without the production licence key; without SEGL_RELEASE the image is a
# development build that accepts development licences; docs/license.md).
# segl is built without the vendor licence tool (--no-default-features).

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$IMAGE_DIR/.." && pwd)
OUT=${SEGL_IMAGE_OUT:-$IMAGE_DIR/out}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
TARGET=x86_64-unknown-linux-gnu
PROFILE=image
SEGL_BOARD=x86_64-local
SEGL_FIRMWARE_VERSION=${SEGL_FIRMWARE_VERSION:-$(sed -n 's/^version = "\([0-9.]*\)"$/\1/p' "$REPO/Cargo.toml" | head -n 1)}

# Debian packages the build and the boot tests use.
APT_PACKAGES=(linux-image-amd64 busybox-static e2fsprogs util-linux kmod cpio gzip ca-certificates tzdata
	genimage dosfstools mtools grub-pc-bin grub-efi-amd64-bin grub-common ovmf qemu-system-x86)

# Kernel modules loaded at boot (their dependencies are added): disks
# (virtio, SATA, NVMe, USB), file systems, network cards, power button, hardware watchdogs
# (QEMU's i6300esb, Intel TCO, AMD SP5100 TCO; sbin/segl-watchdog feeds the first one).
MODULES=(virtio_pci virtio_blk virtio_scsi virtio_net sd_mod sr_mod ahci ata_piix
	nvme usb_storage uas xhci_pci ehci_pci ohci_pci uhci_hcd
	ext4 crc32c_generic vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8
	e1000 e1000e igb igc r8169 tg3 bnx2 vmxnet3
	evdev button
	i6300esb lpc_ich iTCO_wdt sp5100_tco)

step_start=0
t0=$(date +%s)
step() {
	local now
	now=$(date +%s)
	if [ "$step_start" -ne 0 ]; then
		echo "    ($((now - step_start)) s)"
	fi
	step_start=$now
	echo "==> $*"
}
die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

# make_slot_image OUT VMLINUZ INITRD VERSION BOARD: a FAT image just large enough for the
# files (plus 2 MiB), so that an update bundle carries little padding.
make_slot_image() {
	local out=$1 kernel=$2 initrd=$3 version=$4 board=$5 kib tmp
	tmp=$(mktemp -d)
	printf 'version = "%s"\nboard = "%s"\n' "$version" "$board" >"$tmp/slot.toml"
	kib=$((($(stat -c %s "$kernel") + $(stat -c %s "$initrd")) / 1024 + 2048))
	rm -f "$out"
	mkfs.vfat -n SEGLSLOT -C "$out" "$kib" >/dev/null
	mcopy -i "$out" "$kernel" ::vmlinuz
	mcopy -i "$out" "$initrd" ::initrd.img
	mcopy -i "$out" "$tmp/slot.toml" ::slot.toml
	rm -rf "$tmp"
}

# install_grub_bios DISK CORE: GRUB's boot sector code into the MBR (not its partition table)
# and the core image into the sectors after it, as grub-bios-setup does, without a loop
# device: boot.img loads sector 1 (its default) and the first sector of core.img (diskboot)
# loads the rest from sector 2 on (its default; grub-mkimage sets the length).
install_grub_bios() {
	local disk=$1 core=$2 sectors
	sectors=$((($(stat -c %s "$core") + 511) / 512))
	[ "$sectors" -lt 2000 ] || die "GRUB core image too large for the 1 MiB gap ($sectors sectors)"
	dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
	dd if="$core" of="$disk" bs=512 seek=1 conv=notrunc status=none
}

step "checking Debian packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "installing: ${missing[*]}"
	[ "$(id -u)" -eq 0 ] || die "need root to install: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The newest installed Debian kernel.
KVER=$(find /lib/modules -mindepth 1 -maxdepth 1 -type d -name '*-amd64' -printf '%f\n' | sort -V | tail -n 1)
{ [ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ]; } || die "no Debian amd64 kernel in /boot and /lib/modules"

if [ "${SEGL_SKIP_CARGO:-}" != "1" ]; then
	step "building segl (static, --profile $PROFILE, $TARGET)"
	# With --target, RUSTFLAGS apply to segl only, not to build scripts.
	RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
		cargo build --manifest-path "$REPO/Cargo.toml" --locked \
		--profile "$PROFILE" --target "$TARGET" --bin segl --no-default-features
fi
SEGL_BIN=$CARGO_TARGET_DIR/$TARGET/$PROFILE/segl
[ -x "$SEGL_BIN" ] || die "$SEGL_BIN missing"
if readelf -l "$SEGL_BIN" | grep -q 'program interpreter'; then
	die "$SEGL_BIN is dynamically linked"
fi
"$SEGL_BIN" config check "$REPO/buildroot/board/segl/segl.toml" >/dev/null ||
	die "the factory configuration buildroot/board/segl/segl.toml does not pass segl config check"

step "staging the initramfs (kernel $KVER)"
rm -rf "$OUT"
mkdir -p "$OUT"
ROOT=$OUT/rootfs
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/segl,lib,lib64,dev,proc,sys,run,tmp,data,boot,root,var}
ln -s ../run "$ROOT/var/run"
ln -s ../tmp "$ROOT/var/tmp"
ln -s ../data/log "$ROOT/var/log"
cp -a "$IMAGE_DIR/rootfs/." "$ROOT/"
chmod 0700 "$ROOT/root"
chmod 0600 "$ROOT/etc/shadow"
install -m 0644 "$REPO/buildroot/board/segl/segl.toml" "$ROOT/etc/segl/segl.toml"
install -m 0755 "$SEGL_BIN" "$ROOT/usr/bin/segl"
# The CA bundle for outbound TLS level "verify" (delivery.require_tls_domains, tls_levels).
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

# The tz database (/usr/share/zoneinfo, Debian tzdata): segl-netd points /etc/localtime at the
# zone of /data/time.conf. Without the right/ and posix/ duplicates and without Debian's
# localtime -> /etc/localtime link; the links between zones are relative and stay.
(cd /usr/share/zoneinfo && find . -mindepth 1 \( -path ./right -o -path ./posix -o -path ./localtime \) -prune \
	-o -print0 | cpio --null -pdm --quiet "$ROOT/usr/share/zoneinfo")
[ -f "$ROOT/usr/share/zoneinfo/Europe/Copenhagen" ] && [ -f "$ROOT/usr/share/zoneinfo/UTC" ] ||
	die "no zoneinfo copied from /usr/share/zoneinfo (tzdata)"
# segl-netd keeps the zone's link in /run (UTC until it has run: glibc's default).
ln -sfn /run/segl-netd/localtime "$ROOT/etc/localtime"

# BusyBox and a link for each applet it has (paths as BusyBox lists them).
install -m 0755 /bin/busybox "$ROOT/bin/busybox"
while read -r applet; do
	if [ ! -e "$ROOT/$applet" ] && [ ! -L "$ROOT/$applet" ]; then
		ln -s /bin/busybox "$ROOT/$applet"
	fi
done < <(/bin/busybox --list-full)
[ -e "$ROOT/sbin/init" ] || ln -s /bin/busybox "$ROOT/sbin/init"

# e2fsprogs and blkid are dynamic: copy them with their libraries.
copy_with_libs() {
	local bin=$1 dest=$2 lib
	install -D -m 0755 "$bin" "$ROOT/$dest"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		[ -e "$ROOT$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$ROOT$lib"
	done
}
copy_with_libs /sbin/mke2fs sbin/mke2fs
copy_with_libs /sbin/e2fsck sbin/e2fsck
copy_with_libs /sbin/blkid sbin/blkid
copy_with_libs /sbin/resize2fs sbin/resize2fs
ln -s mke2fs "$ROOT/sbin/mkfs.ext4"
ln -s e2fsck "$ROOT/sbin/fsck.ext4"
cat >"$ROOT/etc/mke2fs.conf" <<'EOF'
[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	blocksize = 4096
	inode_ratio = 16384
[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
EOF
# No real-time clock (or a wrong one) must not force a full check each boot.
printf '[options]\n\tbroken_system_clock = true\n' >"$ROOT/etc/e2fsck.conf"

# Kernel modules in load order, their dependencies first.
: >"$OUT/modules.order"
for m in "${MODULES[@]}"; do
	modprobe -S "$KVER" --show-depends "$m" >>"$OUT/modules.order" ||
		die "kernel module $m not found for $KVER"
done
mkdir -p "$ROOT/lib/modules"
: >"$ROOT/lib/modules/load.list"
awk '$1 == "insmod" { print $2 }' "$OUT/modules.order" | awk '!seen[$0]++' |
	while read -r ko; do
		install -D -m 0644 "$ko" "$ROOT$ko"
		echo "$ko" >>"$ROOT/lib/modules/load.list"
	done
echo "$(wc -l <"$ROOT/lib/modules/load.list") kernel modules"

# Check every script of the image with the shell that will run it.
for s in "$ROOT/init" "$ROOT"/sbin/segl-* "$ROOT"/etc/init.d/* "$ROOT/usr/share/udhcpc/default.script"; do
	/bin/busybox sh -n "$s" || die "syntax error in ${s#"$ROOT"}"
done

step "packing the initramfs"
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -9 -n >"$OUT/initrd.img"
cp "/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
cp "$SEGL_BIN" "$OUT/segl"

step "slot image (firmware $SEGL_FIRMWARE_VERSION for $SEGL_BOARD)"
# The firmware proper: kernel, initramfs and slot.toml in a FAT image of its own. It is slot a
# of the disk image and the payload of an update bundle (segl-bundle make --payload slot.vfat).
make_slot_image "$OUT/slot.vfat" "$OUT/vmlinuz" "$OUT/initrd.img" "$SEGL_FIRMWARE_VERSION" "$SEGL_BOARD"

step "boot partition and disk image (genimage; GRUB for BIOS and UEFI)"
STAGE=$OUT/genimage.in
mkdir -p "$STAGE/grub" "$STAGE/EFI/BOOT" "$STAGE/segl"
cp "$IMAGE_DIR/grub.cfg" "$STAGE/grub/grub.cfg"
# The environment block GRUB and segl rewrite in place: slot a is the good one.
grub-editenv "$STAGE/grub/grubenv" create
grub-editenv "$STAGE/grub/grubenv" set slot_good=a slot_try= tried= tried_version=
cat >"$STAGE/segl/README.txt" <<'EOF'
Provisioning before the first boot (this is the FAT boot partition; any PC
can write it):
  segl.toml   used instead of the factory configuration on first boot
              (when /data/segl.toml does not exist yet)
  ctl.token   the admin API token (at least 32 characters) for a fresh
              /data; it is deleted from here once copied
Afterwards the live configuration is /data/segl.toml on the data partition.
Leave grub/grubenv alone: it says which firmware slot boots.
EOF
GRUB_MODULES=(part_msdos fat normal linux echo configfile test regexp loadenv search
	search_label serial terminal sleep)
# UEFI: a standalone EFI binary on the removable-media path; /grub on its own partition.
grub-mkimage -O x86_64-efi -o "$STAGE/EFI/BOOT/BOOTX64.EFI" -p /grub "${GRUB_MODULES[@]}" efi_gop all_video
# BIOS: the core image for the gap between the MBR and partition 1; "(,msdos1)" is partition 1
# of the disk the BIOS booted from.
grub-mkimage -O i386-pc -o "$OUT/core.img" -p '(,msdos1)/grub' biosdisk "${GRUB_MODULES[@]}"
cp "$OUT/slot.vfat" "$STAGE/slot.vfat"

GENTMP=$OUT/genimage.tmp
mkdir -p "$OUT/genimage.root"
genimage --config "$IMAGE_DIR/genimage.cfg" --inputpath "$STAGE" \
	--outputpath "$OUT" --tmppath "$GENTMP" --rootpath "$OUT/genimage.root" >"$OUT/genimage.log" 2>&1 ||
	{ cat "$OUT/genimage.log" >&2; die "genimage failed"; }
rm -rf "$GENTMP" "$OUT/genimage.root" "$STAGE"
install_grub_bios "$OUT/disk.img" "$OUT/core.img"

step "sizes"
{
	echo "segl (static, stripped)   $(stat -c %s "$OUT/segl") bytes"
	echo "initrd.img (gzip cpio)    $(stat -c %s "$OUT/initrd.img") bytes"
	echo "slot.vfat (bundle payload) $(stat -c %s "$OUT/slot.vfat") bytes"
	echo "vmlinuz ($KVER)  $(stat -c %s "$OUT/vmlinuz") bytes"
	echo "disk.img                  $(stat -c %s "$OUT/disk.img") bytes (apparent), $(($(stat -c %b "$OUT/disk.img") * $(stat -c %B "$OUT/disk.img"))) bytes allocated"
	echo "disk.img.gz               $(gzip -1 -c "$OUT/disk.img" | wc -c) bytes"
} | tee "$OUT/sizes.txt"
rm -rf "$ROOT" "$OUT/core.img"
echo "    ($(($(date +%s) - step_start)) s)"
echo "==> done in $(($(date +%s) - t0)) s: $OUT/disk.img"
