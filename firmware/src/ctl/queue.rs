//! `segl ctl queue list|retry|delete|held|release`.

use clap::Subcommand;

use super::client::Client;
use super::output::{print_json, when};
use super::CtlError;
use crate::queue::QueueItem;

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
    /// Put a quarantined message back into the queue, to be processed or delivered again.
    Release {
        id: String,
    },
}

pub(super) fn queue(c: &Client, verb: QueueVerb) -> Result<(), CtlError> {
    match verb {
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
        QueueVerb::Release { id } => {
            c.call("POST", &format!("/queue/held/{id}/release"), None)?;
            println!("released {id}");
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
    }
    Ok(())
}
