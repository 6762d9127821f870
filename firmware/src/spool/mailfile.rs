//! The one-file layout of a queued message, `queue/<id>.mail`: the message bytes, then its
//! envelope record, then a fixed-size footer that says where the record starts and checks it.
//!
//! ```text
//! message ‖ record₁ ‖ footer₁ [‖ record₂ ‖ footer₂ …]
//! footer = "SEGLREC1" ‖ record length (u32 LE) ‖ CRC-32 of the record (u32 LE)
//!          ‖ message length (u64 LE)
//! ```
//!
//! Why one file: the two-file layout (`<id>.msg` + `<id>.env`) cost two file creations, two
//! fsyncs and two unlinks per message, and ext4 pays for each inode allocated among freshly
//! deleted ones (BENCHMARKS.md, issue 15). Here a message is written once (data, record and
//! footer in the same write) and fsynced once: into a file of the [`super::pool`] that already
//! has its name, or into `tmp/`, then renamed into `queue/` and the directory fsynced (shared by
//! concurrent sessions, [`super::dirsync`]). A record always carries the id of its own file:
//! the pool relies on it.
//!
//! A later record update (a delivery attempt, a pause) is *appended* as a new record and
//! footer and the file fdatasynced: no temporary file, no rename, no directory fsync. The
//! newest whole record wins. An append cut short by a crash leaves a tail without a valid
//! footer; the reader then looks back for the newest footer that checks out — the state before
//! that update, which was never acknowledged as done.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::Envelope;

/// File name extension of the layout.
pub const EXT: &str = "mail";

const MAGIC: &[u8; 8] = b"SEGLREC1";
const FOOTER_LEN: usize = 24;
/// A record longer than this is not ours (a record is a few hundred bytes per recipient).
const MAX_RECORD: usize = 64 * 1024 * 1024;

/// The record and footer that follow the message (first write) or an earlier footer (update).
pub fn tail(env: &Envelope, message_len: u64) -> io::Result<Vec<u8>> {
    let record = serde_json::to_vec(env).map_err(io::Error::other)?;
    let rec_len = u32::try_from(record.len())
        .ok()
        .filter(|l| (*l as usize) <= MAX_RECORD)
        .ok_or_else(|| io::Error::other("envelope record too large"))?;
    let mut out = record;
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&rec_len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&message_len.to_le_bytes());
    Ok(out)
}

/// The newest whole record of a `.mail` file and the length of its message.
#[derive(Debug)]
pub struct Record {
    pub env: Envelope,
    pub message_len: u64,
}

/// Reads the newest whole record of `file` (see the module doc); `Err` says why there is none.
pub fn read_record(file: &mut File) -> Result<Record, String> {
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read the file's length: {e}"))?
        .len();
    match record_at(file, len) {
        Ok(r) => Ok(r),
        // The last append was cut short: find the newest footer before it.
        Err(last) => newest_whole(file, len)
            .ok_or_else(|| format!("message file is cut off or damaged: {last}")),
    }
}

/// The record whose footer ends at `end`.
fn record_at(file: &mut File, end: u64) -> Result<Record, String> {
    let footer_start = end
        .checked_sub(FOOTER_LEN as u64)
        .ok_or("file too short for a record")?;
    let mut footer = [0u8; FOOTER_LEN];
    read_exact_at(file, footer_start, &mut footer)
        .map_err(|e| format!("cannot read the record footer: {e}"))?;
    let f = Footer::parse(&footer).ok_or("no record footer at the end of the file")?;
    let rec_start = footer_start
        .checked_sub(f.rec_len as u64)
        .filter(|s| *s >= f.message_len)
        .ok_or("record footer names more bytes than the file has")?;
    let mut record = vec![0u8; f.rec_len];
    read_exact_at(file, rec_start, &mut record)
        .map_err(|e| format!("cannot read the record: {e}"))?;
    if crc32fast::hash(&record) != f.crc {
        return Err("the record does not match its checksum".into());
    }
    let env = serde_json::from_slice(&record).map_err(|e| format!("record unreadable: {e}"))?;
    Ok(Record {
        env,
        message_len: f.message_len,
    })
}

/// Scans back from the end for the newest footer whose record checks out (only after a crash
/// during an append: reads the whole file once).
fn newest_whole(file: &mut File, len: u64) -> Option<Record> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_end(&mut bytes).ok()?;
    let mut end = bytes.len().min(len as usize);
    while end >= FOOTER_LEN {
        let pos = find_last(&bytes[..end - FOOTER_LEN + MAGIC.len()], MAGIC)?;
        if let Ok(r) = record_at(file, (pos + FOOTER_LEN) as u64) {
            return Some(r);
        }
        end = pos + FOOTER_LEN - 1;
    }
    None
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(hay, needle)
}

struct Footer {
    rec_len: usize,
    crc: u32,
    message_len: u64,
}

impl Footer {
    fn parse(b: &[u8; FOOTER_LEN]) -> Option<Footer> {
        if &b[..8] != MAGIC {
            return None;
        }
        let rec_len = u32::from_le_bytes(b[8..12].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(b[12..16].try_into().ok()?);
        let message_len = u64::from_le_bytes(b[16..24].try_into().ok()?);
        (rec_len > 0 && rec_len <= MAX_RECORD).then_some(Footer {
            rec_len,
            crc,
            message_len,
        })
    }
}

fn read_exact_at(file: &mut File, at: u64, buf: &mut [u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(buf)
}

/// Reads the message of a `.mail` file (its first `message_len` bytes) after its record.
pub fn read_message(file: &mut File) -> Result<(Record, Vec<u8>), String> {
    let rec = read_record(file)?;
    let len = usize::try_from(rec.message_len).map_err(|e| e.to_string())?;
    let mut msg = vec![0u8; len];
    read_exact_at(file, 0, &mut msg).map_err(|e| format!("cannot read the message: {e}"))?;
    Ok((rec, msg))
}

/// Appends `env` as the newest record of the `.mail` file at `path` and makes it durable
/// (fdatasync: the file's new length is part of its data). Blocking.
pub fn append_record(path: &std::path::Path, env: &Envelope) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)?;
    let message_len = read_record(&mut f).map_err(io::Error::other)?.message_len;
    f.write_all(&tail(env, message_len)?)?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::tests::sample;

    fn write(path: &std::path::Path, msg: &[u8], env: &Envelope) {
        let mut bytes = msg.to_vec();
        bytes.extend(tail(env, msg.len() as u64).unwrap());
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn message_and_newest_record_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.mail");
        let mut env = sample("A");
        write(&p, b"SEGLREC1 in the message body\r\n", &env);
        env.size = 99;
        append_record(&p, &env).unwrap();
        let (rec, msg) = read_message(&mut File::open(&p).unwrap()).unwrap();
        assert_eq!(msg, b"SEGLREC1 in the message body\r\n");
        assert_eq!(rec.env.size, 99, "the appended record wins");
    }

    #[test]
    fn a_torn_append_falls_back_to_the_record_before() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.mail");
        let env = sample("T");
        write(&p, b"body", &env);
        let whole = std::fs::metadata(&p).unwrap().len();
        let mut next = env.clone();
        next.size = 7;
        let t = tail(&next, 4).unwrap();
        // Every cut of the appended tail but the whole one leaves the first record in force.
        for cut in [1, 10, t.len() - FOOTER_LEN, t.len() - 1] {
            let f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.set_len(whole).unwrap();
            (&f).write_all(&t[..cut]).unwrap();
            let rec = read_record(&mut File::open(&p).unwrap()).unwrap();
            assert_eq!(rec.env.size, 3, "cut at {cut}");
        }
    }

    #[test]
    fn a_damaged_or_foreign_file_has_no_record() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.mail");
        std::fs::write(&p, b"just a message, no record").unwrap();
        assert!(read_record(&mut File::open(&p).unwrap()).is_err());
        write(&p, b"body", &sample("X"));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[10] ^= 1; // inside the record
        std::fs::write(&p, &bytes).unwrap();
        let err = read_record(&mut File::open(&p).unwrap()).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
    }
}
