//! Unit tests of the spool: both layouts, their mixing, and what happens to damaged files.

use super::*;
use crate::spool::envelope::*;

pub(crate) fn sample(id: &str) -> Envelope {
    Envelope {
        version: ENVELOPE_VERSION,
        id: id.into(),
        parent: None,
        stage: Stage::Process,
        arrived: 0,
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: "h".into(),
            listener: Listener::Mx,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: false,
        },
        mail_from: "a@b.c".into(),
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        size: 3,
        recipients: vec![Recipient::new("u@example.org".into(), None, None)],
        paused: None,
        checksum: None,
    }
}

/// A spool writing `layout` (both are read whatever is written).
fn spool_in(d: &Path, layout: Layout) -> Spool {
    let s = Spool::open(d).unwrap();
    s.set_one_file(layout == Layout::OneFile);
    s
}

const BOTH: [Layout; 2] = [Layout::OneFile, Layout::TwoFiles];

#[test]
fn quarantine_release_roundtrip() {
    for layout in BOTH {
        let d = tempfile::tempdir().unwrap();
        let s = spool_in(d.path(), layout);
        s.store(&sample("B1"), b"abc").unwrap();
        s.quarantine("B1", "why").unwrap();
        assert!(s.load_all().unwrap().0.is_empty());
        assert!(matches!(s.release("NOPE"), Err(SpoolError::NotFound(_))));
        let env = s.release("B1").unwrap();
        assert_eq!(env.id, "B1");
        assert!(s.held().is_empty());
        assert_eq!(s.load_all().unwrap().0.len(), 1);
        assert_eq!(s.read_message("B1").unwrap(), b"abc");
    }
}

#[test]
fn store_update_load_remove() {
    for layout in BOTH {
        let d = tempfile::tempdir().unwrap();
        let s = spool_in(d.path(), layout);
        s.store(&sample("A1"), b"abc").unwrap();
        assert_eq!(s.layout_of("A1"), layout);
        let mut env = sample("A1");
        env.recipients[0].attempts = 2;
        s.write_envelope(&env).unwrap();
        let (envs, problems) = s.load_all().unwrap();
        assert_eq!(envs.len(), 1);
        assert!(problems.is_empty());
        assert_eq!(
            envs[0].recipients[0].attempts, 2,
            "{layout:?}: the update is read"
        );
        assert_eq!(s.read_checked(&envs[0]).unwrap(), b"abc");
        s.remove("A1").unwrap();
        assert!(s.load_all().unwrap().0.is_empty());
        let left: Vec<_> = fs::read_dir(d.path().join("spool/queue"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{layout:?}: {left:?}");
    }
}

#[test]
fn one_file_per_message_and_the_old_layout_still_flows() {
    let d = tempfile::tempdir().unwrap();
    // What the firmware before wrote (or this one on trial)...
    let old = spool_in(d.path(), Layout::TwoFiles);
    old.store(&sample("OLD"), b"abc").unwrap();
    let child = sample("OLD").derive("OLD-1".into(), Stage::Deliver, vec![]);
    old.store_unchanged(&child, "OLD", b"abc").unwrap();
    // ...is read, updated and removed by a spool writing one file per message.
    let s = spool_in(d.path(), Layout::OneFile);
    s.store(&sample("NEW"), b"xyz").unwrap();
    let names: Vec<String> = fs::read_dir(d.path().join("spool/queue"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("NEW"))
        .collect();
    assert_eq!(names, ["NEW.mail"]);
    let ids: Vec<String> = s.load_all().unwrap().0.into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["NEW", "OLD", "OLD-1"]);
    let mut env = sample("OLD");
    env.paused = Some("admin".into());
    s.write_envelope(&env).unwrap();
    assert_eq!(s.layout_of("OLD"), Layout::TwoFiles, "updated in place");
    let copy = sample("NEW").derive("NEW-1".into(), Stage::Deliver, vec![]);
    s.store_unchanged(&copy, "NEW", b"xyz").unwrap();
    s.remove("NEW").unwrap();
    assert_eq!(s.read_message("NEW-1").unwrap(), b"xyz");
    for id in ["OLD", "OLD-1", "NEW-1"] {
        s.remove(id).unwrap();
    }
    assert!(s.load_all().unwrap().0.is_empty());
}

#[test]
fn orphans_and_tmp_are_cleaned_and_bad_records_held() {
    let d = tempfile::tempdir().unwrap();
    let s = Spool::open(d.path()).unwrap();
    fs::write(s.message_path("ORPHAN"), b"x").unwrap();
    fs::write(s.tmp_path("HALF", Layout::TwoFiles), b"x").unwrap();
    fs::write(s.tmp_path("TORN", Layout::OneFile), b"x").unwrap();
    fs::write(s.message_path("BAD"), b"x").unwrap();
    fs::write(s.env_path("BAD"), b"{not json").unwrap();
    fs::write(s.mail_path("NOREC"), b"a message without its record").unwrap();
    let s = Spool::open(d.path()).unwrap();
    let (envs, problems) = s.load_all().unwrap();
    assert!(envs.is_empty());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(!s.message_path("ORPHAN").exists());
    assert!(!s.tmp_path("HALF", Layout::TwoFiles).exists());
    assert!(!s.tmp_path("TORN", Layout::OneFile).exists());
    let held: Vec<String> = s.held().into_iter().map(|h| h.0).collect();
    assert_eq!(held, ["BAD", "NOREC"]);
}

#[test]
fn truncated_message_is_held_at_start_and_refused_on_read() {
    let d = tempfile::tempdir().unwrap();
    let s = spool_in(d.path(), Layout::TwoFiles);
    s.store(&sample("T1"), b"abc").unwrap();
    s.store(&sample("T2"), b"abc").unwrap();
    fs::write(s.message_path("T2"), b"a").unwrap();
    assert!(s.read_checked(&sample("T2")).is_err());
    assert_eq!(s.read_checked(&sample("T1")).unwrap(), b"abc");
    let (envs, problems) = s.load_all().unwrap();
    assert_eq!(envs.len(), 1);
    assert!(
        problems[0].contains("truncated: 1 of 3 bytes"),
        "{problems:?}"
    );
    assert_eq!(s.held()[0].0, "T2");
}

#[test]
fn a_cut_or_damaged_mail_file_is_held() {
    let d = tempfile::tempdir().unwrap();
    let s = spool_in(d.path(), Layout::OneFile);
    for id in ["CUT", "FLIP", "WHOLE"] {
        s.store(&sample(id), b"abc").unwrap();
    }
    let cut = fs::OpenOptions::new()
        .write(true)
        .open(s.mail_path("CUT"))
        .unwrap();
    cut.set_len(2).unwrap();
    let mut bytes = fs::read(s.mail_path("FLIP")).unwrap();
    bytes[1] ^= 1;
    fs::write(s.mail_path("FLIP"), &bytes).unwrap();
    let (envs, problems) = s.load_all().unwrap();
    assert_eq!(
        envs.len(),
        2,
        "a changed byte is found when read: {problems:?}"
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(s.held()[0].0, "CUT");
    let err = s.read_checked(&envs[0]).unwrap_err().to_string();
    assert!(
        err.contains("FLIP.mail") && err.contains("damaged"),
        "{err}"
    );
    assert_eq!(s.read_checked(&envs[1]).unwrap(), b"abc");
}

/// What a crash can leave of the pool ([`pool`]): an empty `.mail` file, or one whose newest
/// record is another (delivered) message's — a pool file, also when a new message was being
/// written over it and never acknowledged. Neither is a message nor held; both are free
/// again, and the `free/` directory of the firmware before is gone.
#[test]
fn pool_files_left_by_a_crash_are_free_again_not_held() {
    let d = tempfile::tempdir().unwrap();
    let s = spool_in(d.path(), Layout::OneFile);
    s.store(&sample("OLD"), b"abc").unwrap();
    s.store(&sample("REAL"), b"abc").unwrap();
    fs::rename(s.mail_path("OLD"), s.mail_path("FRESH")).unwrap();
    fs::write(s.mail_path("EMPTY"), b"").unwrap();
    fs::create_dir_all(d.path().join("spool/free")).unwrap();
    fs::write(d.path().join("spool/free/X"), b"garbage").unwrap();
    drop(s);
    let s = spool_in(d.path(), Layout::OneFile);
    assert!(!d.path().join("spool/free").exists());
    let (envs, problems) = s.load_all().unwrap();
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(envs.len(), 1);
    assert_eq!(envs[0].id, "REAL");
    assert!(s.held().is_empty());
    assert_eq!(s.pool.free_files(), 2);
    assert_eq!(one_file_entries(d.path()), 1, "pool files are no messages");
    // Before a downgrade they go from disk (spool::incoming's tests: a message that took one
    // is then written as a new file).
    let handed_out = s.pool.take().unwrap();
    assert_eq!(drop_pool_files(d.path()), 2);
    assert!(s.mail_path("REAL").exists());
    assert!(!s.pool.path(&handed_out).exists());
    s.pool.give_back(handed_out);
    // The old layout for new messages (a downgrade to come): the pool is emptied.
    s.set_one_file(false);
    assert_eq!(s.pool.free_files(), 0);
    assert!(!s.mail_path("FRESH").exists() && !s.mail_path("EMPTY").exists());
}

#[test]
fn linked_children_share_bytes() {
    let d = tempfile::tempdir().unwrap();
    let s = spool_in(d.path(), Layout::TwoFiles);
    s.store(&sample("P"), b"body").unwrap();
    let child = sample("P").derive("P-1".into(), Stage::Deliver, vec![]);
    s.store_unchanged(&child, "P", b"body").unwrap();
    s.store_unchanged(&child, "P", b"body").unwrap(); // idempotent
    s.remove("P").unwrap();
    assert_eq!(s.read_message("P-1").unwrap(), b"body");
}

#[test]
fn ids_are_unique_and_safe() {
    let a = new_queue_id();
    let b = new_queue_id();
    assert_ne!(a, b);
    assert!(valid_id(&a));
    assert!(!valid_id("../etc"));
    assert!(!valid_id(""));
}
