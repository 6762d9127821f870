//! `[notify]`: messages Segl sends to the organisation's own users.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Send the employee a receipt when secure mail left as a function mailbox.
    pub send_receipt: bool,
}
