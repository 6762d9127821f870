//! Administrators of the web admin and API: name, role, language and an Argon2id hash, kept in
//! `<data_dir>/admins.json` (0600) and replaced atomically on every change. These are not the
//! SMTP AUTH users (`users.rs`): an admin changes the gateway, a mail user only sends mail.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::durable::{sync_dir, write_synced};
pub use crate::webkit::account::{Lang, Role};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("admin store {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("admin {0:?} already exists")]
    Exists(String),
    #[error("no admin {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AdminRecord {
    name: String,
    role: Role,
    #[serde(default)]
    lang: Lang,
    /// PHC string (`$argon2id$...`); never leaves this module.
    password_hash: String,
    created: i64,
}

/// What the API shows of an administrator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AdminInfo {
    pub name: String,
    pub role: Role,
    pub lang: Lang,
    /// Unix seconds.
    pub created: i64,
}

impl From<&AdminRecord> for AdminInfo {
    fn from(r: &AdminRecord) -> AdminInfo {
        AdminInfo {
            name: r.name.clone(),
            role: r.role,
            lang: r.lang,
            created: r.created,
        }
    }
}

/// Passwords shorter than this are refused: the admin login faces the network.
pub use crate::password::MIN_LEN as MIN_PASSWORD;

#[derive(Debug)]
pub struct AdminStore {
    path: PathBuf,
    admins: RwLock<Vec<AdminRecord>>,
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

fn check_password(pw: &str) -> Result<(), AdminError> {
    if pw.chars().count() < MIN_PASSWORD {
        return Err(AdminError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

impl AdminStore {
    pub fn open(data_dir: &Path) -> Result<AdminStore, AdminError> {
        let path = data_dir.join("admins.json");
        let admins = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| AdminError::Store {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => {
                return Err(AdminError::Store {
                    path,
                    message: e.to_string(),
                })
            }
        };
        Ok(AdminStore {
            path,
            admins: RwLock::new(admins),
        })
    }

    fn err(&self, message: impl Into<String>) -> AdminError {
        AdminError::Store {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.admins.read().map(|a| a.is_empty()).unwrap_or(false)
    }

    pub fn list(&self) -> Vec<AdminInfo> {
        self.admins
            .read()
            .map(|a| a.iter().map(AdminInfo::from).collect())
            .unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<AdminInfo> {
        self.admins
            .read()
            .ok()?
            .iter()
            .find(|a| a.name == name)
            .map(AdminInfo::from)
    }

    /// Change the store under its lock; `f` edits a copy that is saved before it replaces the
    /// live list, so a failed write changes nothing.
    fn update<T>(
        &self,
        f: impl FnOnce(&mut Vec<AdminRecord>) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        let mut admins = self.admins.write().map_err(|_| self.err("lock poisoned"))?;
        let mut next = admins.clone();
        let t = f(&mut next)?;
        self.save(&next)?;
        *admins = next;
        Ok(t)
    }

    /// Add an administrator (Argon2 hashing: call from a blocking thread).
    pub fn add(&self, name: &str, password: &str, role: Role) -> Result<AdminInfo, AdminError> {
        if !valid_name(name) {
            return Err(AdminError::Invalid(format!(
                "name {name:?}: use letters, digits and ._-@ (at most 64)"
            )));
        }
        check_password(password)?;
        let hash =
            crate::password::hash(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
        self.update(|all| {
            if all.iter().any(|a| a.name == name) {
                return Err(AdminError::Exists(name.to_string()));
            }
            let r = AdminRecord {
                name: name.to_string(),
                role,
                lang: Lang::En,
                password_hash: hash,
                created: crate::clock::unix_now(),
            };
            let info = AdminInfo::from(&r);
            all.push(r);
            Ok(info)
        })
    }

    /// Add the first administrator, only while there is none (the set-up link's job).
    pub fn add_first(&self, name: &str, password: &str) -> Result<AdminInfo, AdminError> {
        if !self.is_empty() {
            return Err(AdminError::Invalid(
                "an administrator exists already".into(),
            ));
        }
        self.add(name, password, Role::Admin)
    }

    pub fn passwd(&self, name: &str, password: &str) -> Result<(), AdminError> {
        check_password(password)?;
        let hash =
            crate::password::hash(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
        self.update(|all| {
            let a = all
                .iter_mut()
                .find(|a| a.name == name)
                .ok_or_else(|| AdminError::NotFound(name.to_string()))?;
            a.password_hash = hash;
            Ok(())
        })
    }

    pub fn set_lang(&self, name: &str, lang: Lang) -> Result<(), AdminError> {
        self.update(|all| {
            let a = all
                .iter_mut()
                .find(|a| a.name == name)
                .ok_or_else(|| AdminError::NotFound(name.to_string()))?;
            a.lang = lang;
            Ok(())
        })
    }

    /// Delete an administrator; the last one with role admin stays, so the box can be managed.
    pub fn delete(&self, name: &str) -> Result<(), AdminError> {
        self.update(|all| {
            let i = all
                .iter()
                .position(|a| a.name == name)
                .ok_or_else(|| AdminError::NotFound(name.to_string()))?;
            let admins = all.iter().filter(|a| a.role == Role::Admin).count();
            if all[i].role == Role::Admin && admins == 1 {
                return Err(AdminError::Invalid(
                    "the last administrator with role admin cannot be deleted".into(),
                ));
            }
            all.remove(i);
            Ok(())
        })
    }

    /// Check a name and password (Argon2: call from a blocking thread).
    pub fn verify(&self, name: &str, password: &str) -> Option<AdminInfo> {
        let found = self
            .admins
            .read()
            .ok()
            .and_then(|a| a.iter().find(|a| a.name == name).cloned());
        let ok =
            crate::password::verify(found.as_ref().map(|a| a.password_hash.as_str()), password);
        match (ok, found) {
            (true, Some(a)) => Some(AdminInfo::from(&a)),
            _ => None,
        }
    }

    fn save(&self, admins: &[AdminRecord]) -> Result<(), AdminError> {
        let json = serde_json::to_vec_pretty(admins).map_err(|e| self.err(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        write_synced(&tmp, &json).map_err(|e| self.err(e.to_string()))?;
        crate::durable::set_private(&tmp);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e.to_string()))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir).map_err(|e| self.err(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_verify_delete_last() {
        let d = tempfile::tempdir().unwrap();
        let s = AdminStore::open(d.path()).unwrap();
        assert!(s.is_empty());
        s.add_first("root", "correct horse battery").unwrap();
        assert!(s.add_first("two", "correct horse battery").is_err());
        assert!(s.add("ro", "short", Role::Readonly).is_err());
        s.add("ro", "readonly password", Role::Readonly).unwrap();
        let s = AdminStore::open(d.path()).unwrap();
        assert_eq!(
            s.verify("root", "correct horse battery").unwrap().role,
            Role::Admin
        );
        assert!(s.verify("root", "wrong password!").is_none());
        assert!(s.delete("root").is_err(), "last admin stays");
        s.delete("ro").unwrap();
        let text = std::fs::read_to_string(d.path().join("admins.json")).unwrap();
        assert!(text.contains("$argon2id$") && !text.contains("correct horse"));
    }
}
