//! The queue's retry, expiry, DSN and quarantine logic, with fake stages and a fake clock on a
//! real spool in a temporary directory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::spool::{ClientInfo, Listener, Notify, RcptState, Recipient, ENVELOPE_VERSION};

const START: i64 = 1_000_000;

struct FakeClock(AtomicI64);

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A process stage that answers with a function of the envelope.
type ProcessFn = dyn Fn(&Envelope) -> Result<Vec<Output>, ProcessError> + Send + Sync;

struct FakeProcess(Box<ProcessFn>);

impl Process for FakeProcess {
    fn process(&self, env: &Envelope, _message: &[u8]) -> Result<Vec<Output>, ProcessError> {
        (self.0)(env)
    }
}

/// A transport that answers each recipient from a script (the last answer repeats), one
/// batch per recipient, and records what it was asked.
#[derive(Default)]
struct FakeTransport {
    script: Mutex<VecDeque<Outcome>>,
    asked: Mutex<Vec<String>>,
}

impl Transport for FakeTransport {
    fn batches(&self, recipients: Vec<String>) -> Vec<Batch> {
        recipients
            .into_iter()
            .map(|r| Batch {
                route: "fake".into(),
                recipients: vec![r],
            })
            .collect()
    }

    fn deliver<'a>(&'a self, batch: &'a Batch, _: &'a Envelope, _: &'a [u8]) -> Delivery<'a> {
        let mut script = self.script.lock().unwrap();
        let outcome = if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap()
        };
        self.asked.lock().unwrap().extend(batch.recipients.clone());
        Box::pin(async move { vec![outcome; batch.recipients.len()] })
    }
}

struct Fixture<C = FakeClock> {
    _dir: tempfile::TempDir,
    clock: Arc<C>,
    transport: Arc<FakeTransport>,
    spool: Arc<Spool>,
    queue: Arc<Queue>,
}

fn fixture(
    process: impl Fn(&Envelope) -> Result<Vec<Output>, ProcessError> + Send + Sync + 'static,
    script: Vec<Outcome>,
) -> Fixture {
    fixture_with(FakeClock(AtomicI64::new(START)), process, script)
}

/// A queue over a fresh spool with fake stages and `clock` (retry 60 s doubling to 300 s,
/// lifetime 3600 s).
fn fixture_with<C: Clock + 'static>(
    clock: C,
    process: impl Fn(&Envelope) -> Result<Vec<Output>, ProcessError> + Send + Sync + 'static,
    script: Vec<Outcome>,
) -> Fixture<C> {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default_config();
    cfg.delivery.retry_initial_secs = 60;
    cfg.delivery.retry_max_secs = 300;
    cfg.delivery.max_queue_lifetime_secs = 3600;
    let spool = Arc::new(Spool::open(dir.path()).unwrap());
    let clock = Arc::new(clock);
    let transport = Arc::new(FakeTransport {
        script: Mutex::new(script.into()),
        ..Default::default()
    });
    let queue = Queue::new(
        Arc::new(cfg),
        spool.clone(),
        Stages {
            process: Arc::new(FakeProcess(Box::new(process))),
            transport: transport.clone(),
            clock: clock.clone(),
        },
    );
    Fixture {
        _dir: dir,
        clock,
        transport,
        spool,
        queue,
    }
}

fn no_process(_: &Envelope) -> Result<Vec<Output>, ProcessError> {
    panic!("no message should be processed")
}

fn envelope(id: &str, stage: Stage, from: &str, rcpts: &[(&str, Option<Notify>)]) -> Envelope {
    Envelope {
        version: ENVELOPE_VERSION,
        id: id.into(),
        parent: None,
        stage,
        arrived: START,
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: "client.example".into(),
            listener: Listener::Mx,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: false,
        },
        mail_from: from.into(),
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        size: 20,
        recipients: rcpts
            .iter()
            .map(|(a, n)| Recipient::new((*a).into(), None, *n))
            .collect(),
        paused: None,
        checksum: None,
    }
}

impl Fixture {
    fn add(&self, env: Envelope) {
        self.spool
            .store(&env, b"Subject: t\r\n\r\nbody\r\n")
            .unwrap();
        self.queue.accepted(env);
    }

    fn set_time(&self, t: i64) {
        self.clock.0.store(t, Ordering::SeqCst);
    }

    fn recipient(&self, id: &str, addr: &str) -> Recipient {
        let map = self.queue.lock();
        let e = map.get(id).expect("message in the queue");
        e.env
            .recipients
            .iter()
            .find(|r| r.address == addr)
            .cloned()
            .unwrap()
    }

    /// The DSNs in the queue: envelopes from the null sender.
    fn dsns(&self) -> Vec<Envelope> {
        let map = self.queue.lock();
        map.values()
            .filter(|e| e.env.mail_from.is_empty())
            .map(|e| e.env.clone())
            .collect()
    }
}

fn deferred() -> Outcome {
    Outcome::Deferred {
        remote: Some("mx.example.net".into()),
        reason: "451 try later".into(),
    }
}

fn failed() -> Outcome {
    Outcome::Failed {
        remote: Some("mx.example.net".into()),
        status: crate::spool::EnhancedStatus::BAD_MAILBOX,
        reason: "550 no such user".into(),
    }
}

fn delivered() -> Outcome {
    Outcome::Delivered {
        remote: "mx.example.net".into(),
        reply: "250 ok".into(),
    }
}

#[tokio::test]
async fn deferrals_back_off_doubling_up_to_the_maximum() {
    let f = fixture(no_process, vec![deferred()]);
    f.add(envelope(
        "M",
        Stage::Deliver,
        "s@example.org",
        &[("r@example.net", None)],
    ));
    let mut t = START;
    for expected_wait in [60, 120, 240, 300, 300] {
        f.set_time(t);
        assert_eq!(f.queue.run_due().await, 1);
        let r = f.recipient("M", "r@example.net");
        assert!(r.is_pending());
        assert_eq!(r.next_attempt, t + expected_wait);
        assert_eq!(r.last_error.as_deref(), Some("451 try later"));
        // Not due a second before its time.
        f.set_time(r.next_attempt - 1);
        assert_eq!(f.queue.run_due().await, 0);
        t = r.next_attempt;
    }
    assert_eq!(f.transport.asked.lock().unwrap().len(), 5);
    // The record on disk says the same as the index.
    let (envs, _) = f.spool.load_all().unwrap();
    assert_eq!(envs[0].recipients[0].attempts, 5);
}

#[tokio::test]
async fn deferral_after_the_queue_lifetime_expires_with_a_dsn() {
    let f = fixture(no_process, vec![deferred()]);
    f.add(envelope(
        "M",
        Stage::Deliver,
        "s@example.org",
        &[("r@example.net", None)],
    ));
    f.set_time(START + 3600);
    f.queue.run_due().await;
    // The only recipient is done: the message left the queue and the spool, a DSN replaced it.
    assert!(f.queue.lock().get("M").is_none());
    let dsns = f.dsns();
    assert_eq!(dsns.len(), 1);
    assert_eq!(dsns[0].client.listener, Listener::Generated);
    assert_eq!(dsns[0].recipients[0].address, "s@example.org");
    let text = String::from_utf8(f.spool.read_message(&dsns[0].id).unwrap()).unwrap();
    assert!(text.contains("Status: 4.4.7"), "{text}");
    assert!(
        text.contains("delivery time expired; last error: 451 try later"),
        "{text}"
    );
    let (envs, _) = f.spool.load_all().unwrap();
    assert_eq!(envs.len(), 1, "only the DSN is left in the spool");
}

#[tokio::test]
async fn permanent_failure_gets_a_dsn_unless_notify_never_or_null_sender() {
    let never = Notify {
        never: true,
        ..Default::default()
    };
    let f = fixture(no_process, vec![failed()]);
    f.add(envelope(
        "A",
        Stage::Deliver,
        "s@example.org",
        &[("r1@example.net", None), ("r2@example.net", Some(never))],
    ));
    f.add(envelope(
        "B",
        Stage::Deliver,
        "",
        &[("r3@example.net", None)],
    ));
    f.queue.run_due().await;
    let dsns = f.dsns();
    assert_eq!(dsns.len(), 1, "one DSN: for A's r1 only");
    let text = String::from_utf8(f.spool.read_message(&dsns[0].id).unwrap()).unwrap();
    assert!(text.contains("r1@example.net"), "{text}");
    assert!(!text.contains("r2@example.net"), "{text}");
    assert!(text.contains("Status: 5.1.1"), "{text}");
    assert!(f.queue.lock().get("A").is_none());
    assert!(f.queue.lock().get("B").is_none());
}

#[tokio::test]
async fn delivered_and_deferred_recipients_are_tracked_apart() {
    let f = fixture(no_process, vec![delivered(), deferred(), delivered()]);
    f.add(envelope(
        "M",
        Stage::Deliver,
        "s@example.org",
        &[("a@example.net", None), ("b@example.net", None)],
    ));
    f.queue.run_due().await;
    assert!(matches!(
        f.recipient("M", "a@example.net").state,
        RcptState::Delivered { .. }
    ));
    assert!(f.recipient("M", "b@example.net").is_pending());
    // The next round asks only for the pending one; then everything is done.
    f.set_time(START + 60);
    f.queue.run_due().await;
    let asked = f.transport.asked.lock().unwrap().clone();
    assert_eq!(asked, ["a@example.net", "b@example.net", "b@example.net"]);
    assert!(f.queue.lock().get("M").is_none());
    assert!(f.spool.load_all().unwrap().0.is_empty());
}

#[tokio::test]
async fn process_outputs_replace_the_incoming_message() {
    let f = fixture(
        |env| {
            Ok(vec![
                Output {
                    recipients: vec![env.recipients[0].address.clone()],
                    mail_from: None,
                    content: Content::Unchanged,
                },
                Output {
                    recipients: vec![env.recipients[1].address.clone()],
                    mail_from: Some(String::new()),
                    content: Content::New(b"Subject: new\r\n\r\nx\r\n".to_vec()),
                },
            ])
        },
        vec![deferred()],
    );
    let never = Notify {
        never: true,
        ..Default::default()
    };
    f.add(envelope(
        "P",
        Stage::Process,
        "s@example.org",
        &[("a@example.org", Some(never)), ("b@example.org", None)],
    ));
    f.queue.run_due().await;
    let map = f.queue.lock();
    assert!(map.get("P").is_none());
    let one = &map["P-1"].env;
    let two = &map["P-2"].env;
    assert_eq!(one.stage, Stage::Deliver);
    assert_eq!(one.parent.as_deref(), Some("P"));
    assert_eq!(
        one.recipients[0].notify,
        Some(never),
        "DSN parameters are kept"
    );
    assert_eq!(two.mail_from, "");
    drop(map);
    assert_eq!(
        f.spool.read_message("P-1").unwrap(),
        b"Subject: t\r\n\r\nbody\r\n"
    );
    assert_eq!(
        f.spool.read_message("P-2").unwrap(),
        b"Subject: new\r\n\r\nx\r\n"
    );
}

#[tokio::test]
async fn temporary_process_failure_waits_the_initial_retry() {
    let f = fixture(
        |_| Err(ProcessError::Temporary("busy".into())),
        vec![deferred()],
    );
    f.add(envelope(
        "P",
        Stage::Process,
        "s@example.org",
        &[("a@example.org", None)],
    ));
    assert_eq!(f.queue.run_due().await, 1);
    f.set_time(START + 59);
    assert_eq!(f.queue.run_due().await, 0);
    f.set_time(START + 60);
    assert_eq!(f.queue.run_due().await, 1);
    assert!(f.spool.held().is_empty());
}

#[tokio::test]
async fn unprocessable_or_panicking_messages_are_quarantined() {
    let f = fixture(
        |env| match env.id.as_str() {
            "Q" => Err(ProcessError::Quarantine("broken MIME".into())),
            _ => panic!("bug in the process stage"),
        },
        vec![deferred()],
    );
    f.add(envelope(
        "Q",
        Stage::Process,
        "s@example.org",
        &[("a@example.org", None)],
    ));
    f.add(envelope(
        "Z",
        Stage::Process,
        "s@example.org",
        &[("a@example.org", None)],
    ));
    f.queue.run_due().await;
    let held = f.spool.held();
    assert_eq!(held.len(), 2);
    assert_eq!(held[0], ("Q".to_string(), "broken MIME".to_string()));
    assert_eq!(held[1].0, "Z");
    assert!(held[1].1.contains("internal error"), "{}", held[1].1);
    assert!(f.queue.lock().is_empty());
    assert_eq!(f.queue.stats().held, 2);
}

#[tokio::test]
async fn held_envelopes_are_not_scheduled() {
    let f = fixture(no_process, vec![delivered()]);
    let mut env = envelope(
        "H",
        Stage::Deliver,
        "s@example.org",
        &[("r@example.net", None)],
    );
    env.paused = Some("held by admin".into());
    f.add(env);
    assert_eq!(f.queue.run_due().await, 0);
    assert!(f.transport.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn outputs_of_an_interrupted_processing_run_are_delivered_once() {
    let f = fixture(
        |env| {
            Ok(vec![Output {
                recipients: vec![env.recipients[0].address.clone()],
                mail_from: None,
                content: Content::Unchanged,
            }])
        },
        vec![delivered()],
    );
    // A crash after the child was stored but before the parent was removed.
    let parent = envelope(
        "P",
        Stage::Process,
        "s@example.org",
        &[("r@example.net", None)],
    );
    let bytes = b"Subject: t\r\n\r\nbody\r\n";
    f.spool.store(&parent, bytes).unwrap();
    let child = parent.derive("P-1".into(), Stage::Deliver, parent.recipients.clone());
    f.spool.store_unchanged(&child, "P", bytes).unwrap();
    assert_eq!(f.queue.load().unwrap(), 1, "only the parent is scheduled");
    f.queue.run_due().await; // process P again: P-1 stored anew
    f.queue.run_due().await; // deliver P-1
    assert_eq!(f.transport.asked.lock().unwrap().len(), 1);
    assert!(f.queue.lock().is_empty());
    assert!(f.spool.load_all().unwrap().0.is_empty());
}

/// One output for every recipient (signed or encrypted): delivered from memory in the same
/// round, and nothing but the original was ever stored.
fn one_copy(env: &Envelope) -> Result<Vec<Output>, ProcessError> {
    Ok(vec![Output {
        recipients: env.recipients.iter().map(|r| r.address.clone()).collect(),
        mail_from: None,
        content: Content::New(b"Subject: signed\r\n\r\nx\r\n".to_vec()),
    }])
}

#[tokio::test]
async fn a_single_output_is_delivered_right_after_processing() {
    let f = fixture(one_copy, vec![delivered()]);
    f.add(envelope(
        "P",
        Stage::Process,
        "s@example.org",
        &[("a@example.net", None), ("b@example.net", None)],
    ));
    assert_eq!(f.queue.run_due().await, 1);
    assert_eq!(
        f.transport.asked.lock().unwrap().clone(),
        ["a@example.net", "b@example.net"]
    );
    assert!(f.queue.lock().is_empty());
    assert!(f.spool.load_all().unwrap().0.is_empty());
}

#[tokio::test]
async fn a_direct_delivery_that_is_deferred_stores_the_output_with_its_state() {
    let f = fixture(one_copy, vec![delivered(), deferred()]);
    f.add(envelope(
        "P",
        Stage::Process,
        "s@example.org",
        &[("a@example.net", None), ("b@example.net", None)],
    ));
    f.queue.run_due().await;
    assert!(f.queue.lock().get("P").is_none(), "the original is gone");
    assert!(matches!(
        f.recipient("P-1", "a@example.net").state,
        RcptState::Delivered { .. }
    ));
    let b = f.recipient("P-1", "b@example.net");
    assert!(b.is_pending());
    assert_eq!(b.next_attempt, START + 60);
    // The stored copy is the processed one, with the same state as the index.
    let (envs, _) = f.spool.load_all().unwrap();
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].id, "P-1");
    assert_eq!(envs[0].recipients[1].attempts, 1);
    assert_eq!(
        f.spool.read_message("P-1").unwrap(),
        b"Subject: signed\r\n\r\nx\r\n"
    );
    // The next round delivers only b, from the stored copy.
    f.set_time(START + 60);
    f.transport.script.lock().unwrap().clear();
    f.transport.script.lock().unwrap().push_back(delivered());
    assert_eq!(f.queue.run_due().await, 1);
    assert!(f.queue.lock().is_empty());
    assert!(f.spool.load_all().unwrap().0.is_empty());
}

#[tokio::test]
async fn a_direct_delivery_that_fails_queues_its_dsn() {
    let f = fixture(one_copy, vec![failed()]);
    f.add(envelope(
        "P",
        Stage::Process,
        "s@example.org",
        &[("r@example.net", None)],
    ));
    f.queue.run_due().await;
    assert!(f.queue.lock().get("P").is_none());
    assert!(f.queue.lock().get("P-1").is_none(), "done: not stored");
    let dsns = f.dsns();
    assert_eq!(dsns.len(), 1);
    let (envs, _) = f.spool.load_all().unwrap();
    assert_eq!(envs.len(), 1, "only the DSN is in the spool");
}

/// A wall clock that jumps, a monotonic one that does not, and clock trust.
mod clock_jumps;
mod kept_messages;
