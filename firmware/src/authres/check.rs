//! The DKIM, SPF and DMARC checks themselves, with `mail-auth` and the configured DNS servers.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::ResolverOpts;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, MessageAuthenticator};

use crate::config::Config;
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// One authenticator (resolver and its cache) for the process, rebuilt when
/// `delivery.dns_servers` changes.
static SHARED: Mutex<Option<(Vec<String>, Arc<MessageAuthenticator>)>> = Mutex::new(None);

fn build(servers: &[String]) -> Option<MessageAuthenticator> {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs(3);
    let made = match crate::dns::configured(servers) {
        Some(rc) => MessageAuthenticator::new(rc, opts),
        None => MessageAuthenticator::new_system_conf(),
    };
    made.map_err(|e| tracing::warn!(error = %e, "authres: DNS resolver unusable"))
        .ok()
}

fn shared(servers: &[String]) -> Option<Arc<MessageAuthenticator>> {
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((s, a)) = slot.as_ref() {
        if s.as_slice() == servers {
            return Some(a.clone());
        }
    }
    let a = Arc::new(build(servers)?);
    *slot = Some((servers.to_vec(), a.clone()));
    Some(a)
}

/// [`verify`] from the process stage's blocking thread: on the gateway's runtime (its resolver
/// stays cached), or, outside any runtime (unit tests), on a runtime of its own.
pub(super) fn verify_blocking(cfg: &Config, env: &Envelope, message: &[u8]) -> Option<String> {
    let ip = env.client.ip?;
    let servers = &cfg.delivery.dns_servers;
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            let auth = shared(servers)?;
            Some(rt.block_on(verify(&auth, cfg, ip, env, message)))
        }
        Err(_) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let auth = rt.block_on(async { build(servers) })?;
            Some(rt.block_on(verify(&auth, cfg, ip, env, message)))
        }
    }
}

/// The value of our `Authentication-Results` field (`authserv-id; dkim=…; spf=…; dmarc=…`) for
/// `message` received from `ip`. Each check gets what is left of `authres.timeout_secs`; one
/// that runs out reads `temperror (timeout)`, and so does DMARC, which needs both others.
pub async fn verify(
    auth: &MessageAuthenticator,
    cfg: &Config,
    ip: IpAddr,
    env: &Envelope,
    message: &[u8],
) -> String {
    let id = super::authserv_id(cfg);
    let deadline = Instant::now() + Duration::from_secs(cfg.authres.timeout_secs);
    let left = || deadline.saturating_duration_since(Instant::now());
    let Some(msg) = AuthenticatedMessage::parse(message) else {
        return format!("{id}; none (message header not parseable)");
    };
    let helo = env.client.helo.as_str();
    let mail_from = env.mail_from.as_str();
    // The SPF identity: MAIL FROM, or for the null sender postmaster@HELO (RFC 7208 §2.4).
    let mail_from_domain = domain_of(mail_from).unwrap_or_else(|| helo.to_ascii_lowercase());

    let dkim = tokio::time::timeout(left(), auth.verify_dkim(&msg))
        .await
        .ok();
    let spf = tokio::time::timeout(
        left(),
        auth.verify_spf(SpfParameters::verify(ip, helo, id, mail_from)),
    )
    .await
    .ok();
    let dmarc = match (&dkim, &spf) {
        (Some(d), Some(s)) => tokio::time::timeout(
            left(),
            auth.verify_dmarc(DmarcParameters::new(&msg, d, &mail_from_domain, s)),
        )
        .await
        .ok(),
        _ => None,
    };

    let mut ar = AuthenticationResults::new(id);
    let mut timed_out = vec![];
    match &dkim {
        Some(d) if d.is_empty() => {}
        Some(d) => ar = ar.with_dkim_results(d, msg.from()),
        None => timed_out.push("dkim"),
    }
    match &spf {
        Some(s) => ar = ar.with_spf_mailfrom_result(s, ip, mail_from, helo),
        None => timed_out.push("spf"),
    }
    match &dmarc {
        Some(d) => ar = ar.with_dmarc_result(d),
        None => timed_out.push("dmarc"),
    }
    let mut value = ar.to_string();
    if dkim.as_ref().is_some_and(|d| d.is_empty()) {
        // In the usual order dkim; spf; dmarc, right after the authserv-id.
        value.insert_str(id.len(), ";\r\n\tdkim=none (no signature)");
    }
    for what in timed_out {
        value.push_str(&format!(";\r\n\t{what}=temperror (timeout)"));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DNS server that never answers: the check ends at `authres.timeout_secs` with
    /// `temperror` for each part, instead of holding the message.
    #[test]
    fn silent_dns_gives_temperror_within_the_timeout() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut cfg = Config::parse(crate::config::DEFAULT_TOML, "default").unwrap();
        cfg.delivery.dns_servers = vec![silent.local_addr().unwrap().to_string()];
        cfg.authres.timeout_secs = 1;
        cfg.smtp.hostname = "gw.test".into();
        let (mut env, _) = crate::license::notice::message(
            "mx.sender.test",
            "alice@example.org",
            &crate::license::state::evaluate(None, &[], 1, "b", true, "k").0,
            0,
        );
        env.client.ip = Some("192.0.2.7".parse().unwrap());
        env.mail_from = "bob@sender.test".into();
        let msg =
            b"DKIM-Signature: v=1; a=rsa-sha256; d=sender.test; s=s1; h=from; bh=AAAA; b=AAAA\r\n\
From: bob@sender.test\r\nSubject: x\r\n\r\nbody\r\n";
        let started = Instant::now();
        let value = verify_blocking(&cfg, &env, msg).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert!(value.starts_with("gw.test;"), "{value}");
        assert!(value.contains("temperror"), "{value}");
        assert!(value.contains("dmarc=temperror (timeout)"), "{value}");
    }
}
