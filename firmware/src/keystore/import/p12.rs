//! PKCS#12 import (RFC 7292): what OpenSSL 3 writes by default (PBES2 with PBKDF2 and
//! AES-256-CBC, HMAC-SHA-256 MAC) and what Windows and `openssl pkcs12 -legacy` write
//! (pbeWithSHAAnd3-KeyTripleDES-CBC for keys, pbeWithSHAAnd40BitRC2-CBC for certificates,
//! HMAC-SHA-1 MAC).
//!
//! The structure is walked with the engine's BER reader (Windows exports may use indefinite
//! lengths), not with the `pkcs12` crate, which would pull a second der/cms generation into the
//! binary. The MAC is verified before anything is decrypted, so a wrong password gives one
//! clear error. The legacy schemes need the key derivation of RFC 7292 Appendix B, written here.

use const_oid::ObjectIdentifier;
use sha2::digest::Digest;
use zeroize::Zeroizing;

use super::Imported;
use crate::keystore::error::{KeystoreError, Result};
use crate::smime::ber::{self, Tlv};
use crate::smime::certs;

const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const OID_KEY_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
const OID_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const OID_CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const OID_SAFE_CONTENTS_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.6");
const OID_X509_CERT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const OID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const OID_PBE_SHA1_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
const OID_PBE_SHA1_2DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.4");
const OID_PBE_SHA1_RC2_128: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5");
const OID_PBE_SHA1_RC2_40: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Upper bound on PBKDF/KDF iterations, so a hostile file cannot make us spin for hours.
const MAX_ITERATIONS: u64 = 10_000_000;

fn bad(what: &str) -> KeystoreError {
    KeystoreError::BadInput(format!("PKCS#12: {what}"))
}

fn tlv(input: &[u8]) -> Result<Tlv<'_>> {
    ber::read(input)
        .map(|(t, _)| t)
        .map_err(|e| bad(&e.to_string()))
}

fn children<'a>(t: &Tlv<'a>) -> Result<Vec<Tlv<'a>>> {
    ber::children(t.value).map_err(|e| bad(&e.to_string()))
}

fn oid(t: &Tlv<'_>) -> Result<ObjectIdentifier> {
    if t.tag != 0x06 {
        return Err(bad("expected an OBJECT IDENTIFIER"));
    }
    ObjectIdentifier::from_bytes(t.value).map_err(|_| bad("bad OBJECT IDENTIFIER"))
}

fn octets(t: &Tlv<'_>) -> Result<Vec<u8>> {
    ber::octet_string_contents(t.tag, t.value).map_err(|e| bad(&e.to_string()))
}

fn integer(t: &Tlv<'_>) -> Result<u64> {
    if t.tag != 0x02 || t.value.is_empty() || t.value.len() > 8 {
        return Err(bad("bad INTEGER"));
    }
    Ok(t.value.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// The password as PKCS#12 wants it for the legacy KDF: BMPString (UTF-16BE) with a
/// terminating zero character.
fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for u in password.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// RFC 7292 Appendix B.2: derives `n` bytes of key (`id` 1), IV (2) or MAC key (3).
fn kdf<D: Digest>(
    pass: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u64,
    n: usize,
    v: usize,
) -> Zeroizing<Vec<u8>> {
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = v * src.len().div_ceil(v);
        src.iter().cycle().take(len).copied().collect()
    };
    let d = vec![id; v];
    let mut i = Zeroizing::new(fill(salt));
    i.extend_from_slice(&fill(pass));
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    loop {
        let mut h = D::new();
        h.update(&d);
        h.update(&*i);
        let mut a = h.finalize().to_vec();
        for _ in 1..iterations {
            a = D::digest(&a).to_vec();
        }
        out.extend_from_slice(&a);
        if out.len() >= n {
            out.truncate(n);
            return out;
        }
        // B = A repeated to v bytes; every v-byte block of I becomes (I_j + B + 1) mod 2^(8v).
        let b: Vec<u8> = a.iter().cycle().take(v).copied().collect();
        for chunk in i.chunks_mut(v) {
            let mut carry = 1u16;
            for k in (0..chunk.len()).rev() {
                let s = u16::from(chunk[k]) + u16::from(b[k]) + carry;
                chunk[k] = s as u8;
                carry = s >> 8;
            }
        }
    }
}

fn cbc_decrypt<C>(cipher: C, iv: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>>
where
    C: cbc::cipher::BlockCipherDecrypt + cbc::cipher::BlockSizeUser,
    cbc::Decryptor<C>: cbc::cipher::InnerIvInit<Inner = C>,
{
    use cbc::cipher::{BlockModeDecrypt, InnerIvInit};
    let dec =
        cbc::Decryptor::<C>::inner_iv_slice_init(cipher, iv).map_err(|_| bad("bad IV length"))?;
    let mut buf = Zeroizing::new(data.to_vec());
    let n = dec
        .decrypt_padded::<cbc::cipher::block_padding::Pkcs7>(&mut buf)
        .map_err(|_| {
            KeystoreError::WrongPassword("PKCS#12 decryption failed (wrong password?)".into())
        })?
        .len();
    buf.truncate(n);
    Ok(buf)
}

/// Decrypts `data` with the password-based scheme in the AlgorithmIdentifier `alg`.
fn pbe_decrypt(alg: &Tlv<'_>, data: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>> {
    let parts = children(alg)?;
    let scheme = oid(parts
        .first()
        .ok_or_else(|| bad("empty AlgorithmIdentifier"))?)?;
    if scheme == OID_PBES2 {
        let es = pkcs8::pkcs5::EncryptionScheme::try_from(alg.raw)
            .map_err(|e| KeystoreError::Unsupported(format!("PBES2 parameters: {e}")))?;
        return es
            .decrypt(password.as_bytes(), data)
            .map(Zeroizing::new)
            .map_err(|_| {
                KeystoreError::WrongPassword("PKCS#12 decryption failed (wrong password?)".into())
            });
    }
    let params = parts.get(1).ok_or_else(|| bad("PBE without parameters"))?;
    let p = children(params)?;
    let salt = octets(p.first().ok_or_else(|| bad("PBE without salt"))?)?;
    let iterations = integer(p.get(1).ok_or_else(|| bad("PBE without iterations"))?)?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(bad("unreasonable iteration count"));
    }
    let pass = bmp_password(password);
    let key_iv = |klen: usize| {
        (
            kdf::<sha1::Sha1>(&pass, &salt, 1, iterations, klen, 64),
            kdf::<sha1::Sha1>(&pass, &salt, 2, iterations, 8, 64),
        )
    };
    use cbc::cipher::KeyInit;
    match scheme {
        s if s == OID_PBE_SHA1_3DES => {
            let (k, iv) = key_iv(24);
            let c = des::TdesEde3::new_from_slice(&k).map_err(|_| bad("3DES key"))?;
            cbc_decrypt(c, &iv, data)
        }
        s if s == OID_PBE_SHA1_2DES => {
            let (k, iv) = key_iv(16);
            let c = des::TdesEde2::new_from_slice(&k).map_err(|_| bad("2DES key"))?;
            cbc_decrypt(c, &iv, data)
        }
        s if s == OID_PBE_SHA1_RC2_128 || s == OID_PBE_SHA1_RC2_40 => {
            let bits = if s == OID_PBE_SHA1_RC2_40 { 40 } else { 128 };
            let (k, iv) = key_iv(bits / 8);
            let c = rc2::Rc2::new_with_eff_key_len(&k, bits);
            cbc_decrypt(c, &iv, data)
        }
        other => Err(KeystoreError::Unsupported(format!(
            "PKCS#12 encryption scheme {other}"
        ))),
    }
}

fn hmac_verify(alg: aws_lc_rs::hmac::Algorithm, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    let k = aws_lc_rs::hmac::Key::new(alg, key);
    aws_lc_rs::hmac::verify(&k, data, expected).is_ok()
}

/// Verifies the MAC over the authenticated safe (RFC 7292 §4, Appendix B key).
fn verify_mac(mac_data: &Tlv<'_>, auth_safe: &[u8], password: &str) -> Result<()> {
    let md = children(mac_data)?;
    let digest_info = children(md.first().ok_or_else(|| bad("empty MacData"))?)?;
    let alg = children(digest_info.first().ok_or_else(|| bad("empty DigestInfo"))?)?;
    let hash = oid(alg.first().ok_or_else(|| bad("empty digest algorithm"))?)?;
    let expected = octets(digest_info.get(1).ok_or_else(|| bad("no MAC value"))?)?;
    let salt = octets(md.get(1).ok_or_else(|| bad("no MAC salt"))?)?;
    let iterations = match md.get(2) {
        Some(t) => integer(t)?,
        None => 1,
    };
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(bad("unreasonable MAC iteration count"));
    }
    let pass = bmp_password(password);
    let ok = match hash {
        h if h == OID_SHA1 => {
            let k = kdf::<sha1::Sha1>(&pass, &salt, 3, iterations, 20, 64);
            hmac_verify(
                aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                &k,
                auth_safe,
                &expected,
            )
        }
        h if h == OID_SHA256 => {
            let k = kdf::<sha2::Sha256>(&pass, &salt, 3, iterations, 32, 64);
            hmac_verify(aws_lc_rs::hmac::HMAC_SHA256, &k, auth_safe, &expected)
        }
        h if h == OID_SHA384 => {
            let k = kdf::<sha2::Sha384>(&pass, &salt, 3, iterations, 48, 128);
            hmac_verify(aws_lc_rs::hmac::HMAC_SHA384, &k, auth_safe, &expected)
        }
        h if h == OID_SHA512 => {
            let k = kdf::<sha2::Sha512>(&pass, &salt, 3, iterations, 64, 128);
            hmac_verify(aws_lc_rs::hmac::HMAC_SHA512, &k, auth_safe, &expected)
        }
        other => {
            return Err(KeystoreError::Unsupported(format!(
                "PKCS#12 MAC digest {other}"
            )))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(KeystoreError::WrongPassword(
            "the PKCS#12 integrity check (MAC) failed: the password is wrong or the file is damaged"
                .into(),
        ))
    }
}

#[derive(Default)]
struct Found {
    keys: Vec<Zeroizing<Vec<u8>>>,
    certs: Vec<Vec<u8>>,
}

fn read_safe_contents(der: &[u8], password: &str, found: &mut Found, depth: usize) -> Result<()> {
    if depth > 4 {
        return Err(bad("nesting too deep"));
    }
    let sc = tlv(der)?;
    for bag in children(&sc)? {
        let f = children(&bag)?;
        let bag_id = oid(f.first().ok_or_else(|| bad("empty SafeBag"))?)?;
        let wrapper = f.get(1).ok_or_else(|| bad("SafeBag without value"))?;
        let value = children(wrapper)?
            .into_iter()
            .next()
            .ok_or_else(|| bad("empty bag value"))?;
        match bag_id {
            b if b == OID_KEY_BAG => found.keys.push(Zeroizing::new(value.raw.to_vec())),
            b if b == OID_SHROUDED_KEY_BAG => {
                let epki = children(&value)?;
                let alg = epki
                    .first()
                    .ok_or_else(|| bad("empty EncryptedPrivateKeyInfo"))?;
                let data = octets(epki.get(1).ok_or_else(|| bad("no encrypted key"))?)?;
                found.keys.push(pbe_decrypt(alg, &data, password)?);
            }
            b if b == OID_CERT_BAG => {
                let cb = children(&value)?;
                let kind = oid(cb.first().ok_or_else(|| bad("empty CertBag"))?)?;
                if kind == OID_X509_CERT {
                    let inner = cb.get(1).ok_or_else(|| bad("CertBag without value"))?;
                    let os = children(inner)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| bad("empty CertBag value"))?;
                    found.certs.push(octets(&os)?);
                }
            }
            b if b == OID_SAFE_CONTENTS_BAG => {
                read_safe_contents(value.raw, password, found, depth + 1)?
            }
            _ => {} // CRL and secret bags are not ours to import.
        }
    }
    Ok(())
}

/// Reads a PKCS#12 file: verifies the MAC, decrypts the bags, and pairs the private key with
/// its certificate (the other certificates become the chain).
pub fn import(p12: &[u8], password: &str) -> Result<Imported> {
    let pfx = tlv(p12)?;
    let top = children(&pfx)?;
    let auth_ci = children(top.get(1).ok_or_else(|| bad("no authSafe"))?)?;
    if oid(auth_ci.first().ok_or_else(|| bad("empty authSafe"))?)? != OID_DATA {
        return Err(KeystoreError::Unsupported(
            "PKCS#12 with public-key integrity mode".into(),
        ));
    }
    let wrapped = children(
        auth_ci
            .get(1)
            .ok_or_else(|| bad("authSafe without content"))?,
    )?;
    let auth_safe = octets(
        wrapped
            .first()
            .ok_or_else(|| bad("authSafe without data"))?,
    )?;
    match top.get(2) {
        Some(mac) => verify_mac(mac, &auth_safe, password)?,
        None => {
            tracing::warn!("PKCS#12 file has no MAC; relying on decryption to check the password")
        }
    }
    let mut found = Found::default();
    let safes = tlv(&auth_safe)?;
    for ci in children(&safes)? {
        let f = children(&ci)?;
        let kind = oid(f.first().ok_or_else(|| bad("empty ContentInfo"))?)?;
        let content = children(f.get(1).ok_or_else(|| bad("ContentInfo without content"))?)?;
        let content = content.first().ok_or_else(|| bad("empty content"))?;
        if kind == OID_DATA {
            read_safe_contents(&octets(content)?, password, &mut found, 0)?;
        } else if kind == OID_ENCRYPTED_DATA {
            let ed = children(content)?;
            let eci = children(
                ed.get(1)
                    .ok_or_else(|| bad("EncryptedData without content"))?,
            )?;
            let alg = eci
                .get(1)
                .ok_or_else(|| bad("no content encryption algorithm"))?;
            let ct = eci.get(2).ok_or_else(|| bad("no encrypted content"))?;
            // [0] IMPLICIT OCTET STRING: primitive (0x80) or constructed chunks (0xa0).
            let data = ber::octet_string_contents(ct.tag & 0x20 | 0x04, ct.value)
                .map_err(|e| bad(&e.to_string()))?;
            let plain = pbe_decrypt(alg, &data, password)?;
            read_safe_contents(&plain, password, &mut found, 0)?;
        } else {
            return Err(KeystoreError::Unsupported(format!(
                "PKCS#12 content type {kind}"
            )));
        }
    }
    let mut certs_parsed = Vec::new();
    for c in &found.certs {
        certs_parsed.push(certs::parse_der(c)?);
    }
    let key = found.keys.into_iter().next().ok_or_else(|| {
        KeystoreError::BadInput(
            "the PKCS#12 file contains no private key (certificates only)".into(),
        )
    })?;
    super::pair(key, certs_parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_matches_known_vector() {
        // Password "smeg", salt 0A58CF64530D823F, id 1, 1 iteration, 24 bytes (widely
        // published test vector of the PKCS#12 KDF).
        let salt = [0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F];
        let k = kdf::<sha1::Sha1>(&bmp_password("smeg"), &salt, 1, 1, 24, 64);
        let hex: String = k.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3");
    }
}
