//! The process and delivery stages behind a [`Live`] handle (each message and each attempt
//! takes the one current when it starts), and their rebuilding after a configuration change.

use std::sync::Arc;

use super::ConfigService;
pub use crate::config::{Live, LiveConfig};
use crate::policy::PolicyCtx;
use crate::queue::{Batch, Delivery, Output, Process, ProcessError, Transport};
use crate::smtp::outbound::deliver::Deliverer;
use crate::spool::Envelope;

/// Each message is processed with the policy context current when its processing starts.
impl Process for Live<PolicyCtx> {
    fn process(&self, env: &Envelope, message: &[u8]) -> Result<Vec<Output>, ProcessError> {
        self.get().process(env, message)
    }
}

/// Each delivery attempt uses the delivery stage current when it starts.
impl Transport for Live<Deliverer> {
    fn batches(&self, recipients: Vec<String>) -> Vec<Batch> {
        self.get().batches(recipients)
    }

    fn deliver<'a>(
        &'a self,
        batch: &'a Batch,
        env: &'a Envelope,
        message: &'a [u8],
    ) -> Delivery<'a> {
        let d = self.get();
        Box::pin(async move { d.deliver(batch, env, message).await })
    }
}

/// After a configuration change: the policy context and the delivery stage are made anew from
/// the new configuration (the LDAP directories and the DNS resolver with them), keeping the
/// keystore and the licence. Messages and attempts under way keep their old snapshot.
pub fn rebuild_on_change(
    config: &ConfigService,
    policy: &Arc<Live<PolicyCtx>>,
    transport: &Arc<Live<Deliverer>>,
) {
    let (policy, transport) = (policy.clone(), transport.clone());
    config.on_change(move |cfg| {
        let old = policy.get();
        let same = |a: &crate::config::LookupConfig, b: &crate::config::LookupConfig| {
            serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
        };
        let directory = if same(&old.cfg.lookup, &cfg.lookup) {
            old.directory.clone()
        } else {
            match crate::keystore::ldap::Directory::new(&cfg.lookup) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "certificate lookup: keeping the old directories");
                    old.directory.clone()
                }
            }
        };
        policy.set(Arc::new(PolicyCtx {
            cfg: cfg.clone(),
            keystore: old.keystore.clone(),
            directory,
            license: old.license.clone(),
            users: old.users.clone(),
        }));
        let d = transport.get();
        let resolver = if d.cfg.delivery.dns_servers == cfg.delivery.dns_servers
            && d.cfg.delivery.mx_port == cfg.delivery.mx_port
        {
            d.resolver.clone()
        } else {
            crate::smtp::outbound::route::Resolver::new(cfg)
        };
        // The TLS client settings follow the configuration (delivery.tls_ca_file); a CA
        // file that cannot be read keeps the settings in force.
        let tls = if d.cfg.delivery.tls_ca_file == cfg.delivery.tls_ca_file {
            d.tls.clone()
        } else {
            match crate::tls::client_tls(cfg) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "delivery TLS: keeping the settings in force");
                    d.tls.clone()
                }
            }
        };
        transport.set(Arc::new(Deliverer {
            cfg: cfg.clone(),
            resolver,
            tls,
            cache: crate::smtp::outbound::cache::ConnectionCache::new(),
        }));
    });
}
