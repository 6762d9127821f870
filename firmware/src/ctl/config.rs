//! `segl ctl config show|set|revisions|diff|restore`: the running gateway's live
//! configuration through the admin API (a second process cannot open the keystore, so the
//! live state is read from the gateway, not the file).

use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::output::{out, print_json, when};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum ConfigVerb {
    /// The live configuration file's text, its path and the newest revision.
    Show {
        /// The effective configuration (every key) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set keys, e.g. `mark.encrypted='[crypt]'` or `relay.local_domains='["a.example"]'`
    /// (a value is read as TOML, else taken as text; an empty value restores the default).
    Set {
        #[arg(required = true)]
        assignments: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Configuration revisions, newest first.
    Revisions {
        #[arg(long)]
        json: bool,
    },
    /// Diff from revision FROM to revision TO (default: the file now).
    Diff { from: u64, to: Option<u64> },
    /// Make revision ID the live configuration again.
    Restore { id: u64 },
}

/// `KEY=VALUE` as a JSON pair: the value parsed as a TOML value when it is one.
fn assignment(a: &str) -> Result<(String, Value), CtlError> {
    let (k, v) = a
        .split_once('=')
        .ok_or_else(|| CtlError::Usage(format!("{a}: expected KEY=VALUE")))?;
    let v = v.trim();
    if v.is_empty() {
        return Ok((k.trim().to_string(), Value::Null));
    }
    let parsed = toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|t| serde_json::to_value(t).ok());
    Ok((
        k.trim().to_string(),
        parsed.unwrap_or_else(|| Value::String(v.to_string())),
    ))
}

fn print_applied(v: &Value) {
    println!("revision {}", v["revision"]);
    if let Some(keys) = v["changed"].as_array() {
        for k in keys {
            println!("  changed {}", k.as_str().unwrap_or("-"));
        }
    }
    if let Some(keys) = v["restart_needed"].as_array().filter(|a| !a.is_empty()) {
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        println!("applies at the next start: {}", keys.join(", "));
    }
}

pub(super) fn run(c: &Client, verb: ConfigVerb) -> Result<(), CtlError> {
    match verb {
        ConfigVerb::Show { json } => {
            let v = c.call("GET", "/config", None)?;
            if json {
                print_json(&v["config"]);
            } else {
                println!(
                    "# {} (revision {})",
                    v["path"].as_str().unwrap_or("-"),
                    v["revision"]
                );
                print!("{}", v["text"].as_str().unwrap_or_default());
                if let Some(p) = v["restart_pending"].as_array().filter(|a| !a.is_empty()) {
                    let keys: Vec<&str> = p.iter().filter_map(Value::as_str).collect();
                    println!("# applies at the next start: {}", keys.join(", "));
                }
            }
        }
        ConfigVerb::Set { assignments, note } => {
            let mut set = serde_json::Map::new();
            for a in &assignments {
                let (k, v) = assignment(a)?;
                set.insert(k, v);
            }
            let v = c.call(
                "POST",
                "/config/set",
                Some(serde_json::json!({ "set": set, "note": note })),
            )?;
            print_applied(&v);
        }
        ConfigVerb::Revisions { json } => {
            let v = c.call("GET", "/config/revisions", None)?;
            out(&v, json, |r| {
                println!(
                    "{:>4}  {}  {:<12} +{} -{}  {}",
                    r["id"],
                    when(r["time"].as_i64().unwrap_or(0)),
                    r["who"].as_str().unwrap_or("-"),
                    r["added"],
                    r["removed"],
                    r["note"].as_str().unwrap_or("")
                )
            });
        }
        ConfigVerb::Diff { from, to } => {
            let path = match to {
                Some(t) => format!("/config/diff?from={from}&to={t}"),
                None => format!("/config/diff?from={from}"),
            };
            let v = c.call("GET", &path, None)?;
            print!("{}", v["diff"].as_str().unwrap_or_default());
        }
        ConfigVerb::Restore { id } => {
            let v = c.call("POST", &format!("/config/revisions/{id}/restore"), None)?;
            print_applied(&v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_read_toml_values_or_text() {
        assert_eq!(
            assignment("mark.encrypted=[crypt]").unwrap(),
            ("mark.encrypted".into(), Value::String("[crypt]".into()))
        );
        assert_eq!(
            assignment("a.b=[\"x\", \"y\"]").unwrap().1,
            serde_json::json!(["x", "y"])
        );
        assert_eq!(assignment("a.b=true").unwrap().1, Value::Bool(true));
        assert_eq!(assignment("a.b=42").unwrap().1, serde_json::json!(42));
        assert_eq!(assignment("a.b=").unwrap().1, Value::Null);
        assert!(assignment("nothing").is_err());
    }
}
