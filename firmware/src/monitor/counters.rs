//! Mail counters per hour (kept 32 days) and per day (kept 31 days), saved to
//! `<data_dir>/counters.json` by [`Counters::save`] (each minute and at shutdown), so a restart
//! loses at most a minute of counts and never the history.
//!
//! The buckets are hours and days of UTC. The dashboard's daily chart shows days of the box's
//! zone, so it sums the hours of each local day ([`Counters::daily`]): a day bucket of UTC
//! would mix two local days wherever the zone is not UTC. The UTC day buckets are still kept,
//! so that a firmware of before (which reads them) keeps its history after a downgrade.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Inbound = 0,
    Outbound,
    Encrypted,
    Signed,
    Decrypted,
    Verified,
    Delivered,
    Deferred,
    Failed,
    Held,
}

pub const N: usize = 10;
pub const NAMES: [&str; N] = [
    "inbound",
    "outbound",
    "encrypted",
    "signed",
    "decrypted",
    "verified",
    "delivered",
    "deferred",
    "failed",
    "held",
];

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Buckets {
    /// Hour number since the epoch → counts (the last [`HOURS_KEPT`]).
    hours: BTreeMap<i64, [u64; N]>,
    /// Day number since the epoch → counts.
    days: BTreeMap<i64, [u64; N]>,
    /// Everything counted since the data directory was made (`/metrics` counters, which
    /// must never go down). Absent in files of older versions: starts at zero.
    #[serde(default)]
    totals: [u64; N],
}

/// Hour buckets kept: 30 local days for the daily chart, whatever the zone's offset.
const HOURS_KEPT: i64 = 32 * 24;

#[derive(Debug)]
pub struct Counters {
    path: PathBuf,
    b: Mutex<Buckets>,
}

impl Counters {
    pub fn open(data_dir: &Path) -> Counters {
        let path = data_dir.join("counters.json");
        let mut b: Buckets = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        b.hours_from_days();
        Counters {
            path,
            b: Mutex::new(b),
        }
    }

    pub fn add(&self, now: i64, c: Counter) {
        if let Ok(mut b) = self.b.lock() {
            b.hours.entry(now.div_euclid(3600)).or_insert([0; N])[c as usize] += 1;
            b.days.entry(now.div_euclid(86400)).or_insert([0; N])[c as usize] += 1;
            b.totals[c as usize] += 1;
            let (h, d) = (
                now.div_euclid(3600) - HOURS_KEPT,
                now.div_euclid(86400) - 31,
            );
            b.hours.retain(|k, _| *k > h);
            b.days.retain(|k, _| *k > d);
        }
    }

    /// Everything counted so far, by [`Counter`].
    pub fn totals(&self) -> [u64; N] {
        self.b.lock().map(|b| b.totals).unwrap_or([0; N])
    }

    /// The last 24 hours (oldest first), each `(start unix seconds, counts)`.
    pub fn hourly(&self, now: i64) -> Vec<(i64, [u64; N])> {
        self.series(now.div_euclid(3600), 24, 3600, |b| &b.hours)
    }

    /// The last 30 days of zone `tz` (oldest first), each `(start unix seconds, counts)`:
    /// the sum of the hour buckets that start in the local day.
    pub fn daily(&self, now: i64, tz: &TimeZone) -> Vec<(i64, [u64; N])> {
        let Ok(today) = Timestamp::from_second(now).map(|t| t.to_zoned(tz.clone()).date()) else {
            return vec![];
        };
        let start =
            |d: jiff::civil::Date| Some(d.to_zoned(tz.clone()).ok()?.timestamp().as_second());
        let Ok(b) = self.b.lock() else { return vec![] };
        (0..30i64)
            .rev()
            .filter_map(|back| {
                let day = today.checked_sub(back.days()).ok()?;
                let (from, to) = (start(day)?, start(day.tomorrow().ok()?)?);
                // Hours that start in [from, to); a zone off by half an hour counts an hour in
                // the day it starts in.
                let hours = from.div_euclid(3600) + i64::from(from % 3600 != 0)..;
                let mut sum = [0; N];
                for (_, v) in b.hours.range(hours).take_while(|(k, _)| **k * 3600 < to) {
                    sum.iter_mut().zip(v).for_each(|(s, v)| *s += v);
                }
                Some((from, sum))
            })
            .collect()
    }

    fn series(
        &self,
        current: i64,
        n: i64,
        unit: i64,
        pick: impl Fn(&Buckets) -> &BTreeMap<i64, [u64; N]>,
    ) -> Vec<(i64, [u64; N])> {
        let Ok(b) = self.b.lock() else { return vec![] };
        let m = pick(&b);
        (current - n + 1..=current)
            .map(|k| (k * unit, m.get(&k).copied().unwrap_or([0; N])))
            .collect()
    }

    /// Write the counters (atomically: temp file, fsync, rename).
    pub fn save(&self) {
        let json = match self.b.lock() {
            Ok(b) => serde_json::to_vec(&*b).unwrap_or_default(),
            Err(_) => return,
        };
        let tmp = self.path.with_extension("json.tmp");
        let r = crate::durable::write_synced(&tmp, &json)
            .map_err(|e| e.to_string())
            .and_then(|()| std::fs::rename(&tmp, &self.path).map_err(|e| e.to_string()));
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot save mail counters");
        }
    }
}

impl Buckets {
    /// A file of a firmware that kept hours for 48 hours only: each UTC day before its first
    /// hour becomes one hour bucket at the day's noon, so the daily chart keeps the history
    /// (in the local day of that noon: the same date for zones within 12 hours of UTC).
    fn hours_from_days(&mut self) {
        let first = self.hours.keys().next().copied().unwrap_or(i64::MAX);
        for (d, v) in &self.days {
            if (d + 1) * 24 <= first {
                self.hours.insert(d * 24 + 12, *v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persist_and_series() {
        let d = tempfile::tempdir().unwrap();
        let c = Counters::open(d.path());
        let now = 1_800_000_000;
        c.add(now, Counter::Inbound);
        c.add(now - 3600, Counter::Encrypted);
        c.save();
        let c = Counters::open(d.path());
        let h = c.hourly(now);
        assert_eq!(h.len(), 24);
        assert_eq!(h[23].1[Counter::Inbound as usize], 1);
        assert_eq!(h[22].1[Counter::Encrypted as usize], 1);
        assert_eq!(c.daily(now, &TimeZone::UTC).len(), 30);
    }

    #[test]
    fn daily_by_days_of_the_zone() {
        let d = tempfile::tempdir().unwrap();
        let c = Counters::open(d.path());
        let tokyo = jiff::tz::db().get("Asia/Tokyo").unwrap();
        // 2026-12-02T14:30Z is 2 December 23:30 in Tokyo, 15:30Z already 3 December.
        let (late, next) = (1_796_221_800, 1_796_225_400);
        c.add(late, Counter::Inbound);
        c.add(next, Counter::Inbound);
        c.add(next, Counter::Inbound);
        let now = next + 3600;
        let days = c.daily(now, &tokyo);
        assert_eq!(days.len(), 30);
        let (today, yesterday) = (days[29], days[28]);
        // Tokyo's 3 December starts at 2026-12-02T15:00:00Z.
        assert_eq!(today.0, 1_796_223_600);
        assert_eq!(yesterday.0, 1_796_223_600 - 86_400);
        assert_eq!(today.1[Counter::Inbound as usize], 2);
        assert_eq!(yesterday.1[Counter::Inbound as usize], 1);
        // As UTC days all three are 2 December.
        let utc = c.daily(now, &TimeZone::UTC);
        assert_eq!(utc[29].0, 1_796_169_600);
        assert_eq!(utc[29].1[Counter::Inbound as usize], 3);
        assert_eq!(utc[28].1[Counter::Inbound as usize], 0);
        // India (UTC+5:30): hours are counted in the day they start in, none twice.
        let india = jiff::tz::db().get("Asia/Kolkata").unwrap();
        let total: u64 = c.daily(now, &india).iter().map(|(_, v)| v[0]).sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn older_files_keep_their_daily_history() {
        let d = tempfile::tempdir().unwrap();
        let day = 1_796_169_600 / 86_400; // 2026-12-02
        let mut counts = [0; N];
        counts[Counter::Signed as usize] = 7;
        // Hours of the last 48 hours only, and UTC days, as older firmware wrote them.
        let old = serde_json::json!({
            "hours": { ((day + 5) * 24).to_string(): [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
            "days": { day.to_string(): counts, (day + 5).to_string(): [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        });
        std::fs::write(d.path().join("counters.json"), old.to_string()).unwrap();
        let c = Counters::open(d.path());
        let cph = jiff::tz::db().get("Europe/Copenhagen").unwrap();
        let days = c.daily((day + 5) * 86_400 + 7200, &cph);
        assert_eq!(days[24].1[Counter::Signed as usize], 7, "{days:?}");
        assert_eq!(
            days[29].1[Counter::Inbound as usize],
            1,
            "not counted twice"
        );
        let all: u64 = days.iter().flat_map(|(_, v)| v.iter()).sum();
        assert_eq!(all, 8);
        // Saved and opened again: still once.
        c.save();
        let c = Counters::open(d.path());
        let all: u64 = c
            .daily((day + 5) * 86_400 + 7200, &cph)
            .iter()
            .flat_map(|(_, v)| v.iter())
            .sum();
        assert_eq!(all, 8);
    }
}
