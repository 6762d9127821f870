//! `/metrics`: the dashboard's figures in the Prometheus text format (version 0.0.4) for a
//! monitoring system: mail counters by kind (monotonic, kept across restarts in the data
//! directory), queue gauges, certificates awaiting approval or expiring, the configuration
//! revision. Answers an admin session, the ctl token, or the separate bearer token from
//! `admin.metrics_token_file` (so a scraper holds no admin rights); anything else gets 401.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AdminState;
use crate::monitor::counters::NAMES;

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The separate metrics token, read from its file at each scrape (so a new token applies at
/// once, and a configuration change of the file name too).
fn metrics_token(st: &AdminState) -> Option<String> {
    let path = st.config.get().admin.metrics_token_file.trim().to_string();
    if path.is_empty() {
        return None;
    }
    let t = std::fs::read_to_string(&path).ok()?;
    let t = t.lines().next().unwrap_or_default().trim().to_string();
    (t.len() >= 16).then_some(t)
}

fn allowed(st: &AdminState, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(b) => ct_eq(b, &st.token) || metrics_token(st).is_some_and(|t| ct_eq(b, &t)),
        None => super::auth::guard::session_id(headers, st.auth.https)
            .is_some_and(|id| st.auth.sessions.touch(&id).is_some()),
    }
}

pub async fn metrics(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    if !allowed(&st, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "an admin session, the ctl token or the metrics token is needed\n",
        )
            .into_response();
    }
    let (pending, expiring) = super::expiring::certificates(&st).await;
    let (pending, expiring) = (pending as u64, expiring.len() as u64);
    let mut out = String::new();
    let mail: Vec<(String, u64)> = NAMES
        .iter()
        .zip(st.auth.monitor.counters.totals())
        .map(|(n, v)| (format!("{{kind=\"{n}\"}}"), v))
        .collect();
    family(
        &mut out,
        "segl_mail_total",
        "counter",
        "Mail counted by the dashboard, by kind, since the data directory was made.",
        &mail,
    );
    let gauges = gauges(&st, pending, expiring);
    for (name, help, v) in gauges {
        family(&mut out, name, "gauge", help, &[(String::new(), v)]);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// The gauges: (name, help, value).
fn gauges(st: &AdminState, pending: u64, expiring: u64) -> [(&'static str, &'static str, u64); 11] {
    let q = st.queue.stats();
    let n = |v: usize| v as u64;
    [
        (
            "segl_queue_messages",
            "Messages in the queue.",
            n(q.messages),
        ),
        (
            "segl_queue_incoming",
            "Messages waiting for the policy stage.",
            n(q.incoming),
        ),
        (
            "segl_queue_recipients_pending",
            "Recipients not yet delivered.",
            n(q.recipients_pending),
        ),
        (
            "segl_queue_deferred",
            "Recipients waiting for a retry.",
            n(q.deferred),
        ),
        ("segl_queue_held", "Quarantined messages.", n(q.held)),
        (
            "segl_partner_certificates_pending",
            "Harvested partner certificates awaiting approval.",
            pending,
        ),
        (
            "segl_certificates_expiring",
            "Own keys and partner certificates expiring within 30 days.",
            expiring,
        ),
        (
            "segl_license_warnings",
            "Licence conditions that need attention.",
            n(st.license.status().warnings.len()),
        ),
        (
            "segl_config_revision",
            "The configuration revision in force (0: never changed).",
            st.config.revisions().first().map_or(0, |r| r.id),
        ),
        (
            "segl_config_restart_pending",
            "Configuration keys changed that apply at the next start.",
            n(st.config.restart_pending().len()),
        ),
        (
            "segl_uptime_seconds",
            "Seconds since the gateway started.",
            st.started.elapsed().as_secs(),
        ),
    ]
}

/// One metric family in the Prometheus text format.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        let _ = writeln!(out, "{name}{labels} {v}");
    }
}
