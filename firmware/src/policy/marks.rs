//! Subject markings (`[mark]` prefixes) as policy: what is removed from a subject so that no
//! marking can be forged by a sender or survive in a reply. The prefixes themselves are
//! configuration ([`MarkConfig`]).

use crate::config::MarkConfig;

use super::fields::{remove_tag, remove_template};

/// Removes every configured prefix from `subject`, the domain-signature prefix for any domain
/// included.
pub fn strip(mark: &MarkConfig, subject: &str) -> String {
    let mut t = subject.to_string();
    for p in mark.prefixes() {
        t = remove_tag(&t, p).0;
    }
    remove_template(&t, mark.domain_signed.trim(), "{domain}")
}
