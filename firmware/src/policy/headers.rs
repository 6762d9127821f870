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
        let (s, found) = remove_tag("plain", "[nosign]");
        assert_eq!((s.as_str(), found), ("plain", false));
    }
}
