//! The S/MIME engine: sign, encrypt, decrypt, verify and unwrap mail (RFC 8551, RFC 5652).
//!
//! # Design
//! - **Bytes in, bytes out.** Every entry point takes a whole RFC 5322 message and returns a
//!   whole message (or a report), so the gateway pipeline can hand messages from stage to
//!   stage without knowing MIME. Visible headers (From, To, Subject, ...) always stay outside
//!   the cryptographic layers; content headers go inside.
//! - **Keys stay in the key store.** Private-key work goes through [`PrivateKeyOps`] (sign,
//!   unwrap) and [`KeyLookup`] (which key for which RecipientInfo); the engine never holds
//!   key bytes. [`AwsLcRsaKey`] is the aws-lc-rs implementation (constant-time RSA).
//! - **No oracles.** Decryption substitutes a random key when unwrapping fails (RFC 3218) and
//!   reports one vague error for wrong keys, bad padding and bad tags.
//! - **Reports, not booleans.** Verification returns a [`VerifyReport`] per layer with the
//!   signer certificate, chain checks, address match, capabilities and the certificates found,
//!   because the gateway must explain results to readers (`signatur-bevis.txt`, `Advarsel.txt`)
//!   and harvest certificates. Structural failures are typed [`SmimeError`]s; bad input never
//!   panics.
//! - **Interoperability first.** Defaults are what every client reads (AES-256-CBC, RSA
//!   PKCS#1 v1.5, issuer+serial signer ids); AES-GCM and OAEP only when the peer asked for
//!   them. BER input (indefinite lengths, chunked strings) from gpgsm, NSS and OpenSSL
//!   `-stream` is accepted.

pub(crate) mod ber;
pub mod certs;
pub mod content_cipher;
pub mod decrypt;
pub mod encrypt;
pub(crate) mod enveloped_der;
pub mod error;
pub(crate) mod in_place;
pub mod keyops;
pub(crate) mod lines;
pub(crate) mod mime;
pub(crate) mod oids;
pub mod pubkey;
pub mod sign;
pub(crate) mod stream;
pub mod unwrap;
pub mod verify;

use std::time::SystemTime;

pub use certs::{AddressMatch, ChainReport};
pub use content_cipher::ContentCipher;
pub use decrypt::{decrypt_cms, DecryptInfo, Decrypted};
pub use encrypt::{CipherChoice, EncryptOptions, Recipient};
pub use error::{Result, SmimeError};
pub use keyops::{AwsLcRsaKey, KeyLookup, KeyTransport, OaepHash, PrivateKeyOps, SignatureScheme};
pub use pubkey::DigestAlgorithm;
pub use sign::SignOptions;
pub use unwrap::{has_encrypted_layer, Layer, Limits, Unwrapped};
pub use verify::{Capabilities, SignerReport, VerifyReport};
pub use x509_cert::Certificate;

/// Clear-signs a message: `multipart/signed` (SHA-256, RSA PKCS#1 v1.5) with the signer
/// certificate and `chain` included. Visible headers stay outside, the content is made
/// canonical (CRLF, 7-bit-safe).
pub fn sign(
    msg: &[u8],
    signer: &dyn PrivateKeyOps,
    chain: &[Certificate],
    opts: &SignOptions,
) -> Result<Vec<u8>> {
    sign::sign(msg, signer, chain, opts)
}

/// Encrypts a message for `recipients` (and the sender, see [`EncryptOptions`]).
pub fn encrypt(msg: &[u8], recipients: &[Recipient], opts: &EncryptOptions) -> Result<Vec<u8>> {
    encrypt::encrypt(msg, recipients, opts)
}

/// Signs, then encrypts, in one call (the signer's certificate is the sender certificate
/// added as a recipient unless `enc.include_sender` is off).
pub fn sign_and_encrypt(
    msg: &[u8],
    signer: &dyn PrivateKeyOps,
    chain: &[Certificate],
    recipients: &[Recipient],
    sign_opts: &SignOptions,
    enc_opts: &EncryptOptions,
) -> Result<Vec<u8>> {
    // The signed entity stays in pieces (the content borrowed from `msg`) and is encrypted
    // from them: the signed message is never built whole.
    let (outer, signed) = sign::sign_parts(msg, signer, chain, sign_opts)?;
    let mut enc = enc_opts.clone();
    if enc.sender_cert.is_none() {
        enc.sender_cert = Some(signer.certificate().clone());
    }
    encrypt::encrypt_entity(&outer, &signed, recipients, &enc)
}

/// Decrypts a message whose whole body is an S/MIME encrypted entity.
pub fn decrypt(msg: &[u8], keys: &dyn KeyLookup) -> Result<Decrypted> {
    decrypt::decrypt(msg, keys)
}

/// Verifies a signed message (clear-signed or opaque). `extra_certs` helps path building
/// (intermediates from the key store); `now` is the reference time for validity checks.
pub fn verify(
    msg: &[u8],
    anchors: &[Certificate],
    extra_certs: &[Certificate],
    now: SystemTime,
) -> Result<VerifyReport> {
    verify::verify(msg, anchors, extra_certs, now, Limits::default().max_parts)
}

/// Removes S/MIME layers one by one (decrypting and verifying), up to `limits`, and returns
/// the innermost message with a report per layer.
pub fn unwrap(
    msg: &[u8],
    keys: &dyn KeyLookup,
    anchors: &[Certificate],
    extra_certs: &[Certificate],
    now: SystemTime,
    limits: Limits,
) -> Result<Unwrapped> {
    unwrap::unwrap(msg, keys, anchors, extra_certs, now, limits)
}
