//! SMTP out: routing by recipient, MX lookup, the client, and one delivery attempt.

pub mod client;
pub mod deliver;
pub mod route;
