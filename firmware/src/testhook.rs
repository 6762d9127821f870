//! Fault injection for tests, compiled into debug builds only (release and image builds get an
//! empty inline function): `SEGL_TEST_PANIC=point:needle[:count],...` makes the code at `point`
//! panic when its subject contains `needle`, at most `count` times (default 1) per process.
//! Tests use it to prove that a panic releases what it held (a queued message's busy mark, a
//! client address's connection slot) instead of wedging it until restart.
//!
//! Points: `deliver` (subject: the recipients of a delivery round), `session` (the EHLO/HELO
//! name a client gave), `process` (inside the blocking process stage, so the panic quarantines
//! the message as "internal error while processing"; subject: its recipients, comma-joined).
//!
//! `SEGL_TEST_STALL=point:needle` instead stops the thread at `point` for good, after a log line
//! `SEGL_TEST_STALL: stalled at <point>`, so that a test can `kill -9` the gateway exactly there
//! (a crash window made deterministic). Points: `processed` (the outputs of the process stage
//! are stored, the original is not yet removed; subject: its recipients), `delivered` (the next
//! hop accepted DATA, the outcome is not yet recorded; subject: the recipients).

#[cfg(debug_assertions)]
pub fn panic_if(point: &str, subject: &str) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static FIRED: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
    let Ok(specs) = std::env::var("SEGL_TEST_PANIC") else {
        return;
    };
    for spec in specs.split(',') {
        let mut parts = spec.splitn(3, ':');
        let (Some(p), Some(needle)) = (parts.next(), parts.next()) else {
            continue;
        };
        let count: u32 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
        if p != point || needle.is_empty() || !subject.contains(needle) {
            continue;
        }
        let fire = {
            let mut fired = FIRED.lock().unwrap_or_else(|e| e.into_inner());
            let n = fired
                .get_or_insert_with(HashMap::new)
                .entry(spec.to_string())
                .or_insert(0);
            *n += 1;
            *n <= count
        };
        if fire {
            panic!("SEGL_TEST_PANIC: injected panic at {point} ({needle})");
        }
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn panic_if(_point: &str, _subject: &str) {}

#[cfg(debug_assertions)]
pub fn stall_if(point: &str, subject: &str) {
    let Ok(specs) = std::env::var("SEGL_TEST_STALL") else {
        return;
    };
    let hit = specs.split(',').any(|spec| {
        spec.split_once(':')
            .is_some_and(|(p, n)| p == point && !n.is_empty() && subject.contains(n))
    });
    if hit {
        tracing::warn!(point, "SEGL_TEST_STALL: stalled at {point}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn stall_if(_point: &str, _subject: &str) {}
