//! Counting individual keys against a licence.
//!
//! What counts is a *seat*: an address with an active individual key, or a function mailbox
//! with an active key — not key records, so a rollover's successor takes its predecessor's
//! seat. Domain keys are free (DESIGN §8). Seats are licensed first come first (the day the
//! seat's first key was made, then the name), so adding a key never takes the licence away
//! from someone who had it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::keystore::meta::KeyFacts;
use crate::keystore::Purpose;

/// What a seat is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatKind {
    Individual,
    Mailbox,
}

/// One counted seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seat {
    /// The address (individual) or the mailbox address (function mailbox).
    pub identity: String,
    pub kind: SeatKind,
    /// The function mailbox id (kind mailbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
    /// Unix seconds when the seat's first key was made.
    pub since: i64,
    /// Whether the licence covers it.
    pub licensed: bool,
    /// The ids of its keys (all states).
    pub keys: Vec<String>,
}

type SeatKey = (SeatKind, String);

/// The seats a key occupies (none for a domain key).
fn seats_of(f: &KeyFacts) -> Vec<(SeatKey, Option<String>, String)> {
    match f.purpose {
        Purpose::Domain => vec![],
        Purpose::Mailbox => {
            let id = f
                .mailbox
                .clone()
                .or_else(|| f.addresses.first().cloned())
                .unwrap_or_default();
            let shown = f.addresses.first().cloned().unwrap_or_else(|| id.clone());
            vec![((SeatKind::Mailbox, id.clone()), Some(id), shown)]
        }
        _ => f
            .addresses
            .iter()
            .map(|a| ((SeatKind::Individual, a.clone()), None, a.clone()))
            .collect(),
    }
}

/// The outcome of counting: the seats in licensing order and, per key certificate, whether
/// the key may be used (domain keys are absent: always free).
pub struct Count {
    pub seats: Vec<Seat>,
    pub keys: HashMap<Vec<u8>, bool>,
}

/// Counts the seats of `facts` and licenses the first `licensed` of them.
pub fn count(facts: &[KeyFacts], licensed: u32) -> Count {
    struct Acc {
        since: i64,
        active: bool,
        mailbox: Option<String>,
        shown: String,
        keys: Vec<String>,
    }
    let mut acc: BTreeMap<SeatKey, Acc> = BTreeMap::new();
    for f in facts {
        for (k, mailbox, shown) in seats_of(f) {
            let a = acc.entry(k).or_insert(Acc {
                since: f.created,
                active: false,
                mailbox,
                shown,
                keys: vec![],
            });
            a.since = a.since.min(f.created);
            a.active |= f.active;
            a.keys.push(f.id.clone());
        }
    }
    let mut seats: Vec<(SeatKey, Acc)> = acc.into_iter().filter(|(_, a)| a.active).collect();
    seats.sort_by(|(ka, a), (kb, b)| (a.since, ka).cmp(&(b.since, kb)));
    let covered: HashSet<SeatKey> = seats
        .iter()
        .take(licensed as usize)
        .map(|(k, _)| k.clone())
        .collect();
    let mut keys = HashMap::new();
    for f in facts {
        let (Some(cert), s) = (&f.cert, seats_of(f)) else {
            continue;
        };
        if s.is_empty() {
            continue;
        }
        keys.insert(cert.clone(), s.iter().all(|(k, _, _)| covered.contains(k)));
    }
    let seats = seats
        .into_iter()
        .map(|(k, a)| Seat {
            licensed: covered.contains(&k),
            identity: a.shown,
            kind: k.0,
            mailbox: a.mailbox,
            since: a.since,
            keys: a.keys,
        })
        .collect();
    Count { seats, keys }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, purpose: Purpose, addr: &str, active: bool, created: i64) -> KeyFacts {
        KeyFacts {
            id: id.into(),
            purpose,
            mailbox: (purpose == Purpose::Mailbox).then(|| "jura".to_string()),
            addresses: vec![addr.into()],
            active,
            created,
            cert: Some(id.as_bytes().to_vec()),
        }
    }

    #[test]
    fn first_come_first_licensed_and_successors_share_the_seat() {
        let facts = vec![
            key("b1", Purpose::Individual, "bob@x.org", true, 20),
            key("a1", Purpose::Individual, "alice@x.org", false, 10),
            key("a2", Purpose::Individual, "alice@x.org", true, 30),
            key("d1", Purpose::Domain, "x.org", true, 1),
            key("m1", Purpose::Mailbox, "jura@x.org", true, 40),
        ];
        let c = count(&facts, 1);
        let names: Vec<&str> = c.seats.iter().map(|s| s.identity.as_str()).collect();
        assert_eq!(names, ["alice@x.org", "bob@x.org", "jura@x.org"]);
        assert!(c.seats[0].licensed && !c.seats[1].licensed && !c.seats[2].licensed);
        assert_eq!(c.keys.get(b"a1".as_slice()), Some(&true));
        assert_eq!(c.keys.get(b"a2".as_slice()), Some(&true));
        assert_eq!(c.keys.get(b"b1".as_slice()), Some(&false));
        assert_eq!(c.keys.get(b"d1".as_slice()), None);
        let c = count(&facts, 0);
        assert!(c.seats.iter().all(|s| !s.licensed));
    }
}
