//! Segl: an S/MIME mail-encryption gateway.
#![forbid(unsafe_code)]
pub mod smime;
