//! Fuzzes the SMTP command parser, which sees every byte a client sends before authentication.
//! Any panic is a bug; parse errors are expected. Whatever parses must survive a reply round.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segl::smtp::{reply, wire};

fuzz_target!(|data: &[u8]| {
    match wire::parse_command(data) {
        Ok(wire::Command::Mail(m)) => {
            let _ = wire::domain_of(&m.address);
            if let Some(e) = m.envid {
                assert_eq!(wire::xtext_decode(&wire::xtext_encode(&e)).ok(), Some(e));
            }
        }
        Ok(wire::Command::Rcpt(r)) => {
            let _ = wire::domain_of(&r.address);
        }
        Ok(_) => {}
        Err(e) => {
            let wire = reply::for_parse_error(&e).to_wire();
            assert!(wire.ends_with(b"\r\n"));
        }
    }
});
