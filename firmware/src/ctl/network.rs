//! `segl ctl network show|set …` and `segl ctl time show|set …`: the box's network and time
//! settings through the admin API (`/api/v1/network`, `/api/v1/time`). `set` changes only the
//! options given; the box validates, writes `/data/network.conf` or `/data/time.conf` and
//! applies it at once. The console menu uses these verbs.

use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::output::{print_json, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum NetworkVerb {
    /// The settings and the box's last report on applying them.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change settings: `--dhcp`, or `--address A/P` (static) with `--gateway`, `--dns`.
    Set {
        /// Go back to DHCP.
        #[arg(long, conflicts_with_all = ["address", "gateway", "dns"])]
        dhcp: bool,
        /// A static IPv4 address with prefix, like 192.0.2.10/24.
        #[arg(long)]
        address: Option<String>,
        /// The default gateway ("" for none).
        #[arg(long)]
        gateway: Option<String>,
        /// DNS servers, comma-separated ("" for none).
        #[arg(long)]
        dns: Option<String>,
        /// The host name ("" for the default).
        #[arg(long)]
        hostname: Option<String>,
        /// The interface of the static address (default eth0).
        #[arg(long)]
        iface: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TimeVerb {
    /// NTP servers, time zone, the clock and whether it is trusted.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change NTP servers (comma-separated, "" for none) and/or the time zone.
    Set {
        #[arg(long)]
        ntp: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn list(v: &str) -> Value {
    Value::Array(
        v.split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect(),
    )
}

fn joined(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_network(v: &Value) {
    let st = &v["settings"];
    if s(st, "mode") == "static" {
        println!(
            "address:   {} on {} (static)",
            s(st, "address"),
            s(st, "iface")
        );
        println!("gateway:   {}", s(st, "gateway"));
        println!("dns:       {}", joined(&st["dns"]));
    } else {
        println!("address:   DHCP");
    }
    println!("hostname:  {}", s(st, "hostname"));
    println!("file:      {}", s(v, "file"));
    if let Some(status) = v["status"].as_str() {
        println!("applied:   {status}");
    }
}

fn show_time(v: &Value) {
    let st = &v["settings"];
    println!("ntp:       {}", joined(&st["ntp"]));
    println!("timezone:  {}", s(st, "timezone"));
    println!("now:       {}", s(v, "now"));
    println!("clock:     {}", s(v, "clock"));
    if let Some(status) = v["status"].as_str() {
        println!("sync:      {status}");
    }
}

pub(super) fn network(c: &Client, verb: NetworkVerb) -> Result<(), CtlError> {
    match verb {
        NetworkVerb::Show { json } => {
            let v = c.call("GET", "/network", None)?;
            if json {
                print_json(&v)
            } else {
                show_network(&v)
            }
        }
        NetworkVerb::Set {
            dhcp,
            address,
            gateway,
            dns,
            hostname,
            iface,
            json,
        } => {
            let cur = c.call("GET", "/network", None)?;
            let mut st = cur["settings"].clone();
            if dhcp {
                st["mode"] = "dhcp".into();
            }
            if let Some(a) = address {
                st["mode"] = "static".into();
                st["address"] = a.into();
            }
            if let Some(g) = gateway {
                st["gateway"] = g.into();
            }
            if let Some(d) = dns {
                st["dns"] = list(&d);
            }
            if let Some(h) = hostname {
                st["hostname"] = h.into();
            }
            if let Some(i) = iface {
                st["iface"] = i.into();
            }
            let v = c.call("PUT", "/network", Some(st))?;
            if json {
                print_json(&v)
            } else {
                println!("{}", s(&v["saved"], "message"));
            }
        }
    }
    Ok(())
}

pub(super) fn time(c: &Client, verb: TimeVerb) -> Result<(), CtlError> {
    match verb {
        TimeVerb::Show { json } => {
            let v = c.call("GET", "/time", None)?;
            if json {
                print_json(&v)
            } else {
                show_time(&v)
            }
        }
        TimeVerb::Set {
            ntp,
            timezone,
            json,
        } => {
            let cur = c.call("GET", "/time", None)?;
            let mut st = cur["settings"].clone();
            if let Some(n) = ntp {
                st["ntp"] = list(&n);
            }
            if let Some(z) = timezone {
                st["timezone"] = z.into();
            }
            let v = c.call("PUT", "/time", Some(st))?;
            if json {
                print_json(&v)
            } else {
                println!("{}", s(&v["saved"], "message"));
            }
        }
    }
    Ok(())
}
