//! SMTP out: routing by recipient, MX lookup, the client, one delivery attempt, and all of it
//! as the queue's [`crate::queue::Transport`], with a cache of open sessions to next hops.

pub mod cache;
pub mod client;
pub mod dane;
pub mod deliver;
pub mod route;
pub mod transport;
