//! The top-level header block of a message as a list of raw fields, for the few edits the policy
//! makes: the Subject (tags and markings), our `X-Segl-*` headers. The body is never touched, so
//! content covered by a signature stays byte for byte what it was.

use crate::smime::mime::{split_fields, unfold};

/// A message split into raw header fields (each with its folded lines and final CRLF) and the
/// body (everything after the empty line).
#[derive(Debug, Clone)]
pub struct Message<'a> {
    fields: Vec<Vec<u8>>,
    /// Borrowed from the parsed bytes until replaced: a large message is not copied to read
    /// or edit its header block.
    body: std::borrow::Cow<'a, [u8]>,
}

fn field_name(f: &[u8]) -> &[u8] {
    let end = f.iter().position(|&b| b == b':').unwrap_or(f.len());
    f[..end].trim_ascii()
}

fn field_value(f: &[u8]) -> String {
    unfold(f).replace('\t', " ").trim().to_string()
}

/// One header field line: `name: value` folded, with CRLF. A value that is not plain ASCII is
/// written as RFC 2047 encoded-words (UTF-8), so a header never carries raw 8-bit text that a
/// non-SMTPUTF8 hop would mangle. Control characters (CR, LF, ...) never reach the output.
fn field_line(name: &str, value: &str) -> Vec<u8> {
    use mail_builder::headers::{text::Text, Header};
    let v: String = value
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let mut out = format!("{name}: ").into_bytes();
    if v.is_ascii() {
        // Plain text stays readable (and greppable): folded at spaces only.
        let mut column = out.len();
        for (i, word) in v.split(' ').enumerate() {
            if i > 0 {
                if column + 1 + word.len() > 78 && column > name.len() + 2 {
                    out.extend_from_slice(b"\r\n");
                    column = 0;
                }
                out.push(b' ');
                column += 1;
            }
            out.extend_from_slice(word.as_bytes());
            column += word.len();
        }
        out.extend_from_slice(b"\r\n");
        return out;
    }
    let column = out.len();
    Text::new(v.as_str()).write_header(&mut out, column);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Decodes RFC 2047 encoded-words (`=?charset?B|Q?...?=`) in an unstructured field value, as
/// mail clients display it: a Subject tag such as `[encrypt]` is found even when the client
/// encoded the whole subject because it contains "ø". Values without encoded-words (or with
/// broken ones) come back unchanged.
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let raw = format!("Subject: {value}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

impl<'a> Message<'a> {
    /// Splits at the first empty line (CRLF line endings, as the spool stores them; a lone LF is
    /// accepted too). A message without an empty line is all headers.
    pub fn parse(raw: &'a [u8]) -> Message<'a> {
        let (fields, body) = split_fields(raw);
        Message {
            fields: fields.into_iter().map(<[u8]>::to_vec).collect(),
            body: std::borrow::Cow::Borrowed(body.map_or(&[][..], |start| &raw[start..])),
        }
    }

    /// The unfolded value of the first field `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| field_name(f).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| field_value(f))
    }

    /// The first field `name`, unfolded and with RFC 2047 encoded-words decoded (what the reader
    /// sees): use this for Subject tags and markings.
    pub fn get_text(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| decode_words(&v))
    }

    /// The names of the header fields, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter_map(|f| std::str::from_utf8(field_name(f)).ok())
    }

    /// Removes every field whose name starts with `prefix` (case-insensitive); returns how many.
    pub fn remove_prefixed(&mut self, prefix: &str) -> usize {
        let before = self.fields.len();
        let p = prefix.as_bytes();
        self.fields.retain(|f| {
            let n = field_name(f);
            !(n.len() >= p.len() && n[..p.len()].eq_ignore_ascii_case(p))
        });
        before - self.fields.len()
    }

    /// Removes every field called `name` (case-insensitive); returns how many.
    pub fn remove_named(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields
            .retain(|f| !field_name(f).eq_ignore_ascii_case(name.as_bytes()));
        before - self.fields.len()
    }

    /// Removes every field called `name` whose unfolded value satisfies `pred`; returns how
    /// many.
    pub fn remove_named_if(&mut self, name: &str, pred: impl Fn(&str) -> bool) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| {
            !(field_name(f).eq_ignore_ascii_case(name.as_bytes()) && pred(&field_value(f)))
        });
        before - self.fields.len()
    }

    /// Adds a field at the top of the header block.
    pub fn prepend(&mut self, name: &str, value: &str) {
        self.fields.insert(0, field_line(name, value));
    }

    /// Replaces the Subject (or adds one when there was none).
    pub fn set_subject(&mut self, subject: &str) {
        let line = field_line("Subject", subject);
        match self
            .fields
            .iter_mut()
            .find(|f| field_name(f).eq_ignore_ascii_case(b"subject"))
        {
            Some(f) => *f = line,
            None => self.fields.push(line),
        }
    }

    /// Replaces the first field `name` (or adds one at the end of the header block).
    pub fn set(&mut self, name: &str, value: &str) {
        let line = field_line(name, value);
        match self
            .fields
            .iter_mut()
            .find(|f| field_name(f).eq_ignore_ascii_case(name.as_bytes()))
        {
            Some(f) => *f = line,
            None => self.fields.push(line),
        }
    }

    /// Removes the content fields (`Content-*` and `MIME-Version`) and returns the `Content-*`
    /// ones, raw, in their order: what describes the body rather than the message.
    pub fn take_content_fields(&mut self) -> Vec<Vec<u8>> {
        let mut content = Vec::new();
        let mut rest = Vec::with_capacity(self.fields.len());
        for f in std::mem::take(&mut self.fields) {
            let n = field_name(&f);
            if n.len() >= 8 && n[..8].eq_ignore_ascii_case(b"content-") {
                content.push(f);
            } else if !n.eq_ignore_ascii_case(b"mime-version") {
                rest.push(f);
            }
        }
        self.fields = rest;
        content
    }

    /// Adds a field at the end of the header block.
    pub fn append(&mut self, name: &str, value: &str) {
        self.fields.push(field_line(name, value));
    }

    /// The body, byte for byte.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = std::borrow::Cow::Owned(body);
    }

    /// Makes this a plain-text UTF-8 message with `text` as its body (CRLF line ends): the
    /// notices, receipts and portal mails Segl writes itself.
    pub fn set_text_body(&mut self, text: &str) {
        self.append("MIME-Version", "1.0");
        self.append("Content-Type", "text/plain; charset=utf-8");
        self.append("Content-Transfer-Encoding", "8bit");
        self.body = std::borrow::Cow::Owned(
            text.replace("\r\n", "\n")
                .replace('\n', "\r\n")
                .into_bytes(),
        );
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 2048);
        for f in &self.fields {
            out.extend_from_slice(f);
            if !f.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Removes every occurrence of `tag` (ASCII case-insensitive) from `subject`; returns the new
/// subject (spaces tidied) and whether the tag was there.
pub fn remove_tag(subject: &str, tag: &str) -> (String, bool) {
    if tag.is_empty() {
        return (subject.to_string(), false);
    }
    let lower = subject.to_ascii_lowercase();
    let t = tag.to_ascii_lowercase();
    if !lower.contains(&t) {
        return (subject.to_string(), false);
    }
    let mut out = String::with_capacity(subject.len());
    let mut i = 0;
    while let Some(j) = lower[i..].find(&t) {
        out.push_str(&subject[i..i + j]);
        i += j + t.len();
    }
    out.push_str(&subject[i..]);
    let tidy = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (tidy, true)
}

/// Removes every occurrence of `template` from `subject`, where `placeholder` in the template
/// stands for any run of non-space characters (ASCII case-insensitive); a template without the
/// placeholder is a plain tag.
pub fn remove_template(subject: &str, template: &str, placeholder: &str) -> String {
    let Some((pre, post)) = template.split_once(placeholder) else {
        return remove_tag(subject, template).0;
    };
    if pre.is_empty() || post.is_empty() {
        return subject.to_string();
    }
    let lower = subject.to_ascii_lowercase();
    let (pre_l, post_l) = (pre.to_ascii_lowercase(), post.to_ascii_lowercase());
    let mut out = String::with_capacity(subject.len());
    let mut i = 0;
    let mut found = false;
    while let Some(j) = lower[i..].find(&pre_l) {
        let start = i + j;
        let after = start + pre_l.len();
        let end = lower[after..].find(&post_l).map(|k| after + k);
        match end {
            Some(e) if !lower[after..e].contains(char::is_whitespace) => {
                out.push_str(&subject[i..start]);
                i = e + post_l.len();
                found = true;
            }
            _ => {
                out.push_str(&subject[i..after]);
                i = after;
            }
        }
    }
    out.push_str(&subject[i..]);
    if found {
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_headers_and_keeps_the_body() {
        let raw = b"From: a@b\r\nSubject: [signed] Re:\r\n [encrypt] hi\r\nX-Segl-Signature: valid\r\nx-segl-encryption: none\r\n\r\nbody\r\n\r\nmore\r\n";
        let mut m = Message::parse(raw);
        assert_eq!(m.get("subject").unwrap(), "[signed] Re: [encrypt] hi");
        assert_eq!(m.remove_prefixed("X-Segl-"), 2);
        let (s, found) = remove_tag(&m.get("Subject").unwrap(), "[ENCRYPT]");
        assert!(found);
        let (s, _) = remove_tag(&s, "[signed]");
        m.set_subject(&s);
        m.prepend("X-Segl-Signature", "none");
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            out,
            "X-Segl-Signature: none\r\nFrom: a@b\r\nSubject: Re: hi\r\n\r\nbody\r\n\r\nmore\r\n"
        );
        let t = "[SIGNIERT VON <*@{domain}>]";
        assert_eq!(
            remove_template(
                "[signiert von <*@x.test>]  Re: [SIGNIERT VON <*@a b>] hi",
                t,
                "{domain}"
            ),
            "Re: [SIGNIERT VON <*@a b>] hi"
        );
        let mut m = Message::parse(b"From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\nx");
        let c = m.take_content_fields();
        assert_eq!(
            c,
            vec![b"Content-Type: text/plain;\r\n charset=utf-8\r\n".to_vec()]
        );
        assert_eq!(m.to_bytes(), b"From: a@b\r\n\r\nx");
        let (s, found) = remove_tag("plain", "[nosign]");
        assert_eq!((s.as_str(), found), ("plain", false));
    }

    #[test]
    fn encoded_words_are_decoded_and_written() {
        // Outlook encodes a whole subject once it contains a non-ASCII letter.
        let raw = b"Subject: =?utf-8?Q?[encrypt]_Hej_S=C3=B8ren?=\r\n =?iso-8859-1?Q?_=E6=F8=E5?=\r\n\r\nx";
        let mut m = Message::parse(raw);
        let s = m.get_text("Subject").unwrap();
        assert_eq!(s, "[encrypt] Hej Søren æøå");
        let (s, found) = remove_tag(&s, "[encrypt]");
        assert!(found);
        m.set_subject(&format!("[signed] {s} {}", "ø".repeat(60)));
        let out = m.to_bytes();
        assert!(out.is_ascii(), "{}", String::from_utf8_lossy(&out));
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.len() <= 78), "{text}");
        let again = Message::parse(text.as_bytes());
        assert_eq!(
            again.get_text("Subject").unwrap(),
            format!("[signed] Hej Søren æøå {}", "ø".repeat(60))
        );
        // Plain ASCII stays plain, header injection is impossible.
        let mut m = Message::parse(b"Subject: x\r\n\r\n");
        m.set_subject("a\r\nBcc: evil@x.test");
        assert_eq!(m.to_bytes(), b"Subject: aBcc: evil@x.test\r\n\r\n");
        assert_eq!(decode_words("=?bogus"), "=?bogus");
    }
}
