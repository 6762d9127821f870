//! Answers both HTTP services give the same way: the stylesheet and file downloads.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A download: the file with a content type and name.
pub fn download(bytes: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

static CSS: &[u8] = include_bytes!("../../../webui/static/segl.css");

/// The stylesheet (the web portal serves it too).
pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}
