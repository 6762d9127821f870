//! System › Licences: the licence state (as `GET /api/v1/license` gives it), the seats, parked
//! mail, and the upload of a licence file. The upload goes through the same
//! [`crate::license::Licensing::install`] as the API and `segl ctl license install`, so a
//! refused file keeps the current licence and the reason is shown as the flash message.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::response::Response;
use axum::Extension;

use super::i18n::Texts;
use super::{blocking, done, fields, render, PageCtx, PageResult};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::license::limits::SeatKind;
use crate::license::{parked, Phase, Status};

/// One row of the seats table.
pub struct SeatRow {
    pub identity: String,
    pub kind: &'static str,
    pub licensed: bool,
    pub since: String,
}

/// One parked mail.
pub struct ParkedRow {
    pub when: String,
    pub sender: String,
    pub recipients: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "licences.html")]
struct Page {
    p: PageCtx,
    s: Arc<Status>,
    phase: &'static str,
    phase_ok: bool,
    seats: Vec<SeatRow>,
    parked: Vec<ParkedRow>,
}

/// The phase in the administrator's language.
pub fn phase_text(t: &Texts, phase: Phase) -> &'static str {
    match phase {
        Phase::None => t.phase_none,
        Phase::OtherBox => t.phase_other_box,
        Phase::NotYetValid => t.phase_not_yet_valid,
        Phase::Valid => t.phase_valid,
        Phase::Grace => t.phase_grace,
        Phase::Expired => t.phase_expired,
    }
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/license", super::i18n::texts(p.lang).licences);
    let t = ctx.t;
    let st2 = st.clone();
    let (s, parked) = blocking(move || Ok((st2.license.status(), parked::list(&st2.license))))
        .await
        .map_err(|e| super::WebError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let seats = s
        .seats
        .iter()
        .map(|seat| SeatRow {
            identity: seat.identity.clone(),
            kind: match seat.kind {
                SeatKind::Individual => t.kind_individual,
                SeatKind::Mailbox => t.kind_mailbox,
            },
            licensed: seat.licensed,
            since: ctx.time.date(seat.since),
        })
        .collect();
    let parked = parked
        .into_iter()
        .map(|m| ParkedRow {
            when: ctx.time.at(m.parked_at),
            sender: m.envelope.mail_from.clone(),
            recipients: m.recipients.join(", "),
            reason: m.reason,
        })
        .collect();
    render(&Page {
        phase: phase_text(t, s.state),
        phase_ok: s.state == Phase::Valid,
        p: ctx,
        s,
        seats,
        parked,
    })
}

/// Installs the uploaded file (field `file`); the guard has checked the CSRF token and the
/// admin role.
pub async fn upload(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = async {
        let f = fields(m).await?;
        let file = super::uploaded_file(&f, "a licence file")?;
        let st2 = st.clone();
        blocking(move || {
            let s = st2
                .license
                .install(&file)
                .map_err(|e| format!("licence refused: {e}"))?;
            let released = crate::policy::license_tasks::release_now(&st2.queue, &st2.policy.get());
            tracing::info!(released = ?released, "parked mail released after a licence upload");
            Ok(format!("licence installed: {}", s.summary))
        })
        .await
    }
    .await;
    if let Err(e) = &outcome {
        tracing::warn!(reason = %e, "licence upload refused");
    }
    done(&st, &p, "/license", outcome)
}
