# U-Boot boot script of the QEMU aarch64 board (post-image.sh makes boot.scr
# from it with mkimage). RAUC's U-Boot scheme (bootloader=uboot in
# /etc/rauc/system.conf): BOOT_ORDER lists the slots to try, BOOT_A_LEFT and
# BOOT_B_LEFT the attempts left. Every boot takes one attempt from the first
# slot of BOOT_ORDER that has one left; "rauc status mark-good" (run by
# S95segl-mark-good once segl is healthy) gives the slot its attempts back,
# "rauc install" puts the new slot first with fresh attempts. A slot that does
# not get marked good within its attempts is skipped: the other one boots.
# The environment lives in uboot.env on the boot partition (ENV_IS_IN_FAT,
# u-boot.fragment); Linux reads and writes it with fw_printenv/fw_setenv
# (/etc/fw_env.config).

# U-Boot reads uboot.env while it starts, which can be before the disk is
# up (QEMU's virtio disks are enumerated later): then it runs with its
# default environment, and RAUC's variables are read here again. "env load"
# replaces the whole environment, so where this script came from is kept in
# hush variables (not in the environment) first.
bootdevtype=${devtype}
bootdevnum=${devnum}
test -n "${BOOT_ORDER}" || env load

test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv raucslot
for BOOT_SLOT in "${BOOT_ORDER}"; do
	if test "x${raucslot}" != "x"; then
		# a slot is chosen already
	elif test "x${BOOT_SLOT}" = "xA"; then
		if test ${BOOT_A_LEFT} -gt 0; then
			setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
			setenv raucslot A
			setenv rootpart 2
		fi
	elif test "x${BOOT_SLOT}" = "xB"; then
		if test ${BOOT_B_LEFT} -gt 0; then
			setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
			setenv raucslot B
			setenv rootpart 3
		fi
	fi
done

if test -n "${raucslot}"; then
	echo "Segl: booting slot ${raucslot} (attempts left: A ${BOOT_A_LEFT}, B ${BOOT_B_LEFT})"
	saveenv
else
	# Better a box that boots than one that stops here.
	echo "Segl: no slot has attempts left; giving both 3 again"
	setenv BOOT_A_LEFT 3
	setenv BOOT_B_LEFT 3
	saveenv
	reset
fi

# The kernel is in the slot's /boot (BR2_LINUX_KERNEL_INSTALL_TARGET), so a
# slot is kernel and root file system together; the device tree is QEMU's.
setenv bootargs "root=PARTUUID=5e91a0a0-0${rootpart} rootwait ro console=ttyAMA0 rauc.slot=${raucslot}"
load ${bootdevtype} ${bootdevnum}:${rootpart} ${kernel_addr_r} /boot/Image
booti ${kernel_addr_r} - ${fdtcontroladdr}
# The kernel did not load or start: this attempt is spent, try again.
echo "Segl: slot ${raucslot} did not boot"
reset
