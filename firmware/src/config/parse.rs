//! Parsers shared by the configuration and the code that uses it: listener addresses, next
//! hops, DNS servers, domain names, certificate fingerprints.

use std::net::SocketAddr;

use serde::Deserialize;

/// A string or a list of strings (an empty string: none).
pub(super) fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) if s.is_empty() => vec![],
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// 64 hex digits (colons and spaces allowed) as 32 bytes.
pub(super) fn parse_fingerprint(hex: &str) -> Option<[u8; 32]> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b":  ".contains(b)).collect();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// A listener address: `host:port` with an IP literal (`[::1]:25` for IPv6).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .map_err(|_| format!("{s:?} is not an address like 127.0.0.1:2525"))
}

/// A next hop: `host`, `host:port`, `[ipv6]:port`; `port` defaults to `default_port`.
pub fn parse_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty".into());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((sa.ip().to_string(), sa.port()));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: unclosed ["))?;
        let port = match port.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("{s:?}: bad port"))?,
            None if port.is_empty() => default_port,
            None => return Err(format!("{s:?}: junk after ]")),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port.parse().map_err(|_| format!("{s:?}: bad port"))?;
            if !is_domain(host) && host.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("{s:?}: bad host"));
            }
            Ok((host.to_string(), port))
        }
        _ => {
            if !is_domain(s) && s.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("{s:?}: bad host"));
            }
            Ok((s.to_string(), default_port))
        }
    }
}

/// A DNS server: an IP, or `ip:port` for a resolver on another port (tests use a loopback one).
pub fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not an IP address or ip:port"))
}

/// A syntactically plausible domain name (letters, digits, hyphens, dots; no empty labels).
pub fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}
