//! MIME handling for S/MIME: header/body splitting, Content-Type parameters, multipart
//! boundaries, canonical form (CRLF, 7-bit-safe transfer encodings) and output framing.
//!
//! Why not `mail-builder` for the output: a clear-signed entity must be reproduced byte for
//! byte, and the builder re-encodes bodies by its own rules. The framing here is small and
//! typed (headers are written by one function that folds them), and the signed bytes are
//! never touched after hashing. `mail-parser` is used where exact bytes do not matter (the
//! From address, with its comments and encoded words).

use base64::Engine;

use super::error::{Result, SmimeError};

/// A header field as found in the input.
#[derive(Debug, Clone)]
pub(crate) struct Header<'a> {
    /// Field name as written.
    pub name: &'a str,
    /// The complete field including folded lines and the final line ending.
    pub raw: &'a [u8],
}

impl Header<'_> {
    /// The unfolded field value.
    pub fn value(&self) -> String {
        unfold(self.raw)
    }

    fn is_content(&self) -> bool {
        let n = self.name.to_ascii_lowercase();
        n.starts_with("content-") || n == "mime-version"
    }
}

/// A MIME entity split into headers and body (borrowed from the input).
#[derive(Debug, Clone)]
pub(crate) struct Entity<'a> {
    pub headers: Vec<Header<'a>>,
    pub body: &'a [u8],
}

impl<'a> Entity<'a> {
    /// Splits at the first empty line ([`split_fields`]). Input without one is all headers and
    /// no body. Strict where the lenient splitter is not: a continuation line before the first
    /// field, a line without a colon or a bad field name is an error.
    pub fn parse(raw: &'a [u8]) -> Result<Self> {
        let (fields, body) = split_fields(raw);
        let mut headers: Vec<Header<'a>> = Vec::with_capacity(fields.len());
        for field in fields {
            if field.starts_with(b" ") || field.starts_with(b"\t") {
                return Err(SmimeError::MalformedMime(
                    "continuation line before the first header".into(),
                ));
            }
            let first = field.split(|&b| b == b'\n').next().unwrap_or(field);
            let colon = first
                .iter()
                .position(|&b| b == b':')
                .ok_or_else(|| SmimeError::MalformedMime("header line without a colon".into()))?;
            let name = std::str::from_utf8(&field[..colon])
                .map_err(|_| SmimeError::MalformedMime("non-ASCII header name".into()))?
                .trim();
            if name.is_empty() || name.contains(' ') {
                return Err(SmimeError::MalformedMime("invalid header name".into()));
            }
            headers.push(Header { name, raw: field });
        }
        Ok(Entity {
            headers,
            body: body.map_or(&[], |start| &raw[start..]),
        })
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(Header::value)
    }

    /// The parsed Content-Type (text/plain when absent, RFC 2045 §5.2).
    pub fn content_type(&self) -> ContentType {
        self.header("Content-Type")
            .map(|v| ContentType::parse(&v))
            .unwrap_or_else(|| ContentType::parse("text/plain; charset=us-ascii"))
    }

    /// Content-Transfer-Encoding in lower case (`7bit` when absent).
    pub fn transfer_encoding(&self) -> String {
        self.header("Content-Transfer-Encoding")
            .map(|v| v.to_ascii_lowercase())
            .unwrap_or_else(|| "7bit".into())
    }

    /// The body with its transfer encoding removed (base64 and quoted-printable handled).
    pub fn decoded_body(&self) -> Result<Vec<u8>> {
        match self.transfer_encoding().as_str() {
            "base64" => decode_base64(self.body),
            "quoted-printable" => Ok(decode_qp(self.body)),
            _ => Ok(self.body.to_vec()),
        }
    }

    /// The raw bytes of the headers that are not content headers (From, To, Subject ...).
    pub fn outer_headers(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for h in self.headers.iter().filter(|h| !h.is_content()) {
            out.extend_from_slice(h.raw);
        }
        out
    }

    /// The raw bytes of the content headers except MIME-Version.
    pub fn content_headers(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for h in self
            .headers
            .iter()
            .filter(|h| h.is_content() && !h.name.eq_ignore_ascii_case("mime-version"))
        {
            out.extend_from_slice(h.raw);
        }
        out
    }
}

/// Splits the header block of `raw` into raw fields, each with its folded lines and line
/// endings, and finds where the body starts (after the first empty line; `None`: there is no
/// empty line, so all of `raw` is header). CRLF and lone LF line ends are both accepted.
///
/// The one header splitter of the gateway: MIME entities here, the policy's header edits
/// (`message::fields`) and the DSN's copy of the returned headers all use it. It is lenient
/// (a continuation line before the first field is a field of its own); callers that must be
/// strict check the fields it returns.
pub fn split_fields(raw: &[u8]) -> (Vec<&[u8]>, Option<usize>) {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let content = trim_eol(&raw[pos..end]);
        if content.is_empty() {
            fields.extend(start.map(|s| &raw[s..pos]));
            return (fields, Some(end));
        }
        let continuation = content[0] == b' ' || content[0] == b'\t';
        if !continuation || start.is_none() {
            fields.extend(start.map(|s| &raw[s..pos]));
            start = Some(pos);
        }
        pos = end;
    }
    fields.extend(start.map(|s| &raw[s..]));
    (fields, None)
}

/// The value of a raw header field (`Name: value` with folded lines), unfolded and trimmed.
pub fn unfold(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    let v = s.split_once(':').map(|(_, v)| v).unwrap_or("");
    v.replace("\r\n", "").replace('\n', "").trim().to_string()
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// A Content-Type value: lower-case `type/subtype` and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentType {
    pub mime: String,
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// Parses `type/subtype; name=value; name="quoted value"` leniently.
    pub fn parse(v: &str) -> Self {
        let mut parts = split_params(v).into_iter();
        let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                let v = v.trim();
                let v = if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
                    v[1..v.len() - 1]
                        .replace("\\\"", "\"")
                        .replace("\\\\", "\\")
                } else {
                    v.to_string()
                };
                Some((k.trim().to_ascii_lowercase(), v))
            })
            .collect();
        ContentType { mime, params }
    }

    /// A parameter value by (lower-case) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits at `;` outside quoted strings.
fn split_params(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in v.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// A part of a multipart body, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part<'a> {
    /// The part's bytes (headers and body), without the line ending before the delimiter.
    pub raw: &'a [u8],
}

/// Splits a multipart body at `--boundary` lines (RFC 2046 §5.1.1). Returns the parts,
/// the bytes before the first delimiter (preamble) and after the close delimiter (epilogue).
pub(crate) fn split_multipart<'a>(
    body: &'a [u8],
    boundary: &str,
    max_parts: usize,
) -> Result<(Vec<Part<'a>>, &'a [u8], &'a [u8])> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(SmimeError::MalformedMime(
            "invalid multipart boundary".into(),
        ));
    }
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    let mut pos = 0;
    // Start of the current part's content, once the first delimiter was seen.
    let mut current: Option<usize> = None;
    let mut preamble_end = 0;
    while pos < body.len() {
        let end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| pos + i + 1);
        let line = trim_eol(&body[pos..end]);
        if line.starts_with(delim) {
            let rest = &line[delim.len()..];
            let closing = rest.starts_with(b"--");
            let tail = if closing { &rest[2..] } else { rest };
            if tail.iter().all(|b| *b == b' ' || *b == b'\t') {
                // The line ending before the delimiter belongs to the delimiter.
                let content_end = if pos >= 2 && &body[pos - 2..pos] == b"\r\n" {
                    pos - 2
                } else if pos >= 1 && body[pos - 1] == b'\n' {
                    pos - 1
                } else {
                    pos
                };
                match current {
                    Some(s) => {
                        parts.push(Part {
                            raw: &body[s..content_end.max(s)],
                        });
                        if parts.len() > max_parts {
                            return Err(SmimeError::LimitExceeded(format!(
                                "more than {max_parts} MIME parts"
                            )));
                        }
                    }
                    None => preamble_end = content_end,
                }
                if closing {
                    return Ok((parts, &body[..preamble_end], &body[end..]));
                }
                current = Some(end);
            }
        }
        pos = end;
    }
    Err(SmimeError::MalformedMime(
        "multipart body without closing boundary".into(),
    ))
}

/// Whether every CR and LF in `data` is part of a CRLF pair (nothing for [`to_crlf`] to do).
pub(crate) fn is_crlf(data: &[u8]) -> bool {
    let mut prev_cr = false;
    for &b in data {
        match b {
            b'\n' if !prev_cr => return false,
            _ if prev_cr && b != b'\n' => return false,
            _ => {}
        }
        prev_cr = b == b'\r';
    }
    !prev_cr
}

/// [`to_crlf`] of an owned message: returned as it is when already canonical (no copy).
pub(crate) fn into_crlf(data: Vec<u8>) -> Vec<u8> {
    if is_crlf(&data) {
        data
    } else {
        to_crlf(&data)
    }
}

/// Converts bare LF and bare CR line endings to CRLF.
/// `data` with CRLF line ends, borrowed when it has them already (mail from the spool does).
pub(crate) fn crlf(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if is_crlf(data) {
        std::borrow::Cow::Borrowed(data)
    } else {
        std::borrow::Cow::Owned(to_crlf(data))
    }
}

pub(crate) fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

pub(crate) fn is_7bit_safe(data: &[u8]) -> bool {
    data.iter().all(|&b| b < 0x80 && b != 0) && data.split(|&b| b == b'\n').all(|l| l.len() <= 998)
}

/// Makes a canonical (CRLF) entity 7-bit safe: leaf parts with 8-bit or binary content are
/// re-encoded as base64, multiparts are walked (up to `max_depth`). Signatures over the
/// result survive relays that downgrade 8BITMIME.
pub(crate) fn make_7bit(entity: &[u8], depth: usize, max_depth: usize) -> Result<Vec<u8>> {
    if is_7bit_safe(entity) {
        return Ok(entity.to_vec());
    }
    if depth > max_depth {
        return Err(SmimeError::LimitExceeded("MIME nesting too deep".into()));
    }
    let e = Entity::parse(entity)?;
    let ct = e.content_type();
    let header_len = entity.len() - e.body.len();
    let header_bytes = &entity[..header_len];
    if ct.mime.starts_with("multipart/") {
        let boundary = ct
            .param("boundary")
            .ok_or_else(|| SmimeError::MalformedMime("multipart without boundary".into()))?;
        let (parts, preamble, epilogue) = split_multipart(e.body, boundary, 1000)?;
        let mut out = header_bytes.to_vec();
        out.extend_from_slice(preamble);
        for p in parts {
            out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            out.extend_from_slice(&make_7bit(p.raw, depth + 1, max_depth)?);
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out.extend_from_slice(epilogue);
        if out.starts_with(b"\r\n") {
            out.drain(..2);
        }
        return Ok(out);
    }
    // Leaf: the body is 8-bit or binary; carry it in base64.
    let raw_body = e.decoded_body()?;
    let mut out = Vec::new();
    for h in &e.headers {
        if !h.name.eq_ignore_ascii_case("content-transfer-encoding") {
            out.extend_from_slice(h.raw);
        }
    }
    if e.header("Content-Type").is_none() {
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    }
    // Text that is 7-bit but has lines over 998 octets stays readable as quoted-printable
    // (what a real gateway does, [`super::lines`]); 8-bit and binary content goes in base64.
    if ct.mime.starts_with("text/") && raw_body.iter().all(|&b| b < 0x80 && b != 0) {
        out.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        out.extend_from_slice(&super::lines::encode_qp(&raw_body));
        return Ok(out);
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
    out.extend_from_slice(&encode_base64_lines(&raw_body));
    Ok(out)
}

/// Base64 in lines of 76 characters with CRLF (RFC 2045 §6.8).
pub(crate) fn encode_base64_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    append_base64_lines(&mut out, data);
    out
}

/// Appends `data` as base64 in lines of 76 characters to `out`, line by line (no intermediate
/// copy of the whole encoding: large messages are encrypted in bounded memory).
pub(crate) fn append_base64_lines(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len().div_ceil(57) * 78);
    let mut line = String::with_capacity(80);
    for chunk in data.chunks(57) {
        line.clear();
        base64::engine::general_purpose::STANDARD.encode_string(chunk, &mut line);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Lenient base64 decoding: whitespace ignored, padding optional.
pub(crate) fn decode_base64(data: &[u8]) -> Result<Vec<u8>> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let bad = |e: base64::DecodeError| SmimeError::MalformedMime(format!("bad base64: {e}"));
    // Whitespace is dropped in steps of 64 KiB of characters (a multiple of 4, so each step
    // decodes on its own) instead of into a cleaned copy of the whole body first.
    const STEP: usize = 64 * 1024;
    // Runs between whitespace (a line, usually) are copied whole.
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    let mut clean: Vec<u8> = Vec::with_capacity(STEP);
    let mut rest = data;
    while !rest.is_empty() {
        let n = rest
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(rest.len());
        let (mut run, tail) = rest.split_at(n);
        while !run.is_empty() {
            let take = (STEP - clean.len()).min(run.len());
            clean.extend_from_slice(&run[..take]);
            run = &run[take..];
            if clean.len() == STEP {
                engine.decode_vec(&clean, &mut out).map_err(bad)?;
                clean.clear();
            }
        }
        rest = tail.get(1..).unwrap_or_default();
    }
    engine.decode_vec(&clean, &mut out).map_err(bad)?;
    Ok(out)
}

fn decode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'=' {
            if data.get(i + 1) == Some(&b'\r') && data.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if data.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            let hex = data
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(data[i]);
        i += 1;
    }
    out
}

/// A fresh random multipart boundary.
pub(crate) fn new_boundary() -> Result<String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut r = [0u8; 12];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut r)
        .map_err(|_| SmimeError::Encoding("random generator failed".into()))?;
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("----=_segl_{hex}"))
}

/// Writes one header field, folding before `; ` parameters so lines stay short (RFC 5322 §2.2.3).
pub(crate) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b":");
    let mut line_len = name.len() + 1;
    for (i, piece) in value.split("; ").enumerate() {
        let piece = if i == 0 {
            piece.to_string()
        } else {
            format!(" {piece}")
        };
        if i > 0 {
            out.push(b';');
            line_len += 1;
            if line_len + piece.len() > 76 {
                out.extend_from_slice(b"\r\n\t");
                out.extend_from_slice(piece.trim_start().as_bytes());
                line_len = 1 + piece.len();
                continue;
            }
        } else {
            out.push(b' ');
            line_len += 1;
        }
        out.extend_from_slice(piece.as_bytes());
        line_len += piece.len();
    }
    out.extend_from_slice(b"\r\n");
}

/// The From address (addr-spec) of a message, via mail-parser.
pub(crate) fn from_address(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
    let addr = parsed.from()?.first()?.address()?.to_string();
    Some(addr)
}

/// A whole `application/pkcs7-mime` message: the outer headers, MIME-Version and the entity,
/// written into one buffer (what joining the outer headers with the entity would give, without
/// a second copy).
pub(crate) fn pkcs7_mime_message(outer_headers: &[u8], smime_type: &str, der: &[u8]) -> Vec<u8> {
    let mut out = pkcs7_mime_head(
        outer_headers,
        smime_type,
        super::stream::base64_lines_len(der.len()),
    );
    append_base64_lines(&mut out, der);
    out
}

/// The headers of an `application/pkcs7-mime` message up to its (base64) body, in a buffer
/// with room for `body_len` more bytes, so that writing the body never reallocates (a
/// reallocation of a large message would hold it twice for a moment).
pub(crate) fn pkcs7_mime_head(outer_headers: &[u8], smime_type: &str, body_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(outer_headers.len() + 400 + body_len);
    out.extend_from_slice(&to_crlf(outer_headers));
    write_header(&mut out, "MIME-Version", "1.0");
    write_header(
        &mut out,
        "Content-Type",
        &format!("application/pkcs7-mime; smime-type={smime_type}; name=\"smime.p7m\""),
    );
    write_header(&mut out, "Content-Transfer-Encoding", "base64");
    write_header(
        &mut out,
        "Content-Disposition",
        "attachment; filename=\"smime.p7m\"",
    );
    write_header(&mut out, "Content-Description", "S/MIME Encrypted Message");
    out.extend_from_slice(b"\r\n");
    out
}

/// Joins the outer (non-content) headers of a message with a new MIME entity.
pub(crate) fn join_outer(outer_headers: &[u8], entity: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(outer_headers.len() + entity.len() + 20);
    out.extend_from_slice(&to_crlf(outer_headers));
    write_header(&mut out, "MIME-Version", "1.0");
    out.extend_from_slice(entity);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_fields_finds_folded_fields_and_the_body() {
        let m = b"A: 1\r\nB: 2\r\n\tmore\r\nC: 3\n\nbody\r\n\r\nrest";
        let (fields, body) = split_fields(m);
        assert_eq!(
            fields,
            vec![&b"A: 1\r\n"[..], b"B: 2\r\n\tmore\r\n", b"C: 3\n"]
        );
        assert_eq!(&m[body.unwrap()..], b"body\r\n\r\nrest");
        assert_eq!(unfold(fields[1]), "2\tmore");
        // No empty line: all header, the last field without a line end kept whole.
        let (fields, body) = split_fields(b"A: 1\r\nB: 2");
        assert_eq!((fields, body), (vec![&b"A: 1\r\n"[..], b"B: 2"], None));
        // An empty first line: no header at all.
        assert_eq!(split_fields(b"\r\nbody"), (vec![], Some(2)));
        // Lenient about a leading continuation line; `Entity::parse` is not.
        assert_eq!(split_fields(b" x\r\nA: 1\r\n\r\n").0.len(), 2);
        assert!(Entity::parse(b" x\r\nA: 1\r\n\r\n").is_err());
        assert!(Entity::parse(b"no colon\r\n more: x\r\n\r\n").is_err());
    }

    #[test]
    fn parse_headers_and_body() {
        let m = b"From: a@b\r\nSubject: x\r\n y\r\nContent-Type: text/plain;\r\n charset=\"utf-8\"\r\n\r\nbody\r\n";
        let e = Entity::parse(m).unwrap();
        assert_eq!(e.headers.len(), 3);
        assert_eq!(e.header("subject").unwrap(), "x y");
        assert_eq!(e.content_type().param("charset"), Some("utf-8"));
        assert_eq!(e.body, b"body\r\n");
    }

    #[test]
    fn multipart_split() {
        let body = b"pre\r\n--b\r\nA\r\n--b\r\nB\r\n\r\n--b--\r\nepi";
        let (parts, pre, epi) = split_multipart(body, "b", 10).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].raw, b"A");
        assert_eq!(parts[1].raw, b"B\r\n");
        assert_eq!(pre, b"pre");
        assert_eq!(epi, b"epi");
        assert!(split_multipart(b"--b\r\nA\r\n", "b", 10).is_err());
    }

    #[test]
    fn crlf_and_7bit() {
        assert_eq!(to_crlf(b"a\nb\r\nc\r"), b"a\r\nb\r\nc\r\n");
        for m in [&b"a\nb"[..], b"a\rb", b"a\r", b"a\r\nb\r\n", b"", b"\r\r\n"] {
            assert_eq!(into_crlf(m.to_vec()), to_crlf(m), "{m:?}");
        }
        // Line by line base64 is the whole encoding cut into lines of 76.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let whole = base64::engine::general_purpose::STANDARD.encode(&data);
        let lines: Vec<u8> = whole
            .as_bytes()
            .chunks(76)
            .flat_map(|l| [l, b"\r\n"].concat())
            .collect();
        assert_eq!(encode_base64_lines(&data), lines);
        let e = make_7bit(
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nh\xc3\xa9\r\n",
            0,
            8,
        )
        .unwrap();
        assert!(is_7bit_safe(&e));
        assert!(String::from_utf8(e).unwrap().contains("base64"));
    }

    /// Line breaks, spaces and tabs anywhere, across the 64 KiB steps: the same bytes as
    /// decoding the text without them.
    #[test]
    fn base64_with_whitespace_across_steps() {
        use base64::Engine;
        let data: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&data);
        let mut wrapped = Vec::new();
        for (i, line) in text.as_bytes().chunks(76).enumerate() {
            wrapped.extend_from_slice(line);
            wrapped.extend_from_slice(if i % 7 == 3 { b" \t\r\n" } else { b"\r\n" });
        }
        assert_eq!(decode_base64(&wrapped).unwrap(), data);
        assert_eq!(decode_base64(b"  \r\n").unwrap(), b"");
    }
}
