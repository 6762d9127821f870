//! Who a session belongs to: the role and the language of an administrator or a portal user.

use serde::{Deserialize, Serialize};

/// What an administrator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Look at everything, change nothing (the recipient check is open to it).
    Readonly,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Readonly => "readonly",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "readonly" => Some(Role::Readonly),
            _ => None,
        }
    }
}

/// Languages of the web admin, chosen per administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    De,
    Da,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Da => "da",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            "da" => Some(Lang::Da),
            _ => None,
        }
    }
}
