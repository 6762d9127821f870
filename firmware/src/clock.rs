//! Time: the one place that reads the system clock for the mail path, and the date formats
//! mail needs. The queue takes a [`Clock`] so its retry and expiry logic can be tested with a
//! fake one.

/// Unix seconds now (0 if the system clock is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A source of the current time in unix seconds.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;

    /// Seconds on a clock that only moves forward, at the pace of real time, and is not set
    /// by NTP or an administrator; `None` if there is none (then the queue runs on `now`).
    /// The queue schedules retries and expiry on it so that a wall-clock jump neither expires
    /// nor delays mail within one run.
    fn monotonic(&self) -> Option<i64> {
        None
    }

    /// Whether the wall clock is trustworthy yet (`appliance::trust`); the queue holds mail
    /// while it is not.
    fn trusted(&self) -> bool {
        true
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        unix_now()
    }

    fn monotonic(&self) -> Option<i64> {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        Some(
            START
                .get_or_init(std::time::Instant::now)
                .elapsed()
                .as_secs() as i64,
        )
    }
}

/// Unix seconds as an RFC 5322 date in UTC (`Received:`, DSN fields); empty if out of range.
pub fn rfc2822(ts: i64) -> String {
    rfc5322_in(ts, &jiff::tz::TimeZone::UTC)
}

/// Unix seconds as an RFC 5322 date in `tz` with its numeric offset
/// (`Tue, 01 Dec 2026 12:00:00 +0100`); empty if out of range (RFC 5322 years start at 1900).
pub fn rfc5322_in(ts: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(ts)
        .ok()
        .map(|t| t.to_zoned(tz.clone()))
        .filter(|z| z.year() >= 1900)
        .map(|z| z.strftime("%a, %d %b %Y %H:%M:%S %z").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2822_dates() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert!(unix_now() > 1_700_000_000);
    }
}
