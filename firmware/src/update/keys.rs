//! The firmware-update public key this build accepts, chosen at build time
//! (`firmware/build.rs`, [`super::release_key`]).

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/update_key.rs"));
}

/// Whether the development update key is embedded: bundles anyone can sign are accepted, so
/// such a build must never ship (a release build refuses to compile that way).
pub const DEVELOPMENT: bool = embedded::DEVELOPMENT;

/// The embedded update public key (raw Ed25519).
pub fn update_key() -> &'static [u8; 32] {
    &embedded::UPDATE_KEY
}

/// SHA-256 of this text is the development update key's Ed25519 seed: anyone can sign
/// development bundles (tests, demos), which is why a release build refuses that key.
pub const DEV_SEED_TEXT: &str =
    "segl development firmware update signing key v1 (public: never for production)";

/// The development update public key.
pub fn dev_key() -> &'static [u8; 32] {
    &embedded::DEV_KEY
}

/// Whether `key` is the development update key (to name it when a production box meets a
/// development bundle).
pub fn is_development_key(key: &[u8]) -> bool {
    key == embedded::DEV_KEY
}

/// The embedded key and the development key, for the build-choice test.
#[cfg(test)]
pub(crate) fn tests_view() -> ([u8; 32], [u8; 32]) {
    (embedded::UPDATE_KEY, embedded::DEV_KEY)
}
