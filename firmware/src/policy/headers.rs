//! The top-level header block of a message as a list of raw fields, for the few edits the policy
//! makes: the Subject (tags and markings), our `X-Segl-*` headers. The body is never touched, so
//! content covered by a signature stays byte for byte what it was.

/// A message split into raw header fields (each with its folded lines and final CRLF) and the
/// body (everything after the empty line).
#[derive(Debug, Clone)]
pub struct Message {
    fields: Vec<Vec<u8>>,
    body: Vec<u8>,
}

fn field_name(f: &[u8]) -> &[u8] {
    let end = f.iter().position(|&b| b == b':').unwrap_or(f.len());
    f[..end].trim_ascii()
}

fn field_value(f: &[u8]) -> String {
    let start = f.iter().position(|&b| b == b':').map_or(f.len(), |i| i + 1);
    let v = String::from_utf8_lossy(&f[start..]);
    v.replace("\r\n", "")
        .replace('\n', "")
        .replace('\t', " ")
        .trim()
        .to_string()
}

impl Message {
    /// Splits at the first empty line (CRLF line endings, as the spool stores them; a lone LF is
    /// accepted too). A message without an empty line is all headers.
    pub fn parse(raw: &[u8]) -> Message {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut pos = 0;
        while pos < raw.len() {
            let end = raw[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(raw.len(), |i| pos + i + 1);
            let line = &raw[pos..end];
            let content = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(line);
            if content.is_empty() {
                return Message {
                    fields,
                    body: raw[end..].to_vec(),
                };
            }
            let continuation = content[0] == b' ' || content[0] == b'\t';
            match fields.last_mut() {
                Some(last) if continuation => last.extend_from_slice(line),
                _ => fields.push(line.to_vec()),
            }
            pos = end;
        }
        Message {
            fields,
            body: Vec::new(),
        }
    }

    /// The unfolded value of the first field `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| field_name(f).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| field_value(f))
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

    /// Adds a field at the top of the header block.
    pub fn prepend(&mut self, name: &str, value: &str) {
        let v: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        self.fields
            .insert(0, format!("{name}: {v}\r\n").into_bytes());
    }

    /// Replaces the Subject (or adds one when there was none).
    pub fn set_subject(&mut self, subject: &str) {
        let v: String = subject
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        let line = format!("Subject: {v}\r\n").into_bytes();
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
        let v: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        let line = format!("{name}: {v}\r\n").into_bytes();
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
        let v: String = value.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        self.fields.push(format!("{name}: {v}\r\n").into_bytes());
    }

    /// The body, byte for byte.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = body;
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
}
