//! Fuzzes the S/MIME entry points that see attacker input: CMS decoding (decrypt, verify)
//! and MIME handling (unwrap). Any panic is a bug; errors are expected.
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use segl::smime::{self, AwsLcRsaKey, Limits};

/// A fixed throw-away key is not needed: an empty key list still exercises RecipientInfo
/// parsing; `decrypt_cms` with no keys stops before any private-key operation.
fn keys() -> &'static Vec<AwsLcRsaKey> {
    static K: OnceLock<Vec<AwsLcRsaKey>> = OnceLock::new();
    K.get_or_init(Vec::new)
}

fuzz_target!(|data: &[u8]| {
    let now = SystemTime::UNIX_EPOCH;
    // Raw CMS (DER/BER).
    let _ = smime::decrypt_cms(data, keys());
    // The same bytes as a message body of every S/MIME kind, and as a whole message.
    for kind in ["enveloped-data", "signed-data", "authEnveloped-data"] {
        let mut m = format!(
            "From: a@example.org\r\nContent-Type: application/pkcs7-mime; smime-type={kind}\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        )
        .into_bytes();
        m.extend_from_slice(data);
        let _ = smime::has_encrypted_layer(&m, Limits::default());
        let _ = smime::unwrap(&m, keys(), &[], &[], now, Limits::default());
    }
    // As the detached signature of a clear-signed message (signed-data with external content).
    let mut m = b"From: a@example.org\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec();
    m.extend_from_slice(data);
    m.extend_from_slice(b"\r\n--b--\r\n");
    let _ = smime::has_encrypted_layer(&m, Limits::default());
    let _ = smime::verify(&m, &[], &[], now);
    let _ = smime::verify(data, &[], &[], now);
    let _ = smime::unwrap(data, keys(), &[], &[], now, Limits::default());
});
