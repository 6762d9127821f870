//! Segl: an S/MIME mail-encryption gateway.
//!
//! The modules follow the data flow: `smtp::inbound` → `spool` → `policy` (process stage) →
//! `smime` → `queue` → `smtp::outbound`; `admin` and `ctl` administer it, `config` describes it.
//! `docs/architecture.md` has the module graph and which module may depend on which.
#![forbid(unsafe_code)]

pub mod address;
pub mod admin;
pub mod app;
pub mod appliance;
pub mod authres;
pub mod clock;
pub mod config;
pub mod ctl;
pub mod dkim;
pub mod dns;
pub mod durable;
pub mod keystore;
pub mod license;
pub mod liveconf;
pub mod message;
pub mod monitor;
pub mod password;
pub mod policy;
pub mod portal;
pub mod queue;
pub mod smime;
pub mod smtp;
pub mod spool;
pub mod startup;
pub mod testhook;
pub mod tls;
pub mod update;
pub mod users;
pub mod webkit;
