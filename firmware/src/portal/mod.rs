//! The web encryption portal (issue 18; DESIGN §3, §9): secure delivery to recipients who have
//! no S/MIME certificate. Where mail must be encrypted and cannot be, the policy hands the
//! recipient's copy to the portal ([`crate::policy::portal`]): it is kept sealed on the box ([`store`]), the
//! recipient gets a notification with a link, the sender a receipt with the set-up code. The
//! recipient sets a password on the single-use link (with the code), then reads, downloads and
//! replies on the portal's own listener ([`web`]); the reply re-enters the gateway as mail from
//! the portal user ([`mail`]). Messages expire after `portal.retention_days` ([`tasks`]).
//!
//! The portal shares the admin UI's sessions, CSRF checks, login limiter, templates and
//! security headers, but its router has no admin route at all: a separate listener, a separate
//! session store and cookie.

pub mod mail;
pub mod serve;
pub mod store;
pub mod tasks;
pub mod texts;
pub mod web;

pub use store::{shared, PortalError, Store};
