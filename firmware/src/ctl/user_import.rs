//! `segl ctl user import --ldap URL --base DN [--filter F]` and `--csv FILE`: reads users from
//! the company directory (SecuMail imports its users; this is the on-premises route) or a CSV
//! file, and hands the list to the gateway (`POST /users/import`), which adds and updates them
//! in one durable write. Idempotent; `--dry-run` shows what would change.
//!
//! From LDAP: every entry matching the filter (default: people with a mail address) becomes a
//! user named by its `uid` (else the local part of its first address), with all its `mail`
//! values as addresses. Passwords never come from the directory: imported users are registered
//! (e.g. for `keystore.auto_issue`) but log in over SMTP AUTH only once a password is set.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry};
use zeroize::Zeroizing;

use super::client::Client;
use super::output::print_json;
use super::CtlError;
use crate::users::import::{parse_csv, Action, Change, ImportUser};

/// Where the users come from, and whether to apply.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// LDAP directory, `ldap://host[:port]` or `ldaps://…`.
    #[arg(long, conflicts_with = "csv", requires = "base")]
    pub ldap: Option<String>,
    /// Search base for --ldap.
    #[arg(long)]
    pub base: Option<String>,
    /// LDAP search filter.
    #[arg(long, default_value = "(&(objectClass=inetOrgPerson)(mail=*))")]
    pub filter: String,
    /// Bind DN for --ldap (default: anonymous); its password is read from --bind-password-file.
    #[arg(long, requires = "bind_password_file")]
    pub bind_dn: Option<String>,
    #[arg(long)]
    pub bind_password_file: Option<PathBuf>,
    /// CSV file: `name,address[,argon2 password hash]`, one address a line.
    #[arg(long, required_unless_present = "ldap")]
    pub csv: Option<PathBuf>,
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// The users of the directory at `url` under `base` matching `filter`.
fn from_ldap(a: &ImportArgs, url: &str, base: &str) -> Result<Vec<ImportUser>, CtlError> {
    let err = |what: &str, e: ldap3::LdapError| CtlError::Usage(format!("{url}: {what}: {e}"));
    let settings = LdapConnSettings::new().set_conn_timeout(TIMEOUT);
    let mut conn = LdapConn::with_settings(settings, url).map_err(|e| err("connect", e))?;
    if let (Some(dn), Some(f)) = (&a.bind_dn, &a.bind_password_file) {
        let pw = Zeroizing::new(
            std::fs::read_to_string(f)
                .map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", f.display())))?,
        );
        conn.with_timeout(TIMEOUT)
            .simple_bind(dn, pw.trim_end_matches(['\r', '\n']))
            .and_then(|r| r.success())
            .map_err(|e| err(&format!("bind as {dn}"), e))?;
    }
    let (entries, _) = conn
        .with_timeout(TIMEOUT)
        .search(base, Scope::Subtree, &a.filter, vec!["uid", "mail"])
        .and_then(|r| r.success())
        .map_err(|e| err(&format!("search {} under {base}", a.filter), e))?;
    let _ = conn.unbind();
    let mut users = vec![];
    for e in entries {
        let e = SearchEntry::construct(e);
        let mail: Vec<String> = e.attrs.get("mail").cloned().unwrap_or_default();
        let Some(first) = mail.first() else { continue };
        let name = e
            .attrs
            .get("uid")
            .and_then(|u| u.first().cloned())
            .or_else(|| first.split('@').next().map(str::to_string))
            .unwrap_or_default();
        users.push(ImportUser {
            name,
            addresses: mail,
            password_hash: None,
        });
    }
    Ok(users)
}

pub(super) fn import(c: &Client, a: ImportArgs) -> Result<(), CtlError> {
    let users = match (&a.ldap, &a.csv) {
        (Some(url), _) => from_ldap(&a, url, a.base.as_deref().unwrap_or_default())?,
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", f.display())))?;
            parse_csv(&text).map_err(|e| CtlError::Usage(format!("{}: {e}", f.display())))?
        }
        (None, None) => {
            return Err(CtlError::Usage(
                "give --ldap URL --base DN or --csv FILE".into(),
            ))
        }
    };
    let v = c.call(
        "POST",
        "/users/import",
        Some(serde_json::json!({ "users": users, "dry_run": a.dry_run })),
    )?;
    if a.json {
        print_json(&v);
        return Ok(());
    }
    let changes: Vec<Change> =
        serde_json::from_value(v).map_err(|e| CtlError::Api(format!("unexpected answer: {e}")))?;
    let verb = |x: Action| match (x, a.dry_run) {
        (Action::Add, false) => "added",
        (Action::Add, true) => "would add",
        (Action::Update, false) => "updated",
        (Action::Update, true) => "would update",
        (Action::Unchanged, _) => "unchanged",
    };
    for ch in &changes {
        let mut line = format!(
            "{:<12} {:<20} {}",
            verb(ch.action),
            ch.name,
            ch.addresses.join(", ")
        );
        if !ch.old_addresses.is_empty() {
            line.push_str(&format!(" (was {})", ch.old_addresses.join(", ")));
        }
        if ch.password_changed {
            line.push_str(" (password)");
        }
        println!("{line}");
    }
    let n = |x: Action| changes.iter().filter(|c| c.action == x).count();
    println!(
        "{} {}, {} {}, {} unchanged{}",
        n(Action::Add),
        verb(Action::Add),
        n(Action::Update),
        verb(Action::Update),
        n(Action::Unchanged),
        if a.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    Ok(())
}
