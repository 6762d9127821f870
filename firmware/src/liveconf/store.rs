//! Configuration revisions on disk: one JSON file per version of the live configuration file
//! in `<data_dir>/config-revisions/` (`000001.json`, …), each with who made it, when, why, the
//! full text and the diff against the version before. Written durably before the
//! configuration file itself is replaced, so every file the gateway ever ran is recoverable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One version of the configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revision {
    pub id: u64,
    /// Unix seconds.
    pub time: i64,
    /// Administrator name, `ctl` for the local token, `initial` for the file found at the
    /// first change.
    pub who: String,
    /// What the change was (`set mark.encrypted`, `restore of revision 3`, …).
    pub note: String,
    /// The file's full text in this version.
    pub text: String,
    /// Unified diff from the previous revision (empty for the first).
    pub diff: String,
}

/// A revision without its text, for lists.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RevisionInfo {
    pub id: u64,
    pub time: i64,
    pub who: String,
    pub note: String,
    /// Lines added and removed against the previous revision.
    pub added: usize,
    pub removed: usize,
}

impl From<&Revision> for RevisionInfo {
    fn from(r: &Revision) -> RevisionInfo {
        let count = |c: char| {
            r.diff
                .lines()
                .filter(|l| l.starts_with(c) && !l.starts_with("+++") && !l.starts_with("---"))
                .count()
        };
        RevisionInfo {
            id: r.id,
            time: r.time,
            who: r.who.clone(),
            note: r.note.clone(),
            added: count('+'),
            removed: count('-'),
        }
    }
}

pub struct RevisionStore {
    dir: PathBuf,
}

impl RevisionStore {
    pub fn new(data_dir: &Path) -> RevisionStore {
        RevisionStore {
            dir: data_dir.join("config-revisions"),
        }
    }

    fn file(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:06}.json"))
    }

    /// All revision ids, oldest first.
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    pub fn get(&self, id: u64) -> Option<Revision> {
        let bytes = std::fs::read(self.file(id)).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(id, error = %e, "unreadable configuration revision");
                None
            }
        }
    }

    pub fn latest(&self) -> Option<Revision> {
        self.ids().last().and_then(|id| self.get(*id))
    }

    /// Newest first.
    pub fn list(&self) -> Vec<RevisionInfo> {
        let mut out: Vec<RevisionInfo> = self
            .ids()
            .into_iter()
            .filter_map(|id| self.get(id))
            .map(|r| RevisionInfo::from(&r))
            .collect();
        out.reverse();
        out
    }

    /// Store the next revision (durably) and return it.
    pub fn add(&self, who: &str, note: &str, text: &str) -> std::io::Result<Revision> {
        std::fs::create_dir_all(&self.dir)?;
        let prev = self.latest();
        let id = prev.as_ref().map_or(1, |p| p.id + 1);
        let diff = match &prev {
            Some(p) => unified(
                &p.text,
                text,
                &format!("revision {}", p.id),
                &format!("revision {id}"),
            ),
            None => String::new(),
        };
        let r = Revision {
            id,
            time: crate::clock::unix_now(),
            who: who.to_string(),
            note: note.to_string(),
            text: text.to_string(),
            diff,
        };
        let bytes = serde_json::to_vec_pretty(&r).map_err(std::io::Error::other)?;
        // The configuration may name secrets' files but holds no secrets itself; still, it is
        // the administrator's business only.
        crate::durable::write_private(&self.file(id), &bytes)?;
        Ok(r)
    }
}

/// A unified diff of two texts, empty when they are equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_number_up_and_carry_diffs() {
        let d = tempfile::tempdir().unwrap();
        let s = RevisionStore::new(d.path());
        assert!(s.latest().is_none());
        s.add("initial", "file at first change", "a = 1\n").unwrap();
        let r = s.add("alice", "set a", "a = 2\n").unwrap();
        assert_eq!(r.id, 2);
        assert!(
            r.diff.contains("-a = 1") && r.diff.contains("+a = 2"),
            "{}",
            r.diff
        );
        let l = s.list();
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].id, l[0].added, l[0].removed), (2, 1, 1));
        assert_eq!(s.get(1).unwrap().text, "a = 1\n");
    }
}
