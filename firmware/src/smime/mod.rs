//! S/MIME engine (placeholder, filled below).
pub mod error;
pub mod oids;
pub(crate) mod ber;
pub mod keyops;
pub mod pubkey;
pub mod certs;
pub mod content_cipher;
