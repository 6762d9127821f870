//! Monitoring › Mail server: the queue (search, retry, delete), quarantined messages with
//! their reasons (release), and the mail log searchable by address, queue id and time.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::{done, render, PageCtx, PageResult, WebError};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::appliance::zone::LocalTime;
use crate::monitor::maillog::{MailEvent, MailQuery};
use crate::queue::QueueItem;

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    p: PageCtx,
    items: Vec<(QueueItem, String)>,
    held: Vec<(String, String)>,
    q: String,
}

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

pub async fn queue(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Query(s): Query<Search>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/queue", super::i18n::texts(p.lang).queue);
    let needle = s.q.trim().to_ascii_lowercase();
    let items = st
        .queue
        .list()
        .into_iter()
        .filter(|i| {
            needle.is_empty()
                || i.id.contains(&needle)
                || i.sender.to_ascii_lowercase().contains(&needle)
                || i.recipients.iter().any(|r| r.address.contains(&needle))
        })
        .take(500)
        .map(|i| {
            let when = ctx.time.at(i.arrived);
            (i, when)
        })
        .collect();
    render(&QueuePage {
        p: ctx,
        items,
        held: st.queue.held(),
        q: s.q,
    })
}

pub async fn action(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath((id, action)): UrlPath<(String, String)>,
) -> Response {
    let outcome = if !crate::spool::valid_id(&id) {
        Err(format!("invalid queue id {id:?}"))
    } else {
        match action.as_str() {
            "retry" => st.queue.retry(&id).map(|()| format!("retry: {id}")),
            "delete" => st
                .queue
                .delete(&id)
                .await
                .map(|()| format!("deleted: {id}")),
            "release" => st
                .queue
                .release(&id)
                .await
                .map(|()| format!("released: {id}")),
            _ => Ok(String::new()),
        }
        .map_err(|e| e.to_string())
    };
    done(&st, &p, "/queue", outcome)
}

pub async fn retry_all(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> Response {
    let n = st.queue.retry_all();
    done(&st, &p, "/queue", Ok(format!("retry: {n} message(s)")))
}

#[derive(Template)]
#[template(path = "maillog.html")]
struct LogPage {
    p: PageCtx,
    events: Vec<(MailEvent, String)>,
    address: String,
    id: String,
    since: String,
    until: String,
}

#[derive(Deserialize, Default)]
pub struct LogSearch {
    #[serde(default)]
    address: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

/// A day `YYYY-MM-DD` of the box's zone (the page shows local times) as unix seconds: its
/// start, or its end with `end`.
fn day(t: &LocalTime, s: &str, end: bool) -> Result<Option<i64>, WebError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    t.day(s, end)
        .map(Some)
        .ok_or_else(|| WebError(StatusCode::BAD_REQUEST, format!("{s:?} is not YYYY-MM-DD")))
}

pub async fn maillog(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Query(s): Query<LogSearch>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/maillog", super::i18n::texts(p.lang).mail_log);
    let q = MailQuery {
        address: s.address.clone(),
        id: s.id.clone(),
        since: day(&ctx.time, &s.since, false)?,
        until: day(&ctx.time, &s.until, true)?,
    };
    let mon = st.auth.monitor.clone();
    let events = tokio::task::spawn_blocking(move || mon.log.search(&q, 500))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let when = ctx.time.at(e.time);
            (e, when)
        })
        .collect();
    render(&LogPage {
        p: ctx,
        events,
        address: s.address,
        id: s.id,
        since: s.since,
        until: s.until,
    })
}
