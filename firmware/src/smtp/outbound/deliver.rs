//! One delivery attempt: a batch of recipients that share a route, tried host by host.
//! The result is per recipient, so the queue can retry, finish or bounce each one on its own.

use crate::spool::EnhancedStatus;
use std::sync::Arc;
use std::time::Duration;

use super::cache::{ConnectionCache, Key};
use super::client::{ClientError, EnvelopeReplies, Extensions, ServerReply, SmtpClient};
use super::route::{ResolveError, Resolver, Route, Target};
use crate::config::{Config, TlsLevel};
use crate::queue::Outcome;
use crate::smtp::wire::xtext_encode;
use crate::spool::Envelope;
use crate::spool::{Body, Ret};

pub struct Deliverer {
    pub cfg: Arc<Config>,
    pub resolver: Resolver,
    pub tls: crate::tls::ClientTls,
    /// Sessions kept open after a delivery for the next one to the same host.
    pub cache: Arc<ConnectionCache>,
}

/// Failure of a whole host; the next host is tried, and if none is left every recipient gets it.
enum HostFailure {
    Temporary(String),
    Permanent(EnhancedStatus, String),
}

impl Deliverer {
    /// Deliver `message` to `recipients` (all on `route`). Returns one outcome per recipient, in
    /// the same order. From level `encrypt` up the message is never sent without STARTTLS;
    /// at `verify` only to a host whose certificate verifies.
    pub async fn deliver_route(
        &self,
        route: &Route,
        level: TlsLevel,
        env: &Envelope,
        recipients: &[String],
        message: &[u8],
    ) -> Vec<Outcome> {
        let all = |o: Outcome| vec![o; recipients.len()];
        let targets = match self.resolver.targets(&self.cfg, route).await {
            Ok(t) if !t.is_empty() => t,
            Ok(_) => {
                return all(Outcome::Deferred {
                    remote: None,
                    reason: format!("no host found for {route}"),
                })
            }
            Err(ResolveError::Temporary(_, why)) => {
                return all(Outcome::Deferred {
                    remote: None,
                    reason: format!("DNS: {why}"),
                })
            }
            Err(ResolveError::Permanent(_, why)) => {
                return all(Outcome::Failed {
                    remote: None,
                    status: EnhancedStatus::BAD_SYSTEM,
                    reason: why,
                })
            }
        };
        let targets = match self.dane_targets(route, level, targets).await {
            Ok(t) => t,
            Err(reason) => {
                return all(Outcome::Deferred {
                    remote: None,
                    reason,
                })
            }
        };
        let mut last = String::new();
        for t in targets.iter().take(10) {
            // Opportunistic TLS: if the handshake fails, try the same host once more in clear
            // (unless TLS is required), as a sender that sees no STARTTLS would.
            for use_tls in [true, false] {
                if !use_tls && level != TlsLevel::May {
                    break;
                }
                match self
                    .attempt(t, env, recipients, message, use_tls, level)
                    .await
                {
                    Ok(outcomes) => return outcomes,
                    Err((HostFailure::Permanent(status, why), _)) => {
                        return all(Outcome::Failed {
                            remote: Some(t.host.clone()),
                            status,
                            reason: why,
                        })
                    }
                    Err((HostFailure::Temporary(why), tls_failed)) => {
                        tracing::info!(route = %route, host = %t.host, addr = %t.addr, reason = %why, "host failed");
                        last = format!("{} [{}]: {why}", t.host, t.addr);
                        if !tls_failed {
                            break;
                        }
                    }
                }
            }
        }
        all(Outcome::Deferred {
            remote: None,
            reason: last,
        })
    }

    /// One SMTP session with one host. `Err((_, true))` means the TLS handshake failed.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        t: &Target,
        env: &Envelope,
        recipients: &[String],
        message: &[u8],
        use_tls: bool,
        level: TlsLevel,
    ) -> Result<Vec<Outcome>, (HostFailure, bool)> {
        let temp = |e: ClientError| (HostFailure::Temporary(e.to_string()), false);
        let key = Key {
            addr: t.addr,
            host: t.host.clone(),
            use_tls,
            level,
        };
        let (mut c, replies) = self
            .session_with_envelope(t, &key, env, recipients, message)
            .await?;
        // The level reached, logged for every delivery (what an auditor asks first).
        let reached = match (c.tls.is_some(), level) {
            (true, TlsLevel::Verify) => "verified",
            (true, TlsLevel::Dane) => "dane",
            (true, _) => "encrypted",
            (false, _) => "none",
        };
        let data_open = replies.data.as_ref().is_some_and(|d| d.code == 354);
        if !replies.mail.is_ok() {
            if data_open {
                let _ = c.abort_data().await;
            }
            c.quit().await;
            return Err((host_failure("MAIL FROM", &replies.mail), false));
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; recipients.len()];
        let mut accepted = 0;
        for (i, r) in replies.rcpts.iter().enumerate() {
            if r.is_ok() {
                accepted += 1;
            } else if let Some(o) = outcomes.get_mut(i) {
                *o = Some(rcpt_outcome(&t.host, r));
            }
        }
        if accepted == 0 {
            if data_open && c.abort_data().await.is_err() {
                return Ok(outcomes.into_iter().flatten().collect());
            }
            // The next user of the session starts with RSET.
            self.cache.put(key, c);
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let r = match replies.data {
            Some(d) if d.code == 354 => c.send_content(message).await.map_err(temp)?,
            Some(d) => d,
            None => ServerReply {
                code: 451,
                text: "4.5.0 DATA not sent".into(),
            },
        };
        crate::testhook::stall_if("delivered", &recipients.join(" "));
        tracing::info!(id = %env.id, host = %t.host, tls = %reached, required = %level.as_str(),
            reply = %r.one_line(), "delivery session");
        let final_outcome = data_outcome(&t.host, &r);
        if r.code == 421 {
            c.quit().await; // the host is closing the session
        } else {
            self.cache.put(key, c);
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| final_outcome.clone()))
            .collect())
    }

    /// A session to `t` that took the envelope of `env` for `recipients`, and the replies. A
    /// kept session first; one the host closed meanwhile shows itself in the envelope's replies
    /// (nothing of the message was sent yet), and the next one or a new one is used.
    async fn session_with_envelope(
        &self,
        t: &Target,
        key: &Key,
        env: &Envelope,
        recipients: &[String],
        message: &[u8],
    ) -> Result<(SmtpClient, EnvelopeReplies), (HostFailure, bool)> {
        let temp = |e: ClientError| (HostFailure::Temporary(e.to_string()), false);
        loop {
            let (mut c, reused) = match self.cache.take(key) {
                Some(c) => (c, true),
                None => (self.open(t, key.use_tls, key.level).await?, false),
            };
            if let Err(f) = check_limits(&c.extensions, t, env, message) {
                c.quit().await;
                return Err((f, false));
            }
            let mail = mail_from(env, &c.extensions, message);
            let dsn = c.extensions.has("DSN");
            let rcpts: Vec<String> = recipients.iter().map(|r| rcpt_to(env, r, dsn)).collect();
            let res = c.envelope(reused, &mail, &rcpts).await;
            let refused_rset = matches!(&res, Ok(r) if r.rset.as_ref().is_some_and(|r| !r.is_ok()));
            if reused && (res.is_err() || refused_rset) {
                tracing::debug!(host = %t.host, "kept session is gone; trying another");
                if refused_rset {
                    c.quit().await;
                }
                continue;
            }
            return Ok((c, res.map_err(temp)?));
        }
    }

    /// Connect, read the greeting, EHLO, and STARTTLS when offered and `use_tls`. A session
    /// without TLS is refused (temporarily) from level `encrypt` up; at `verify` the handshake
    /// checks the certificate chain and the host name. `Err((_, true))`: the TLS handshake
    /// failed.
    async fn open(
        &self,
        t: &Target,
        use_tls: bool,
        level: TlsLevel,
    ) -> Result<SmtpClient, (HostFailure, bool)> {
        let d = &self.cfg.delivery;
        let temp = |e: ClientError| (HostFailure::Temporary(e.to_string()), false);
        let config = self
            .client_tls(&t.host, level)
            .await
            .map_err(|why| (HostFailure::Temporary(why), false))?;
        let (mut c, greeting) = SmtpClient::connect(
            t.addr,
            &t.host,
            Duration::from_secs(d.connect_timeout_secs),
            Duration::from_secs(d.command_timeout_secs),
        )
        .await
        .map_err(temp)?;
        if !greeting.is_ok() {
            c.quit().await;
            return Err((
                HostFailure::Temporary(format!("greeting: {}", greeting.one_line())),
                false,
            ));
        }
        let hostname = &self.cfg.smtp.hostname;
        let r = c.ehlo(hostname).await.map_err(temp)?;
        if !r.is_ok() {
            c.quit().await;
            return Err((
                HostFailure::Temporary(format!("EHLO: {}", r.one_line())),
                false,
            ));
        }
        if use_tls && c.extensions.has("STARTTLS") {
            let server_name = t.host.clone();
            match c.starttls(config, &server_name, hostname).await {
                Ok((nc, r)) if nc.tls.is_some() && r.is_ok() => c = nc,
                Ok((nc, r)) => {
                    nc.quit().await;
                    return Err((
                        HostFailure::Temporary(format!("STARTTLS: {}", r.one_line())),
                        true,
                    ));
                }
                Err(e) => {
                    return Err((
                        HostFailure::Temporary(handshake_failure(level, &t.host, &e)),
                        true,
                    ))
                }
            }
        }
        if level != TlsLevel::May && c.tls.is_none() {
            c.quit().await;
            return Err((
                HostFailure::Temporary(format!(
                    "TLS is required for this recipient domain (level {}) but {} does not offer STARTTLS",
                    level.as_str(),
                    t.host
                )),
                false,
            ));
        }
        Ok(c)
    }
}

impl Deliverer {
    /// At level dane, the MX hosts of the validated MX answer only ([`super::dane::only_validated`]).
    async fn dane_targets(
        &self,
        route: &Route,
        level: TlsLevel,
        targets: Vec<Target>,
    ) -> Result<Vec<Target>, String> {
        let Route::Mx(domain) = route else {
            return Ok(targets);
        };
        if level != TlsLevel::Dane {
            return Ok(targets);
        }
        let secure = self.resolver.tlsa.mx_hosts(domain).await?;
        let kept = super::dane::only_validated(targets, &secure);
        if kept.is_empty() {
            return Err(format!(
                "no MX host of {domain} is in its DNSSEC-validated MX records (TLS level dane)"
            ));
        }
        Ok(kept)
    }

    /// The client TLS configuration for `host` at `level`. At level dane the TLSA records come
    /// first: without usable validated ones the host is not even connected to.
    async fn client_tls(
        &self,
        host: &str,
        level: TlsLevel,
    ) -> Result<Arc<rustls::ClientConfig>, String> {
        if level != TlsLevel::Dane {
            return self.tls.for_level(level);
        }
        let answer = self.resolver.tlsa.tlsa(host).await;
        let records = super::dane::usable_records(host, answer)?;
        super::dane::DaneVerifier::client_config(records)
    }
}

/// Why a TLS handshake with `host` failed, naming the level whose check refused it.
fn handshake_failure(level: TlsLevel, host: &str, e: &ClientError) -> String {
    match level {
        TlsLevel::Dane => format!(
            "TLS certificate of {host} not authenticated by its TLSA records (TLS level dane): {e}"
        ),
        TlsLevel::Verify => {
            format!("TLS certificate of {host} not verified (TLS level verify): {e}")
        }
        _ => e.to_string(),
    }
}

/// What the host cannot take at all: SMTPUTF8 addresses without the extension, a message
/// over its SIZE limit.
fn check_limits(
    ext: &Extensions,
    t: &Target,
    env: &Envelope,
    message: &[u8],
) -> Result<(), HostFailure> {
    if env.smtputf8 && !ext.has("SMTPUTF8") {
        return Err(HostFailure::Permanent(
            EnhancedStatus::NO_SMTPUTF8,
            format!("{} does not support SMTPUTF8 addresses", t.host),
        ));
    }
    if let Some(max) = ext.size {
        if message.len() as u64 > max {
            return Err(HostFailure::Permanent(
                EnhancedStatus::TOO_BIG,
                format!(
                    "message of {} bytes exceeds {}'s limit of {max}",
                    message.len(),
                    t.host
                ),
            ));
        }
    }
    Ok(())
}

/// `MAIL FROM` with the parameters the host supports (SIZE, BODY, SMTPUTF8, RET, ENVID).
fn mail_from(env: &Envelope, ext: &Extensions, message: &[u8]) -> String {
    let mut mail = format!("MAIL FROM:<{}>", env.mail_from);
    if ext.size.is_some() || ext.has("SIZE") {
        mail.push_str(&format!(" SIZE={}", message.len()));
    }
    if ext.has("8BITMIME") {
        match env.body {
            Some(Body::EightBitMime) => mail.push_str(" BODY=8BITMIME"),
            Some(Body::SevenBit) => mail.push_str(" BODY=7BIT"),
            None if !message.is_ascii() => mail.push_str(" BODY=8BITMIME"),
            None => {}
        }
    }
    if env.smtputf8 {
        mail.push_str(" SMTPUTF8");
    }
    if ext.has("DSN") {
        match env.ret {
            Some(Ret::Full) => mail.push_str(" RET=FULL"),
            Some(Ret::Hdrs) => mail.push_str(" RET=HDRS"),
            None => {}
        }
        if let Some(e) = &env.envid {
            mail.push_str(&format!(" ENVID={}", xtext_encode(e)));
        }
    }
    mail
}

/// `RCPT TO`, with the recipient's NOTIFY and ORCPT when the host supports DSN.
fn rcpt_to(env: &Envelope, rcpt: &str, dsn: bool) -> String {
    let mut cmd = format!("RCPT TO:<{rcpt}>");
    if dsn {
        if let Some(er) = env.recipients.iter().find(|r| r.address == rcpt) {
            if let Some(n) = er.notify {
                cmd.push_str(&format!(" NOTIFY={n}"));
            }
            if let Some(o) = &er.orcpt {
                if let Some((ty, addr)) = o.split_once(';') {
                    cmd.push_str(&format!(" ORCPT={ty};{}", xtext_encode(addr)));
                }
            }
        }
    }
    cmd
}

/// The outcome for every recipient the host accepted, from its answer to the data.
fn data_outcome(host: &str, r: &ServerReply) -> Outcome {
    if r.is_ok() {
        Outcome::Delivered {
            remote: host.to_string(),
            reply: r.one_line(),
        }
    } else if r.is_permanent() {
        Outcome::Failed {
            remote: Some(host.to_string()),
            status: r.permanent_status(EnhancedStatus::PERMANENT),
            reason: r.one_line(),
        }
    } else {
        Outcome::Deferred {
            remote: Some(host.to_string()),
            reason: r.one_line(),
        }
    }
}

fn host_failure(stage: &str, r: &ServerReply) -> HostFailure {
    if r.is_permanent() {
        HostFailure::Permanent(
            r.permanent_status(EnhancedStatus::PERMANENT),
            format!("{stage}: {}", r.one_line()),
        )
    } else {
        HostFailure::Temporary(format!("{stage}: {}", r.one_line()))
    }
}

fn rcpt_outcome(host: &str, r: &ServerReply) -> Outcome {
    if r.is_permanent() {
        Outcome::Failed {
            remote: Some(host.to_string()),
            status: r.permanent_status(EnhancedStatus::BAD_MAILBOX),
            reason: format!("RCPT TO: {}", r.one_line()),
        }
    } else {
        Outcome::Deferred {
            remote: Some(host.to_string()),
            reason: format!("RCPT TO: {}", r.one_line()),
        }
    }
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
