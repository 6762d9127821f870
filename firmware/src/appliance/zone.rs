//! The box's time zone (issue 17): checking a name against the IANA tz database and showing
//! an instant as local time in it.
//!
//! Segl carries its own copy of the tz database (jiff's bundled tzdb), so a name is checked
//! and a local time computed the same way on a box, in tests and on a workstation, whatever
//! zoneinfo the OS has. The root helper applies the zone to the box itself (`/etc/localtime`,
//! `TZ`); segl reads it from the time settings where it shows a time, so a change applies at
//! once without a restart. Logs stay UTC.

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::config::Config;

/// The zone called `name` (an IANA name such as `Europe/Copenhagen` or `UTC`), with the
/// database's spelling of the name; `None` when the database has no such zone.
pub fn lookup(name: &str) -> Option<(TimeZone, String)> {
    let tz = jiff::tz::db().get(name).ok()?;
    let canonical = tz.iana_name().unwrap_or(name).to_string();
    Some((tz, canonical))
}

/// The zone of the time settings in force for `cfg` (`/data/time.conf` on a box); UTC when
/// the file cannot be read or names no known zone, so a date is always written.
pub fn configured(cfg: &Config) -> TimeZone {
    let name = match super::Store::for_config(cfg).time() {
        Ok(t) => t.timezone,
        Err(e) => {
            tracing::warn!(error = %e, "time settings unreadable; dates in UTC");
            return TimeZone::UTC;
        }
    };
    named(&name)
}

/// The zone called `name`, UTC when the database has none (a name from a settings file).
pub fn named(name: &str) -> TimeZone {
    lookup(name).map(|(tz, _)| tz).unwrap_or(TimeZone::UTC)
}

/// The `Date:` of a message segl writes itself (DSNs, notices): local time of the box's zone.
pub fn date_header(cfg: &Config, ts: i64) -> String {
    crate::clock::rfc5322_in(ts, &configured(cfg))
}

/// A time as people read it on the web admin's and the portal's pages: local time of the
/// box's zone with the zone's abbreviation — `2026-12-02 03:05:00 CET` —, so that a reader
/// sees the box's local time and which zone it is in. Pages read the zone for each request
/// ([`LocalTime::configured`]), so a change shows at once. The JSON API keeps UTC (`...Z`,
/// unix seconds): it is read by programs, not people.
#[derive(Debug, Clone)]
pub struct LocalTime(TimeZone);

impl LocalTime {
    /// The zone configured for the box of `cfg` (UTC when none is, or it cannot be read).
    pub fn configured(cfg: &crate::config::Config) -> LocalTime {
        LocalTime(configured(cfg))
    }

    pub fn new(tz: TimeZone) -> LocalTime {
        LocalTime(tz)
    }

    /// The zone itself (the dashboard's daily chart sums the hours of its days).
    pub fn zone(&self) -> &TimeZone {
        &self.0
    }

    fn zoned(&self, ts: i64) -> Option<Zoned> {
        Timestamp::from_second(ts)
            .ok()
            .map(|t| t.to_zoned(self.0.clone()))
    }

    /// Unix seconds as local date and time with the zone's abbreviation (the seconds as
    /// they are if out of range).
    pub fn at(&self, ts: i64) -> String {
        self.zoned(ts)
            .map(|z| z.strftime("%Y-%m-%d %H:%M:%S %Z").to_string())
            .unwrap_or_else(|| ts.to_string())
    }

    /// Unix seconds as local date and time to the minute with the zone's abbreviation
    /// (`2026-12-02 02:05 CET`): the portal's pages, where a recipient needs no seconds.
    pub fn minute(&self, ts: i64) -> String {
        self.zoned(ts)
            .map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| ts.to_string())
    }

    /// The local date (`YYYY-MM-DD`) of unix seconds.
    pub fn date(&self, ts: i64) -> String {
        self.zoned(ts)
            .map(|z| z.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }

    /// The local hour (`00`..`23`) of unix seconds (the dashboard's hourly chart).
    pub fn hour(&self, ts: i64) -> String {
        self.zoned(ts)
            .map(|z| z.strftime("%H").to_string())
            .unwrap_or_default()
    }

    /// A time stored as UTC text (`2027-01-01T00:00:00Z`: certificates' validity, CRLs) shown
    /// as [`Self::at`]; any other text (a date, nothing) as it is.
    pub fn text(&self, stored: &str) -> String {
        stored
            .parse::<Timestamp>()
            .map(|t| self.at(t.as_second()))
            .unwrap_or_else(|_| stored.to_string())
    }

    /// The first (or with `end` the last) second of local day `YYYY-MM-DD`; None if it is no
    /// such day (the mail log's search by day).
    pub fn day(&self, day: &str, end: bool) -> Option<i64> {
        let d: jiff::civil::Date = day.trim().parse().ok()?;
        let d = if end { d.tomorrow().ok()? } else { d };
        let start = d.to_zoned(self.0.clone()).ok()?.timestamp().as_second();
        Some(if end { start - 1 } else { start })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_with_the_zones_abbreviation() {
        let cph = LocalTime::new(jiff::tz::db().get("Europe/Copenhagen").expect("zone"));
        // 2026-12-02T01:05:00Z, winter time.
        assert_eq!(cph.at(1_796_173_500), "2026-12-02 02:05:00 CET");
        // 2026-07-01T12:00:00Z, summer time.
        assert_eq!(cph.at(1_782_907_200), "2026-07-01 14:00:00 CEST");
        assert_eq!(cph.minute(1_782_907_200), "2026-07-01 14:00 CEST");
        assert_eq!(cph.text("2027-01-01T00:00:00Z"), "2027-01-01 01:00:00 CET");
        assert_eq!(cph.text("2027-01-01"), "2027-01-01");
        assert_eq!(cph.date(1_796_173_500), "2026-12-02");
        assert_eq!(cph.hour(1_796_173_500), "02");
        // Copenhagen's 2 December runs from 1 December 23:00 UTC to 2 December 22:59:59 UTC.
        assert_eq!(cph.day("2026-12-02", false), Some(1_796_166_000));
        assert_eq!(cph.day("2026-12-02", true), Some(1_796_166_000 + 86_399));
        assert_eq!(cph.day("2. Dezember", false), None);
        let utc = LocalTime::new(TimeZone::UTC);
        assert_eq!(utc.at(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn known_names_only() {
        for name in [
            "UTC",
            "Europe/Copenhagen",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert_eq!(lookup(name).map(|(_, n)| n).as_deref(), Some(name));
        }
        assert_eq!(
            lookup("europe/copenhagen").map(|(_, n)| n).as_deref(),
            Some("Europe/Copenhagen")
        );
        for name in [
            "Europe/Atlantis",
            "Mars/Olympus",
            "",
            "Europe/",
            "../etc/passwd",
        ] {
            assert!(lookup(name).is_none(), "{name}");
        }
    }

    #[test]
    fn summer_and_winter_offsets() {
        use crate::clock::rfc5322_in as rfc5322;
        let (cph, _) = lookup("Europe/Copenhagen").unwrap();
        let summer = 1_782_907_200; // 2026-07-01 12:00:00 UTC
        let winter = 1_796_126_400; // 2026-12-01 12:00:00 UTC
        assert_eq!(rfc5322(summer, &cph), "Wed, 01 Jul 2026 14:00:00 +0200");
        assert_eq!(rfc5322(winter, &cph), "Tue, 01 Dec 2026 13:00:00 +0100");
        assert_eq!(
            rfc5322(winter, &TimeZone::UTC),
            "Tue, 01 Dec 2026 12:00:00 +0000"
        );
        assert_eq!(
            rfc5322(winter, &TimeZone::UTC),
            crate::clock::rfc2822(winter)
        );
        let (ny, _) = lookup("America/New_York").unwrap();
        assert_eq!(rfc5322(summer, &ny), "Wed, 01 Jul 2026 08:00:00 -0400");
        assert_eq!(rfc5322(winter, &ny), "Tue, 01 Dec 2026 07:00:00 -0500");
    }
}
