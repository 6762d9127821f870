//! How the pages show a time: in the box's zone (System › Time,
//! [`crate::appliance::zone::configured`]) with the zone's abbreviation —
//! `2026-12-02 03:05:00 CET` —, so that an administrator reads the box's local time and sees
//! which zone it is in. The zone is read for each page, so a change shows at once. The JSON
//! API keeps UTC (`...Z`, unix seconds): it is read by programs, not people.

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The zone a page shows its times in.
#[derive(Debug, Clone)]
pub struct LocalTime(TimeZone);

impl LocalTime {
    /// The zone configured for the box of `cfg` (UTC when none is, or it cannot be read).
    pub fn configured(cfg: &crate::config::Config) -> LocalTime {
        LocalTime(crate::appliance::zone::configured(cfg))
    }

    pub fn new(tz: TimeZone) -> LocalTime {
        LocalTime(tz)
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
}
