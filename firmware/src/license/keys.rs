//! The vendor public key this firmware accepts, chosen at build time (`firmware/build.rs`),
//! and signature verification.

use super::format::{key_id, LicenseError, LicenseFile};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/license_key.rs"));
}

/// Whether this is a development build (the development key is embedded): licences anyone can
/// make with `segl-license issue --dev` are accepted, so it must never ship.
pub const DEVELOPMENT: bool = embedded::DEVELOPMENT;

/// The embedded vendor public key (raw Ed25519, 32 bytes).
pub fn vendor_key() -> &'static [u8; 32] {
    &embedded::VENDOR_KEY
}

/// The embedded vendor key and the development key, for the build-choice test.
#[cfg(test)]
pub(crate) fn tests_view() -> ([u8; 32], [u8; 32]) {
    (embedded::VENDOR_KEY, embedded::DEV_KEY)
}

/// The id of the embedded vendor key.
pub fn vendor_key_id() -> String {
    key_id(vendor_key())
}

/// Checks a parsed licence's signature against the embedded vendor key.
pub fn verify(file: &LicenseFile) -> Result<(), LicenseError> {
    verify_with(file, vendor_key())
}

/// Checks a parsed licence's signature against `public_key`.
pub fn verify_with(file: &LicenseFile, public_key: &[u8]) -> Result<(), LicenseError> {
    let expected = key_id(public_key);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        file.key_id.as_bytes(),
        expected.as_bytes(),
    )) {
        let what = if file.key_id == key_id(&embedded::DEV_KEY) {
            "the development key; this is a production build".to_string()
        } else {
            format!("key {}, expected {expected}", file.key_id)
        };
        return Err(LicenseError::UnknownKey(what));
    }
    let pk =
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, public_key);
    pk.verify(&file.signed, &file.signature)
        .map_err(|_| LicenseError::BadSignature)
}
