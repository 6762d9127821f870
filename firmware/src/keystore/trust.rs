//! Trust anchors: CA certificates that signer chains must reach. The built-in CA is one
//! automatically (see `ca`).

use der::Encode;

use super::error::{KeystoreError, Result};
use super::import;
use super::model::{self, AnchorRecord};
use super::{Keystore, T_ANCHORS};

impl Keystore {
    /// Imports CA certificates (PEM bundle or DER) as trust anchors.
    pub fn import_anchor(&self, input: &[u8]) -> Result<Vec<AnchorRecord>> {
        let certs = import::pem::certificates(input)?;
        let _w = self.lock_writer();
        let mut out = Vec::new();
        for c in certs {
            let der = c
                .to_der()
                .map_err(|e| KeystoreError::BadInput(format!("certificate encoding: {e}")))?;
            let is_ca = matches!(
                c.tbs_certificate().get_extension::<x509_cert::ext::pkix::BasicConstraints>(),
                Ok(Some((_, bc))) if bc.ca
            );
            if !is_ca {
                return Err(KeystoreError::BadInput(format!(
                    "{} is not a CA certificate (basicConstraints CA:TRUE missing)",
                    c.tbs_certificate().subject()
                )));
            }
            let rec = AnchorRecord {
                id: model::fingerprint(&der)[..16].to_string(),
                subject: c.tbs_certificate().subject().to_string(),
                not_after: model::iso(model::validity(&c).1),
                source: "imported".into(),
                cert: der,
            };
            self.put_json(T_ANCHORS, &rec.id, &rec)?;
            tracing::info!(anchor = %rec.subject, "trust anchor imported");
            out.push(rec);
        }
        self.commit()?;
        Ok(out)
    }

    /// All trust anchors.
    pub fn list_anchors(&self) -> Vec<AnchorRecord> {
        self.snapshot()
            .anchors
            .iter()
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Removes a trust anchor.
    pub fn delete_anchor(&self, id: &str) -> Result<()> {
        let _w = self.lock_writer();
        if !self.snapshot().anchors.iter().any(|(a, _)| a.id == id) {
            return Err(KeystoreError::NotFound(format!("trust anchor {id}")));
        }
        self.store.delete(T_ANCHORS, id)?;
        self.commit()
    }
}
