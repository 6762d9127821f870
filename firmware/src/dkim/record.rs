//! The DNS TXT record that publishes a DKIM public key (RFC 6376 §3.6.1, RFC 8463 §4):
//! `v=DKIM1; k=rsa; p=<base64>` at `<selector>._domainkey.<domain>`.
//!
//! `segl ctl dkim show DOMAIN` prints the name and the record, both as text and as a zone-file
//! line whose value is split into quoted strings of at most 255 octets (one TXT string cannot
//! be longer; a 2048-bit RSA record is about 400 characters, RFC 7208-style splitting is what
//! every DNS server and provider expects).

use base64::Engine;

use super::Algorithm;

/// The owner name of the record: `<selector>._domainkey.<domain>`.
pub fn name(selector: &str, domain: &str) -> String {
    format!("{selector}._domainkey.{domain}")
}

/// The record's text as one string, e.g. `v=DKIM1; k=ed25519; p=11qYAYKx…`.
pub fn text(algorithm: Algorithm, public_key: &[u8]) -> String {
    format!(
        "v=DKIM1; k={}; p={}",
        algorithm.key_type(),
        base64::engine::general_purpose::STANDARD.encode(public_key)
    )
}

/// The record's text split into character-strings of at most 255 octets, quoted, for a zone
/// file: `"v=DKIM1; k=rsa; p=MIIB…" "…IDAQAB"`.
pub fn zone_strings(text: &str) -> String {
    text.as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A zone-file line: `<name>. 3600 IN TXT ( "…" "…" )`.
pub fn zone_line(selector: &str, domain: &str, text: &str) -> String {
    format!(
        "{}. 3600 IN TXT ( {} )",
        name(selector, domain),
        zone_strings(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_text_and_zone_line() {
        assert_eq!(name("s1", "example.org"), "s1._domainkey.example.org");
        let t = text(Algorithm::Ed25519, &[0u8; 32]);
        assert_eq!(
            t,
            "v=DKIM1; k=ed25519; p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        );
        let long = format!("v=DKIM1; k=rsa; p={}", "A".repeat(400));
        let z = zone_strings(&long);
        let parts: Vec<&str> = z.split("\" \"").collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(z.replace("\" \"", "").trim_matches('"'), long);
        assert!(zone_line("s1", "example.org", "x").starts_with("s1._domainkey.example.org. "));
    }
}
