//! Importing users from a directory or a CSV file (`segl ctl user import`): the whole list is
//! compared with the store and applied in one durable write, so an import is idempotent (the
//! second run changes nothing) and a dry run can show exactly what would change.
//!
//! An imported user without a password hash cannot log in over SMTP AUTH (the empty hash never
//! verifies); it is still a registered user, e.g. for `keystore.auto_issue`. A user's addresses
//! are replaced by the imported ones; a password hash is replaced only when one is imported.

use argon2::password_hash::PasswordHash;
use serde::{Deserialize, Serialize};

use super::{valid_name, User, UserError, UserStore};

/// One user as a directory or CSV file names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ImportUser {
    pub name: String,
    pub addresses: Vec<String>,
    /// An Argon2 PHC string (`$argon2id$...`), never a clear-text password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

/// What an import does (or would do) to one user.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Add,
    Update,
    Unchanged,
}

/// One line of the import's report (no password hashes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Change {
    pub name: String,
    pub action: Action,
    pub addresses: Vec<String>,
    /// The address list before an update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub old_addresses: Vec<String>,
    #[serde(default)]
    pub password_changed: bool,
}

fn check(u: &ImportUser) -> Result<ImportUser, UserError> {
    let name = u.name.trim().to_string();
    if !valid_name(&name) {
        return Err(UserError::Invalid(format!(
            "name {name:?}: use letters, digits and ._-@+"
        )));
    }
    let mut addresses: Vec<String> = vec![];
    for a in &u.addresses {
        let a = crate::address::normalize(a);
        let ok = a
            .rsplit_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && crate::config::is_domain(d));
        if !ok {
            return Err(UserError::Invalid(format!(
                "user {name}: {a:?} is not an address"
            )));
        }
        if !addresses.contains(&a) {
            addresses.push(a);
        }
    }
    if addresses.is_empty() {
        return Err(UserError::Invalid(format!("user {name}: no address")));
    }
    let password_hash = match u.password_hash.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) => {
            let ok = h.starts_with("$argon2") && PasswordHash::new(h).is_ok();
            if !ok {
                return Err(UserError::Invalid(format!(
                    "user {name}: the password hash is not an Argon2 PHC string"
                )));
            }
            Some(h.to_string())
        }
    };
    Ok(ImportUser {
        name,
        addresses,
        password_hash,
    })
}

impl UserStore {
    /// Adds and updates the users in `import` (users not named are left alone); with
    /// `dry_run`, only reports. Every entry is checked before anything is written.
    pub fn import(&self, import: &[ImportUser], dry_run: bool) -> Result<Vec<Change>, UserError> {
        let checked = merged(import)?;
        let mut users = self.users.write().map_err(|_| UserError::Store {
            path: self.path.clone(),
            message: "lock poisoned".into(),
        })?;
        let mut next = users.clone();
        let mut changes = vec![];
        for u in checked {
            changes.push(apply(&mut next, u));
        }
        let changed = changes.iter().any(|c| c.action != Action::Unchanged);
        if changed && !dry_run {
            self.save(&next)?;
            *users = next;
        }
        Ok(changes)
    }
}

/// The checked entries, one per user: the same user on several lines (CSV: one address a
/// line) has its addresses merged.
fn merged(import: &[ImportUser]) -> Result<Vec<ImportUser>, UserError> {
    let mut checked: Vec<ImportUser> = vec![];
    for u in import {
        let u = check(u)?;
        match checked.iter_mut().find(|c| c.name == u.name) {
            // The same user on several lines (CSV: one address a line): addresses merge.
            Some(c) => {
                for a in u.addresses {
                    if !c.addresses.contains(&a) {
                        c.addresses.push(a);
                    }
                }
                if u.password_hash.is_some() {
                    c.password_hash = u.password_hash;
                }
            }
            None => checked.push(u),
        }
    }
    Ok(checked)
}

/// Adds `u` to `next` or updates the user of that name; says what changed.
fn apply(next: &mut Vec<User>, u: ImportUser) -> Change {
    match next.iter_mut().find(|e| e.name == u.name) {
        None => {
            next.push(User {
                name: u.name.clone(),
                addresses: u.addresses.clone(),
                password_hash: u.password_hash.clone().unwrap_or_default(),
            });
            Change {
                name: u.name,
                action: Action::Add,
                addresses: u.addresses,
                old_addresses: vec![],
                password_changed: u.password_hash.is_some(),
            }
        }
        Some(e) => {
            let same_addresses = {
                let (mut a, mut b) = (e.addresses.clone(), u.addresses.clone());
                a.sort();
                b.sort();
                a == b
            };
            let password_changed = u
                .password_hash
                .as_ref()
                .is_some_and(|h| *h != e.password_hash);
            let old = e.addresses.clone();
            if !same_addresses {
                e.addresses = u.addresses.clone();
            }
            if let Some(h) = u.password_hash.filter(|_| password_changed) {
                e.password_hash = h;
            }
            let action = if same_addresses && !password_changed {
                Action::Unchanged
            } else {
                Action::Update
            };
            Change {
                name: u.name,
                action,
                addresses: u.addresses,
                old_addresses: if same_addresses { vec![] } else { old },
                password_changed,
            }
        }
    }
}

/// Reads the CSV form: one user address a line, `name,address[,password hash]`; a user with
/// several addresses has several lines. Empty lines, `#` comments and a header line starting
/// with `name` are skipped. The hash is the last field and may itself contain commas (Argon2
/// parameters), so a line is split at its first two commas only. Addresses may also be given
/// in one field separated by `;` or spaces.
pub fn parse_csv(text: &str) -> Result<Vec<ImportUser>, UserError> {
    let mut out = vec![];
    for (n, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.splitn(3, ',').map(|f| f.trim().trim_matches('"'));
        let name = f.next().unwrap_or_default();
        if n == 0 && name.eq_ignore_ascii_case("name") {
            continue;
        }
        let addresses: Vec<String> = f
            .next()
            .unwrap_or_default()
            .split([';', ' '])
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        if addresses.is_empty() {
            return Err(UserError::Invalid(format!(
                "line {}: expected name,address[,password hash]",
                n + 1
            )));
        }
        out.push(ImportUser {
            name: name.to_string(),
            addresses,
            password_hash: f.next().filter(|h| !h.is_empty()).map(str::to_string),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_is_idempotent_and_dry_run_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = UserStore::open(d.path()).unwrap();
        let hash = crate::users::hash_password("imported pw").unwrap();
        let csv = format!(
            "name,address,password_hash\nann,ann@example.org,{hash}\nann,a.b@example.org\nben,ben@example.org\n"
        );
        let list = parse_csv(&csv).unwrap();
        let dry = s.import(&list, true).unwrap();
        assert_eq!(dry.len(), 2);
        assert!(dry.iter().all(|c| c.action == Action::Add));
        assert!(s.list().is_empty(), "dry run changes nothing");
        s.import(&list, false).unwrap();
        let again = s.import(&list, false).unwrap();
        assert!(again.iter().all(|c| c.action == Action::Unchanged));
        let s = UserStore::open(d.path()).unwrap();
        assert_eq!(
            s.verify("ann", "imported pw").unwrap().addresses,
            vec!["ann@example.org", "a.b@example.org"]
        );
        assert!(s.verify("ben", "").is_none(), "no password: no login");
        let upd = s
            .import(
                &[ImportUser {
                    name: "ben".into(),
                    addresses: vec!["ben@example.org".into(), "b@example.org".into()],
                    password_hash: None,
                }],
                false,
            )
            .unwrap();
        assert_eq!(upd[0].action, Action::Update);
        assert!(parse_csv("x,nope,")
            .and_then(|l| s.import(&l, true))
            .is_err());
        assert!(parse_csv("x,x@example.org,plaintext")
            .and_then(|l| s.import(&l, true))
            .is_err());
    }
}
