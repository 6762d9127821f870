//! The one error type of the S/MIME engine.
//!
//! Every failure on input is a typed variant with a sentence a human can read (it ends up in
//! `Advarsel.txt` and in the log), never a panic. The enum is `#[non_exhaustive]` so that new
//! failure modes can be added without breaking callers that already match on it.

use thiserror::Error;

/// Result alias for the S/MIME engine.
pub type Result<T> = core::result::Result<T, SmimeError>;

/// What went wrong while signing, encrypting, decrypting, verifying or unwrapping.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SmimeError {
    /// The MIME structure is broken (no header/body separator, no boundary, ...).
    #[error("malformed MIME: {0}")]
    MalformedMime(String),
    /// The message nests or multiplies MIME parts beyond the configured limits (MIME bomb).
    #[error("message exceeds processing limits: {0}")]
    LimitExceeded(String),
    /// The CMS/ASN.1 structure cannot be decoded (truncated, garbage, wrong type).
    #[error("malformed CMS structure: {0}")]
    MalformedCms(String),
    /// The message is not of the S/MIME type the operation expects.
    #[error("not an S/MIME message of the expected kind: {0}")]
    NotSmime(String),
    /// An algorithm (cipher, digest, signature, key transport) we do not implement or refuse.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// None of the RecipientInfos names a key we hold.
    #[error("no private key for any recipient of this message")]
    NoMatchingRecipient,
    /// Decryption failed: wrong key, corrupted or tampered ciphertext. Deliberately vague
    /// (RFC 3218): a failed key unwrap and a bad padding or tag look the same.
    #[error("decryption failed (wrong key, or the content was damaged or tampered with)")]
    DecryptionFailed,
    /// A private-key operation in the key store failed.
    #[error("private key operation failed: {0}")]
    KeyOperation(String),
    /// A certificate cannot be used for the requested operation.
    #[error("certificate not usable: {0}")]
    CertificateUnusable(String),
    /// The message digest in the signed attributes does not match the content.
    #[error("content was modified after signing (message digest mismatch)")]
    DigestMismatch,
    /// The signature value does not verify with the signer's public key.
    #[error("signature is invalid: {0}")]
    BadSignature(String),
    /// The signer certificate is not in the message nor among the supplied certificates.
    #[error("signer certificate not found")]
    SignerCertificateMissing,
    /// The signer certificate does not chain to a trust anchor, or the chain is invalid.
    #[error("certificate chain not trusted: {0}")]
    UntrustedChain(String),
    /// The layer was left as it is for a security reason (EFAIL, depth limit, ...).
    #[error("left unprocessed: {0}")]
    Refused(String),
    /// Building the output failed (should not happen with valid keys and certificates).
    #[error("cannot encode output: {0}")]
    Encoding(String),
}

impl From<der::Error> for SmimeError {
    fn from(e: der::Error) -> Self {
        SmimeError::MalformedCms(e.to_string())
    }
}
