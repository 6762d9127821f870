//! Dashboard: queue figures, what expires soon, pending approvals, and mail charts.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::Extension;

use super::chart::{self, Series};
use super::{render, PageCtx, PageResult};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::keystore::model::now;
use crate::monitor::Counter;

pub struct Expiring {
    pub what: String,
    pub address: String,
    pub not_after: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Page {
    p: PageCtx,
    messages: usize,
    deferred: usize,
    held: usize,
    pending: usize,
    expiring: Vec<Expiring>,
    hourly: String,
    daily: String,
    legend: Vec<(usize, &'static str)>,
    /// The licence's warnings (expiry, unlicensed keys), shown as an alert.
    license_warnings: Vec<String>,
    /// "clock not trusted yet: …" while mail is held for the clock (`appliance::trust`).
    clock_warning: Option<String>,
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/", i18n_title(&p));
    let t = ctx.t;
    let q = st.queue.stats();
    let license_warnings = st.license.status().warnings.clone();
    let clock = crate::appliance::trust::current();
    let clock_warning = (!clock.trusted()).then(|| clock.describe());
    let (pending, certs) = crate::admin::expiring::certificates(&st).await;
    let expiring = certs
        .into_iter()
        .map(|c| Expiring {
            what: if c.own { t.own_keys } else { t.partners }.to_string(),
            address: c.address,
            not_after: ctx.time.text(&c.not_after),
        })
        .collect();
    let shown = [
        (Counter::Inbound, t.inbound),
        (Counter::Outbound, t.outbound),
        (Counter::Encrypted, t.encrypted),
        (Counter::Signed, t.signed),
        (Counter::Decrypted, t.decrypted),
        (Counter::Verified, t.verified),
    ];
    let make = |data: Vec<(i64, [u64; crate::monitor::counters::N])>,
                fmt: &dyn Fn(i64) -> String,
                every: usize,
                title: &str| {
        let labels: Vec<String> = data.iter().map(|(ts, _)| fmt(*ts)).collect();
        let series: Vec<Series<'_>> = shown
            .iter()
            .map(|(c, label)| Series {
                label,
                values: data.iter().map(|(_, v)| v[*c as usize]).collect(),
            })
            .collect();
        chart::lines(title, &labels, every, &series)
    };
    let n = now();
    let hourly = make(
        st.auth.monitor.counters.hourly(n),
        // Hours of the box's zone; the buckets are whole hours of UTC.
        &|ts| ctx.time.hour(ts),
        3,
        t.last_24h,
    );
    let daily = make(
        st.auth.monitor.counters.daily(n, ctx.time.zone()),
        // Days of the box's zone, labelled with their local date.
        &|ts| ctx.time.date(ts).get(5..).unwrap_or_default().to_string(),
        5,
        t.last_30d,
    );
    render(&Page {
        p: ctx,
        messages: q.messages,
        deferred: q.deferred,
        held: q.held,
        pending,
        expiring,
        hourly,
        daily,
        legend: shown
            .iter()
            .enumerate()
            .map(|(i, (_, l))| (i, *l))
            .collect(),
        license_warnings,
        clock_warning,
    })
}

fn i18n_title(p: &Principal) -> &'static str {
    super::i18n::texts(p.lang).dashboard
}
