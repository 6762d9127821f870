//! SMTP: the wire parser and reply table shared by both directions, the inbound server and the
//! outbound client.

pub mod inbound;
pub mod outbound;
pub mod reply;
pub mod stream;
pub mod wire;
