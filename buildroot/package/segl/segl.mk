################################################################################
#
# segl
#
################################################################################

SEGL_TARBALL = $(call qstrip,$(BR2_PACKAGE_SEGL_TARBALL_LOCATION))

ifneq ($(SEGL_TARBALL),)
# Release build: segl-<version>.tar.gz (or .tar.xz) from a download site.
# If the tarball already carries VENDOR/ and .cargo/config.toml (made with
# "cargo vendor"), Buildroot's cargo post-process leaves it alone, so with
# the tarball in BR2_DL_DIR (or on BR2_PRIMARY_SITE with
# BR2_PRIMARY_SITE_ONLY=y) nothing is fetched from crates.io.
SEGL_SOURCE = $(notdir $(SEGL_TARBALL))
SEGL_SITE = $(patsubst %/,%,$(dir $(SEGL_TARBALL)))
SEGL_VERSION = $(patsubst segl-%,%,$(basename $(basename $(SEGL_SOURCE))))
else
# Local build: the segl source tree this BR2_EXTERNAL lives in. The local
# site method has no download step, hence no vendoring: cargo runs with
# --offline against Buildroot's cargo home, $(DL_DIR)/br-cargo-home, which
# must hold the crates of Cargo.lock beforehand (see buildroot/README.md,
# "cargo fetch --locked"). Override with SEGL_OVERRIDE_SRCDIR in local.mk.
SEGL_VERSION = 0.1.0
SEGL_SITE = $(realpath $(BR2_EXTERNAL_SEGL_PATH)/..)
SEGL_SITE_METHOD = local
# Keep cargo and Buildroot output directories of the checkout out of the
# copy of the source tree.
SEGL_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /target --exclude /output --exclude /buildroot
endif

SEGL_LICENSE = Proprietary
SEGL_REDISTRIBUTE = NO

# The vendor licence tool (feature vendor-tool, bin segl-license) never goes
# into the image: no default features for the build and for cargo install.
SEGL_CARGO_BUILD_OPTS = --bin segl --no-default-features
SEGL_CARGO_INSTALL_OPTS = --no-default-features

# A release: firmware/build.rs refuses it without the production licence key.
SEGL_LICENSE_PUBKEY = $(call qstrip,$(BR2_PACKAGE_SEGL_LICENSE_PUBKEY))
ifneq ($(SEGL_LICENSE_PUBKEY),)
SEGL_CARGO_ENV += SEGL_LICENSE_PUBKEY=$(SEGL_LICENSE_PUBKEY)
endif
ifneq ($(BR2_PACKAGE_SEGL_DEVELOPMENT_BUILD),y)
SEGL_CARGO_ENV += SEGL_RELEASE=1
endif

# System user the gateway runs as; S90segl gives it /data/segl.
define SEGL_USERS
	segl -1 segl -1 * - - - Segl mail gateway
endef

define SEGL_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(call qstrip,$(BR2_PACKAGE_SEGL_DEFAULT_CONFIG)) \
		$(TARGET_DIR)/etc/segl/segl.toml
	$(INSTALL) -D -m 0644 $(SEGL_PKGDIR)/segl-sysctl.conf \
		$(TARGET_DIR)/etc/sysctl.d/60-segl.conf
endef
SEGL_POST_INSTALL_TARGET_HOOKS += SEGL_INSTALL_CONFIG

define SEGL_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(SEGL_PKGDIR)/S90segl \
		$(TARGET_DIR)/etc/init.d/S90segl
	$(INSTALL) -D -m 0755 $(SEGL_PKGDIR)/S95segl-mark-good \
		$(TARGET_DIR)/etc/init.d/S95segl-mark-good
endef

$(eval $(cargo-package))
