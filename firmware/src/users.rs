//! SMTP AUTH users: name, the addresses they may send as, and an Argon2id password hash.
//! Stored as one JSON file in the data dir, replaced atomically on every change.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

pub mod import;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    #[error("user store {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("invalid user: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub addresses: Vec<String>,
    /// PHC string (`$argon2id$...`); never leaves the store through the API.
    pub password_hash: String,
}

/// What the API shows of a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserInfo {
    pub name: String,
    pub addresses: Vec<String>,
}

#[derive(Debug)]
pub struct UserStore {
    path: PathBuf,
    users: RwLock<Vec<User>>,
}

/// [`crate::password::hash`] with this store's error.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    crate::password::hash(password)
        .map_err(|e| UserError::Invalid(format!("cannot hash password: {e}")))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b))
}

impl UserStore {
    pub fn open(data_dir: &Path) -> Result<UserStore, UserError> {
        let path = data_dir.join("users.json");
        let users = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| UserError::Store {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => {
                return Err(UserError::Store {
                    path,
                    message: e.to_string(),
                })
            }
        };
        Ok(UserStore {
            path,
            users: RwLock::new(users),
        })
    }

    pub fn list(&self) -> Vec<UserInfo> {
        self.users
            .read()
            .map(|u| {
                u.iter()
                    .map(|u| UserInfo {
                        name: u.name.clone(),
                        addresses: u.addresses.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Add a user; the store file is durable before this returns.
    pub fn add(&self, name: &str, addresses: &[String], password: &str) -> Result<(), UserError> {
        if !valid_name(name) {
            return Err(UserError::Invalid(format!(
                "name {name:?}: use letters, digits and ._-@+"
            )));
        }
        if addresses.is_empty() {
            return Err(UserError::Invalid(
                "at least one --email is required".into(),
            ));
        }
        for a in addresses {
            let ok = a
                .rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && crate::config::is_domain(d));
            if !ok {
                return Err(UserError::Invalid(format!("{a:?} is not an address")));
            }
        }
        if password.len() < 8 {
            return Err(UserError::Invalid(
                "password must have at least 8 characters".into(),
            ));
        }
        let hash = hash_password(password)?;
        let mut users = self.users.write().map_err(|_| UserError::Store {
            path: self.path.clone(),
            message: "lock poisoned".into(),
        })?;
        if users.iter().any(|u| u.name == name) {
            return Err(UserError::Exists(name.to_string()));
        }
        let mut next = users.clone();
        next.push(User {
            name: name.to_string(),
            addresses: addresses.iter().map(|a| a.to_ascii_lowercase()).collect(),
            password_hash: hash,
        });
        self.save(&next)?;
        *users = next;
        Ok(())
    }

    fn save(&self, users: &[User]) -> Result<(), UserError> {
        let err = |message: String| UserError::Store {
            path: self.path.clone(),
            message,
        };
        let json = serde_json::to_vec_pretty(users).map_err(|e| err(e.to_string()))?;
        crate::durable::write_private(&self.path, &json).map_err(|e| err(e.to_string()))
    }

    /// Check a name and password. CPU-heavy (Argon2): call from a blocking thread.
    /// Returns the user's addresses on success.
    pub fn verify(&self, name: &str, password: &str) -> Option<UserInfo> {
        let found = self
            .users
            .read()
            .ok()
            .and_then(|u| u.iter().find(|u| u.name == name).cloned());
        let ok =
            crate::password::verify(found.as_ref().map(|u| u.password_hash.as_str()), password);
        match (ok, found) {
            (true, Some(u)) => Some(UserInfo {
                name: u.name,
                addresses: u.addresses,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_verify_persist() {
        let d = tempfile::tempdir().unwrap();
        let s = UserStore::open(d.path()).unwrap();
        s.add("alice", &["Alice@Example.org".into()], "correct horse")
            .unwrap();
        assert!(matches!(
            s.add("alice", &["a@example.org".into()], "correct horse"),
            Err(UserError::Exists(_))
        ));
        assert!(s.add("bob", &["nope".into()], "correct horse").is_err());
        assert!(s.add("bob", &["b@example.org".into()], "short").is_err());
        let s = UserStore::open(d.path()).unwrap();
        let u = s.verify("alice", "correct horse").unwrap();
        assert_eq!(u.addresses, vec!["alice@example.org"]);
        assert!(s.verify("alice", "wrong").is_none());
        assert!(s.verify("nobody", "correct horse").is_none());
        let text = std::fs::read_to_string(d.path().join("users.json")).unwrap();
        assert!(!text.contains("correct horse"));
        assert!(text.contains("$argon2id$"));
    }
}
