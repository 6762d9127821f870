//! Password hashing, one home for SMTP AUTH users, administrators and portal users: Argon2id
//! with a random salt (PHC string), and a check that takes as long for an unknown name as for
//! a known one, so timing does not tell which names exist. CPU-heavy: call from a blocking
//! thread.

/// Passwords shorter than this are refused: the admin login and the portal face the network.
pub const MIN_LEN: usize = 10;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};

/// The PHC string of `password` (Argon2id, random salt).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
}

/// Whether `password` matches `stored`. `None` (no such name) is checked against a fixed dummy
/// hash and refused, taking the same time as a wrong password; an unparsable hash is refused.
pub fn verify(stored: Option<&str>, password: &str) -> bool {
    let (hash, known) = match stored {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let ok = PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && known
}

fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash("not a real password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Some(&h), "correct horse"));
        assert!(!verify(Some(&h), "wrong"));
        assert!(
            !verify(None, "not a real password"),
            "unknown names never pass"
        );
        assert!(!verify(Some("garbage"), "x"));
    }
}
