//! `/api/v1/openapi.json`: the OpenAPI 3 description, generated from the handler and type
//! annotations (utoipa), not written by hand.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::AdminState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Segl admin API",
        description = "Administer a Segl S/MIME gateway. Authenticate with `Authorization: Bearer <data_dir>/ctl.token`, or with a web session cookie plus `X-CSRF-Token` on writes."
    ),
    paths(
        super::accounts::admins_list,
        super::accounts::admins_add,
        super::accounts::admins_passwd,
        super::accounts::admins_delete,
        super::accounts::recipients_check,
        super::config::show,
        super::config::set,
        super::config::replace,
        super::config::check,
        super::config::revisions,
        super::config::revision,
        super::config::restore,
        super::config::diff,
        super::logs::audit,
        super::logs::maillog,
    ),
    components(schemas(
        super::auth::AdminInfo,
        super::auth::Role,
        super::auth::Lang,
        super::accounts::NewAdmin,
        super::accounts::NewPassword,
        super::accounts::CheckRequest,
        super::accounts::CheckResult,
        super::config::ConfigView,
        super::config::SetRequest,
        super::config::TextRequest,
        crate::liveconf::Applied,
        crate::liveconf::Revision,
        crate::liveconf::RevisionInfo,
        super::audit::AuditEntry,
        crate::monitor::maillog::MailEvent,
    ))
)]
pub struct ApiDoc;

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
