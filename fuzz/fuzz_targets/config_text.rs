//! Fuzzes the configuration reader: the web admin and `segl config check` hand it text an
//! administrator typed. Any panic is a bug; a `ConfigError` with a message is the answer. What
//! parses must also pass its own validation without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use segl::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text, "fuzz");
    }
});
