//! [`ApiError`]: an HTTP status and a message for a person, and the mapping of the domain
//! errors (queue, users, keystore) onto statuses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::keystore::KeystoreError;
use crate::queue::QueueError;
use crate::users::UserError;

/// An API error: an HTTP status and a message for a person.
pub struct ApiError(StatusCode, String);

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: String) -> ApiError {
        ApiError(status, message)
    }

    /// 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    /// 500 with this message (a failed blocking task and the like).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        let status = match e {
            QueueError::NotFound(_) => StatusCode::NOT_FOUND,
            QueueError::Busy(_) => StatusCode::CONFLICT,
            QueueError::Spool(crate::spool::SpoolError::BadRecord { .. }) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> ApiError {
        let status = match e {
            UserError::Exists(_) => StatusCode::CONFLICT,
            UserError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<KeystoreError> for ApiError {
    fn from(e: KeystoreError) -> ApiError {
        let status = match e {
            KeystoreError::NotFound(_) => StatusCode::NOT_FOUND,
            KeystoreError::Conflict(_) => StatusCode::CONFLICT,
            KeystoreError::WrongPassword(_)
            | KeystoreError::BadInput(_)
            | KeystoreError::Unreadable(_)
            | KeystoreError::Unsupported(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}
