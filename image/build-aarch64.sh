#!/usr/bin/env bash
#
# Build the Segl aarch64 image for qemu-system-aarch64 -M virt from local
# and Debian parts (not run in CI; see image/README.md, "aarch64"):
#   - segl, cross-built statically for aarch64-unknown-linux-gnu with Debian's
#     rustc-web/cargo-web 1.96 and libstd-rust-web-dev:arm64 (rustup has no
#     std for this target here, and Debian's std only fits Debian's rustc),
#     linked by gcc-aarch64-linux-gnu,
#   - Debian's arm64 kernel (the one linux-image-arm64 depends on) and its
#     modules, busybox-static:arm64, e2fsprogs/blkid:arm64 with their
#     libraries: downloaded with apt-get download and unpacked (dpkg -x),
#     nothing of arm64 is installed on the host except the Rust std,
#   - image/rootfs/ (the same /init, inittab and scripts as the x86_64 image)
#     and the factory configuration buildroot/board/segl/segl.toml,
# packed as an initramfs; then a disk image with the same layout as the
# x86_64 one (FAT "SEGLBOOT" with vmlinuz, initrd.img and segl/ for
# provisioning, then an empty data partition). QEMU boots the kernel and
# initramfs directly (-kernel/-initrd); no boot loader is installed.
#
# Output in image/out-aarch64/: disk.img, vmlinuz, initrd.img, segl,
# sizes.txt, cmdline. Downloaded .debs are kept in image/.cache-aarch64/.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target-aarch64),
# SEGL_IMAGE_OUT (default image/out-aarch64), SEGL_SKIP_CARGO=1 to reuse the
# last segl build.

set -euo pipefail

IMAGE_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$IMAGE_DIR/.." && pwd)
OUT=${SEGL_IMAGE_OUT:-$IMAGE_DIR/out-aarch64}
CACHE=${SEGL_AARCH64_CACHE:-$IMAGE_DIR/.cache-aarch64}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target-aarch64}
TARGET=aarch64-unknown-linux-gnu
PROFILE=image
# Debian's rustc-web and cargo-web (1.96) are /usr/bin/rustc and
# /usr/bin/cargo; rustup's (1.95) would refuse the 1.96 std.
DEB_RUSTC=/usr/bin/rustc
DEB_CARGO=/usr/bin/cargo

# Host packages (amd64, except the arm64 Rust std).
APT_PACKAGES=(ca-certificates rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu
	libc6-dev-arm64-cross qemu-system-arm busybox-static kmod cpio gzip genimage
	dosfstools mtools e2fsprogs)
# arm64 packages unpacked into the image (downloaded, not installed).
ARM_PACKAGES=(busybox-static e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1
	util-linux libc6)

# Kernel modules loaded at boot (their dependencies are added): virtio
# (PCI and MMIO) disk and network, ext4/vfat, the power button of -M virt
# (a GPIO key: gpio_keys + evdev, read by BusyBox acpid).
MODULES=(virtio_pci virtio_mmio virtio_blk virtio_net
	ext4 crc32c_generic vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8
	evdev gpio_keys)

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
	echo "build-aarch64.sh: error: $*" >&2
	exit 1
}

step "checking Debian packages"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	[ "$(id -u)" -eq 0 ] || die "need root for dpkg --add-architecture arm64"
	dpkg --add-architecture arm64
	apt-get update -qq
fi
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

# The kernel linux-image-arm64 stands for, e.g. linux-image-6.1.0-56-arm64.
KPKG=$(apt-cache depends linux-image-arm64:arm64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { sub(/:arm64$/, "", $2); print $2; exit }')
[ -n "$KPKG" ] || die "cannot tell which kernel linux-image-arm64 depends on"
KVER=${KPKG#linux-image-}

step "downloading and unpacking arm64 packages ($KPKG ${ARM_PACKAGES[*]})"
mkdir -p "$CACHE/debs"
# Candidate versions, one apt-cache call for all.
declare -A VER
while read -r p v; do
	VER[$p]=$v
done < <(apt-cache policy "${KPKG}:arm64" "${ARM_PACKAGES[@]/%/:arm64}" |
	awk '/^[^ ].*:$/ { sub(/:$/, ""); sub(/:arm64$/, ""); p = $0 } $1 == "Candidate:" { print p, $2 }')
(
	cd "$CACHE/debs"
	for p in "$KPKG" "${ARM_PACKAGES[@]}"; do
		ver=${VER[$p]:-}
		if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then die "no arm64 candidate for $p"; fi
		# apt-get download names the file with the epoch's ":" as "%3a".
		if ! ls "${p}_${ver/:/%3a}_arm64.deb" >/dev/null 2>&1; then
			apt-get download -q "$p:arm64=$ver" 2>&1 | grep -v 'unsandboxed' || true
		fi
		ls "${p}_${ver/:/%3a}_arm64.deb" >/dev/null 2>&1 || die "download of $p:arm64 $ver failed"
	done
)
SYSROOT=$CACHE/sysroot
debs=()
for p in "$KPKG" "${ARM_PACKAGES[@]}"; do
	ver=${VER[$p]}
	debs+=("$CACHE/debs/${p}_${ver/:/%3a}_arm64.deb")
done
# Unpacked once per set of .debs (the kernel alone is 60 MB of xz).
if [ "$(cat "$SYSROOT/.debs" 2>/dev/null)" != "${debs[*]}" ]; then
	rm -rf "$SYSROOT"
	mkdir -p "$SYSROOT"
	for deb in "${debs[@]}"; do
		dpkg -x "$deb" "$SYSROOT"
	done
	[ -f "$SYSROOT/boot/vmlinuz-$KVER" ] || die "no vmlinuz-$KVER in $KPKG"
	# The .deb has no modules.dep (its postinst runs depmod): make it.
	depmod -b "$SYSROOT" "$KVER"
	echo "${debs[*]}" >"$SYSROOT/.debs"
fi

if [ "${SEGL_SKIP_CARGO:-}" != "1" ]; then
	step "cross-building segl (static, --profile $PROFILE, $TARGET, $("$DEB_RUSTC" -V))"
	# With --target, RUSTFLAGS apply to segl only, not to build scripts.
	RUSTC=$DEB_RUSTC \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
		CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
		AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
		RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
		"$DEB_CARGO" build --manifest-path "$REPO/Cargo.toml" --locked \
		--profile "$PROFILE" --target "$TARGET" --bin segl
fi
SEGL_BIN=$CARGO_TARGET_DIR/$TARGET/$PROFILE/segl
[ -x "$SEGL_BIN" ] || die "$SEGL_BIN missing"
readelf -h "$SEGL_BIN" | grep -q 'AArch64' || die "$SEGL_BIN is not an aarch64 binary"
if readelf -l "$SEGL_BIN" | grep -q 'program interpreter'; then
	die "$SEGL_BIN is dynamically linked"
fi

step "staging the initramfs (kernel $KVER)"
rm -rf "$OUT"
mkdir -p "$OUT"
ROOT=$OUT/rootfs
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc/segl,lib/aarch64-linux-gnu,dev,proc,sys,run,tmp,data,boot,root,var}
ln -s ../run "$ROOT/var/run"
ln -s ../tmp "$ROOT/var/tmp"
ln -s ../data/log "$ROOT/var/log"
cp -a "$IMAGE_DIR/rootfs/." "$ROOT/"
chmod 0700 "$ROOT/root"
chmod 0600 "$ROOT/etc/shadow"
install -m 0644 "$REPO/buildroot/board/segl/segl.toml" "$ROOT/etc/segl/segl.toml"
install -m 0755 "$SEGL_BIN" "$ROOT/usr/bin/segl"
# The CA bundle for outbound TLS level "verify" (architecture-independent).
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

# BusyBox (arm64, static) and a link for each applet. The arm64 binary
# cannot run here; the host's busybox-static is the same Debian source and
# configuration, so its --list-full is the arm64 one's.
install -m 0755 "$SYSROOT/bin/busybox" "$ROOT/bin/busybox"
host_bb=$(dpkg-query -W -f='${Version}' busybox-static)
arm_bb=$(dpkg-deb -f "$CACHE"/debs/busybox-static_*_arm64.deb Version)
[ "${host_bb%+b*}" = "${arm_bb%+b*}" ] || echo "warning: host busybox-static $host_bb, arm64 $arm_bb: applet list may differ"
while read -r applet; do
	if [ ! -e "$ROOT/$applet" ] && [ ! -L "$ROOT/$applet" ]; then
		ln -s /bin/busybox "$ROOT/$applet"
	fi
done < <(/bin/busybox --list-full)
[ -e "$ROOT/sbin/init" ] || ln -s /bin/busybox "$ROOT/sbin/init"

# e2fsprogs and blkid are dynamic: copy them with their libraries (NEEDED,
# recursively) and the dynamic loader.
find_lib() {
	local d
	for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
		if [ -e "$SYSROOT/$d/$1" ]; then
			echo "$SYSROOT/$d/$1"
			return 0
		fi
	done
	return 1
}
copy_with_libs() {
	local bin=$1 dest=$2 lib path
	install -D -m 0755 "$bin" "$ROOT/$dest"
	for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$ROOT/lib/aarch64-linux-gnu/$lib" ] && continue
		path=$(find_lib "$lib") || die "library $lib (for $bin) not in the arm64 packages"
		copy_with_libs "$(readlink -f "$path")" "lib/aarch64-linux-gnu/$lib"
	done
}
copy_with_libs "$SYSROOT/sbin/mke2fs" sbin/mke2fs
copy_with_libs "$SYSROOT/sbin/e2fsck" sbin/e2fsck
copy_with_libs "$SYSROOT/sbin/blkid" sbin/blkid
ld_so=$(find_lib ld-linux-aarch64.so.1) || die "ld-linux-aarch64.so.1 missing"
install -m 0755 "$(readlink -f "$ld_so")" "$ROOT/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$ROOT/lib/ld-linux-aarch64.so.1"
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
printf '[options]\n\tbroken_system_clock = true\n' >"$ROOT/etc/e2fsck.conf"

# Kernel modules in load order, their dependencies first (builtins are
# listed as "builtin" by modprobe and skipped).
: >"$OUT/modules.order"
for m in "${MODULES[@]}"; do
	modprobe -d "$SYSROOT" -S "$KVER" --show-depends "$m" >>"$OUT/modules.order" ||
		die "kernel module $m not found for $KVER"
done
mkdir -p "$ROOT/lib/modules"
: >"$ROOT/lib/modules/load.list"
awk '$1 == "insmod" { print $2 }' "$OUT/modules.order" | awk '!seen[$0]++' |
	while read -r ko; do
		rel=${ko#"$SYSROOT"}
		install -D -m 0644 "$ko" "$ROOT$rel"
		echo "$rel" >>"$ROOT/lib/modules/load.list"
	done
echo "$(wc -l <"$ROOT/lib/modules/load.list") kernel modules"

for s in "$ROOT/init" "$ROOT"/sbin/segl-* "$ROOT"/etc/init.d/* "$ROOT/usr/share/udhcpc/default.script"; do
	/bin/busybox sh -n "$s" || die "syntax error in ${s#"$ROOT"}"
done

step "packing the initramfs"
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -9 -n >"$OUT/initrd.img"
cp "$SYSROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz"
cp "$SEGL_BIN" "$OUT/segl"
# The kernel command line the boot test (and a manual run) uses.
echo "console=ttyAMA0 panic=10" >"$OUT/cmdline"

step "disk image (genimage): FAT SEGLBOOT + empty data partition"
BOOTFS=$OUT/bootfs
mkdir -p "$BOOTFS/segl"
cp "$OUT/vmlinuz" "$OUT/initrd.img" "$BOOTFS/"
cat >"$BOOTFS/segl/README.txt" <<'EOF'
Provisioning before the first boot (this is the FAT boot partition):
  segl.toml   used instead of the factory configuration on first boot
  ctl.token   the admin API token (at least 32 characters); deleted from
              here once copied to /data
EOF
cat >"$OUT/genimage.cfg" <<'EOF'
image boot.vfat {
	vfat {
		label = "SEGLBOOT"
		extraargs = "-F 32"
		files = { "vmlinuz", "initrd.img", "segl" }
	}
	size = 128M
}
image disk.img {
	hdimage {
		partition-table-type = "mbr"
		fill = true
	}
	partition boot {
		partition-type = 0xEF
		bootable = true
		offset = 1M
		image = "boot.vfat"
	}
	partition data {
		partition-type = 0x83
		size = 1G
	}
}
EOF
GENTMP=$OUT/genimage.tmp
mkdir -p "$OUT/genimage.root"
genimage --config "$OUT/genimage.cfg" --inputpath "$BOOTFS" \
	--outputpath "$OUT" --tmppath "$GENTMP" --rootpath "$OUT/genimage.root" >"$OUT/genimage.log" 2>&1 ||
	{ cat "$OUT/genimage.log" >&2; die "genimage failed"; }
rm -rf "$GENTMP" "$OUT/genimage.root" "$BOOTFS" "$ROOT"

step "sizes"
{
	echo "segl (aarch64, static, stripped)  $(stat -c %s "$OUT/segl") bytes"
	echo "initrd.img (gzip cpio)            $(stat -c %s "$OUT/initrd.img") bytes"
	echo "vmlinuz ($KVER, Image)   $(stat -c %s "$OUT/vmlinuz") bytes"
	echo "disk.img                          $(stat -c %s "$OUT/disk.img") bytes (apparent), $(($(stat -c %b "$OUT/disk.img") * $(stat -c %B "$OUT/disk.img"))) bytes allocated"
} | tee "$OUT/sizes.txt"
echo "    ($(($(date +%s) - step_start)) s)"
echo "==> done in $(($(date +%s) - t0)) s: $OUT/disk.img"
