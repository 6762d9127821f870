//! Which firmware-update public key a build embeds, decided by `firmware/build.rs` (which
//! includes this file with `#[path]`) and unit-tested here, like the licence key
//! (`license/release_key.rs`). The update key is a key of its own: whoever holds the licence key
//! can sell features, whoever holds the update key can run any code on every box.
//!
//! A release (`SEGL_RELEASE=1`) must carry the production update key: a shipped box that took
//! bundles signed with the development key (whose private half anyone can derive from a public
//! seed) would run anyone's firmware.

/// The key to embed: the production key when given (never the development key on a release),
/// the development key otherwise (never on a release). `Err` is the message the build fails with.
pub fn choose_update_key(
    release: bool,
    production: Option<[u8; 32]>,
    development: [u8; 32],
) -> Result<[u8; 32], &'static str> {
    match production {
        Some(k) if release && k == development => Err(
            "SEGL_RELEASE=1: SEGL_UPDATE_PUBKEY names the development update key; a release needs the production key",
        ),
        Some(k) => Ok(k),
        None if release => Err(
            "SEGL_RELEASE=1 needs SEGL_UPDATE_PUBKEY=<file> (the vendor's production firmware-update public key): \
             a release build must not accept update bundles signed with the development key",
        ),
        None => Ok(development),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: [u8; 32] = [7; 32];
    const PROD: [u8; 32] = [9; 32];

    #[test]
    fn the_four_cases() {
        assert_eq!(choose_update_key(false, None, DEV), Ok(DEV));
        assert_eq!(choose_update_key(false, Some(PROD), DEV), Ok(PROD));
        assert_eq!(choose_update_key(false, Some(DEV), DEV), Ok(DEV));
        assert_eq!(choose_update_key(true, Some(PROD), DEV), Ok(PROD));
        assert!(choose_update_key(true, None, DEV)
            .unwrap_err()
            .contains("needs SEGL_UPDATE_PUBKEY"));
        assert!(choose_update_key(true, Some(DEV), DEV)
            .unwrap_err()
            .contains("development update key"));
    }

    /// The library embeds the key the build script chose with this very function.
    #[test]
    fn embedded_key_matches_the_build() {
        let release = option_env!("SEGL_RELEASE").is_some_and(|v| !v.is_empty() && v != "0");
        let production = option_env!("SEGL_UPDATE_PUBKEY").filter(|v| !v.is_empty());
        let (key, dev) = crate::update::keys::tests_view();
        if production.is_none() {
            assert!(
                !release,
                "a release build without a production update key must not compile"
            );
            assert_eq!(key, dev);
        }
        assert_eq!(crate::update::keys::DEVELOPMENT, key == dev);
    }

    /// The development key differs from the licence development key: one key, one purpose.
    #[test]
    fn update_key_is_not_the_licence_key() {
        let (_, dev) = crate::update::keys::tests_view();
        assert_ne!(&dev, crate::license::keys::vendor_key());
    }
}
