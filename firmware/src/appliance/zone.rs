//! The box's time zone (issue 17): checking a name against the IANA tz database and showing
//! an instant as local time in it.
//!
//! Segl carries its own copy of the tz database (jiff's bundled tzdb), so a name is checked
//! and a local time computed the same way on a box, in tests and on a workstation, whatever
//! zoneinfo the OS has. The root helper applies the zone to the box itself (`/etc/localtime`,
//! `TZ`); segl reads it from the time settings where it shows a time, so a change applies at
//! once without a restart. Logs stay UTC.

use jiff::tz::TimeZone;

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

#[cfg(test)]
mod tests {
    use super::*;

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
