//! Fuzzes the key and certificate importers an administrator feeds with uploaded files
//! (PKCS#12, PEM keys and certificate bundles). Any panic is a bug; a `KeystoreError` is an
//! expected answer. The PKCS#12 MAC stops random input before decryption, so the structure
//! walk in front of it is what this reaches; PEM parsing is reached fully.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segl::keystore::import::{p12, pem};

fuzz_target!(|data: &[u8]| {
    let _ = p12::import(data, "");
    let _ = p12::import(data, "secret");
    let _ = pem::import(data);
    let _ = pem::certificates(data);
});
