//! Which vendor public keys a build embeds — the licence key and the firmware-update key — the
//! one decision of `firmware/build.rs` that must never go wrong, kept free of I/O and
//! dependencies so that the build script includes this file (`#[path]`) and the library's unit
//! tests check every case without a second, slow build.
//!
//! A release (`SEGL_RELEASE=1`) must carry the production keys: a shipped box that accepted
//! licences signed with the development key (whose private half anyone can derive) would give
//! every feature away, and one that took update bundles signed with it would run anyone's
//! firmware. The two keys are separate: whoever holds the licence key can sell features,
//! whoever holds the update key can run any code on every box.

/// One embedded public key: the variable naming its production file, and what it signs.
pub struct KeyKind {
    pub var: &'static str,
    pub signs: &'static str,
}

/// The licence vendor key.
pub const LICENCE: KeyKind = KeyKind {
    var: "SEGL_LICENSE_PUBKEY",
    signs: "licences",
};

/// The firmware-update key.
pub const UPDATE: KeyKind = KeyKind {
    var: "SEGL_UPDATE_PUBKEY",
    signs: "firmware update bundles",
};

/// Whether the value of `SEGL_RELEASE` asks for a release build (set, not empty, not `0`).
pub fn is_release(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// The key of `kind` to embed: the production key when given (never the development key on a
/// release), the development key otherwise (never on a release). `Err` is the message the build
/// fails with.
pub fn choose(
    kind: &KeyKind,
    release: bool,
    production: Option<[u8; 32]>,
    development: [u8; 32],
) -> Result<[u8; 32], String> {
    match production {
        Some(k) if release && k == development => Err(format!(
            "SEGL_RELEASE=1: {} names the development key; a release needs the production key",
            kind.var
        )),
        Some(k) => Ok(k),
        None if release => Err(format!(
            "SEGL_RELEASE=1 needs {}=<file> (the vendor's production public key for {}): \
             a release build must not accept {} signed with the development key",
            kind.var, kind.signs, kind.signs
        )),
        None => Ok(development),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: [u8; 32] = [7; 32];
    const PROD: [u8; 32] = [9; 32];

    #[test]
    fn release_flag() {
        assert!(!is_release(None));
        assert!(!is_release(Some("")));
        assert!(!is_release(Some("0")));
        assert!(is_release(Some("1")));
        assert!(is_release(Some("yes")));
    }

    #[test]
    fn the_four_cases() {
        // Development builds: the development key, or a production key for a test box.
        for kind in [&LICENCE, &UPDATE] {
            assert_eq!(choose(kind, false, None, DEV), Ok(DEV));
            assert_eq!(choose(kind, false, Some(PROD), DEV), Ok(PROD));
            assert_eq!(choose(kind, false, Some(DEV), DEV), Ok(DEV));
            // Releases: only a production key that is not the development key.
            assert_eq!(choose(kind, true, Some(PROD), DEV), Ok(PROD));
            let e = choose(kind, true, None, DEV).unwrap_err();
            assert!(e.contains(&format!("needs {}=", kind.var)), "{e}");
            assert!(e.contains(kind.signs), "{e}");
            let e = choose(kind, true, Some(DEV), DEV).unwrap_err();
            assert!(e.contains("development key") && e.contains(kind.var), "{e}");
        }
    }

    /// The library embeds the key the build script chose with this very function.
    #[test]
    fn embedded_key_matches_the_build() {
        let keys = crate::license::keys::tests_view;
        let release = is_release(option_env!("SEGL_RELEASE"));
        let production = option_env!("SEGL_LICENSE_PUBKEY").filter(|v| !v.is_empty());
        // Without a production key, the build chose the development key, and says so.
        if production.is_none() {
            assert!(
                !release,
                "a release build without a production key must not compile"
            );
            assert_eq!(keys().0, keys().1);
        }
        assert_eq!(crate::license::keys::DEVELOPMENT, keys().0 == keys().1);
    }
}
