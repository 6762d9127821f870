//! Login rate limit: at most five wrong passwords a minute per client address and per user
//! name; the sixth attempt inside the minute is refused before any password is checked.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);
pub const MAX_FAILURES: usize = 5;

#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn keys(ip: Option<IpAddr>, user: &str) -> [String; 2] {
    [
        format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_default()),
        format!("user:{}", user.to_ascii_lowercase()),
    ]
}

impl LoginLimiter {
    /// Whether another attempt is allowed now.
    pub fn allowed(&self, ip: Option<IpAddr>, user: &str) -> bool {
        let now = Instant::now();
        let Ok(mut m) = self.failures.lock() else {
            return false;
        };
        keys(ip, user).iter().all(|k| match m.get_mut(k) {
            Some(q) => {
                while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    q.pop_front();
                }
                q.len() < MAX_FAILURES
            }
            None => true,
        })
    }

    pub fn failed(&self, ip: Option<IpAddr>, user: &str) {
        let now = Instant::now();
        if let Ok(mut m) = self.failures.lock() {
            if m.len() > 100_000 {
                // Bounded memory under a spray of names: forget the oldest state.
                m.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            }
            for k in keys(ip, user) {
                m.entry(k).or_default().push_back(now);
            }
        }
    }

    /// A correct password clears the user's count (not the address's).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(&format!("user:{}", user.to_ascii_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_is_refused() {
        let l = LoginLimiter::default();
        let ip = Some("192.0.2.1".parse().unwrap());
        for _ in 0..5 {
            assert!(l.allowed(ip, "root"));
            l.failed(ip, "root");
        }
        assert!(!l.allowed(ip, "root"));
        assert!(
            !l.allowed(Some("192.0.2.2".parse().unwrap()), "root"),
            "per user"
        );
        assert!(!l.allowed(ip, "other"), "per address");
        assert!(l.allowed(Some("192.0.2.2".parse().unwrap()), "other"));
    }
}
