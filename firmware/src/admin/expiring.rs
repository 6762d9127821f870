//! Certificates that need the administrator soon, for the dashboard and `/metrics` alike: own
//! keys without a successor that expire within 30 days (or have expired), partner
//! certificates in use that expire within 30 days, and harvested certificates awaiting approval.

use super::AdminState;
use crate::clock::unix_now;
use crate::keystore::model::iso;

/// How far ahead the dashboard warns.
const WARN_DAYS: i64 = 30;

/// One certificate that expires soon.
pub struct ExpiringCert {
    /// An own key (else a partner's certificate).
    pub own: bool,
    /// Its addresses, or the partner domain.
    pub address: String,
    pub not_after: String,
}

/// Certificates awaiting approval, and those expiring soon, soonest first.
pub async fn certificates(st: &AdminState) -> (usize, Vec<ExpiringCert>) {
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
    let limit = iso(unix_now() + WARN_DAYS * 86400);
    let today = iso(unix_now());
    let own = keys
        .iter()
        .filter(|k| k.successor.is_none())
        .filter_map(|k| {
            let na = k.not_after.as_ref().filter(|na| **na <= limit)?;
            Some(ExpiringCert {
                own: true,
                address: k.addresses.join(", "),
                not_after: na.clone(),
            })
        });
    let partner = partners
        .iter()
        .filter(|p| p.enabled && !p.pending)
        .filter(|p| p.not_after <= limit && p.not_after >= today)
        .map(|p| ExpiringCert {
            own: false,
            address: p.domain.clone().unwrap_or_else(|| p.addresses.join(", ")),
            not_after: p.not_after.clone(),
        });
    let mut all: Vec<ExpiringCert> = own.chain(partner).collect();
    all.sort_by(|a, b| a.not_after.cmp(&b.not_after));
    (pending, all)
}
