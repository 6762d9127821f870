//! Lines over 998 octets (RFC 5322 §2.1.1, RFC 5321 §4.5.3.1.6). Strict next hops refuse them
//! ("500 line too long"), and Postfix in the path would break them at `smtp_line_length_limit`
//! (998) by inserting line ends, which corrupts text and breaks every signature over it.
//! What Segl does instead, before it signs or passes a message on:
//! - a header line is folded at whitespace (CRLF before the whitespace, RFC 5322 §2.2.3); one
//!   without whitespace is broken with CRLF + space, as Postfix does (the only lossy case);
//! - a body part with a long line is re-encoded: text as quoted-printable (readable, short
//!   lines), anything else as base64; multiparts are walked part by part, so only the part
//!   with long lines changes;
//! - a `multipart/signed` entity is left as it is: any change breaks its signature, and a
//!   signature the author made is worth more than a strict next hop.
//!
//! S/MIME signing runs on the result, so the signature covers the re-encoded form and verifies
//! (`openssl smime -verify`). Nothing is ever truncated.

use super::error::{Result, SmimeError};
use super::mime::{self, Entity};

/// The longest line RFC 5322 allows, without its CRLF.
pub const MAX_LINE: usize = 998;

/// Quoted-printable lines stay within RFC 2045's 76 characters (including the soft break `=`).
const QP_LINE: usize = 76;

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether any line of `data` (without its line end) is longer than [`MAX_LINE`].
pub fn has_long_line(data: &[u8]) -> bool {
    data.split(|&b| b == b'\n')
        .any(|l| trim_cr(l).len() > MAX_LINE)
}

/// `message` with every line within [`MAX_LINE`] (see the module doc), or `None` when it has no
/// long line. An error (a structure too deep or broken to walk) leaves the decision to the
/// caller, which passes the message on unchanged rather than lose or truncate it.
pub fn fit(message: &[u8], max_depth: usize) -> Result<Option<Vec<u8>>> {
    if !has_long_line(message) {
        return Ok(None);
    }
    let canonical = mime::to_crlf(message);
    fit_entity(&canonical, 0, max_depth, true).map(Some)
}

fn fit_entity(raw: &[u8], depth: usize, max_depth: usize, top: bool) -> Result<Vec<u8>> {
    if depth > max_depth {
        return Err(SmimeError::LimitExceeded("MIME nesting too deep".into()));
    }
    let e = Entity::parse(raw)?;
    let header_len = raw.len() - e.body.len();
    let mut out = fold_headers(&raw[..header_len]);
    if !has_long_line(e.body) {
        out.extend_from_slice(e.body);
        return Ok(out);
    }
    let ct = e.content_type();
    if ct.mime == "multipart/signed" {
        tracing::warn!(
            "a signed part has lines over 998 octets; left as it is to keep its signature"
        );
        out.extend_from_slice(e.body);
        return Ok(out);
    }
    if ct.mime.starts_with("multipart/") {
        let boundary = ct
            .param("boundary")
            .ok_or_else(|| SmimeError::MalformedMime("multipart without boundary".into()))?;
        let (parts, preamble, epilogue) = mime::split_multipart(e.body, boundary, 1000)?;
        out.extend_from_slice(preamble);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 || !preamble.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            out.extend_from_slice(&fit_entity(p.raw, depth + 1, max_depth, false)?);
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out.extend_from_slice(epilogue);
        return Ok(out);
    }
    if ct.mime.starts_with("message/") {
        // RFC 2046 allows no encoding here: fit the enclosed message instead.
        out.extend_from_slice(&fit_entity(e.body, depth + 1, max_depth, false)?);
        return Ok(out);
    }
    // A leaf with a long line: re-encode it.
    let decoded = e.decoded_body()?;
    let text = ct.mime.starts_with("text/");
    let mut head = Vec::with_capacity(header_len + 64);
    for h in &e.headers {
        if !h.name.eq_ignore_ascii_case("content-transfer-encoding") {
            head.extend_from_slice(&fold_headers(h.raw));
        }
    }
    if top && e.header("MIME-Version").is_none() {
        head.extend_from_slice(b"MIME-Version: 1.0\r\n");
    }
    if e.header("Content-Type").is_none() && decoded.iter().any(|&b| b >= 0x80) {
        head.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    }
    if text {
        head.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        head.extend_from_slice(&encode_qp(&decoded));
    } else {
        head.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        head.extend_from_slice(&mime::encode_base64_lines(&decoded));
    }
    Ok(head)
}

/// Folds every header line over [`MAX_LINE`]: before the last whitespace that keeps the line
/// within the limit, or (no whitespace) with CRLF + space at the limit.
pub fn fold_headers(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 8);
    for line in block.split_inclusive(|&b| b == b'\n') {
        let eol = line.len() - eol_len(line);
        let (mut rest, end) = line.split_at(eol);
        // Octets already on the current output line: the space a hard break put there.
        let mut lead = 0;
        while lead + rest.len() > MAX_LINE {
            let room = MAX_LINE - lead;
            let cut = rest[1..=room]
                .iter()
                .rposition(|&b| b == b' ' || b == b'\t')
                .map(|i| i + 1)
                .filter(|&p| rest[..p].iter().any(|&b| b != b' ' && b != b'\t'));
            match cut {
                Some(p) => {
                    out.extend_from_slice(&rest[..p]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[p..];
                    lead = 0;
                }
                None => {
                    out.extend_from_slice(&rest[..room]);
                    out.extend_from_slice(b"\r\n ");
                    rest = &rest[room..];
                    lead = 1;
                }
            }
        }
        out.extend_from_slice(rest);
        out.extend_from_slice(end);
    }
    out
}

/// Length of the CR/LF line end of `line`.
fn eol_len(line: &[u8]) -> usize {
    line.iter()
        .rev()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count()
}

/// Quoted-printable (RFC 2045 §6.7) for text: CRLF stays a hard line break, lines are broken
/// softly at 76 characters, `=`, control and 8-bit bytes and whitespace before a line end are
/// encoded.
pub fn encode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 8);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let n = lines.len();
    for (i, line) in lines.into_iter().enumerate() {
        let last = i + 1 == n;
        if last && line.is_empty() {
            break;
        }
        let line = trim_cr(line);
        let mut col = 0;
        for (j, &b) in line.iter().enumerate() {
            let at_end = j + 1 == line.len();
            let literal = match b {
                b'=' => false,
                b' ' | b'\t' => !at_end,
                33..=126 => true,
                _ => false,
            };
            // A dot alone at a line start is SMTP's end of data: encode it.
            let literal = literal && !(col == 0 && b == b'.');
            let width = if literal { 1 } else { 3 };
            if col + width > QP_LINE - 1 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            col += width;
        }
        if !last {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_left_alone() {
        assert!(fit(b"Subject: x\r\n\r\nshort\r\n", 8).unwrap().is_none());
    }

    #[test]
    fn long_text_becomes_quoted_printable_and_decodes_back() {
        let long = "word ".repeat(400) + "end=1";
        let msg = format!("Subject: x\r\n\r\n{long}\r\nsecond line\r\n");
        let out = fit(msg.as_bytes(), 8).unwrap().unwrap();
        assert!(!has_long_line(&out));
        let e = Entity::parse(&out).unwrap();
        assert_eq!(e.header("MIME-Version").as_deref(), Some("1.0"));
        assert_eq!(e.transfer_encoding(), "quoted-printable");
        let back = e.decoded_body().unwrap();
        assert_eq!(back, format!("{long}\r\nsecond line\r\n").as_bytes());
        assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= QP_LINE + 1));
    }

    #[test]
    fn only_the_long_part_changes_and_signed_parts_stay() {
        let long = "x".repeat(2000);
        let msg = format!(
            "Subject: m\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nshort\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n{long}\r\n--b--\r\n"
        );
        let out = String::from_utf8(fit(msg.as_bytes(), 8).unwrap().unwrap()).unwrap();
        assert!(out.contains("--b\r\nContent-Type: text/plain\r\n\r\nshort\r\n--b\r\n"));
        assert!(out.contains("Content-Transfer-Encoding: base64"));
        assert!(!has_long_line(out.as_bytes()));
        let signed = format!(
            "Subject: s\r\nContent-Type: multipart/signed; boundary=\"s\"\r\n\r\n--s\r\n\r\n{long}\r\n--s--\r\n"
        );
        let out = fit(signed.as_bytes(), 8).unwrap().unwrap();
        assert_eq!(out, signed.as_bytes());
    }

    #[test]
    fn long_headers_fold_at_whitespace_or_break() {
        let to = (0..200)
            .map(|i| format!("u{i}@example.org"))
            .collect::<Vec<_>>()
            .join(", ");
        let block = format!("To: {to}\r\nX-Token: {}\r\n", "a".repeat(2500));
        let out = fold_headers(block.as_bytes());
        assert!(!has_long_line(&out));
        let e = Entity::parse(&out).unwrap();
        assert_eq!(e.header("To").unwrap(), to);
        assert_eq!(
            e.header("X-Token").unwrap().replace(' ', ""),
            "a".repeat(2500)
        );
    }

    #[test]
    fn qp_encodes_what_it_must() {
        assert_eq!(
            encode_qp(b"a=b \r\n.\r\nt\xc3\xa9 "),
            b"a=3Db=20\r\n=2E\r\nt=C3=A9=20"
        );
    }
}
