//! The update bundle: a signed manifest and the payload it describes, parsed and verified
//! without I/O.
//!
//! ```text
//! "SEGLFW01"                 8 bytes, magic and format version
//! manifest length            4 bytes, big endian (at most 64 KiB)
//! manifest                   TOML (see [`Manifest`])
//! signature                  64 bytes, Ed25519 over magic ‖ length ‖ manifest
//! payload                    the rest: payload_size bytes whose SHA-256 is payload_sha256
//! ```
//!
//! Only the manifest is signed; it carries the payload's hash, so a changed payload is caught
//! by the hash and a changed manifest by the signature. The manifest is checked first, so a
//! bundle for another board or an older version is refused before its payload is hashed.

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// Magic and format version at the start of every bundle.
pub const MAGIC: &[u8; 8] = b"SEGLFW01";
const MAX_MANIFEST: usize = 64 * 1024;
const SIG_LEN: usize = 64;

/// Why a bundle is refused. The texts are what the admin reads.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a Segl firmware bundle (no SEGLFW01 header)")]
    NotABundle,
    #[error("the bundle is truncated or malformed: {0}")]
    Malformed(String),
    #[error("bad signature: the bundle is not signed with this box's update key{0}")]
    BadSignature(&'static str),
    #[error("the bundle is for board \"{bundle}\"; this box is \"{this}\"")]
    WrongBoard { bundle: String, this: String },
    #[error("version {bundle} is not newer than the running version {running} (force to install it anyway)")]
    NotNewer { bundle: String, running: String },
    #[error("tampered payload: its SHA-256 does not match the signed manifest")]
    Tampered,
    #[error("the payload is {got} bytes; the signed manifest says {want}")]
    WrongSize { got: u64, want: u64 },
}

/// What the vendor signs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Firmware version, dotted numbers (`1.2.0`).
    pub version: String,
    /// Board the payload boots on (`x86_64-local`, `qemu-aarch64-virt`, ...).
    pub board: String,
    /// What the payload is: `slot-vfat` (a boot slot's FAT image with vmlinuz, initrd.img,
    /// slot.toml).
    pub payload: String,
    pub payload_size: u64,
    /// Lower-case hex.
    pub payload_sha256: String,
    /// Free text shown to the admin.
    #[serde(default)]
    pub created: String,
}

/// A bundle whose manifest signature is good (the payload is not checked yet).
#[derive(Debug)]
pub struct Signed<'a> {
    pub manifest: Manifest,
    pub payload: &'a [u8],
}

/// The bytes the signature covers.
pub fn signed_bytes(manifest_text: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + manifest_text.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&(manifest_text.len() as u32).to_be_bytes());
    v.extend_from_slice(manifest_text);
    v
}

/// Assembles a bundle (the vendor tool signs `signed_bytes(manifest)` and calls this).
pub fn assemble(manifest_text: &[u8], signature: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = signed_bytes(manifest_text);
    v.extend_from_slice(signature);
    v.extend_from_slice(payload);
    v
}

/// The manifest text for `m`.
pub fn manifest_text(m: &Manifest) -> Result<String, BundleError> {
    toml::to_string(m).map_err(|e| BundleError::Malformed(e.to_string()))
}

/// A manifest for `payload` (the vendor side).
pub fn manifest_for(version: &str, board: &str, payload: &[u8], created: &str) -> Manifest {
    Manifest {
        version: version.to_string(),
        board: board.to_string(),
        payload: "slot-vfat".to_string(),
        payload_size: payload.len() as u64,
        payload_sha256: hex(&sha2::Sha256::digest(payload)),
        created: created.to_string(),
    }
}

/// Splits a bundle and checks the manifest's signature against `key`.
pub fn open<'a>(bundle: &'a [u8], key: &[u8; 32]) -> Result<Signed<'a>, BundleError> {
    let rest = bundle
        .strip_prefix(MAGIC.as_slice())
        .ok_or(BundleError::NotABundle)?;
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| BundleError::Malformed("no manifest length".into()))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_MANIFEST || rest.len() < len + SIG_LEN {
        return Err(BundleError::Malformed(format!(
            "manifest length {len} does not fit the file"
        )));
    }
    let (text, rest) = rest.split_at(len);
    let (sig, payload) = rest.split_at(SIG_LEN);
    let pk = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, key);
    if pk.verify(&signed_bytes(text), sig).is_err() {
        let dev = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ED25519,
            super::keys::dev_key(),
        );
        let hint = if !super::keys::is_development_key(key)
            && dev.verify(&signed_bytes(text), sig).is_ok()
        {
            " (it is signed with the development key; this is a production build)"
        } else {
            ""
        };
        return Err(BundleError::BadSignature(hint));
    }
    let text = std::str::from_utf8(text)
        .map_err(|_| BundleError::Malformed("manifest is not UTF-8".into()))?;
    let manifest: Manifest =
        toml::from_str(text).map_err(|e| BundleError::Malformed(format!("manifest: {e}")))?;
    parse_version(&manifest.version)?;
    Ok(Signed { manifest, payload })
}

/// Checks what the box decides: the board, the version (unless `force`), then the payload's
/// size and hash. `running` is the version of the slot running now.
pub fn check(
    signed: &Signed<'_>,
    board: &str,
    running: Option<&str>,
    force: bool,
) -> Result<(), BundleError> {
    let m = &signed.manifest;
    if m.board != board {
        return Err(BundleError::WrongBoard {
            bundle: m.board.clone(),
            this: board.to_string(),
        });
    }
    newer_or_forced(&m.version, running, force)?;
    if m.payload != "slot-vfat" {
        return Err(BundleError::Malformed(format!(
            "payload kind {:?} is not supported here",
            m.payload
        )));
    }
    if signed.payload.len() as u64 != m.payload_size {
        return Err(BundleError::WrongSize {
            got: signed.payload.len() as u64,
            want: m.payload_size,
        });
    }
    let got = hex(&sha2::Sha256::digest(signed.payload));
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        got.as_bytes(),
        m.payload_sha256.to_ascii_lowercase().as_bytes(),
    )) {
        return Err(BundleError::Tampered);
    }
    Ok(())
}

/// The version rule of every install, the local image's and RAUC's: `version` must be newer
/// than `running` unless `force`. No running version known (a slot without a manifest): any
/// version goes; a running version that cannot be compared: only forced installs.
pub fn newer_or_forced(
    version: &str,
    running: Option<&str>,
    force: bool,
) -> Result<(), BundleError> {
    let Some(running) = running.filter(|_| !force) else {
        return Ok(());
    };
    let newer = match parse_version(running) {
        Ok(r) => parse_version(version)? > r,
        Err(_) => false,
    };
    if newer {
        return Ok(());
    }
    Err(BundleError::NotNewer {
        bundle: version.to_string(),
        running: running.to_string(),
    })
}

/// `1.2.0` as numbers, compared component by component (missing ones are 0).
pub fn parse_version(v: &str) -> Result<Vec<u64>, BundleError> {
    let mut out: Vec<u64> = v
        .split('.')
        .map(|p| p.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| BundleError::Malformed(format!("version {v:?} is not dotted numbers")))?;
    while out.len() > 1 && out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    fn keypair(seed: u8) -> (Ed25519KeyPair, [u8; 32]) {
        let kp = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("key");
        let mut pk = [0u8; 32];
        pk.copy_from_slice(kp.public_key().as_ref());
        (kp, pk)
    }

    fn bundle(kp: &Ed25519KeyPair, version: &str, board: &str, payload: &[u8]) -> Vec<u8> {
        let m = manifest_for(version, board, payload, "test");
        let text = manifest_text(&m).expect("manifest");
        let sig = kp.sign(&signed_bytes(text.as_bytes()));
        assemble(text.as_bytes(), sig.as_ref(), payload)
    }

    #[test]
    fn good_bundle_passes() {
        let (kp, pk) = keypair(1);
        let b = bundle(&kp, "2.0", "x86_64-local", b"slot image");
        let s = open(&b, &pk).expect("open");
        assert_eq!(s.manifest.version, "2.0");
        check(&s, "x86_64-local", Some("1"), false).expect("check");
        // No running version known (a box without a manifest): any version goes.
        check(&s, "x86_64-local", None, false).expect("check");
    }

    #[test]
    fn wrong_board_is_refused() {
        let (kp, pk) = keypair(1);
        let b = bundle(&kp, "2", "qemu-aarch64-virt", b"x");
        let s = open(&b, &pk).expect("open");
        let e = check(&s, "x86_64-local", Some("1"), true).unwrap_err();
        assert!(matches!(e, BundleError::WrongBoard { .. }));
        assert!(e.to_string().contains("qemu-aarch64-virt"));
    }

    #[test]
    fn older_or_same_version_needs_force() {
        let (kp, pk) = keypair(1);
        for v in ["1", "1.0.0", "0.9"] {
            let b = bundle(&kp, v, "x86_64-local", b"x");
            let s = open(&b, &pk).expect("open");
            let e = check(&s, "x86_64-local", Some("1.0"), false).unwrap_err();
            assert!(matches!(e, BundleError::NotNewer { .. }), "{v}: {e}");
            check(&s, "x86_64-local", Some("1.0"), true).expect("forced");
        }
        let b = bundle(&kp, "1.10", "x86_64-local", b"x");
        let s = open(&b, &pk).expect("open");
        check(&s, "x86_64-local", Some("1.9"), false).expect("1.10 > 1.9");
    }

    #[test]
    fn bad_signature_is_refused() {
        let (kp, _) = keypair(1);
        let (_, other) = keypair(2);
        let b = bundle(&kp, "2", "x86_64-local", b"x");
        assert!(matches!(
            open(&b, &other).unwrap_err(),
            BundleError::BadSignature(_)
        ));
        // A manifest changed after signing.
        let (kp, pk) = keypair(1);
        let mut b = bundle(&kp, "2", "x86_64-local", b"x");
        let pos = b.windows(3).position(|w| w == b"= \"").expect("a value");
        b[pos + 3] ^= 1;
        assert!(matches!(
            open(&b, &pk).unwrap_err(),
            BundleError::BadSignature(_)
        ));
    }

    #[test]
    fn tampered_payload_is_refused() {
        let (kp, pk) = keypair(1);
        let mut b = bundle(&kp, "2", "x86_64-local", b"slot image");
        let n = b.len();
        b[n - 1] ^= 0x20;
        let s = open(&b, &pk).expect("manifest still verifies");
        assert_eq!(
            check(&s, "x86_64-local", Some("1"), false).unwrap_err(),
            BundleError::Tampered
        );
        let mut b = bundle(&kp, "2", "x86_64-local", b"slot image");
        b.push(0);
        let s = open(&b, &pk).expect("open");
        assert!(matches!(
            check(&s, "x86_64-local", Some("1"), false).unwrap_err(),
            BundleError::WrongSize { .. }
        ));
    }

    #[test]
    fn garbage_is_not_a_bundle() {
        let (_, pk) = keypair(1);
        assert_eq!(open(b"hello", &pk).unwrap_err(), BundleError::NotABundle);
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            open(&b, &pk).unwrap_err(),
            BundleError::Malformed(_)
        ));
        assert!(matches!(
            open(MAGIC, &pk).unwrap_err(),
            BundleError::Malformed(_)
        ));
    }

    #[test]
    fn development_bundle_on_a_production_box_says_so() {
        let dev_seed = sha2::Sha256::digest(super::super::keys::DEV_SEED_TEXT.as_bytes());
        let kp = Ed25519KeyPair::from_seed_unchecked(&dev_seed).expect("dev key");
        assert_eq!(
            kp.public_key().as_ref(),
            &super::super::keys::tests_view().1
        );
        let b = bundle(&kp, "2", "x86_64-local", b"x");
        let (_, prod) = keypair(3);
        let e = open(&b, &prod).unwrap_err();
        assert!(e.to_string().contains("development key"), "{e}");
    }
}
