//! Routing by recipient: a local-domain recipient goes to the internal mail server, every other one
//! to the smarthost or the domain's MX hosts — whoever sent the message, so internal mail relayed
//! through Segl never loops back to its own MX.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::config::{parse_host_port, Config};
use crate::smtp::wire::domain_of;

/// Where a recipient's mail goes. Recipients with the same route share one SMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `delivery.inbound_next_hop`: the organisation's own mail server.
    Inbound,
    /// `delivery.outbound_smarthost`.
    Smarthost,
    /// MX lookup of this (lower-case) domain.
    Mx(String),
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Inbound => f.write_str("inbound-next-hop"),
            Route::Smarthost => f.write_str("smarthost"),
            Route::Mx(d) => write!(f, "mx:{d}"),
        }
    }
}

pub fn route_for(cfg: &Config, recipient: &str) -> Route {
    match domain_of(recipient) {
        Some(d) if cfg.is_local_domain(&d) => Route::Inbound,
        // `postmaster` without a domain is ours (RFC 5321 §4.1.1.3).
        None => Route::Inbound,
        Some(d) if cfg.delivery.outbound_smarthost.is_empty() => Route::Mx(d),
        Some(_) => Route::Smarthost,
    }
}

/// One host to try, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Try again later (DNS server failure, timeout).
    #[error("DNS lookup for {0} failed temporarily: {1}")]
    Temporary(String, String),
    /// The domain cannot receive mail (no such domain, null MX, no address).
    #[error("{1}")]
    Permanent(String, String),
}

#[derive(Clone)]
pub struct Resolver {
    inner: Option<TokioResolver>,
    mx_port: u16,
    /// TLSA records for TLS level `dane` (DNSSEC-validated).
    pub tlsa: std::sync::Arc<dyn super::dane::TlsaSource>,
}

impl Resolver {
    /// A resolver using `delivery.dns_servers`, or the system configuration when it is empty.
    /// `None` inside when neither is usable: MX routes then fail temporarily with a clear reason.
    pub fn new(cfg: &Config) -> Resolver {
        let inner = match crate::dns::configured(&cfg.delivery.dns_servers) {
            None => TokioResolver::builder_tokio()
                .and_then(|b| b.build())
                .map_err(|e| tracing::warn!(error = %e, "system DNS configuration unusable"))
                .ok(),
            Some(rc) => TokioResolver::builder_with_config(rc, TokioRuntimeProvider::default())
                .build()
                .map_err(|e| tracing::warn!(error = %e, "DNS resolver configuration unusable"))
                .ok(),
        };
        Resolver {
            inner,
            mx_port: cfg.delivery.mx_port,
            tlsa: std::sync::Arc::new(super::dane::DnssecTlsa::new(&cfg.delivery.dns_servers)),
        }
    }

    /// The hosts to try for a route, best first.
    pub async fn targets(&self, cfg: &Config, route: &Route) -> Result<Vec<Target>, ResolveError> {
        match route {
            Route::Inbound => self.static_hop(&cfg.delivery.inbound_next_hop).await,
            Route::Smarthost => self.static_hop(&cfg.delivery.outbound_smarthost).await,
            Route::Mx(domain) => self.mx(domain).await,
        }
    }

    async fn static_hop(&self, hop: &str) -> Result<Vec<Target>, ResolveError> {
        let (host, port) =
            parse_host_port(hop, 25).map_err(|e| ResolveError::Permanent(hop.into(), e))?;
        self.addresses(&host, port).await
    }

    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<Target>, ResolveError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![Target {
                host: host.to_string(),
                addr: SocketAddr::new(ip, port),
            }]);
        }
        let r = self.resolver(host)?;
        match r.lookup_ip(fqdn(host)).await {
            Ok(ips) => Ok(ips
                .iter()
                .map(|ip| Target {
                    host: host.to_string(),
                    addr: SocketAddr::new(ip, port),
                })
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(ResolveError::Permanent(
                host.into(),
                format!("host {host} has no address"),
            )),
            Err(e) => Err(ResolveError::Temporary(host.into(), e.to_string())),
        }
    }

    fn resolver(&self, name: &str) -> Result<&TokioResolver, ResolveError> {
        self.inner.as_ref().ok_or_else(|| {
            ResolveError::Temporary(name.into(), "no usable DNS resolver configured".into())
        })
    }

    async fn mx(&self, domain: &str) -> Result<Vec<Target>, ResolveError> {
        if domain.starts_with('[') && domain.ends_with(']') {
            // An address literal: deliver to it directly.
            let lit = domain.trim_start_matches('[').trim_end_matches(']');
            let lit = lit.strip_prefix("IPv6:").unwrap_or(lit);
            let ip: IpAddr = lit.parse().map_err(|_| {
                ResolveError::Permanent(domain.into(), format!("bad address literal {domain}"))
            })?;
            return Ok(vec![Target {
                host: domain.into(),
                addr: SocketAddr::new(ip, self.mx_port),
            }]);
        }
        let r = self.resolver(domain)?;
        let mut hosts: Vec<(u16, String)> = match r.mx_lookup(fqdn(domain)).await {
            Ok(l) => l
                .answers()
                .iter()
                .filter_map(|rec| match &rec.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_ascii().trim_end_matches('.').to_string(),
                    )),
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_nx_domain() => {
                return Err(ResolveError::Permanent(
                    domain.into(),
                    format!("domain {domain} does not exist"),
                ))
            }
            // No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
            Err(e) if e.is_no_records_found() => vec![(0, domain.to_string())],
            Err(e) => return Err(ResolveError::Temporary(domain.into(), e.to_string())),
        };
        // Null MX (RFC 7505): the domain accepts no mail.
        if hosts.len() == 1 && hosts[0].1.is_empty() {
            return Err(ResolveError::Permanent(
                domain.into(),
                format!("domain {domain} accepts no mail (null MX)"),
            ));
        }
        hosts.retain(|(_, h)| !h.is_empty());
        // Equal preferences are tried in random order (RFC 5321 §5.1).
        use rand::seq::SliceRandom;
        hosts.shuffle(&mut rand::thread_rng());
        hosts.sort_by_key(|(p, _)| *p);
        let mut out = vec![];
        let mut last_err = None;
        for (_, h) in hosts {
            match self.addresses(&h, self.mx_port).await {
                Ok(t) => out.extend(t),
                Err(e) => last_err = Some(e),
            }
        }
        match (out.is_empty(), last_err) {
            (false, _) => Ok(out),
            (true, Some(e)) => Err(e),
            (true, None) => Err(ResolveError::Permanent(
                domain.into(),
                format!("no mail host for {domain}"),
            )),
        }
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_recipient() {
        let mut cfg = Config::default_config();
        assert_eq!(route_for(&cfg, "u@Example.ORG"), Route::Inbound);
        assert_eq!(route_for(&cfg, "postmaster"), Route::Inbound);
        assert_eq!(
            route_for(&cfg, "p@partner.test"),
            Route::Mx("partner.test".into())
        );
        cfg.delivery.outbound_smarthost = "127.0.0.1:2599".into();
        assert_eq!(route_for(&cfg, "p@partner.test"), Route::Smarthost);
        assert_eq!(route_for(&cfg, "u@example.org"), Route::Inbound);
    }
}
