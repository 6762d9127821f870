//! Certificates of the box's TLS listeners installed from the web admin or the API: the SMTP
//! STARTTLS certificate (`smtp.tls.cert`/`key`), the web admin's HTTPS certificate
//! (`admin.tls_cert`/`key`) and the web portal's (`portal.tls_cert`/`key`).
//!
//! An upload is checked the way the listener will use it at the next start (rustls builds a
//! server configuration from it, and the private key must belong to the first certificate),
//! so a mistake is refused now with a message instead of stopping the box at its next start.
//! The pair is stored in `<data_dir>/tls-installed/` (key 0600, both fsynced), and the two
//! configuration keys point at it through the [`ConfigService`], which keeps a revision: an
//! earlier certificate can be restored with its revision, so old files are kept. Listeners
//! read their certificate at start, so a new one applies at the next start.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use super::{Applied, ChangeError, ConfigService};
use crate::config::Config;
use crate::keystore::model::{fingerprint, iso, validity};

/// Folder in the data directory for installed pairs.
pub const DIR: &str = "tls-installed";

/// A TLS listener of the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TlsService {
    /// SMTP STARTTLS on the MX, relay and submission listeners.
    Smtp,
    /// HTTPS of the web admin and the API.
    Admin,
    /// HTTPS of the web portal.
    Portal,
}

impl TlsService {
    pub const ALL: [TlsService; 3] = [TlsService::Smtp, TlsService::Admin, TlsService::Portal];

    pub fn name(self) -> &'static str {
        match self {
            TlsService::Smtp => "smtp",
            TlsService::Admin => "admin",
            TlsService::Portal => "portal",
        }
    }

    pub fn parse(s: &str) -> Option<TlsService> {
        TlsService::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The configuration keys of the certificate and the key file.
    pub fn keys(self) -> (&'static str, &'static str) {
        match self {
            TlsService::Smtp => ("smtp.tls.cert", "smtp.tls.key"),
            TlsService::Admin => ("admin.tls_cert", "admin.tls_key"),
            TlsService::Portal => ("portal.tls_cert", "portal.tls_key"),
        }
    }

    /// The configured certificate file; empty: the self-signed one.
    fn configured(self, cfg: &Config) -> &str {
        match self {
            TlsService::Smtp => &cfg.smtp.tls.cert,
            TlsService::Admin => &cfg.admin.tls_cert,
            TlsService::Portal => &cfg.portal.tls_cert,
        }
    }

    /// Where the listener keeps its self-signed certificate (made at its first start).
    fn self_signed(self, data_dir: &Path) -> PathBuf {
        let dir = match self {
            TlsService::Smtp => "tls",
            TlsService::Admin => "admin-tls",
            TlsService::Portal => "portal-tls",
        };
        data_dir.join(dir).join("cert.pem")
    }
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsFileError {
    #[error("the certificate file: {0}")]
    Cert(String),
    #[error("the private key: {0}")]
    Key(String),
    #[error("{0}")]
    Mismatch(String),
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("cannot store the certificate: {0}")]
    Io(#[from] std::io::Error),
}

/// What a certificate says, for the pages and the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// Unix time of `not_after`.
    pub expires: i64,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// Certificates in the file (leaf first, then the chain).
    pub chain_len: usize,
}

/// A listener's certificate as configured now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TlsState {
    pub service: TlsService,
    /// Whether a certificate is configured (else the listener makes and uses a self-signed one).
    pub configured: bool,
    /// The certificate file the listener uses (or will make).
    pub path: String,
    /// Its content; `None` when there is no file yet (see `error`).
    pub cert: Option<CertInfo>,
    pub error: Option<String>,
    /// The configured certificate changed since the start: it applies at the next start.
    pub restart_pending: bool,
}

/// What an installation did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Installed {
    pub service: TlsService,
    pub cert: CertInfo,
    pub applied: Applied,
}

fn describe(chain: &[CertificateDer<'_>]) -> Result<CertInfo, String> {
    let leaf = chain.first().ok_or("no certificate found")?;
    let c = crate::smime::certs::parse_der(leaf.as_ref()).map_err(|e| e.to_string())?;
    let (nb, na) = validity(&c);
    Ok(CertInfo {
        subject: c.tbs_certificate().subject().to_string(),
        issuer: c.tbs_certificate().issuer().to_string(),
        not_before: iso(nb),
        not_after: iso(na),
        expires: na,
        sha256: fingerprint(leaf.as_ref()),
        chain_len: chain.len(),
    })
}

/// The certificates of a PEM (or a single DER) upload.
fn read_chain(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![CertificateDer::from(bytes.to_vec())]);
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsFileError::Cert(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsFileError::Cert(
            "no PEM certificate (BEGIN CERTIFICATE) found".into(),
        ));
    }
    Ok(chain)
}

/// The private key of a PEM upload (PKCS#8, PKCS#1 or SEC1, not encrypted).
fn read_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsFileError> {
    if String::from_utf8_lossy(bytes).contains("ENCRYPTED PRIVATE KEY") {
        return Err(TlsFileError::Key(
            "it is encrypted with a passphrase; the listener starts unattended, so upload it \
             without one (openssl pkey -in key.pem -out plain.pem)"
                .into(),
        ));
    }
    PrivateKeyDer::from_pem_slice(bytes)
        .map_err(|e| TlsFileError::Key(format!("no usable PEM private key found ({e})")))
}

/// Checks a pair as the listener will load it; `key` may be empty when `cert` holds the key too.
pub fn check_pair(cert: &[u8], key: &[u8], now: i64) -> Result<CertInfo, TlsFileError> {
    let chain = read_chain(cert)?;
    let key = read_key(if key.is_empty() { cert } else { key })?;
    let info = describe(&chain).map_err(TlsFileError::Cert)?;
    if info.expires <= now {
        return Err(TlsFileError::Cert(format!(
            "it expired on {}",
            info.not_after
        )));
    }
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| TlsFileError::Key(e.to_string()))?;
    rustls::sign::CertifiedKey::new(chain.clone(), signing)
        .keys_match()
        .map_err(|e| {
            TlsFileError::Mismatch(format!(
                "the private key does not belong to the certificate ({e})"
            ))
        })?;
    rustls::ServerConfig::builder_with_provider(provider.into())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFileError::Cert(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsFileError::Mismatch(e.to_string()))?;
    Ok(info)
}

/// The certificate of each listener, as configured now.
pub fn states(svc: &ConfigService) -> Vec<TlsState> {
    let cfg = svc.get();
    let pending = svc.restart_pending();
    TlsService::ALL
        .into_iter()
        .map(|t| {
            let configured = t.configured(&cfg);
            let path = if configured.is_empty() {
                t.self_signed(&cfg.storage.data_dir)
            } else {
                PathBuf::from(configured)
            };
            let (cert, error) = match crate::tls::read_certs(&path) {
                Ok(chain) => match describe(&chain) {
                    Ok(i) => (Some(i), None),
                    Err(e) => (None, Some(e)),
                },
                Err(_) if configured.is_empty() => (
                    None,
                    Some("not made yet: the listener makes it at its first start".into()),
                ),
                Err(e) => (None, Some(e.to_string())),
            };
            let (ck, kk) = t.keys();
            TlsState {
                service: t,
                configured: !configured.is_empty(),
                path: path.display().to_string(),
                cert,
                error,
                restart_pending: pending.iter().any(|k| k == ck || k == kk),
            }
        })
        .collect()
}

/// Check and store a certificate and key for `service` and point its configuration at them.
pub fn install(
    svc: &ConfigService,
    who: &str,
    service: TlsService,
    cert: &[u8],
    key: &[u8],
) -> Result<Installed, TlsFileError> {
    let now = crate::clock::unix_now();
    let info = check_pair(cert, key, now)?;
    let cfg = svc.get();
    let dir = cfg.storage.data_dir.join(DIR);
    std::fs::create_dir_all(&dir)?;
    // Absolute, so the configuration means the same file whatever the working directory.
    let dir = std::fs::canonicalize(&dir)?;
    let stem = format!("{}-{}-{}", service.name(), now, &info.sha256[..12]);
    let cert_path = dir.join(format!("{stem}.crt.pem"));
    let key_path = dir.join(format!("{stem}.key.pem"));
    // The key first: a certificate file without its key is harmless, the reverse is not.
    crate::durable::write_private(&key_path, if key.is_empty() { cert } else { key })?;
    crate::durable::write_synced(&cert_path, cert)?;
    crate::durable::sync_dir(&dir)?;
    let (ck, kk) = service.keys();
    let note = format!(
        "{} TLS certificate {} (sha256 {})",
        service.name(),
        info.subject,
        &info.sha256[..16]
    );
    let applied = svc.set(
        who,
        &note,
        &[
            (
                ck.to_string(),
                Some(toml::Value::String(cert_path.display().to_string())),
            ),
            (
                kk.to_string(),
                Some(toml::Value::String(key_path.display().to_string())),
            ),
        ],
    )?;
    tracing::info!(service = service.name(), who, subject = %info.subject,
        sha256 = %info.sha256, "installed a TLS certificate; applies at the next start");
    Ok(Installed {
        service,
        cert: info,
        applied,
    })
}

/// Go back to the self-signed certificate the listener makes itself.
pub fn reset(svc: &ConfigService, who: &str, service: TlsService) -> Result<Applied, ChangeError> {
    let (ck, kk) = service.keys();
    svc.set(
        who,
        &format!("{} TLS certificate back to self-signed", service.name()),
        &[(ck.to_string(), None), (kk.to_string(), None)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        (ck.cert.pem(), ck.signing_key.serialize_pem())
    }

    #[test]
    fn a_matching_pair_is_accepted_and_described() {
        let (c, k) = pair("mx.example.org");
        let info = check_pair(c.as_bytes(), k.as_bytes(), 0).unwrap();
        assert!(info.subject.contains("rcgen"), "{}", info.subject);
        assert_eq!(info.sha256.len(), 64);
        assert_eq!(info.chain_len, 1);
        // Certificate and key in one file.
        let both = format!("{c}{k}");
        assert!(check_pair(both.as_bytes(), b"", 0).is_ok());
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (c, _) = pair("a.example.org");
        let (_, k) = pair("b.example.org");
        let e = check_pair(c.as_bytes(), k.as_bytes(), 0).unwrap_err();
        assert!(matches!(e, TlsFileError::Mismatch(_)), "{e}");
        assert!(e.to_string().contains("does not belong"), "{e}");
    }

    #[test]
    fn garbage_expired_and_missing_keys_are_refused() {
        let (c, k) = pair("a.example.org");
        assert!(matches!(
            check_pair(b"hello", k.as_bytes(), 0),
            Err(TlsFileError::Cert(_))
        ));
        assert!(matches!(
            check_pair(c.as_bytes(), b"", 0),
            Err(TlsFileError::Key(_))
        ));
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let e = check_pair(c.as_bytes(), enc.as_bytes(), 0).unwrap_err();
        assert!(e.to_string().contains("passphrase"), "{e}");
        // rcgen's default validity ends in 4096.
        let e = check_pair(c.as_bytes(), k.as_bytes(), 70_000_000_000).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
    }
}
