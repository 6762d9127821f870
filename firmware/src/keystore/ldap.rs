//! Recipient certificates from LDAP directories (`[lookup]`, DESIGN §3 "Certificate lookup"):
//! the local store first, then the configured directories in order. A certificate found is
//! checked like any other (names the address, valid, usable for encryption, chains to a trust
//! anchor when `require_trusted_chain`, not revoked) and cached in the keystore as a partner
//! certificate with source `ldap`, used for encryption only (never as pinned trust for
//! signatures). After `cache_hours` the directory is asked again; a certificate it no longer
//! holds is dropped. Addresses without a result are remembered for `negative_cache_minutes`.
//!
//! A directory that is down or slow never holds mail up: every connect and search has
//! `timeout_secs`, failures are logged with the URL and treated as "no certificate", and a
//! directory that failed is skipped for a minute (one timeout a minute, not one per recipient).
//! A failure is not remembered as "no certificate" for the address.
//!
//! The sync API of `ldap3` runs its own small runtime; the policy stage calls this from a
//! blocking thread (never from async code).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::model::{self, PartnerSource};
use super::Keystore;
use crate::config::LookupConfig;
use crate::smime::certs;

/// The configured LDAP directories, with the negative cache.
pub struct Directory {
    cfg: LookupConfig,
    password: Option<Zeroizing<String>>,
    misses: Mutex<HashMap<String, Instant>>,
    /// Directories that failed, and until when they are skipped.
    down: Mutex<HashMap<String, Instant>>,
}

/// How long a directory that did not answer is skipped (so a hung server costs one timeout a
/// minute, not one per recipient).
const DOWN_FOR: Duration = Duration::from_secs(60);

/// Why a directory could not be asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    #[error("cannot read lookup.bind_password_file {0}: {1}")]
    PasswordFile(String, #[source] std::io::Error),
    /// A directory server failed at one step of the lookup (connect, bind, naming context,
    /// search); the LDAP error is the source.
    #[error("{url}: {step}: {source}")]
    Server {
        url: String,
        step: String,
        #[source]
        source: Box<ldap3::LdapError>,
    },
    /// The server failed within the last minute and is not asked again yet.
    #[error("{url}: skipped: did not answer recently")]
    Skipped { url: String },
    #[error("no directory configured")]
    NotConfigured,
}

/// `address` for an LDAP filter (RFC 4515 escaping).
pub fn filter_for(template: &str, address: &str) -> String {
    template.replace("{address}", &ldap3::ldap_escape(address))
}

/// The base DN in an LDAP URL (`ldap://host/dc=example,dc=org`), percent-decoded.
pub fn url_base_dn(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let path = u.path().trim_start_matches('/');
    if path.is_empty() {
        return None;
    }
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Whether the returned attribute `name` is one of the configured certificate attributes
/// (`userCertificate;binary` and `userCertificate` name the same attribute).
fn wanted(attributes: &[String], name: &str) -> bool {
    let base = |s: &str| {
        s.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    attributes.iter().any(|a| base(a) == base(name))
}

impl Directory {
    /// The directories of `cfg`; `None` when none is configured.
    pub fn new(cfg: &LookupConfig) -> Result<Option<Arc<Directory>>, DirectoryError> {
        if cfg.ldap.is_empty() {
            return Ok(None);
        }
        let password = if cfg.bind_password_file.is_empty() {
            None
        } else {
            let text = std::fs::read_to_string(&cfg.bind_password_file)
                .map_err(|e| DirectoryError::PasswordFile(cfg.bind_password_file.clone(), e))?;
            Some(Zeroizing::new(
                text.lines().next().unwrap_or_default().to_string(),
            ))
        };
        Ok(Some(Arc::new(Directory {
            cfg: cfg.clone(),
            password,
            misses: Mutex::new(HashMap::new()),
            down: Mutex::new(HashMap::new()),
        })))
    }

    fn missed_recently(&self, address: &str) -> bool {
        let ttl = Duration::from_secs(self.cfg.negative_cache_minutes * 60);
        let mut m = self.misses.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, t| t.elapsed() < ttl);
        m.contains_key(address)
    }

    fn remember_miss(&self, address: &str) {
        if self.cfg.negative_cache_minutes > 0 {
            let mut m = self.misses.lock().unwrap_or_else(|p| p.into_inner());
            m.insert(address.to_string(), Instant::now());
        }
    }

    /// Certificates (DER) for `address` from the first directory that answers.
    fn search(&self, address: &str) -> Result<Vec<Vec<u8>>, DirectoryError> {
        let mut last = None;
        for url in &self.cfg.ldap {
            {
                let mut down = self.down.lock().unwrap_or_else(|p| p.into_inner());
                if down.get(url).is_some_and(|t| Instant::now() < *t) {
                    last = Some(DirectoryError::Skipped { url: url.clone() });
                    continue;
                }
                down.remove(url);
            }
            match self.search_one(url, address) {
                Ok(found) => return Ok(found),
                Err((step, source)) => {
                    let e = DirectoryError::Server {
                        url: url.clone(),
                        step,
                        source,
                    };
                    tracing::warn!(url = %url, address, error = %e, "LDAP directory did not answer; skipped for 60 s");
                    self.down
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(url.clone(), Instant::now() + DOWN_FOR);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(DirectoryError::NotConfigured))
    }

    /// One server: `Err` names the step that failed and the LDAP error.
    fn search_one(
        &self,
        url: &str,
        address: &str,
    ) -> Result<Vec<Vec<u8>>, (String, Box<ldap3::LdapError>)> {
        let timeout = Duration::from_secs(self.cfg.timeout_secs);
        let settings = LdapConnSettings::new().set_conn_timeout(timeout);
        let mut conn = LdapConn::with_settings(settings, url)
            .map_err(|e| ("connect".to_string(), Box::new(e)))?;
        if let Some(pw) = &self.password {
            conn.with_timeout(timeout)
                .simple_bind(&self.cfg.bind_dn, pw)
                .and_then(|r| r.success())
                .map_err(|e| (format!("bind as {}", self.cfg.bind_dn), Box::new(e)))?;
        }
        let base = match (self.cfg.base_dn.trim(), url_base_dn(url)) {
            (b, _) if !b.is_empty() => b.to_string(),
            (_, Some(b)) => b,
            _ => naming_context(&mut conn, timeout)
                .map_err(|e| {
                    (
                        "reading the naming context (root DSE)".to_string(),
                        Box::new(e),
                    )
                })?
                .unwrap_or_default(),
        };
        let filter = filter_for(&self.cfg.filter, address);
        let attrs: Vec<&str> = self.cfg.attributes.iter().map(String::as_str).collect();
        let (entries, _) = conn
            .with_timeout(timeout)
            .search(&base, Scope::Subtree, &filter, attrs)
            .and_then(|r| r.success())
            .map_err(|e| (format!("search {filter} under {base:?}"), Box::new(e)))?;
        let mut out = vec![];
        for e in entries {
            let e = SearchEntry::construct(e);
            for (name, values) in e.bin_attrs {
                if wanted(&self.cfg.attributes, &name) {
                    out.extend(values);
                }
            }
        }
        let _ = conn.unbind();
        tracing::debug!(url, address, found = out.len(), "LDAP search");
        Ok(out)
    }

    /// Looks `address` up and returns the best usable certificate (stored in the keystore).
    /// `Ok(None)`: the directory has none; `Err`: no directory answered.
    fn fetch(&self, ks: &Keystore, address: &str) -> Result<Option<Certificate>, DirectoryError> {
        let found = self.search(address)?;
        let parsed: Vec<Certificate> = found
            .iter()
            .filter_map(|der| certs::parse_der(der).ok())
            .collect();
        let anchors = ks.trust_anchors();
        let now = SystemTime::now();
        let mut usable: Vec<&Certificate> = vec![];
        for c in &parsed {
            let problems = if certs::match_address(c, address) != certs::AddressMatch::Exact {
                vec!["the certificate does not name the address".to_string()]
            } else if self.cfg.require_trusted_chain {
                certs::check_encryption_chain(c, &parsed, &anchors, now)
            } else {
                let (nb, na) = model::validity(c);
                let t = model::now();
                let mut p: Vec<String> = certs::check_encryption_cert(c)
                    .err()
                    .map(|e| e.to_string())
                    .into_iter()
                    .collect();
                if !(nb <= t && t <= na) {
                    p.push("expired or not yet valid".into());
                }
                p
            };
            let problems = if problems.is_empty() && ks.is_revoked(c) {
                vec!["revoked".to_string()]
            } else {
                problems
            };
            if problems.is_empty() {
                usable.push(c);
            } else {
                tracing::info!(address, subject = %c.tbs_certificate().subject(), problems = %problems.join("; "), "LDAP certificate not used");
            }
        }
        let Some(best) = usable.into_iter().max_by_key(|c| model::validity(c).0) else {
            return Ok(None);
        };
        match ks.add_from_directory(address, best) {
            Ok(rec) => {
                tracing::info!(address, partner = %rec.id, "certificate found in LDAP directory")
            }
            Err(e) => tracing::warn!(address, error = %e, "cannot cache LDAP certificate"),
        }
        Ok(Some(best.clone()))
    }
}

/// The first naming context of the server (root DSE), as the search base.
fn naming_context(
    conn: &mut LdapConn,
    timeout: Duration,
) -> Result<Option<String>, ldap3::LdapError> {
    let (entries, _) = conn
        .with_timeout(timeout)
        .search("", Scope::Base, "(objectClass=*)", vec!["namingContexts"])
        .and_then(|r| r.success())?;
    Ok(entries.into_iter().find_map(|e| {
        SearchEntry::construct(e)
            .attrs
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("namingContexts"))
            .and_then(|(_, v)| v.into_iter().next())
    }))
}

/// The certificate to encrypt to for `address`: the keystore first, then the directories.
pub fn encryption_cert(
    ks: &Keystore,
    dir: Option<&Directory>,
    address: &str,
) -> Option<Certificate> {
    let address = crate::address::normalize(address);
    let local = ks.encryption_partner(&address);
    let Some(dir) = dir else {
        return local.map(|(_, c)| c);
    };
    match local {
        Some((rec, cert)) => {
            let stale = rec.source == PartnerSource::Ldap
                && model::now() - rec.added > (dir.cfg.cache_hours as i64) * 3600;
            if !stale {
                return Some(cert);
            }
            match dir.fetch(ks, &address) {
                Ok(Some(c)) => Some(c),
                Ok(None) => {
                    tracing::info!(address, partner = %rec.id, "certificate no longer in the LDAP directory: dropped");
                    if let Err(e) = ks.delete_partner(&rec.id) {
                        tracing::warn!(address, error = %e, "cannot drop LDAP certificate");
                    }
                    // Another (imported, harvested) certificate may still serve the address.
                    ks.encryption_partner(&address)
                        .filter(|(r, _)| r.source != PartnerSource::Ldap)
                        .map(|(_, c)| c)
                }
                // The directory is down: the cached certificate stays good.
                Err(_) => Some(cert),
            }
        }
        None if dir.missed_recently(&address) => None,
        None => match dir.fetch(ks, &address) {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                dir.remember_miss(&address);
                None
            }
            // Not remembered: once the directory is back, the address is asked again.
            Err(_) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_escaped_and_urls_give_the_base() {
        assert_eq!(
            filter_for("(mail={address})", "a*b(c)@x.test"),
            "(mail=a\\2ab\\28c\\29@x.test)"
        );
        assert_eq!(
            url_base_dn("ldap://127.0.0.1:389/dc=example,dc=org").as_deref(),
            Some("dc=example,dc=org")
        );
        assert_eq!(
            url_base_dn("ldap://h/ou=People%20Here,dc=x").as_deref(),
            Some("ou=People Here,dc=x")
        );
        assert_eq!(url_base_dn("ldaps://h:636"), None);
        let attrs = vec!["userCertificate;binary".to_string()];
        assert!(wanted(&attrs, "usercertificate"));
        assert!(wanted(&attrs, "userCertificate;binary"));
        assert!(!wanted(&attrs, "userSMIMECertificate"));
    }
}
