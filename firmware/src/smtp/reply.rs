//! The table that maps the outcomes of the SMTP server to a reply code, an enhanced status code
//! (RFC 3463) and a text. Handlers name a [`Reply`] from it; the replies whose text carries
//! session data are built where that data is — the greeting, the EHLO list and the AUTH
//! challenge (`Reply::plain`), `250 … queued as <id>` and the `Reply::with_text` of a few
//! handlers — and are formatted by [`Reply`] like the rest.

use std::borrow::Cow;

pub use crate::spool::EnhancedStatus;
use crate::spool::EnhancedStatus as Es;

/// An SMTP reply: basic code, enhanced code, text (may hold several lines separated by '\n').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub enhanced: Option<EnhancedStatus>,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub const fn new(code: u16, enhanced: EnhancedStatus, text: &'static str) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced),
            text: Cow::Borrowed(text),
        }
    }

    pub fn with_text(code: u16, enhanced: EnhancedStatus, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced),
            text: Cow::Owned(text.into()),
        }
    }

    /// A reply without an enhanced code (the greeting, EHLO, 354: RFC 2034 §3 leaves them out).
    pub fn plain(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            enhanced: None,
            text: Cow::Owned(text.into()),
        }
    }

    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Whether the server closes the connection after sending this reply.
    pub fn closes(&self) -> bool {
        self.code == 421 || self.code == 221
    }

    /// Wire form: every line `code-text`, the last `code text`, each ended by CRLF.
    pub fn to_wire(&self) -> Vec<u8> {
        let lines: Vec<&str> = self.text.split('\n').collect();
        let mut out = Vec::with_capacity(self.text.len() + 16 * lines.len());
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some(e) = self.enhanced {
                out.extend_from_slice(e.to_string().as_bytes());
                out.push(b' ');
            }
            // Never let a text inject a line break into the protocol.
            out.extend(line.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

// ---- the table ----------------------------------------------------------------------------------

pub const OK: Reply = Reply::new(250, Es::new(2, 0, 0), "OK");
pub const SENDER_OK: Reply = Reply::new(250, Es::new(2, 1, 0), "Sender OK");
pub const RECIPIENT_OK: Reply = Reply::new(250, Es::new(2, 1, 5), "Recipient OK");
pub const RESET: Reply = Reply::new(250, Es::new(2, 0, 0), "Reset");
pub const VRFY: Reply = Reply::new(
    252,
    Es::new(2, 5, 2),
    "Cannot VRFY user, but will accept message",
);
pub const HELP: Reply = Reply::new(214, Es::new(2, 0, 0), "See RFC 5321");
pub const START_DATA: Reply = Reply {
    code: 354,
    enhanced: None,
    text: Cow::Borrowed("End data with <CR><LF>.<CR><LF>"),
};
pub const READY_TLS: Reply = Reply::new(220, Es::new(2, 0, 0), "Ready to start TLS");
pub const AUTH_OK: Reply = Reply::new(235, Es::new(2, 7, 0), "Authentication successful");

pub const SHUTTING_DOWN: Reply = Reply::new(
    421,
    Es::new(4, 3, 2),
    "Service shutting down, try again later",
);
pub const TOO_MANY_CONNECTIONS: Reply = Reply::new(
    421,
    Es::new(4, 7, 0),
    "Too many connections, try again later",
);
pub const TOO_MANY_FROM_IP: Reply = Reply::new(
    421,
    Es::new(4, 7, 0),
    "Too many connections from your address, try again later",
);
pub const TIMEOUT: Reply = Reply::new(
    421,
    Es::new(4, 4, 2),
    "Timeout exceeded, closing connection",
);
pub const TOO_MANY_ERRORS: Reply =
    Reply::new(421, Es::new(4, 7, 0), "Too many errors, closing connection");
pub const LOCAL_ERROR: Reply = Reply::new(
    451,
    Es::new(4, 3, 0),
    "Local error in processing, message not accepted; try again later",
);
pub const DISK_FULL: Reply = Reply::new(
    452,
    Es::new(4, 3, 1),
    "Insufficient system storage, try again later",
);
pub const TOO_MANY_RECIPIENTS: Reply = Reply::new(452, Es::new(4, 5, 3), "Too many recipients");
pub const CALLOUT_TEMPFAIL: Reply = Reply::new(
    451,
    Es::new(4, 4, 3),
    "Cannot verify recipient now, try again later",
);
pub const TLS_NOT_AVAILABLE: Reply = Reply::new(454, Es::new(4, 7, 0), "TLS not available");

pub const LINE_TOO_LONG: Reply = Reply::new(500, Es::new(5, 5, 2), "Line too long");
pub const UNKNOWN_COMMAND: Reply = Reply::new(500, Es::new(5, 5, 2), "Command unrecognized");
pub const NON_ASCII: Reply = Reply::new(500, Es::new(5, 5, 2), "8-bit characters in command");
pub const BAD_ADDRESS: Reply = Reply::new(501, Es::new(5, 1, 3), "Bad address syntax");
pub const BAD_SENDER: Reply = Reply::new(501, Es::new(5, 1, 7), "Bad sender address syntax");
pub const NOT_IMPLEMENTED: Reply = Reply::new(502, Es::new(5, 5, 1), "Command not implemented");
pub const EXPN_DISABLED: Reply = Reply::new(502, Es::new(5, 5, 1), "EXPN not available");
pub const BAD_SEQUENCE: Reply = Reply::new(503, Es::new(5, 5, 1), "Bad sequence of commands");
pub const HELO_FIRST: Reply = Reply::new(503, Es::new(5, 5, 1), "Send EHLO/HELO first");
pub const NESTED_MAIL: Reply = Reply::new(503, Es::new(5, 5, 1), "Sender already specified");
pub const NEED_MAIL: Reply = Reply::new(503, Es::new(5, 5, 1), "Need MAIL command first");
pub const NEED_RCPT: Reply = Reply::new(503, Es::new(5, 5, 1), "Need RCPT command first");
pub const ALREADY_TLS: Reply = Reply::new(503, Es::new(5, 5, 1), "TLS already active");
pub const ALREADY_AUTH: Reply = Reply::new(503, Es::new(5, 5, 1), "Already authenticated");
pub const AUTH_IN_TRANSACTION: Reply = Reply::new(
    503,
    Es::new(5, 5, 1),
    "AUTH not allowed during a mail transaction",
);
pub const UNKNOWN_MECHANISM: Reply = Reply::new(
    504,
    Es::new(5, 5, 4),
    "Unrecognized authentication mechanism",
);
pub const AUTH_CANCELLED: Reply = Reply::new(501, Es::new(5, 7, 0), "Authentication cancelled");
pub const AUTH_SYNTAX: Reply =
    Reply::new(501, Es::new(5, 5, 2), "Cannot decode authentication data");
pub const AUTH_REQUIRED: Reply = Reply::new(530, Es::new(5, 7, 0), "Authentication required");
pub const TLS_REQUIRED: Reply =
    Reply::new(530, Es::new(5, 7, 0), "Must issue a STARTTLS command first");
pub const AUTH_FAILED: Reply =
    Reply::new(535, Es::new(5, 7, 8), "Authentication credentials invalid");
pub const RELAY_DENIED: Reply = Reply::new(550, Es::new(5, 7, 1), "Relay access denied");
pub const NO_SUCH_USER: Reply = Reply::new(550, Es::new(5, 1, 1), "No such user here");
pub const CALLOUT_REJECTED: Reply =
    Reply::new(550, Es::new(5, 1, 1), "Recipient rejected by next hop");
pub const MESSAGE_TOO_BIG: Reply =
    Reply::new(552, Es::new(5, 3, 4), "Message size exceeds fixed limit");
pub const LOOP_DETECTED: Reply = Reply::new(
    554,
    Es::new(5, 4, 6),
    "Too many Received headers: mail routing loop",
);
pub const BARE_LF: Reply = Reply::new(
    554,
    Es::new(5, 6, 0),
    "Message contains bare LF or CR; SMTP requires CRLF line endings",
);
pub const NON_ASCII_DATA: Reply = Reply::new(
    554,
    Es::new(5, 6, 7),
    "8-bit data requires BODY=8BITMIME or SMTPUTF8",
);
pub const NO_VALID_RECIPIENTS: Reply = Reply::new(554, Es::new(5, 5, 1), "No valid recipients");
pub const SIZE_PARAM_TOO_BIG: Reply = Reply::new(
    552,
    Es::new(5, 3, 4),
    "Message size exceeds fixed maximum message size",
);

/// A reply for a parse failure of the wire parser.
pub fn for_parse_error(e: &super::wire::ParseError) -> Reply {
    use super::wire::ParseError as P;
    match e {
        P::LineTooLong => LINE_TOO_LONG,
        P::Unknown => UNKNOWN_COMMAND,
        P::Syntax(why) => Reply::with_text(501, Es::new(5, 5, 4), format!("Syntax error: {why}")),
        P::BadAddress => BAD_ADDRESS,
        P::UnsupportedParameter(p) => {
            Reply::with_text(555, Es::new(5, 5, 4), format!("Unsupported parameter {p}"))
        }
        P::NonAscii => NON_ASCII,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multiline_wire_form() {
        assert_eq!(RELAY_DENIED.to_wire(), b"550 5.7.1 Relay access denied\r\n");
        let r = Reply::plain(250, "host\nPIPELINING\nSIZE 10");
        assert_eq!(
            r.to_wire(),
            b"250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
        );
    }

    #[test]
    fn text_cannot_inject_lines() {
        let r = Reply::with_text(550, Es::new(5, 1, 1), "a\rb");
        assert_eq!(r.to_wire(), b"550 5.1.1 ab\r\n");
    }

    #[test]
    fn enhanced_code_class_matches_basic_code() {
        for r in [
            OK,
            SENDER_OK,
            RECIPIENT_OK,
            TIMEOUT,
            TOO_MANY_RECIPIENTS,
            LINE_TOO_LONG,
            BAD_SEQUENCE,
            AUTH_FAILED,
            RELAY_DENIED,
            MESSAGE_TOO_BIG,
            LOOP_DETECTED,
            BARE_LF,
            DISK_FULL,
            AUTH_REQUIRED,
            TLS_REQUIRED,
            SHUTTING_DOWN,
            LOCAL_ERROR,
        ] {
            let class = r.enhanced.unwrap().class();
            assert_eq!((r.code / 100) as u8, class, "{r:?}");
        }
    }

    #[test]
    fn closing_replies() {
        assert!(TIMEOUT.closes());
        assert!(!RELAY_DENIED.closes());
    }
}
