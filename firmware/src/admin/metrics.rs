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
    let ks = st.keystore.clone();
    let (keys, partners, pending) = tokio::task::spawn_blocking(move || {
        (
            ks.list_keys(),
            ks.list_partners(),
            ks.pending_partners().len(),
        )
    })
    .await
    .unwrap_or_default();
    let limit = crate::keystore::model::iso(crate::clock::unix_now() + 30 * 86400);
    let expiring = keys
        .iter()
        .filter(|k| k.successor.is_none())
        .filter(|k| k.not_after.as_ref().is_some_and(|n| *n <= limit))
        .count()
        + partners
            .iter()
            .filter(|p| p.enabled && !p.pending && p.not_after <= limit)
            .count();
    let q = st.queue.stats();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let totals = st.auth.monitor.counters.totals();
    let mail: Vec<(String, u64)> = NAMES
        .iter()
        .zip(totals)
        .map(|(n, v)| (format!("{{kind=\"{n}\"}}"), v))
        .collect();
    family(
        "segl_mail_total",
        "counter",
        "Mail counted by the dashboard, by kind, since the data directory was made.",
        &mail,
    );
    let g = |v: usize| vec![(String::new(), v as u64)];
    family(
        "segl_queue_messages",
        "gauge",
        "Messages in the queue.",
        &g(q.messages),
    );
    family(
        "segl_queue_incoming",
        "gauge",
        "Messages waiting for the policy stage.",
        &g(q.incoming),
    );
    family(
        "segl_queue_recipients_pending",
        "gauge",
        "Recipients not yet delivered.",
        &g(q.recipients_pending),
    );
    family(
        "segl_queue_deferred",
        "gauge",
        "Recipients waiting for a retry.",
        &g(q.deferred),
    );
    family(
        "segl_queue_held",
        "gauge",
        "Quarantined messages.",
        &g(q.held),
    );
    family(
        "segl_partner_certificates_pending",
        "gauge",
        "Harvested partner certificates awaiting approval.",
        &g(pending),
    );
    family(
        "segl_certificates_expiring",
        "gauge",
        "Own keys and partner certificates expiring within 30 days.",
        &g(expiring),
    );
    family(
        "segl_license_warnings",
        "gauge",
        "Licence conditions that need attention.",
        &g(st.license.status().warnings.len()),
    );
    let revision = st.config.revisions().first().map_or(0, |r| r.id);
    family(
        "segl_config_revision",
        "gauge",
        "The configuration revision in force (0: never changed).",
        &[(String::new(), revision)],
    );
    family(
        "segl_config_restart_pending",
        "gauge",
        "Configuration keys changed that apply at the next start.",
        &g(st.config.restart_pending().len()),
    );
    family(
        "segl_uptime_seconds",
        "gauge",
        "Seconds since the gateway started.",
        &[(String::new(), st.started.elapsed().as_secs())],
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
