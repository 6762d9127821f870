//! The firmware-update public key a build embeds is chosen by `firmware/build.rs` with the same
//! function as the licence key (`license/release_key.rs`, kind `UPDATE`); these tests check
//! that the library embeds what the build chose, and that the update key is a key of its own.

#[cfg(test)]
mod tests {
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
