//! Live configuration: the file named by `--config` (without it `<data_dir>/segl.toml`) is the
//! configuration the gateway runs, and changes made through the admin API or the web pages
//! apply to the running gateway without a restart.
//!
//! A change is validated like `segl config check` would, stored as a new [revision](store)
//! (who, when, diff) and written to the file atomically ([`crate::durable`]); then the
//! [`Live`] handle is swapped and the registered rebuilders (policy context, delivery stage)
//! run. Work already under way keeps the snapshot it started with: an SMTP session keeps its
//! configuration until it ends, a message is processed with the configuration current when
//! its processing began. Listeners, the data directory and a few pools are made at start
//! ([`edit::RESTART_KEYS`]); changes to them are stored and apply at the next start.

pub mod edit;
pub mod fields;
pub mod live;
pub mod store;
pub mod tls_files;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::config::{Config, ConfigError};
pub use live::{rebuild_on_change, Live, LiveConfig};
pub use store::{Revision, RevisionInfo, RevisionStore};

/// The file written when the gateway was started without `--config`.
pub const FILE_NAME: &str = "segl.toml";

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// The new configuration does not validate; `key` names the offending key when known.
    #[error("{message}")]
    Invalid {
        key: Option<String>,
        message: String,
    },
    #[error("no configuration revision {0}")]
    NotFound(u64),
    #[error("cannot write the configuration: {0}")]
    Io(#[from] std::io::Error),
}

impl ChangeError {
    fn invalid(key: Option<&str>, message: impl Into<String>) -> ChangeError {
        ChangeError::Invalid {
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

impl From<ConfigError> for ChangeError {
    fn from(e: ConfigError) -> ChangeError {
        // The message is shown next to a field: without the file name in front.
        match e {
            ConfigError::Invalid { key, message, .. } => ChangeError::Invalid {
                key: Some(key.to_string()),
                message: format!("invalid value for {key}: {message}"),
            },
            ConfigError::Parse { message, .. } => ChangeError::Invalid { key: None, message },
            e => ChangeError::Invalid {
                key: None,
                message: e.to_string(),
            },
        }
    }
}

/// What a change did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// The revision now in the file.
    pub revision: u64,
    /// Keys whose effective value changed.
    pub changed: Vec<String>,
    /// Of those, the ones that apply only at the next start.
    pub restart_needed: Vec<String>,
    /// Unified diff of the file.
    pub diff: String,
}

type Hook = Box<dyn Fn(&Arc<Config>) + Send + Sync>;

/// The live configuration, its file and its revisions.
pub struct ConfigService {
    live: Arc<LiveConfig>,
    /// The configuration the gateway started with (what listeners and pools were made from).
    start: Arc<Config>,
    path: PathBuf,
    /// Whether `path` lies in the data directory (started without `--config`).
    in_data_dir: bool,
    revisions: RevisionStore,
    /// Changes are made one at a time.
    lock: Mutex<()>,
    hooks: Mutex<Vec<Hook>>,
}

impl ConfigService {
    /// `path` is the `--config` file; `None`: `<data_dir>/segl.toml`.
    pub fn new(cfg: Arc<Config>, path: Option<PathBuf>) -> Arc<ConfigService> {
        let in_data_dir = path.is_none();
        let path = path.unwrap_or_else(|| cfg.storage.data_dir.join(FILE_NAME));
        Arc::new(ConfigService {
            live: LiveConfig::new(cfg.clone()),
            revisions: RevisionStore::new(&cfg.storage.data_dir),
            start: cfg,
            path,
            in_data_dir,
            lock: Mutex::new(()),
            hooks: Mutex::new(vec![]),
        })
    }

    /// The handle the SMTP server and the rebuilders share.
    pub fn live(&self) -> Arc<LiveConfig> {
        self.live.clone()
    }

    /// The configuration now in force.
    pub fn get(&self) -> Arc<Config> {
        self.live.get()
    }

    /// The live configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` with the new configuration after every change (rebuild what was made from it).
    pub fn on_change(&self, f: impl Fn(&Arc<Config>) + Send + Sync + 'static) {
        let mut h = self.hooks.lock().unwrap_or_else(|p| p.into_inner());
        h.push(Box::new(f));
    }

    /// The file's text now; for a file not yet written, what it starts as.
    pub fn file_text(&self) -> String {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            // The data directory is `.` seen from a file inside it.
            Err(_) if self.in_data_dir => "[storage]\ndata_dir = \".\"\n".to_string(),
            Err(_) => String::new(),
        }
    }

    /// Validate `text` as the file's new content without writing anything.
    pub fn check(&self, text: &str) -> Result<Config, ChangeError> {
        Ok(Config::from_file_text(text, &self.path)?)
    }

    /// Set keys (dotted paths; `None`: back to the default) and apply.
    pub fn set(
        &self,
        who: &str,
        note: &str,
        changes: &[(String, Option<toml::Value>)],
    ) -> Result<Applied, ChangeError> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut doc: toml_edit::DocumentMut = self
            .file_text()
            .parse()
            .map_err(|e| ChangeError::invalid(None, format!("{}: {e}", self.path.display())))?;
        for (key, value) in changes {
            edit::set_key(&mut doc, key, value.clone())
                .map_err(|m| ChangeError::invalid(Some(key), m))?;
        }
        self.replace_locked(who, note, &doc.to_string())
    }

    /// Replace the whole file with `text` and apply.
    pub fn replace(&self, who: &str, note: &str, text: &str) -> Result<Applied, ChangeError> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.replace_locked(who, note, text)
    }

    /// Make revision `id`'s text the file again (a new revision) and apply.
    pub fn restore(&self, who: &str, id: u64) -> Result<Applied, ChangeError> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let r = self.revisions.get(id).ok_or(ChangeError::NotFound(id))?;
        self.replace_locked(who, &format!("restore of revision {id}"), &r.text)
    }

    fn replace_locked(&self, who: &str, note: &str, text: &str) -> Result<Applied, ChangeError> {
        let new = Arc::new(self.check(text)?);
        let old = self.get();
        let current = self.file_text();
        // The file as it is now is a revision too: the one found at the first change, or one
        // edited by hand since the last revision (so a restore can always go back to it).
        match self.revisions.latest() {
            None => {
                self.revisions
                    .add("initial", "the file before the first change", &current)?;
            }
            Some(r) if r.text != current => {
                self.revisions
                    .add("file", "changed outside Segl", &current)?;
            }
            Some(_) => {}
        }
        let changed = edit::changed_keys(&to_json(&old), &to_json(&new));
        let rev = if current == text {
            // Nothing to write; report the revision in force.
            self.revisions
                .latest()
                .ok_or_else(|| ChangeError::invalid(None, "no revision"))?
        } else {
            let rev = self.revisions.add(who, note, text)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            crate::durable::write_private(&self.path, text.as_bytes())?;
            rev
        };
        self.live.set(new.clone());
        for h in self.hooks.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            h(&new);
        }
        let restart_needed = changed
            .iter()
            .filter(|k| edit::needs_restart(k))
            .cloned()
            .collect();
        tracing::info!(who, revision = rev.id, ?changed, "configuration changed");
        Ok(Applied {
            revision: rev.id,
            changed,
            restart_needed,
            diff: rev.diff,
        })
    }

    /// Revisions, newest first.
    pub fn revisions(&self) -> Vec<RevisionInfo> {
        self.revisions.list()
    }

    pub fn revision(&self, id: u64) -> Option<Revision> {
        self.revisions.get(id)
    }

    /// Diff from revision `from` to revision `to` (`None`: the file now).
    pub fn diff(&self, from: u64, to: Option<u64>) -> Result<String, ChangeError> {
        let a = self
            .revisions
            .get(from)
            .ok_or(ChangeError::NotFound(from))?;
        let (b, name) = match to {
            Some(id) => (
                self.revisions
                    .get(id)
                    .ok_or(ChangeError::NotFound(id))?
                    .text,
                format!("revision {id}"),
            ),
            None => (self.file_text(), self.path.display().to_string()),
        };
        Ok(store::unified(
            &a.text,
            &b,
            &format!("revision {from}"),
            &name,
        ))
    }

    /// Keys changed since the start that apply only at the next start.
    pub fn restart_pending(&self) -> Vec<String> {
        edit::changed_keys(&to_json(&self.start), &to_json(&self.get()))
            .into_iter()
            .filter(|k| edit::needs_restart(k))
            .collect()
    }
}

fn to_json(c: &Config) -> serde_json::Value {
    serde_json::to_value(c).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(dir: &Path) -> Arc<ConfigService> {
        let mut cfg = Config::default_config();
        cfg.storage.data_dir = dir.to_path_buf();
        ConfigService::new(Arc::new(cfg), None)
    }

    #[test]
    fn change_writes_file_and_revisions_and_swaps() {
        let d = tempfile::tempdir().unwrap();
        let s = service(d.path());
        let seen = Arc::new(Mutex::new(String::new()));
        let s2 = seen.clone();
        s.on_change(move |c| *s2.lock().unwrap() = c.mark.encrypted.clone());
        let a = s
            .set(
                "alice",
                "test",
                &[("mark.encrypted".into(), Some("[crypt]".into()))],
            )
            .unwrap();
        assert_eq!(a.revision, 2);
        assert_eq!(a.changed, vec!["mark.encrypted"]);
        assert!(a.restart_needed.is_empty());
        assert_eq!(s.get().mark.encrypted, "[crypt]");
        assert_eq!(*seen.lock().unwrap(), "[crypt]");
        // The file is loadable on its own and keeps the data directory.
        let c = Config::load(&d.path().join(FILE_NAME)).unwrap();
        assert_eq!(c.mark.encrypted, "[crypt]");
        assert_eq!(c.storage.data_dir, d.path());
        let b = s.restore("bob", 1).unwrap();
        assert_eq!(b.revision, 3);
        assert_eq!(s.get().mark.encrypted, "[encrypted]");
        assert!(s
            .diff(1, Some(2))
            .unwrap()
            .contains("+encrypted = \"[crypt]\""));
        assert_eq!(s.revisions().len(), 3);
    }

    #[test]
    fn invalid_change_names_the_key_and_leaves_the_file() {
        let d = tempfile::tempdir().unwrap();
        let s = service(d.path());
        let e = s
            .set(
                "alice",
                "t",
                &[(
                    "relay.trusted_networks".into(),
                    Some(vec!["10.0.0.0/33"].into()),
                )],
            )
            .unwrap_err();
        match e {
            ChangeError::Invalid { key, message } => {
                assert!(message.contains("trusted_networks"), "{message}");
                let _ = key;
            }
            e => panic!("{e}"),
        }
        assert!(!d.path().join(FILE_NAME).exists());
        assert!(s.revisions().is_empty());
    }

    #[test]
    fn a_hand_edit_is_kept_as_a_revision_before_the_next_change() {
        let d = tempfile::tempdir().unwrap();
        let s = service(d.path());
        s.set("alice", "t", &[("mark.signed".into(), Some("[a]".into()))])
            .unwrap();
        let path = d.path().join(FILE_NAME);
        let edited = format!(
            "{}[mark]\nsigned = \"[hand]\"\n",
            "[storage]\ndata_dir = \".\"\n"
        );
        std::fs::write(&path, &edited).unwrap();
        let a = s
            .set("bob", "t", &[("mark.invalid".into(), Some("[bad]".into()))])
            .unwrap();
        assert_eq!(a.revision, 4);
        let r = s.revision(3).unwrap();
        assert_eq!((r.who.as_str(), r.text.as_str()), ("file", edited.as_str()));
        assert_eq!(
            s.get().mark.signed,
            "[hand]",
            "the change builds on the edited file"
        );
    }

    #[test]
    fn listener_changes_wait_for_the_next_start() {
        let d = tempfile::tempdir().unwrap();
        let s = service(d.path());
        let a = s
            .set(
                "alice",
                "t",
                &[("smtp.listen".into(), Some("127.0.0.1:2999".into()))],
            )
            .unwrap();
        assert_eq!(a.restart_needed, vec!["smtp.listen"]);
        assert_eq!(s.restart_pending(), vec!["smtp.listen"]);
    }
}
