//! `segl ctl`: administer a running gateway through its admin API, with the token from the data dir.
//! `--json` prints what the API returns (one JSON array of objects for lists).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::config::Config;
use crate::queue::QueueItem;

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Configuration file of the gateway (default: the embedded default).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Versions, listeners, queue size, licence state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The mail queue.
    Queue {
        #[command(subcommand)]
        verb: QueueVerb,
    },
    /// SMTP AUTH users.
    User {
        #[command(subcommand)]
        verb: UserVerb,
    },
    /// Own keys (individual, function mailbox, domain).
    Key {
        #[command(subcommand)]
        verb: crate::keystore_ctl::KeyVerb,
    },
    /// Partner certificates.
    Partner {
        #[command(subcommand)]
        verb: crate::keystore_ctl::PartnerVerb,
    },
    /// Trust anchors and CRLs.
    Trust {
        #[command(subcommand)]
        verb: crate::keystore_ctl::TrustVerb,
    },
    /// Administrators of the web admin and API.
    Admin {
        #[command(subcommand)]
        verb: crate::ctl_admin::AdminVerb,
    },
    /// Backup and restore of the keystore.
    Backup {
        #[command(subcommand)]
        verb: crate::keystore_ctl::BackupVerb,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueueVerb {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Retry one message now, or all with --all.
    Retry {
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    Delete {
        id: String,
    },
    /// Quarantined messages and why.
    Held {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserVerb {
    /// Add a user; the password is read from --password-file or standard input.
    Add {
        name: String,
        #[arg(long = "email", required = true)]
        emails: Vec<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot read the API token {0}: {1} (is `segl serve` running with this config?)")]
    Token(PathBuf, std::io::Error),
    #[error("cannot reach the admin API at {0}: {1}")]
    Http(String, String),
    #[error("{0}")]
    Api(String),
    #[error("{0}")]
    Usage(String),
}

pub(crate) struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(cfg: &Config) -> Result<Client, CtlError> {
        let path = cfg.storage.data_dir.join("ctl.token");
        let token = std::fs::read_to_string(&path)
            .map_err(|e| CtlError::Token(path.clone(), e))?
            .trim()
            .to_string();
        let listen = cfg
            .admin
            .listen
            .replace("0.0.0.0", "127.0.0.1")
            .replace("[::]", "[::1]");
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        let https = crate::admin::https::uses_https(cfg);
        let agent = if https {
            crate::ctl_admin::pinned_agent(cfg, config)?
        } else {
            config.into()
        };
        let scheme = if https { "https" } else { "http" };
        Ok(Client {
            base: format!("{scheme}://{listen}/api/v1"),
            token,
            agent,
        })
    }

    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CtlError> {
        let url = format!("{}{}", self.base, path);
        let auth = format!("Bearer {}", self.token);
        let herr = |e: ureq::Error| CtlError::Http(self.base.clone(), e.to_string());
        let mut resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            (_, Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(&b),
            (_, None) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
        }
        .map_err(herr)?;
        let status = resp.status();
        let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        if status.is_success() {
            Ok(v)
        } else {
            let msg = v
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| status.to_string());
            Err(CtlError::Api(msg))
        }
    }
}

pub(crate) fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

fn when(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

pub fn run(args: CtlArgs) -> Result<(), CtlError> {
    let cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default_config(),
    };
    let c = Client::new(&cfg)?;
    match args.verb {
        Verb::Status { json } => {
            let v = c.call("GET", "/status", None)?;
            if json {
                print_json(&v);
            } else {
                let q = &v["queue"];
                println!(
                    "segl {} on {}",
                    v["version"].as_str().unwrap_or("?"),
                    v["hostname"].as_str().unwrap_or("?")
                );
                println!("uptime:      {} s", v["uptime_secs"]);
                println!("smtp:        {}", v["listeners"]["smtp"]);
                println!("submission:  {}", v["listeners"]["submission"]);
                println!(
                    "admin:       {}",
                    v["listeners"]["admin"].as_str().unwrap_or("?")
                );
                println!(
                    "queue:       {} messages, {} recipients pending ({} deferred), {} held",
                    q["messages"], q["recipients_pending"], q["deferred"], q["held"]
                );
                println!("licence:     {}", v["licence"].as_str().unwrap_or("?"));
            }
        }
        Verb::Queue { verb } => match verb {
            QueueVerb::List { json } => {
                let v = c.call("GET", "/queue", None)?;
                if json {
                    print_json(&v);
                } else {
                    let items: Vec<QueueItem> = serde_json::from_value(v).unwrap_or_default();
                    if items.is_empty() {
                        println!("queue is empty");
                    }
                    for i in items {
                        println!(
                            "{}  {}  {:>8} B  {}  <{}>",
                            i.id,
                            i.stage,
                            i.size,
                            when(i.arrived),
                            i.sender
                        );
                        for r in i.recipients {
                            print!("    {:<10} <{}>", r.state, r.address);
                            if r.attempts > 0 {
                                print!("  attempts {}", r.attempts);
                            }
                            if let Some(e) = r.last_error {
                                print!("  ({e})");
                            }
                            println!();
                        }
                    }
                }
            }
            QueueVerb::Retry { id, all } => {
                let v = match (id, all) {
                    (Some(id), false) => c.call("POST", &format!("/queue/{id}/retry"), None)?,
                    (None, true) => c.call("POST", "/queue/retry", None)?,
                    _ => return Err(CtlError::Usage("give a queue ID or --all".into())),
                };
                println!("retry: {}", v["retried"]);
            }
            QueueVerb::Delete { id } => {
                c.call("DELETE", &format!("/queue/{id}"), None)?;
                println!("deleted {id}");
            }
            QueueVerb::Held { json } => {
                let v = c.call("GET", "/queue/held", None)?;
                if json {
                    print_json(&v);
                } else {
                    for h in v.as_array().into_iter().flatten() {
                        println!(
                            "{}  {}",
                            h["id"].as_str().unwrap_or(""),
                            h["reason"].as_str().unwrap_or("")
                        );
                    }
                }
            }
        },
        Verb::Key { verb } => crate::keystore_ctl::key(&c, verb)?,
        Verb::Partner { verb } => crate::keystore_ctl::partner(&c, verb)?,
        Verb::Trust { verb } => crate::keystore_ctl::trust(&c, verb)?,
        Verb::Backup { verb } => crate::keystore_ctl::backup(&c, verb)?,
        Verb::Admin { verb } => crate::ctl_admin::admin(&c, verb)?,
        Verb::User { verb } => match verb {
            UserVerb::Add {
                name,
                emails,
                password_file,
            } => {
                let mut pw = String::new();
                match password_file {
                    Some(p) => {
                        pw = std::fs::read_to_string(&p).map_err(|e| {
                            CtlError::Usage(format!("cannot read {}: {e}", p.display()))
                        })?
                    }
                    None => {
                        std::io::stdin()
                            .read_to_string(&mut pw)
                            .map_err(|e| CtlError::Usage(e.to_string()))?;
                    }
                }
                let pw = pw.trim_end_matches(['\r', '\n']).to_string();
                c.call(
                    "POST",
                    "/users",
                    Some(serde_json::json!({ "name": name, "addresses": emails, "password": pw })),
                )?;
                println!("user {name} added");
            }
            UserVerb::List { json } => {
                let v = c.call("GET", "/users", None)?;
                if json {
                    print_json(&v);
                } else {
                    for u in v.as_array().into_iter().flatten() {
                        let addrs: Vec<&str> = u["addresses"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect();
                        println!(
                            "{:<20} {}",
                            u["name"].as_str().unwrap_or(""),
                            addrs.join(", ")
                        );
                    }
                }
            }
        },
    }
    Ok(())
}
