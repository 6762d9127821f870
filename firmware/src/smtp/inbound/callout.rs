//! Recipient callout: ask the internal mail server at RCPT time whether a local recipient exists,
//! so that we never accept mail we would later have to bounce (backscatter). Answers are cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::parse_host_port;
use crate::smtp::outbound::client::SmtpClient;

const POSITIVE_TTL: Duration = Duration::from_secs(600);
const NEGATIVE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Exists,
    Rejected(String),
    /// The next hop could not be asked (down, 4xx): answer 451 so the sender retries.
    Unknown(String),
}

pub struct Callout {
    /// Each callout asks the next hop configured when it starts.
    live: Arc<crate::config::LiveConfig>,
    cache: Mutex<HashMap<String, (Verdict, Instant)>>,
}

impl Callout {
    pub fn new(live: Arc<crate::config::LiveConfig>) -> Callout {
        Callout {
            live,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn check(&self, address: &str) -> Verdict {
        let key = address.to_ascii_lowercase();
        if let Ok(c) = self.cache.lock() {
            if let Some((v, until)) = c.get(&key) {
                if *until > Instant::now() {
                    return v.clone();
                }
            }
        }
        let v = self.ask(address).await;
        let ttl = match v {
            Verdict::Exists => Some(POSITIVE_TTL),
            Verdict::Rejected(_) => Some(NEGATIVE_TTL),
            Verdict::Unknown(_) => None,
        };
        if let (Some(ttl), Ok(mut c)) = (ttl, self.cache.lock()) {
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(key, (v.clone(), Instant::now() + ttl));
        }
        v
    }

    async fn ask(&self, address: &str) -> Verdict {
        let cfg = self.live.get();
        let hop = &cfg.delivery.inbound_next_hop;
        let Ok((host, port)) = parse_host_port(hop, 25) else {
            return Verdict::Unknown(format!("bad inbound_next_hop {hop:?}"));
        };
        let addr = match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(mut a) => match a.next() {
                Some(a) => a,
                None => return Verdict::Unknown(format!("{host} has no address")),
            },
            Err(e) => return Verdict::Unknown(e.to_string()),
        };
        let t = Duration::from_secs(10);
        let (mut c, greeting) = match SmtpClient::connect(addr, &host, t, t).await {
            Ok(x) => x,
            Err(e) => return Verdict::Unknown(e.to_string()),
        };
        let result = async {
            if !greeting.is_ok() {
                return Verdict::Unknown(greeting.one_line());
            }
            match c.ehlo(&cfg.smtp.hostname).await {
                Ok(r) if r.is_ok() => {}
                Ok(r) => return Verdict::Unknown(r.one_line()),
                Err(e) => return Verdict::Unknown(e.to_string()),
            }
            match c.command("MAIL FROM:<>").await {
                Ok(r) if r.is_ok() => {}
                Ok(r) => return Verdict::Unknown(r.one_line()),
                Err(e) => return Verdict::Unknown(e.to_string()),
            }
            match c.command(&format!("RCPT TO:<{address}>")).await {
                Ok(r) if r.is_ok() => Verdict::Exists,
                Ok(r) if r.is_permanent() => Verdict::Rejected(r.one_line()),
                Ok(r) => Verdict::Unknown(r.one_line()),
                Err(e) => Verdict::Unknown(e.to_string()),
            }
        }
        .await;
        let _ = c.command("RSET").await;
        c.quit().await;
        result
    }
}
