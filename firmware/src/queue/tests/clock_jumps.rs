//! Queue timers on the monotonic clock: a wall-clock jump back does not delay a retry, a jump
//! forward does not expire mail within one run; and nothing is processed or delivered while
//! the clock is not trusted.

use std::sync::atomic::AtomicBool;

use super::*;

/// Wall and monotonic seconds set apart, and whether the wall clock is trusted.
struct JumpClock {
    wall: AtomicI64,
    mono: AtomicI64,
    trusted: AtomicBool,
}

impl Clock for JumpClock {
    fn now(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }
    fn monotonic(&self) -> Option<i64> {
        Some(self.mono.load(Ordering::SeqCst))
    }
    fn trusted(&self) -> bool {
        self.trusted.load(Ordering::SeqCst)
    }
}

impl JumpClock {
    /// Real time passes: both clocks move.
    fn pass(&self, secs: i64) {
        self.wall.fetch_add(secs, Ordering::SeqCst);
        self.mono.fetch_add(secs, Ordering::SeqCst);
    }
    /// Someone sets the wall clock: only it moves.
    fn jump(&self, secs: i64) {
        self.wall.fetch_add(secs, Ordering::SeqCst);
    }
}

type JumpFixture = Fixture<JumpClock>;

fn jump_fixture(script: Vec<Outcome>, trusted: bool) -> JumpFixture {
    let clock = JumpClock {
        wall: AtomicI64::new(START),
        mono: AtomicI64::new(7),
        trusted: AtomicBool::new(trusted),
    };
    fixture_with(clock, no_process, script)
}

impl JumpFixture {
    fn add(&self, id: &str) {
        let env = envelope(
            id,
            Stage::Deliver,
            "s@example.org",
            &[("r@example.net", None)],
        );
        self.spool
            .store(&env, b"Subject: t\r\n\r\nbody\r\n")
            .unwrap();
        self.queue.accepted(env);
    }

    fn asked(&self) -> usize {
        self.transport.asked.lock().unwrap().len()
    }
}

#[tokio::test]
async fn a_jump_back_does_not_delay_a_retry() {
    let f = jump_fixture(vec![deferred()], true);
    f.add("M");
    assert_eq!(f.queue.run_due().await, 1);
    assert_eq!(f.asked(), 1);
    // The wall clock goes back a day (a bad RTC corrected, an admin's mistake).
    f.clock.jump(-86_400);
    f.clock.pass(59);
    assert_eq!(f.queue.run_due().await, 0, "not due before its 60 s");
    f.clock.pass(1);
    assert_eq!(f.queue.run_due().await, 1, "due after 60 s of real time");
    assert_eq!(f.asked(), 2);
}

#[tokio::test]
async fn a_jump_forward_does_not_expire_mail() {
    let f = jump_fixture(vec![deferred()], true);
    f.add("M");
    assert_eq!(f.queue.run_due().await, 1);
    // The wall clock leaps two days ahead; only a minute of real time passes.
    f.clock.jump(2 * 86_400);
    assert_eq!(f.queue.run_due().await, 0, "the retry is not due early");
    f.clock.pass(60);
    assert_eq!(f.queue.run_due().await, 1);
    let map = f.queue.lock();
    let r = &map
        .get("M")
        .expect("still queued, not expired")
        .env
        .recipients[0];
    assert!(r.is_pending(), "{r:?}");
    assert!(f.dsns_empty(&map));
}

impl JumpFixture {
    fn dsns_empty(&self, map: &HashMap<String, Entry>) -> bool {
        map.values().all(|e| !e.env.mail_from.is_empty())
    }
}

#[tokio::test]
async fn an_untrusted_clock_holds_mail_until_trusted() {
    let f = jump_fixture(vec![delivered()], false);
    f.clock.wall.store(3_600, Ordering::SeqCst); // 1970: no RTC
    f.add("M");
    assert!(!f.queue.clock_trusted());
    assert_eq!(f.queue.run_due().await, 0);
    f.clock.pass(600);
    assert_eq!(f.queue.run_due().await, 0);
    assert_eq!(f.asked(), 0, "nothing delivered with a 1970 clock");
    assert!(f.queue.lock().contains_key("M"), "the mail stays spooled");
    // NTP sets the clock: the mail goes out.
    f.clock.wall.store(START, Ordering::SeqCst);
    f.clock.trusted.store(true, Ordering::SeqCst);
    assert_eq!(f.queue.run_due().await, 1);
    assert_eq!(f.asked(), 1);
    assert!(f.queue.lock().get("M").is_none());
}
