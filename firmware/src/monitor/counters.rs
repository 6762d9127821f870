//! Mail counters per hour (kept 48 hours) and per day (kept 31 days), saved to
//! `<data_dir>/counters.json` by [`Counters::save`] (each minute and at shutdown), so a restart
//! loses at most a minute of counts and never the history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// Hour number since the epoch → counts.
    hours: BTreeMap<i64, [u64; N]>,
    /// Day number since the epoch → counts.
    days: BTreeMap<i64, [u64; N]>,
    /// Everything counted since the data directory was made (`/metrics` counters, which
    /// must never go down). Absent in files of older versions: starts at zero.
    #[serde(default)]
    totals: [u64; N],
}

#[derive(Debug)]
pub struct Counters {
    path: PathBuf,
    b: Mutex<Buckets>,
}

impl Counters {
    pub fn open(data_dir: &Path) -> Counters {
        let path = data_dir.join("counters.json");
        let b = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
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
            let (h, d) = (now.div_euclid(3600) - 48, now.div_euclid(86400) - 31);
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

    /// The last 30 days (oldest first).
    pub fn daily(&self, now: i64) -> Vec<(i64, [u64; N])> {
        self.series(now.div_euclid(86400), 30, 86400, |b| &b.days)
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
        assert_eq!(c.daily(now).len(), 30);
    }
}
