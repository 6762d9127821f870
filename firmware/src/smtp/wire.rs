//! The SMTP command parser: bytes of one command line in, a typed [`Command`] out. No I/O, no state,
//! so it can be unit-tested and fuzzed on its own (RFC 5321 §4.1, RFC 3461 DSN, RFC 6152 8BITMIME,
//! RFC 6531 SMTPUTF8, RFC 1870 SIZE, RFC 4954 AUTH).

/// The ESMTP parameters that travel with a message live with the spool's envelope, which
/// persists them; the parser produces them.
pub use crate::spool::{Body, Notify, Ret};

/// Longest command line we accept: RFC 5321 §4.5.3.1.4 gives 512 octets, and each SMTP extension
/// may add up to 500 more for its parameters; we allow room for MAIL with SIZE, BODY, RET, ENVID,
/// SMTPUTF8, AUTH and RCPT with NOTIFY and ORCPT.
pub const MAX_COMMAND_LINE: usize = 2048;

/// Longest address (RFC 5321 §4.5.3.1: 64 local part + @ + 255 domain).
pub const MAX_ADDRESS: usize = 320;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Mail(MailFrom),
    Rcpt(RcptTo),
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailFrom {
    /// The reverse path; empty for the null sender `<>`.
    pub address: String,
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    /// ENVID, decoded from xtext.
    pub envid: Option<String>,
    /// `AUTH=` parameter (RFC 4954 §5), decoded; kept only for the record.
    pub auth: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptTo {
    pub address: String,
    pub notify: Option<Notify>,
    /// ORCPT as `addr-type;address`, decoded from xtext.
    pub orcpt: Option<String>,
}

/// Why a line is not a valid command; each maps to one reply in `reply.rs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("line too long")]
    LineTooLong,
    #[error("command unrecognized")]
    Unknown,
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    #[error("syntax error in address")]
    BadAddress,
    #[error("unsupported parameter {0}")]
    UnsupportedParameter(String),
    #[error("8-bit characters in command")]
    NonAscii,
}

/// Parse one command line, without its CRLF (a trailing CR or LF is tolerated and removed).
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    if line.len() > MAX_COMMAND_LINE {
        return Err(ParseError::LineTooLong);
    }
    let line = trim_eol(line);
    // Commands are ASCII, except UTF-8 addresses with SMTPUTF8; reject NULs and invalid UTF-8.
    let text = std::str::from_utf8(line).map_err(|_| ParseError::NonAscii)?;
    if text.bytes().any(|b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(ParseError::Syntax("control characters in command"));
    }
    let (verb, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let no_args = |c: Command| -> Result<Command, ParseError> {
        if rest.trim().is_empty() {
            Ok(c)
        } else {
            Err(ParseError::Syntax("this command takes no arguments"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" => domain_arg(rest).map(Command::Ehlo),
        "HELO" => domain_arg(rest).map(Command::Helo),
        "MAIL" => parse_mail(rest).map(Command::Mail),
        "RCPT" => parse_rcpt(rest).map(Command::Rcpt),
        "DATA" => no_args(Command::Data),
        "BDAT" => Ok(Command::Bdat),
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::StartTls),
        "AUTH" => {
            let mut it = rest.split_ascii_whitespace();
            let mechanism = it
                .next()
                .ok_or(ParseError::Syntax("AUTH needs a mechanism"))?
                .to_ascii_uppercase();
            let initial = it.next().map(str::to_string);
            if it.next().is_some() {
                return Err(ParseError::Syntax("too many AUTH arguments"));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        _ => Err(ParseError::Unknown),
    }
}

fn trim_eol(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = line {
        line = rest;
    }
    line
}

fn domain_arg(rest: &str) -> Result<String, ParseError> {
    let d = rest.trim();
    if d.is_empty() {
        return Err(ParseError::Syntax(
            "a domain or address literal is required",
        ));
    }
    if d.contains(char::is_whitespace) || d.len() > 255 {
        return Err(ParseError::Syntax("bad domain"));
    }
    Ok(d.to_string())
}

/// Split `FROM:<addr> params` into the path and its parameters. Tolerates the common
/// `FROM: <addr>` (space after the colon).
fn split_path<'a>(rest: &'a str, keyword: &str) -> Result<(&'a str, &'a str), ParseError> {
    let kw_len = keyword.len();
    // `get` rather than indexing: a UTF-8 character may straddle the keyword's length.
    let Some(head) = rest.get(..kw_len) else {
        return Err(ParseError::Syntax(
            "expected FROM:<address> or TO:<address>",
        ));
    };
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(ParseError::Syntax(
            "expected FROM:<address> or TO:<address>",
        ));
    }
    let after = rest.get(kw_len..).unwrap_or_default().trim_start();
    if !after.starts_with('<') {
        return Err(ParseError::BadAddress);
    }
    // Find the closing '>' outside a quoted local part.
    let bytes = after.as_bytes();
    let mut in_quote = false;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b'>' if !in_quote => break,
            _ => {}
        }
        i += 1;
    }
    if i >= bytes.len() {
        return Err(ParseError::BadAddress);
    }
    let path = &after[1..i];
    let params = &after[i + 1..];
    if !params.is_empty() && !params.starts_with(' ') {
        return Err(ParseError::Syntax("junk after address"));
    }
    Ok((path, params.trim()))
}

/// Validate a path's mailbox and drop an obsolete source route (`@a,@b:user@dom`).
fn mailbox(path: &str, allow_null: bool) -> Result<String, ParseError> {
    if path.is_empty() {
        return if allow_null {
            Ok(String::new())
        } else {
            Err(ParseError::BadAddress)
        };
    }
    let path = match path.starts_with('@') {
        true => path
            .split_once(':')
            .map(|(_, m)| m)
            .ok_or(ParseError::BadAddress)?,
        false => path,
    };
    if path.len() > MAX_ADDRESS {
        return Err(ParseError::BadAddress);
    }
    let at = path.rfind('@').ok_or(ParseError::BadAddress)?;
    let (local, domain) = (&path[..at], &path[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.is_empty() {
        return Err(ParseError::BadAddress);
    }
    let quoted = local.starts_with('"') && local.ends_with('"') && local.len() >= 2;
    if !quoted
        && (local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || local
                .chars()
                .any(|c| c.is_ascii() && !is_atext(c as u8) && c != '.'))
    {
        return Err(ParseError::BadAddress);
    }
    let literal = domain.starts_with('[') && domain.ends_with(']');
    if !literal
        && !domain.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || !c.is_ascii())
        })
    {
        return Err(ParseError::BadAddress);
    }
    Ok(path.to_string())
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

fn params(s: &str) -> impl Iterator<Item = (String, Option<&str>)> {
    s.split_ascii_whitespace().map(|p| match p.split_once('=') {
        Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
        None => (p.to_ascii_uppercase(), None),
    })
}

fn parse_mail(rest: &str) -> Result<MailFrom, ParseError> {
    let (path, ps) = split_path(rest, "FROM:")?;
    let mut m = MailFrom {
        address: mailbox(path, true)?,
        ..Default::default()
    };
    for (k, v) in params(ps) {
        match (k.as_str(), v) {
            ("SIZE", Some(v)) => {
                m.size = Some(
                    v.parse()
                        .map_err(|_| ParseError::Syntax("bad SIZE value"))?,
                )
            }
            ("BODY", Some(v)) => {
                m.body = Some(match v.to_ascii_uppercase().as_str() {
                    "7BIT" => Body::SevenBit,
                    "8BITMIME" => Body::EightBitMime,
                    _ => return Err(ParseError::UnsupportedParameter(format!("BODY={v}"))),
                })
            }
            ("SMTPUTF8", None) => m.smtputf8 = true,
            ("RET", Some(v)) => {
                m.ret = Some(match v.to_ascii_uppercase().as_str() {
                    "FULL" => Ret::Full,
                    "HDRS" => Ret::Hdrs,
                    _ => return Err(ParseError::Syntax("RET must be FULL or HDRS")),
                })
            }
            ("ENVID", Some(v)) => m.envid = Some(xtext_decode(v)?),
            ("AUTH", Some(v)) => m.auth = Some(xtext_decode(v)?),
            _ => return Err(ParseError::UnsupportedParameter(k)),
        }
    }
    if !m.smtputf8 && !m.address.is_ascii() {
        return Err(ParseError::NonAscii);
    }
    Ok(m)
}

fn parse_rcpt(rest: &str) -> Result<RcptTo, ParseError> {
    let (path, ps) = split_path(rest, "TO:")?;
    // RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
    let address = if path.eq_ignore_ascii_case("postmaster") {
        "postmaster".to_string()
    } else {
        mailbox(path, false)?
    };
    let mut r = RcptTo {
        address,
        ..Default::default()
    };
    for (k, v) in params(ps) {
        match (k.as_str(), v) {
            ("NOTIFY", Some(v)) => {
                let mut n = Notify::default();
                for item in v.split(',') {
                    match item.to_ascii_uppercase().as_str() {
                        "NEVER" => n.never = true,
                        "SUCCESS" => n.success = true,
                        "FAILURE" => n.failure = true,
                        "DELAY" => n.delay = true,
                        _ => return Err(ParseError::Syntax("bad NOTIFY value")),
                    }
                }
                if n.never && (n.success || n.failure || n.delay) {
                    return Err(ParseError::Syntax("NOTIFY=NEVER excludes other values"));
                }
                r.notify = Some(n);
            }
            ("ORCPT", Some(v)) => {
                let decoded = xtext_decode(v)?;
                if !decoded.contains(';') {
                    return Err(ParseError::Syntax("ORCPT needs addr-type;address"));
                }
                r.orcpt = Some(decoded);
            }
            _ => return Err(ParseError::UnsupportedParameter(k)),
        }
    }
    Ok(r)
}

/// RFC 3461 §4 xtext: `+XX` hex escapes.
pub fn xtext_decode(s: &str) -> Result<String, ParseError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(ParseError::Syntax("bad xtext escape"))?;
            out.push(hex);
            i += 3;
        } else if (33..=126).contains(&b[i]) && b[i] != b'=' {
            out.push(b[i]);
            i += 1;
        } else {
            return Err(ParseError::Syntax("bad xtext character"));
        }
    }
    String::from_utf8(out).map_err(|_| ParseError::Syntax("xtext is not UTF-8"))
}

/// RFC 3461 §4 xtext encoding, for DSN fields.
pub fn xtext_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// The domain part of an address, lower-cased (`None` for the null sender or `postmaster`).
pub fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helo_ehlo() {
        assert_eq!(
            parse_command(b"EHLO client.example\r\n").unwrap(),
            Command::Ehlo("client.example".into())
        );
        assert_eq!(
            parse_command(b"helo [127.0.0.1]").unwrap(),
            Command::Helo("[127.0.0.1]".into())
        );
        assert!(matches!(parse_command(b"EHLO"), Err(ParseError::Syntax(_))));
    }

    #[test]
    fn mail_from_with_params() {
        let c = parse_command(
            b"MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef SMTPUTF8",
        )
        .unwrap();
        let Command::Mail(m) = c else { panic!() };
        assert_eq!(m.address, "a@b.example");
        assert_eq!(m.size, Some(1000));
        assert_eq!(m.body, Some(Body::EightBitMime));
        assert_eq!(m.ret, Some(Ret::Hdrs));
        assert_eq!(m.envid.as_deref(), Some("abc+def"));
        assert!(m.smtputf8);
    }

    #[test]
    fn null_sender_and_space_after_colon() {
        let Command::Mail(m) = parse_command(b"MAIL FROM:<>").unwrap() else {
            panic!()
        };
        assert_eq!(m.address, "");
        let Command::Mail(m) = parse_command(b"mail from: <x@y.z>").unwrap() else {
            panic!()
        };
        assert_eq!(m.address, "x@y.z");
    }

    #[test]
    fn rcpt_with_dsn_params() {
        let Command::Rcpt(r) = parse_command(
            b"RCPT TO:<u@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;u+40example.org",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(r.address, "u@example.org");
        let n = r.notify.unwrap();
        assert!(n.failure && n.delay && !n.success && !n.never);
        assert_eq!(r.orcpt.as_deref(), Some("rfc822;u@example.org"));
        assert!(parse_command(b"RCPT TO:<u@e.org> NOTIFY=NEVER,SUCCESS").is_err());
    }

    #[test]
    fn source_route_and_postmaster() {
        let Command::Rcpt(r) = parse_command(b"RCPT TO:<@relay.example:u@example.org>").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.address, "u@example.org");
        let Command::Rcpt(r) = parse_command(b"RCPT TO:<Postmaster>").unwrap() else {
            panic!()
        };
        assert_eq!(r.address, "postmaster");
    }

    #[test]
    fn bad_addresses() {
        for l in [
            &b"RCPT TO:u@example.org"[..],
            b"RCPT TO:<u@>",
            b"RCPT TO:<>",
            b"RCPT TO:<@example.org>",
            b"RCPT TO:<a..b@example.org>",
            b"RCPT TO:<a b@example.org>",
            b"RCPT TO:<u@example.org",
            b"MAIL FROM:<u@exa mple.org>",
            b"MAIL FROM:<u\xc3\xa6@example.org>",
        ] {
            assert!(
                parse_command(l).is_err(),
                "{:?}",
                String::from_utf8_lossy(l)
            );
        }
        // UTF-8 addresses are fine with SMTPUTF8.
        assert!(parse_command("MAIL FROM:<æ@example.org> SMTPUTF8".as_bytes()).is_ok());
        // Quoted local parts may contain spaces and '>'.
        let Command::Rcpt(r) = parse_command(b"RCPT TO:<\"a >b\"@example.org>").unwrap() else {
            panic!()
        };
        assert_eq!(r.address, "\"a >b\"@example.org");
    }

    #[test]
    fn unknown_and_unsupported() {
        assert_eq!(parse_command(b"FOO bar"), Err(ParseError::Unknown));
        assert!(matches!(
            parse_command(b"MAIL FROM:<a@b.c> FOO=1"),
            Err(ParseError::UnsupportedParameter(_))
        ));
        assert!(matches!(
            parse_command(b"DATA now"),
            Err(ParseError::Syntax(_))
        ));
        let long = vec![b'A'; MAX_COMMAND_LINE + 1];
        assert_eq!(parse_command(&long), Err(ParseError::LineTooLong));
        assert!(parse_command(b"NOOP\0").is_err());
    }

    #[test]
    fn utf8_across_the_keyword_boundary_is_an_error_not_a_panic() {
        // Found by `fuzz/run.sh` (smtp_command).
        assert!(parse_command("RCPT TB\u{c37d}\u{1fd}".as_bytes()).is_err());
        assert!(parse_command("RCPT TBýǽý".as_bytes()).is_err());
        assert!(parse_command("MAIL FRæ:<a@b.c>".as_bytes()).is_err());
    }

    #[test]
    fn auth_forms() {
        assert_eq!(
            parse_command(b"AUTH plain AGFAYg==").unwrap(),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("AGFAYg==".into())
            }
        );
        assert_eq!(
            parse_command(b"AUTH LOGIN").unwrap(),
            Command::Auth {
                mechanism: "LOGIN".into(),
                initial: None
            }
        );
    }

    #[test]
    fn xtext_roundtrip() {
        let s = "a+b=c d";
        assert_eq!(xtext_decode(&xtext_encode(s)).unwrap(), s);
    }
}
