//! TLS for SMTP: the server side of STARTTLS (configured certificate, or a self-signed one made
//! once in the data dir) and the client side for delivery.
//!
//! Outbound TLS has levels per recipient domain, as Postfix's `smtp_tls_policy_maps`
//! (`delivery.tls_levels`, [`TlsLevel`]):
//! - `may` (default): opportunistic (RFC 7435). MX hosts rarely have certificates that match the
//!   names we reach them by, and refusing them would send the mail in clear instead, so the
//!   client encrypts without authenticating the peer, and falls back to plaintext.
//! - `encrypt`: TLS is mandatory, any certificate: never plaintext, but no protection against an
//!   active man in the middle.
//! - `verify` (also every domain of `delivery.require_tls_domains`): TLS with a certificate that
//!   chains to the system's roots (Debian `ca-certificates`) or `delivery.tls_ca_file`, and
//!   names the host Segl connected to (the MX host, or the next hop as configured). Anything
//!   else defers the mail with the reason; it is never sent to an unauthenticated peer.
//! - `dane`: TLS with a certificate authenticated by DNSSEC-validated TLSA records
//!   (`smtp::outbound::dane`); no such records, or no match, defers the mail.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::{Config, TlsLevel};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("TLS certificate {path}: {message}")]
    Cert { path: String, message: String },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The server configuration for STARTTLS.
pub fn server_config(cfg: &Config) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert_path, key_path) = if cfg.smtp.tls.cert.is_empty() {
        ensure_self_signed(&cfg.storage.data_dir, &cfg.smtp.hostname)?
    } else {
        (
            Path::new(&cfg.smtp.tls.cert).to_path_buf(),
            Path::new(&cfg.smtp.tls.key).to_path_buf(),
        )
    };
    let cerr = |p: &Path, m: String| TlsError::Cert {
        path: p.display().to_string(),
        message: m,
    };
    let certs = read_certs(&cert_path)?;
    if certs.is_empty() {
        return Err(cerr(&cert_path, "no certificate found".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&key_path).map_err(|e| cerr(&key_path, e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| cerr(&cert_path, e.to_string()))?;
    Ok(Arc::new(config))
}

/// Every certificate of a PEM file (a chain, or a CA bundle), in order.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let cerr = |m: String| TlsError::Cert {
        path: path.display().to_string(),
        message: m,
    };
    CertificateDer::pem_file_iter(path)
        .map_err(|e| cerr(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cerr(e.to_string()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Make `<data_dir>/tls/{cert,key}.pem` once; the key file is 0600.
fn ensure_self_signed(
    data_dir: &Path,
    hostname: &str,
) -> Result<(std::path::PathBuf, std::path::PathBuf), TlsError> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| TlsError::Generate(e.to_string()))?;
    let ck = rcgen::generate_simple_self_signed(vec![hostname.to_string()])
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    crate::durable::write_private(&key, ck.signing_key.serialize_pem().as_bytes())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    crate::durable::write_synced(&cert, ck.cert.pem().as_bytes())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    tracing::info!(path = %cert.display(), "made a self-signed STARTTLS certificate");
    Ok((cert, key))
}

/// The client configurations for outbound STARTTLS, one per kind of peer check.
#[derive(Clone)]
pub struct ClientTls {
    /// Any certificate (levels `may` and `encrypt`).
    pub opportunistic: Arc<rustls::ClientConfig>,
    /// A verified chain and host name (level `verify`); `Err` says why there is none (no trust
    /// anchors at all), and mail that needs it waits with that reason.
    pub verified: Result<Arc<rustls::ClientConfig>, String>,
}

impl ClientTls {
    /// The configuration for `level`.
    pub fn for_level(&self, level: TlsLevel) -> Result<Arc<rustls::ClientConfig>, String> {
        match level {
            TlsLevel::Verify => self.verified.clone(),
            TlsLevel::May | TlsLevel::Encrypt => Ok(self.opportunistic.clone()),
            // Per host, from its TLSA records: `smtp::outbound::dane::DaneVerifier`.
            TlsLevel::Dane => Err("TLS level dane needs the TLSA records of the host".into()),
        }
    }
}

/// Both client configurations. The trust anchors for `verify` are the system's and those of
/// `delivery.tls_ca_file`; an unreadable CA file is a start error (the administrator named it).
pub fn client_tls(cfg: &Config) -> Result<ClientTls, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    let ca_file = cfg.delivery.tls_ca_file.trim();
    if !ca_file.is_empty() {
        let (ok, _) = roots.add_parsable_certificates(read_certs(Path::new(ca_file))?);
        if ok == 0 {
            return Err(TlsError::Cert {
                path: ca_file.to_string(),
                message: "no usable CA certificate found".into(),
            });
        }
    }
    tracing::debug!(
        system_roots = added,
        total = roots.len(),
        "outbound TLS trust anchors"
    );
    let verified = if roots.is_empty() {
        Err(
            "no trust anchors for TLS level verify: install the system CA bundle \
             (ca-certificates) or set delivery.tls_ca_file"
                .to_string(),
        )
    } else {
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("TLS verifier: {e}"))
            .and_then(|v| {
                rustls::ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .map(|b| b.with_webpki_verifier(v).with_no_client_auth())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
    };
    Ok(ClientTls {
        opportunistic: client_config(),
        verified,
    })
}

/// Client configuration for opportunistic outbound STARTTLS (see the module docs).
pub fn client_config() -> Arc<rustls::ClientConfig> {
    match custom_client_config(provider(), Opportunistic) {
        Ok(c) => c,
        // The default protocol versions are always supported by the built-in provider.
        Err(e) => panic!("rustls client configuration: {e}"),
    }
}

/// Accepts any certificate; the handshake signatures are still checked, so the session is
/// encrypted to whoever holds the presented key.
#[derive(Debug)]
struct Opportunistic;

impl ChainCheck for Opportunistic {
    fn check(&self, _: &PresentedChain<'_, '_>) -> Result<(), rustls::Error> {
        Ok(())
    }
}

/// What a server presented, for a [`ChainCheck`].
pub struct PresentedChain<'a, 'b> {
    pub end_entity: &'a CertificateDer<'b>,
    pub intermediates: &'a [CertificateDer<'b>],
    pub server_name: &'a ServerName<'b>,
    pub now: UnixTime,
    pub provider: &'a Arc<rustls::crypto::CryptoProvider>,
}

/// The part of a client's server-certificate verifier that differs between Segl's clients
/// (opportunistic SMTP, DANE, the pinned admin certificate of `segl ctl`): judging the
/// presented chain. The handshake signatures are always checked the same way, with the
/// provider's algorithms ([`custom_client_config`]).
pub trait ChainCheck: std::fmt::Debug + Send + Sync + 'static {
    fn check(&self, chain: &PresentedChain<'_, '_>) -> Result<(), rustls::Error>;
}

/// A client configuration (safe default protocol versions, no client certificate) whose server
/// certificates are judged by `check`.
pub fn custom_client_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
    check: impl ChainCheck,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let verifier = Arc::new(CustomVerifier {
        check,
        provider: provider.clone(),
    });
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        })
        .map(Arc::new)
}

#[derive(Debug)]
struct CustomVerifier<C> {
    check: C,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl<C: ChainCheck> ServerCertVerifier for CustomVerifier<C> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check
            .check(&PresentedChain {
                end_entity,
                intermediates,
                server_name,
                now,
                provider: &self.provider,
            })
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
