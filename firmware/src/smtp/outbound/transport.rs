//! The SMTP client as the queue's delivery stage ([`Transport`]): recipients are batched by
//! route and TLS level (at most [`MAX_BATCH`] per transaction), and each batch is one
//! [`Deliverer::deliver_route`] attempt.

use std::collections::BTreeMap;

use super::deliver::Deliverer;
use super::route::{route_for, Route};
use crate::config::TlsLevel;
use crate::queue::{Batch, Delivery, Transport};
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// Most recipients in one SMTP transaction (RFC 5321 §4.5.3.1.8 requires servers to take 100).
pub const MAX_BATCH: usize = 100;

impl Deliverer {
    /// The TLS level mail to `address` needs (`delivery.tls_levels`, `require_tls_domains`).
    fn tls_level(&self, address: &str) -> TlsLevel {
        domain_of(address).map_or(TlsLevel::May, |d| self.cfg.delivery.tls_level(&d))
    }
}

impl Transport for Deliverer {
    fn batches(&self, recipients: Vec<String>) -> Vec<Batch> {
        let mut groups: BTreeMap<(Route, TlsLevel), Vec<String>> = BTreeMap::new();
        for r in recipients {
            let key = (route_for(&self.cfg, &r), self.tls_level(&r));
            groups.entry(key).or_default().push(r);
        }
        let mut batches = vec![];
        for ((route, _), rcpts) in groups {
            for chunk in rcpts.chunks(MAX_BATCH) {
                batches.push(Batch {
                    route: route.to_string(),
                    recipients: chunk.to_vec(),
                });
            }
        }
        batches
    }

    fn deliver<'a>(
        &'a self,
        batch: &'a Batch,
        env: &'a Envelope,
        message: &'a [u8],
    ) -> Delivery<'a> {
        Box::pin(async move {
            // Every recipient of a batch shares the route and the TLS level (`batches`).
            let Some(first) = batch.recipients.first() else {
                return vec![];
            };
            let route = route_for(&self.cfg, first);
            let tls = self.tls_level(first);
            self.deliver_route(&route, tls, env, &batch.recipients, message)
                .await
        })
    }
}
