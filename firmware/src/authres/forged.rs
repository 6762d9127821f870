//! Recognising `Authentication-Results` fields by their authserv-id (RFC 8601 §2.2: the first
//! item of the value, a token or quoted string, after optional comments).

use crate::message::fields::Message;

/// The authserv-id of an `Authentication-Results` value, lower-cased; `None` if it has none.
pub fn authserv_id_of(value: &str) -> Option<String> {
    let mut rest = value.trim_start();
    // Leading comments: "(...)" possibly nested, each followed by optional space.
    while let Some(after) = rest.strip_prefix('(') {
        let mut depth = 1usize;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = after[end?..].trim_start();
    }
    let id = match rest.strip_prefix('"') {
        Some(q) => &q[..q.find('"')?],
        None => {
            let end = rest
                .find(|c: char| c == ';' || c == '(' || c.is_whitespace())
                .unwrap_or(rest.len());
            &rest[..end]
        }
    };
    (!id.is_empty()).then(|| id.to_ascii_lowercase())
}

/// Removes the `Authentication-Results` fields that name `ours` as their authserv-id; fields
/// of other servers (the sender's own, a mailing list's) stay. Returns how many went.
pub fn remove(msg: &mut Message, ours: &str) -> usize {
    let ours = ours.to_ascii_lowercase();
    msg.remove_named_if("Authentication-Results", |v| {
        authserv_id_of(v).is_some_and(|id| id == ours)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authserv_ids() {
        assert_eq!(
            authserv_id_of("segl.test; dkim=pass").as_deref(),
            Some("segl.test")
        );
        assert_eq!(
            authserv_id_of("  SEGL.test;none").as_deref(),
            Some("segl.test")
        );
        assert_eq!(
            authserv_id_of("(c (nested)) segl.test 1; spf=pass").as_deref(),
            Some("segl.test")
        );
        assert_eq!(
            authserv_id_of("\"segl.test\"; none").as_deref(),
            Some("segl.test")
        );
        assert_eq!(
            authserv_id_of("mx.other.example; dkim=fail").as_deref(),
            Some("mx.other.example")
        );
        assert_eq!(authserv_id_of(""), None);
        assert_eq!(authserv_id_of("(unclosed"), None);
    }

    #[test]
    fn removes_only_ours() {
        let raw = b"Authentication-Results: segl.test;\r\n\tdkim=pass header.d=evil\r\n\
Authentication-Results: mx.sender.example; spf=pass\r\n\
authentication-results: (x) Segl.Test; dmarc=pass\r\n\
Subject: hi\r\n\r\nbody\r\n";
        let mut m = Message::parse(raw);
        assert_eq!(remove(&mut m, "segl.test"), 2);
        let out = String::from_utf8(m.to_bytes()).unwrap();
        assert!(out.contains("mx.sender.example; spf=pass"));
        assert!(!out.to_ascii_lowercase().contains("segl.test"));
        assert!(out.ends_with("\r\n\r\nbody\r\n"));
    }
}
