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
        spec,
        super::status::status,
        super::queue::list,
        super::queue::held,
        super::queue::release,
        super::queue::retry,
        super::queue::retry_all,
        super::queue::delete,
        super::users::list,
        super::users::add,
        super::user_import::import,
        super::keystore::keys_list,
        super::keystore::keys_import,
        super::keystore::keys_generate,
        super::keystore::keys_csr,
        super::keystore::keys_import_cert,
        super::keystore::keys_export,
        super::keystore::keys_ca,
        super::keystore::keys_rollover,
        super::keystore::partners_list,
        super::keystore::partners_pending,
        super::keystore::partners_import,
        super::keystore::partners_approve,
        super::keystore::partners_enable,
        super::keystore::partners_disable,
        super::keystore::partners_delete,
        super::keystore::trust_list,
        super::keystore::trust_import,
        super::keystore::trust_delete,
        super::keystore::crl_list,
        super::keystore::crl_import,
        super::keystore::crl_refresh,
        super::keystore::backup_create,
        super::keystore::backup_restore,
        super::dkim::list,
        super::dkim::show,
        super::dkim::generate,
        super::dkim::import,
        super::dkim::remove,
        super::license::show,
        super::license::install,
        super::license::check,
        super::license::parked_list,
        super::accounts::admins_list,
        super::accounts::admins_add,
        super::accounts::admins_passwd,
        super::accounts::admins_delete,
        super::accounts::recipients_check,
        super::config::show,
        super::config::set,
        super::config::replace,
        super::config::replace_put,
        super::config::check,
        super::config::revisions,
        super::config::revision,
        super::config::restore,
        super::config::diff,
        super::logs::audit,
        super::logs::maillog,
        super::firmware::show,
        super::firmware::install,
        super::appliance::network_show,
        super::appliance::network_set,
        super::appliance::time_show,
        super::appliance::time_set,
        super::tls::list,
        super::tls::install,
        super::tls::reset,
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
        crate::update::Status,
        crate::update::SlotView,
        crate::update::LastResult,
        crate::update::Progress,
        crate::update::Slot,
        crate::appliance::NetworkSettings,
        crate::appliance::TimeSettings,
        crate::appliance::Mode,
        crate::appliance::Saved,
        super::appliance::NetworkView,
        super::appliance::TimeView,
        super::appliance::SavedNetwork,
        super::appliance::SavedTime,
        super::tls::TlsUpload,
        crate::liveconf::tls_files::TlsService,
        crate::liveconf::tls_files::TlsState,
        crate::liveconf::tls_files::CertInfo,
        crate::liveconf::tls_files::Installed,
    ))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json",
    responses((status = 200, description = "the OpenAPI 3 description", body = Object)))]
async fn spec() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// The document, with each operation tagged by its area (`keystore`, `config`, …): utoipa
/// tags an operation with the Rust path of its handler's module (`super::keystore`), which
/// means nothing to an API reader.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            for tag in op.tags.iter_mut().flatten() {
                let area = tag.rsplit("::").next().unwrap_or(tag).to_string();
                *tag = area;
            }
        }
    }
    doc
}

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new().route("/openapi.json", get(spec))
}
