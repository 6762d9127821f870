//! DKIM keys on the Domains page: each domain's keys with the DNS record to publish, and the
//! form that generates a key (a new selector for a domain that has one is a rollover). The
//! same keystore calls as the API (`/api/v1/dkim`), so the page shows exactly the TXT record
//! that `segl ctl dkim show --txt` prints.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::{blocking, done};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::appliance::zone::LocalTime;
use crate::dkim::Algorithm;
use crate::keystore::dkim::{DkimKeyInfo, DkimState};

/// One DKIM key as the page shows it.
#[derive(Debug)]
pub struct DkimRow {
    pub domain: String,
    pub selector: String,
    pub algorithm: &'static str,
    pub created: String,
    pub signing: bool,
    /// For a retired key: until when its record must stay published.
    pub publish_until: Option<String>,
    pub dns_name: String,
    pub txt: String,
}

impl DkimRow {
    /// `keep_days` is `dkim.keep_retired_days`, as the API's `publish_until` uses it.
    fn of(k: DkimKeyInfo, keep_days: u32, t: &LocalTime) -> DkimRow {
        let publish_until = match (k.state, k.retired) {
            (DkimState::Retired, Some(r)) => Some(t.at(r + i64::from(keep_days) * 86_400)),
            (DkimState::Retired, None) => Some(String::new()),
            _ => None,
        };
        DkimRow {
            algorithm: k.algorithm.signature_algorithm(),
            created: t.at(k.created),
            signing: k.state == DkimState::Active,
            publish_until,
            domain: k.domain,
            selector: k.selector,
            dns_name: k.dns_name,
            txt: k.txt,
        }
    }
}

/// All DKIM keys, by domain and selector as the keystore lists them; times in `t`'s zone.
pub async fn rows(st: &AdminState, t: &LocalTime) -> Vec<DkimRow> {
    let ks = st.keystore.clone();
    let keep = st.cfg.dkim.keep_retired_days;
    blocking(move || Ok(ks.dkim_list()))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|k| DkimRow::of(k, keep, t))
        .collect()
}

#[derive(Deserialize)]
pub struct GenerateForm {
    domain: String,
    #[serde(default)]
    selector: String,
    #[serde(default)]
    algorithm: String,
}

/// POST /domains/dkim/generate (CSRF and role checked by the guard).
pub async fn generate(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<GenerateForm>,
) -> Response {
    let outcome = match Algorithm::parse(if f.algorithm.trim().is_empty() {
        "rsa"
    } else {
        &f.algorithm
    }) {
        Err(e) => Err(e.to_string()),
        Ok(algorithm) => {
            let ks = st.keystore.clone();
            let domain = f.domain.trim().to_string();
            let selector = (!f.selector.trim().is_empty()).then(|| f.selector.trim().to_string());
            blocking(move || {
                ks.dkim_generate(&domain, selector.as_deref(), algorithm)
                    .map_err(|e| e.to_string())
            })
            .await
            .map(|k| {
                format!(
                    "generated DKIM key {} ({}); publish its TXT record at {}",
                    k.selector, k.signature_algorithm, k.dns_name
                )
            })
        }
    };
    done(&st, &p, "/domains", outcome)
}
