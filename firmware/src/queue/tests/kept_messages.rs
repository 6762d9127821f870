//! Messages handed from the SMTP receiver to the process stage in memory (`queue::kept`).

use super::*;

/// A process stage that records the message it was given and asks to be run again later.
#[derive(Default)]
struct Recorder(Mutex<Vec<Vec<u8>>>);

impl Process for Recorder {
    fn process(&self, _: &Envelope, message: &[u8]) -> Result<Vec<Output>, ProcessError> {
        self.0.lock().unwrap().push(message.to_vec());
        Err(ProcessError::Temporary("later".into()))
    }
}

/// The process stage takes an accepted message from memory once; when it runs again (after a
/// deferral, as after a restart) and for a message over the budget, it reads the spool file.
#[tokio::test]
async fn the_process_stage_takes_the_accepted_message_from_memory_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::default_config();
    cfg.delivery.retry_initial_secs = 60;
    let spool = Arc::new(Spool::open(dir.path()).unwrap());
    let clock = Arc::new(FakeClock(AtomicI64::new(START)));
    let recorder = Arc::new(Recorder::default());
    let queue = Queue::new(
        Arc::new(cfg),
        spool.clone(),
        Stages {
            process: recorder.clone(),
            transport: Arc::new(FakeTransport::default()),
            clock: clock.clone(),
        },
    );
    let on_disk = b"Subject: on disk\r\n\r\nbody\r\n";
    // Different bytes in memory than on disk show which copy the stage was given (in the
    // gateway they are the same bytes).
    for (id, kept) in [
        ("A", b"Subject: in memory\r\n\r\nbody\r\n".to_vec()),
        ("B", vec![b'x'; kept::BUDGET + 1]),
    ] {
        let mut env = envelope(
            id,
            Stage::Process,
            "s@example.org",
            &[("r@example.net", None)],
        );
        env.set_content(on_disk);
        spool.store(&env, on_disk).unwrap();
        queue.accepted_with(env, Some(kept));
    }
    assert_eq!(queue.run_due().await, 2);
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(
        seen[0], b"Subject: in memory\r\n\r\nbody\r\n",
        "A from memory"
    );
    assert_eq!(
        seen[1], on_disk,
        "B is over the budget: read from the spool"
    );
    assert_eq!(
        queue.kept_bytes.load(Ordering::SeqCst),
        0,
        "budget given back"
    );
    clock.0.store(START + 60, Ordering::SeqCst);
    assert_eq!(queue.run_due().await, 2);
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen[2], on_disk, "A again: from the spool");
    assert_eq!(seen[3], on_disk);
}
