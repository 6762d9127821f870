//! Mail as the gateway edits and writes it, shared by the policy, the authentication-results
//! check, the licence notices and the web portal: the top-level header fields of a message
//! ([`fields`]) and the texts of the mail Segl writes for people ([`texts`]). A leaf next to
//! `config`, so none of those modules has to import another to get at them.

pub mod fields;
pub mod texts;
