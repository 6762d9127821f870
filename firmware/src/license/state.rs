//! The licence state at a given day: the phase of the installed licence and the view the API,
//! `segl ctl license show` and the web page present.

use serde::Serialize;

use super::format::{day_of, format_day, parse_day, Day, LicenseError, LicenseFile, Terms};
use super::limits::{self, Count, Seat};
use crate::keystore::meta::KeyFacts;

/// Warnings start this many days before expiry.
pub const WARN_DAYS: i64 = 30;

/// Where an installed licence stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No licence installed.
    None,
    /// Installed, but bound to another box (e.g. a keystore restored without its box id).
    OtherBox,
    NotYetValid,
    Valid,
    /// Past `expires`, within the grace period: still works, with warnings.
    Grace,
    Expired,
}

impl Phase {
    /// Whether the licence unlocks keys in this phase.
    pub fn in_force(self) -> bool {
        matches!(self, Phase::Valid | Phase::Grace)
    }
}

/// The phase of `terms` on `today` for box `box_id`.
pub fn phase(terms: &Terms, today: Day, box_id: &str) -> Phase {
    if terms.box_id.as_deref().is_some_and(|b| b != box_id) {
        return Phase::OtherBox;
    }
    let (Some(starts), Some(expires)) = (parse_day(&terms.starts), parse_day(&terms.expires))
    else {
        return Phase::Expired;
    };
    if today < starts {
        Phase::NotYetValid
    } else if today <= expires {
        Phase::Valid
    } else if today <= expires + i64::from(terms.grace_days) {
        Phase::Grace
    } else {
        Phase::Expired
    }
}

/// Why a licence cannot be installed on box `box_id` today (refused files keep the current
/// licence in place).
pub fn installable(f: &LicenseFile, today: Day, box_id: &str) -> Result<(), LicenseError> {
    let t = &f.terms;
    match phase(t, today, box_id) {
        Phase::OtherBox => Err(LicenseError::OtherBox {
            licensed: t.box_id.clone().unwrap_or_default(),
            this: box_id.to_string(),
        }),
        Phase::NotYetValid => Err(LicenseError::NotYetValid {
            starts: t.starts.clone(),
        }),
        Phase::Expired => Err(LicenseError::Expired {
            expires: t.expires.clone(),
            grace_end: grace_end(t).map(format_day).unwrap_or_default(),
        }),
        _ => Ok(()),
    }
}

fn grace_end(t: &Terms) -> Option<Day> {
    parse_day(&t.expires).map(|e| e + i64::from(t.grace_days))
}

/// The licence state as shown (API `GET /api/v1/license`; stable field names).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The development public key is embedded: development licences are accepted.
    pub development_build: bool,
    pub box_id: String,
    /// Id of the vendor key licences must be signed with.
    pub vendor_key_id: String,
    pub state: Phase,
    /// One line for `segl ctl status` and the dashboard.
    pub summary: String,
    /// The installed licence's terms.
    pub license: Option<Terms>,
    /// Last day of the grace period.
    pub grace_until: Option<String>,
    /// Days until `expires` (negative after it).
    pub days_left: Option<i64>,
    /// Seats with an active individual or function-mailbox key.
    pub keys_in_use: usize,
    /// Seats the licence covers now (0 when it is not in force).
    pub keys_licensed: u32,
    /// Every seat, in licensing order.
    pub seats: Vec<Seat>,
    /// Identities whose keys do not sign or decrypt.
    pub unlicensed: Vec<String>,
    pub warnings: Vec<String>,
}

/// The state of `installed` (already verified when it was installed) for `facts` on `today`.
pub fn evaluate(
    installed: Option<&LicenseFile>,
    facts: &[KeyFacts],
    today: Day,
    box_id: &str,
    development: bool,
    vendor_key_id: &str,
) -> (Status, Count) {
    let terms = installed.map(|f| &f.terms);
    let phase = terms.map_or(Phase::None, |t| phase(t, today, box_id));
    let licensed = match (terms, phase.in_force()) {
        (Some(t), true) => t.keys,
        _ => 0,
    };
    let count = limits::count(facts, licensed);
    let in_use = count.seats.len();
    let unlicensed: Vec<String> = count
        .seats
        .iter()
        .filter(|s| !s.licensed)
        .map(|s| s.identity.clone())
        .collect();
    let days_left = terms.and_then(|t| parse_day(&t.expires)).map(|e| e - today);
    let grace_until = terms.and_then(grace_end).map(format_day);
    let mut summary = summary(phase, terms, box_id, in_use, grace_until.as_deref());
    let mut warnings = expiry_warnings(phase, terms, days_left, grace_until.as_deref(), &summary);
    if !unlicensed.is_empty() {
        let w = format!(
            "{} of {in_use} individual key(s) not licensed (not used to sign or decrypt): {}",
            unlicensed.len(),
            unlicensed.join(", ")
        );
        if phase.in_force() {
            summary.push_str(&format!("; {} not licensed", unlicensed.len()));
        }
        warnings.push(w);
    }
    if development {
        summary = format!("development build; {summary}");
    }
    let status = Status {
        development_build: development,
        box_id: box_id.to_string(),
        vendor_key_id: vendor_key_id.to_string(),
        state: phase,
        summary,
        license: terms.cloned(),
        grace_until,
        days_left,
        keys_in_use: in_use,
        keys_licensed: licensed,
        seats: count.seats.clone(),
        unlicensed,
        warnings,
    };
    (status, count)
}

/// One line on the licence's state for the pages, the API and `segl ctl license show`.
fn summary(
    phase: Phase,
    terms: Option<&Terms>,
    box_id: &str,
    in_use: usize,
    grace_until: Option<&str>,
) -> String {
    match (phase, terms) {
        (Phase::None, _) | (_, None) => {
            "no licence installed: signing and decryption with individual keys are not licensed"
                .to_string()
        }
        (Phase::OtherBox, Some(t)) => format!(
            "licence {} is bound to box {}, not this box ({box_id}): individual keys not licensed",
            t.id,
            t.box_id.as_deref().unwrap_or("?")
        ),
        (Phase::NotYetValid, Some(t)) => {
            format!("licence {} is not valid before {}", t.id, t.starts)
        }
        (Phase::Valid, Some(t)) => format!(
            "licence {} for {}, valid until {}: {in_use} individual key(s) in use, {} licensed",
            t.id, t.customer, t.expires, t.keys
        ),
        (Phase::Grace, Some(t)) => format!(
            "licence {} for {} expired on {}; grace period until {}: {in_use} individual key(s) in use, {} licensed",
            t.id,
            t.customer,
            t.expires,
            grace_until.unwrap_or("?"),
            t.keys
        ),
        (Phase::Expired, Some(t)) => format!(
            "licence {} expired on {} (grace period ended {}): individual keys not licensed",
            t.id,
            t.expires,
            grace_until.unwrap_or("?")
        ),
    }
}

/// What the administrator should act on about the licence's dates and binding.
fn expiry_warnings(
    phase: Phase,
    terms: Option<&Terms>,
    days_left: Option<i64>,
    grace_until: Option<&str>,
    summary: &str,
) -> Vec<String> {
    let mut warnings = vec![];
    match (phase, days_left) {
        (Phase::Valid, Some(d)) if d <= WARN_DAYS => warnings.push(format!(
            "the licence expires in {d} day(s), on {}: ask your vendor for a renewal",
            terms.map_or("?", |t| t.expires.as_str())
        )),
        (Phase::Grace, _) => warnings.push(format!(
            "the licence has expired; signing and decryption with individual keys stop after {}",
            grace_until.unwrap_or("?")
        )),
        (Phase::Expired | Phase::OtherBox | Phase::NotYetValid, _) => {
            warnings.push(summary.to_string())
        }
        _ => {}
    }
    warnings
}

/// Today (UTC).
pub fn today() -> Day {
    day_of(crate::clock::unix_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(starts: &str, expires: &str, grace: u32, b: Option<&str>) -> Terms {
        Terms {
            format: 1,
            id: "L".into(),
            customer: "C".into(),
            issued: starts.into(),
            starts: starts.into(),
            expires: expires.into(),
            keys: 1,
            grace_days: grace,
            features: vec![],
            box_id: b.map(str::to_string),
        }
    }

    #[test]
    fn phases() {
        let d = |s| parse_day(s).expect("day");
        let t = terms("2026-01-10", "2026-01-20", 5, None);
        assert_eq!(phase(&t, d("2026-01-09"), "b"), Phase::NotYetValid);
        assert_eq!(phase(&t, d("2026-01-10"), "b"), Phase::Valid);
        assert_eq!(phase(&t, d("2026-01-20"), "b"), Phase::Valid);
        assert_eq!(phase(&t, d("2026-01-25"), "b"), Phase::Grace);
        assert_eq!(phase(&t, d("2026-01-26"), "b"), Phase::Expired);
        let t = terms("2026-01-10", "2026-01-20", 5, Some("other"));
        assert_eq!(phase(&t, d("2026-01-15"), "b"), Phase::OtherBox);
        assert_eq!(phase(&t, d("2026-01-15"), "other"), Phase::Valid);
    }
}
