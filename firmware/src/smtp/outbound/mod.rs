//! SMTP out: routing by recipient, MX lookup, the client, one delivery attempt, and all of it
//! as the queue's [`crate::queue::Transport`].

pub mod client;
pub mod deliver;
pub mod route;
pub mod transport;
