//! The SMTP client as the queue's delivery stage ([`Transport`]): recipients are batched by
//! route and TLS requirement (at most [`MAX_BATCH`] per transaction), and each batch is one
//! [`Deliverer::deliver_route`] attempt.

use std::collections::BTreeMap;

use super::deliver::Deliverer;
use super::route::{route_for, Route};
use crate::queue::{Batch, Delivery, Transport};
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// Most recipients in one SMTP transaction (RFC 5321 §4.5.3.1.8 requires servers to take 100).
pub const MAX_BATCH: usize = 100;

impl Deliverer {
    /// Whether mail to `address` must go over TLS (`delivery.require_tls_domains`).
    fn requires_tls(&self, address: &str) -> bool {
        domain_of(address).is_some_and(|d| self.cfg.requires_tls(&d))
    }
}

impl Transport for Deliverer {
    fn batches(&self, recipients: Vec<String>) -> Vec<Batch> {
        let mut groups: BTreeMap<(Route, bool), Vec<String>> = BTreeMap::new();
        for r in recipients {
            let key = (route_for(&self.cfg, &r), self.requires_tls(&r));
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
            // Every recipient of a batch shares the route and the TLS requirement (`batches`).
            let Some(first) = batch.recipients.first() else {
                return vec![];
            };
            let route = route_for(&self.cfg, first);
            let tls = self.requires_tls(first);
            self.deliver_route(&route, tls, env, &batch.recipients, message)
                .await
        })
    }
}
