//! Fault injection for tests, compiled into debug builds only (release and image builds get an
//! empty inline function): `SEGL_TEST_PANIC=point:needle[:count],...` makes the code at `point`
//! panic when its subject contains `needle`, at most `count` times (default 1) per process.
//! Tests use it to prove that a panic releases what it held (a queued message's busy mark, a
//! client address's connection slot) instead of wedging it until restart.
//!
//! Points: `deliver` (subject: the recipients of a delivery round), `session` (the EHLO/HELO
//! name a client gave).

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
