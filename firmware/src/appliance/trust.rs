//! Clock trust. A box without a battery-backed clock starts in 1970; signing, verifying
//! certificates and stamping mail with that date would be wrong in ways nobody sees until a
//! partner complains. So until the clock is trustworthy the gateway accepts and spools mail
//! but neither processes nor delivers it (the queue asks [`crate::clock::Clock::trusted`]),
//! and the dashboard, `segl ctl status` and `GET /api/v1/status` say "clock not trusted yet".
//!
//! The clock is trusted when either
//! - it is later than the build date of this firmware (`SEGL_BUILD_UNIX`, set by build.rs):
//!   an RTC or a host clock that kept time, or
//! - on a box, the root helper `segl-netd` has set it from NTP once since boot
//!   (`/run/segl-netd/ntp-synced`).
//!
//! Once trusted, it stays trusted for the life of the process (a later jump is the queue's
//! monotonic timers' business, not a reason to stop mail).

use std::sync::atomic::{AtomicBool, Ordering};

/// The build date of this firmware, unix seconds.
pub const BUILD_UNIX: i64 = parse_build_unix(env!("SEGL_BUILD_UNIX"));

const fn parse_build_unix(s: &str) -> i64 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n: i64 = 0;
    while i < b.len() {
        if b[i] < b'0' || b[i] > b'9' {
            return 0;
        }
        n = n * 10 + (b[i] - b'0') as i64;
        i += 1;
    }
    n
}

/// Why the clock is (not) trusted, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// NTP set it (the marker's text: server and time).
    Ntp(String),
    /// Later than the build date.
    AfterBuild,
    /// Neither yet.
    NotYet,
}

impl Trust {
    pub fn trusted(&self) -> bool {
        !matches!(self, Trust::NotYet)
    }

    pub fn describe(&self) -> String {
        match self {
            Trust::Ntp(m) => format!("trusted (synchronised by NTP: {m})"),
            Trust::AfterBuild => "trusted (later than the firmware's build date)".to_string(),
            Trust::NotYet => format!(
                "clock not trusted yet: {} is before the firmware's build date {} and NTP has not \
                 set it; mail is accepted and spooled, but not processed or delivered",
                crate::clock::rfc2822(crate::clock::unix_now()),
                crate::clock::rfc2822(BUILD_UNIX)
            ),
        }
    }
}

/// The rule, without side effects: `now` against `build`, and the NTP marker's text if any.
pub fn judge(now: i64, build: i64, ntp_marker: Option<String>) -> Trust {
    match ntp_marker {
        Some(m) => Trust::Ntp(m),
        None if now >= build => Trust::AfterBuild,
        None => Trust::NotYet,
    }
}

static TRUSTED_ONCE: AtomicBool = AtomicBool::new(false);

/// The system's clock trust now (reads the NTP marker on a box).
pub fn current() -> Trust {
    let marker = if crate::startup::on_appliance() {
        std::fs::read_to_string(std::path::Path::new(super::store::NETD_DIR).join("ntp-synced"))
            .ok()
            .map(|s| s.trim().to_string())
    } else {
        None
    };
    let t = judge(crate::clock::unix_now(), BUILD_UNIX, marker);
    if t.trusted() {
        TRUSTED_ONCE.store(true, Ordering::Relaxed);
    }
    t
}

/// The system clock as the queue uses it: wall and monotonic time of
/// [`crate::clock::SystemClock`], and [`trusted`] (mail waits while the clock is not).
#[derive(Debug, Clone, Copy, Default)]
pub struct BoxClock;

impl crate::clock::Clock for BoxClock {
    fn now(&self) -> i64 {
        crate::clock::Clock::now(&crate::clock::SystemClock)
    }

    fn monotonic(&self) -> Option<i64> {
        crate::clock::Clock::monotonic(&crate::clock::SystemClock)
    }

    fn trusted(&self) -> bool {
        trusted()
    }
}

/// Cheap check for the queue: true once the clock has been trusted in this process.
pub fn trusted() -> bool {
    TRUSTED_ONCE.load(Ordering::Relaxed) || current().trusted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule() {
        const { assert!(BUILD_UNIX > 1_700_000_000, "build.rs sets the build date") };
        assert_eq!(judge(0, BUILD_UNIX, None), Trust::NotYet);
        assert!(!judge(0, BUILD_UNIX, None).trusted());
        assert!(judge(0, BUILD_UNIX, None)
            .describe()
            .starts_with("clock not trusted yet"));
        assert_eq!(judge(BUILD_UNIX + 1, BUILD_UNIX, None), Trust::AfterBuild);
        assert!(judge(0, BUILD_UNIX, Some("pool.ntp.org".into())).trusted());
        // The test machine's clock is past the build date.
        assert!(trusted());
    }
}
