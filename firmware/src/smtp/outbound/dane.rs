//! TLS level `dane` (RFC 7672, DANE for SMTP): the next hop's certificate is authenticated by
//! TLSA records at `_25._tcp.<host>` that a DNSSEC-validating resolver proved authentic.
//!
//! Usable records are DANE-EE (usage 3: the server's own certificate or key, no name or
//! expiry check, as RFC 7672 §3.1.1 says) and DANE-TA (usage 2: a trust anchor that must appear
//! in the presented chain; the chain from the server certificate up to it is verified, with the
//! host name, §3.1.2). Selector 0 (whole certificate) or 1 (SubjectPublicKeyInfo), matching
//! type 0 (exact), 1 (SHA-256) or 2 (SHA-512). PKIX usages 0 and 1 are not used for SMTP
//! (§3.1.3).
//!
//! Like Postfix's `dane-only`: a domain an administrator set to `dane` gets its mail only over
//! TLS authenticated this way. No TLSA records, records that are not DNSSEC-validated, no
//! usable record, or a certificate that matches none defer the mail with the reason. When the
//! route is the domain's MX, only hosts named by a DNSSEC-validated MX answer are tried (a
//! domain without MX records, whose implicit MX would be the domain itself, is deferred too;
//! a configured smarthost or next hop is trusted as configured).
//!
//! The lookup is a trait ([`TlsaSource`]) so tests can give answers without a signed zone;
//! [`DnssecTlsa`] is the real one (hickory with DNSSEC validation against the IANA root
//! anchors).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use sha2::{Digest, Sha256, Sha512};

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Whether RFC 7672 lets an SMTP client use this record (DANE-TA or DANE-EE with a
    /// known selector and matching type).
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }
}

/// What the DNS said about `_25._tcp.<host>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsaAnswer {
    /// Records whose every RRset the resolver validated (DNSSEC "secure").
    Secure(Vec<Tlsa>),
    /// Records exist but are not validated (unsigned zone, or a validation failure).
    NotValidated(String),
    /// No TLSA records (or the name does not exist).
    None,
    /// The lookup failed (server failure, timeout): try again later.
    Failed(String),
}

/// The DNSSEC lookups of level dane.
pub trait TlsaSource: Send + Sync {
    /// The TLSA records of an SMTP server.
    fn tlsa<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = TlsaAnswer> + Send + 'a>>;

    /// The MX host names of `domain` (lower case, no final dot) from a DNSSEC-validated
    /// answer, or why there are none.
    fn mx_hosts<'a>(
        &'a self,
        domain: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>>;
}

/// The targets whose host is one of the validated MX hosts: at level dane an MX host counts
/// only from a DNSSEC-validated answer (RFC 7672 §2.2.1), or a forged MX answer could send the
/// mail to a host whose own signed TLSA records match its certificate.
pub fn only_validated(
    targets: Vec<super::route::Target>,
    secure_hosts: &[String],
) -> Vec<super::route::Target> {
    targets
        .into_iter()
        .filter(|t| {
            secure_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(t.host.trim_end_matches('.')))
        })
        .collect()
}

/// The records to authenticate `host` with, or the reason mail to it must wait.
pub fn usable_records(host: &str, answer: TlsaAnswer) -> Result<Vec<Tlsa>, String> {
    match answer {
        TlsaAnswer::Secure(records) => {
            let usable: Vec<Tlsa> = records.into_iter().filter(Tlsa::usable).collect();
            if usable.is_empty() {
                Err(format!(
                    "no usable TLSA record (DANE-TA or DANE-EE) for _25._tcp.{host} (TLS level dane)"
                ))
            } else {
                Ok(usable)
            }
        }
        TlsaAnswer::NotValidated(why) => Err(format!(
            "TLSA records of _25._tcp.{host} are not DNSSEC-validated (TLS level dane): {why}"
        )),
        TlsaAnswer::None => Err(format!(
            "no TLSA records for _25._tcp.{host} (TLS level dane)"
        )),
        TlsaAnswer::Failed(why) => Err(format!(
            "TLSA lookup for _25._tcp.{host} failed (TLS level dane): {why}"
        )),
    }
}

/// The part of `cert` a record's selector names, hashed as its matching type says.
fn association(cert: &[u8], selector: u8, matching: u8) -> Option<Vec<u8>> {
    let selected = match selector {
        0 => cert.to_vec(),
        1 => spki_of(cert)?,
        _ => return None,
    };
    match matching {
        0 => Some(selected),
        1 => Some(Sha256::digest(&selected).to_vec()),
        2 => Some(Sha512::digest(&selected).to_vec()),
        _ => None,
    }
}

/// The DER SubjectPublicKeyInfo of a DER certificate.
fn spki_of(cert: &[u8]) -> Option<Vec<u8>> {
    use der::{Decode, Encode};
    let c = x509_cert::Certificate::from_der(cert).ok()?;
    c.tbs_certificate().subject_public_key_info().to_der().ok()
}

fn matches(record: &Tlsa, cert: &[u8]) -> bool {
    association(cert, record.selector, record.matching).is_some_and(|a| {
        use subtle::ConstantTimeEq;
        a.len() == record.data.len() && bool::from(a.ct_eq(&record.data))
    })
}

/// Whether the presented chain (server certificate first) is authenticated by `records`:
/// a DANE-EE record matching the server certificate, or a DANE-TA record matching a
/// certificate of the chain that the chain up to it verifies against, host name included.
pub fn authenticated(
    records: &[Tlsa],
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    host: &ServerName<'_>,
    now: UnixTime,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<(), String> {
    if records
        .iter()
        .any(|r| r.usage == 3 && matches(r, end_entity))
    {
        return Ok(());
    }
    for r in records.iter().filter(|r| r.usage == 2) {
        for (i, ta) in intermediates.iter().enumerate() {
            if !matches(r, ta) {
                continue;
            }
            let mut roots = rustls::RootCertStore::empty();
            if roots.add(ta.clone()).is_err() {
                continue;
            }
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| e.to_string())?;
            match verifier.verify_server_cert(end_entity, &intermediates[..i], host, &[], now) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    return Err(format!(
                        "the chain does not verify up to the DANE-TA trust anchor: {e}"
                    ))
                }
            }
        }
    }
    Err("the certificate matches none of its TLSA records".to_string())
}

/// Checks the server's certificate against validated TLSA records (see the module docs); the
/// handshake signatures are checked as usual ([`crate::tls::custom_client_config`]).
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<Tlsa>,
}

impl DaneVerifier {
    /// A client configuration that accepts only a server authenticated by `records`.
    pub fn client_config(records: Vec<Tlsa>) -> Result<Arc<rustls::ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        crate::tls::custom_client_config(provider, DaneVerifier { records })
            .map_err(|e| e.to_string())
    }
}

impl crate::tls::ChainCheck for DaneVerifier {
    fn check(&self, c: &crate::tls::PresentedChain<'_, '_>) -> Result<(), rustls::Error> {
        authenticated(
            &self.records,
            c.end_entity,
            c.intermediates,
            c.server_name,
            c.now,
            c.provider,
        )
        .map_err(rustls::Error::General)
    }
}

/// TLSA lookups through hickory with DNSSEC validation (`delivery.dns_servers`, or the
/// system's resolvers, which must pass the DNSSEC records through).
pub struct DnssecTlsa {
    resolver: Option<hickory_resolver::TokioResolver>,
}

impl DnssecTlsa {
    pub fn new(dns_servers: &[String]) -> DnssecTlsa {
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        let builder = match crate::dns::configured(dns_servers) {
            None => hickory_resolver::TokioResolver::builder_tokio().ok(),
            Some(rc) => Some(hickory_resolver::TokioResolver::builder_with_config(
                rc,
                TokioRuntimeProvider::default(),
            )),
        };
        let resolver = builder.and_then(|mut b| {
            b.options_mut().validate = true;
            b.build()
                .map_err(|e| tracing::warn!(error = %e, "DNSSEC resolver unusable; TLS level dane defers"))
                .ok()
        });
        DnssecTlsa { resolver }
    }
}

impl TlsaSource for DnssecTlsa {
    fn tlsa<'a>(&'a self, host: &'a str) -> Pin<Box<dyn Future<Output = TlsaAnswer> + Send + 'a>> {
        Box::pin(async move {
            use hickory_resolver::proto::dnssec::Proof;
            use hickory_resolver::proto::rr::RData;
            let Some(r) = &self.resolver else {
                return TlsaAnswer::Failed("no DNS resolver".into());
            };
            let name = format!("_25._tcp.{}.", host.trim_end_matches('.'));
            let lookup = match r.tlsa_lookup(name.as_str()).await {
                Ok(l) => l,
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => return TlsaAnswer::None,
                Err(e) => return TlsaAnswer::Failed(e.to_string()),
            };
            let mut out = vec![];
            for rec in lookup.answers() {
                let RData::TLSA(t) = &rec.data else { continue };
                if rec.proof != Proof::Secure {
                    return TlsaAnswer::NotValidated(format!("DNSSEC proof {:?}", rec.proof));
                }
                out.push(Tlsa {
                    usage: u8::from(t.cert_usage),
                    selector: u8::from(t.selector),
                    matching: u8::from(t.matching),
                    data: t.cert_data.clone(),
                });
            }
            if out.is_empty() {
                TlsaAnswer::None
            } else {
                TlsaAnswer::Secure(out)
            }
        })
    }

    fn mx_hosts<'a>(
        &'a self,
        domain: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>> {
        Box::pin(async move {
            use hickory_resolver::proto::dnssec::Proof;
            use hickory_resolver::proto::rr::RData;
            let Some(r) = &self.resolver else {
                return Err("no DNS resolver (TLS level dane)".into());
            };
            let name = format!("{}.", domain.trim_end_matches('.'));
            let lookup = r.mx_lookup(name.as_str()).await.map_err(|e| {
                format!(
                    "MX lookup for {domain} with DNSSEC validation failed (TLS level dane): {e}"
                )
            })?;
            let mut hosts = vec![];
            for rec in lookup.answers() {
                let RData::MX(mx) = &rec.data else { continue };
                if rec.proof != Proof::Secure {
                    return Err(format!(
                        "MX records of {domain} are not DNSSEC-validated (TLS level dane): proof {:?}",
                        rec.proof
                    ));
                }
                hosts.push(
                    mx.exchange
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                );
            }
            if hosts.is_empty() {
                Err(format!(
                    "no DNSSEC-validated MX records for {domain} (TLS level dane)"
                ))
            } else {
                Ok(hosts)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs a shell pipeline (openssl) and returns its stdout.
    fn sh(cmd: &str) -> Vec<u8> {
        let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn hex(s: &[u8]) -> Vec<u8> {
        let s = String::from_utf8_lossy(s);
        let h = s.split_whitespace().next().unwrap();
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A CA and a server certificate for `mx.example.net` signed by it, made with openssl in
    /// `dir`; returns (server DER, CA DER).
    fn pki(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
        let d = dir.display();
        sh(&format!(
            "cd {d} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
             -subj /CN=Test-TA -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null \
             && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=mx.example.net 2>/dev/null \
             && printf 'subjectAltName=DNS:mx.example.net\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext \
             && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ext -out srv.pem 2>/dev/null \
             && openssl x509 -in srv.pem -outform DER -out srv.der && openssl x509 -in ca.pem -outform DER -out ca.der"
        ));
        (
            std::fs::read(dir.join("srv.der")).unwrap(),
            std::fs::read(dir.join("ca.der")).unwrap(),
        )
    }

    fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching,
            data,
        }
    }

    fn check(records: &[Tlsa], srv: &[u8], chain: &[Vec<u8>], host: &str) -> Result<(), String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let ee = CertificateDer::from(srv.to_vec());
        let ints: Vec<CertificateDer<'static>> = chain
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect();
        let name = ServerName::try_from(host.to_string()).unwrap();
        authenticated(records, &ee, &ints, &name, UnixTime::now(), &provider)
    }

    #[test]
    fn dane_ee_and_dane_ta_records_made_by_openssl_match() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let (srv, ca) = pki(dir.path());
        // The TLSA data as an administrator makes it.
        let ee_spki_256 = hex(&sh(&format!(
            "openssl x509 -in {d}/srv.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum"
        )));
        let ee_cert_512 = hex(&sh(&format!(
            "openssl x509 -in {d}/srv.pem -outform DER | sha512sum"
        )));
        let ta_spki_256 = hex(&sh(&format!(
            "openssl x509 -in {d}/ca.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum"
        )));
        let ee_spki_full = sh(&format!(
            "openssl x509 -in {d}/srv.pem -pubkey -noout | openssl pkey -pubin -outform DER"
        ));

        // DANE-EE 3 1 1, 3 0 2, 3 1 0: the server certificate alone; no name check.
        for r in [
            rec(3, 1, 1, ee_spki_256.clone()),
            rec(3, 0, 2, ee_cert_512),
            rec(3, 1, 0, ee_spki_full),
        ] {
            assert_eq!(
                check(std::slice::from_ref(&r), &srv, &[], "other.example"),
                Ok(()),
                "{r:?}"
            );
        }
        // DANE-TA 2 1 1: the CA must be in the chain, and the name must match.
        let ta = rec(2, 1, 1, ta_spki_256.clone());
        assert_eq!(
            check(
                std::slice::from_ref(&ta),
                &srv,
                std::slice::from_ref(&ca),
                "mx.example.net"
            ),
            Ok(())
        );
        let e = check(
            std::slice::from_ref(&ta),
            &srv,
            std::slice::from_ref(&ca),
            "evil.example",
        )
        .unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let e = check(&[ta], &srv, &[], "mx.example.net").unwrap_err();
        assert!(e.contains("matches none"), "TA not presented: {e}");
        // A record for another key, or a DANE-EE record naming the CA: no match.
        let mut wrong = ee_spki_256.clone();
        wrong[0] ^= 1;
        assert!(check(
            &[rec(3, 1, 1, wrong)],
            &srv,
            std::slice::from_ref(&ca),
            "mx.example.net"
        )
        .is_err());
        assert!(check(&[rec(3, 1, 1, ta_spki_256)], &srv, &[ca], "mx.example.net").is_err());
    }

    #[test]
    fn only_hosts_of_the_validated_mx_answer_are_tried() {
        let t = |h: &str| super::super::route::Target {
            host: h.into(),
            addr: "192.0.2.1:25".parse().unwrap(),
        };
        let kept = only_validated(
            vec![
                t("MX1.example.net."),
                t("forged.example"),
                t("mx2.example.net"),
            ],
            &["mx1.example.net".into(), "mx2.example.net".into()],
        );
        let names: Vec<&str> = kept.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(names, ["MX1.example.net.", "mx2.example.net"]);
    }

    #[test]
    fn only_validated_usable_records_are_used() {
        let ok = rec(3, 1, 1, vec![0; 32]);
        assert_eq!(
            usable_records(
                "mx.example.net",
                TlsaAnswer::Secure(vec![ok.clone(), rec(1, 1, 1, vec![])])
            ),
            Ok(vec![ok.clone()])
        );
        let pkix_only = usable_records("mx", TlsaAnswer::Secure(vec![rec(0, 0, 1, vec![])]));
        assert!(pkix_only.unwrap_err().contains("no usable TLSA"));
        let e = usable_records(
            "mx",
            TlsaAnswer::NotValidated("DNSSEC proof Insecure".into()),
        );
        assert!(e.unwrap_err().contains("not DNSSEC-validated"));
        assert!(usable_records("mx", TlsaAnswer::None)
            .unwrap_err()
            .contains("no TLSA records for _25._tcp.mx"));
        assert!(usable_records("mx", TlsaAnswer::Failed("timeout".into()))
            .unwrap_err()
            .contains("failed"));
    }
}
