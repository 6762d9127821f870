//! Fuzzes the licence file parser, which reads whatever an administrator uploads. Any panic is
//! a bug; a `LicenseError` is an expected answer. Whatever parses must survive a signature
//! check and a state evaluation, and re-assemble into a file that parses to the same terms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segl::license::{format, keys, state};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = format::parse(data) {
        let _ = keys::verify(&f);
        let _ = state::installable(&f, 20_000, "segl-0000-0000-0000-0000-0000");
        let _ = state::evaluate(Some(&f), &[], 20_000, "b", true, "k");
        if let Ok(block) = format::terms_block(&f.terms) {
            let again = format::assemble(&block, &f.key_id, &f.signature);
            let back = format::parse(again.as_bytes()).expect("re-assembled licence parses");
            assert_eq!(back.terms, f.terms);
        }
    }
});
