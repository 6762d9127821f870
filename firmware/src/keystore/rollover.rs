//! Key rollover. Runs at start, hourly, and after every key addition.
//!
//! An own key whose certificate expires within `rollover_days` gets a successor: from the
//! built-in CA at once (the new key signs from now on, so partners learn the new certificate
//! from signed mail), or, for keys from an external CA, a new key with a CSR shown as a pending
//! action. The old key keeps decrypting. `keep_old_days` after its expiry it is archived:
//! offered nowhere, still used to decrypt old mail. Nothing is deleted.

use super::error::Result;
use super::model::{self, KeyRecord, KeySource, KeyState};
use super::{Keystore, T_KEYS};

const DAY: i64 = 86_400;

impl Keystore {
    /// Runs the rollover check now; returns what it did, one sentence per action.
    pub fn rollover_check(&self) -> Result<Vec<String>> {
        self.rollover_check_at(model::now())
    }

    /// Runs the rollover check as if it were `now` (unix seconds).
    pub fn rollover_check_at(&self, now: i64) -> Result<Vec<String>> {
        let _w = self.lock_writer();
        self.rollover_locked(now)
    }

    /// The check itself; the caller holds the writer lock.
    pub(crate) fn rollover_locked(&self, now: i64) -> Result<Vec<String>> {
        let mut actions = Vec::new();
        let horizon = i64::from(self.settings.rollover_days) * DAY;
        let keep = i64::from(self.settings.keep_old_days) * DAY;
        let records: Vec<KeyRecord> = self.snapshot().keys.iter().map(|l| l.rec.clone()).collect();
        for mut rec in records {
            if rec.cert.is_none() || rec.state == KeyState::Archived {
                continue;
            }
            if rec.not_after + keep < now {
                rec.state = KeyState::Archived;
                rec.pending_action = None;
                self.put_json(T_KEYS, &rec.id, &rec)?;
                self.commit()?;
                tracing::info!(key = %rec.id, "expired key archived (kept for decryption)");
                actions.push(format!("key {} archived", rec.id));
                continue;
            }
            let due = rec.state == KeyState::Active
                && rec.successor.is_none()
                && rec.not_after - now <= horizon;
            if !due {
                continue;
            }
            let subject = rec
                .addresses
                .first()
                .cloned()
                .or_else(|| rec.domain.as_ref().map(|d| format!("@{d}")))
                .unwrap_or_default();
            match rec.source {
                KeySource::BuiltinCa => {
                    let new = self.generate_locked(
                        &subject,
                        self.settings.cert_days,
                        rec.purpose,
                        rec.mailbox.clone(),
                        rec.domain.clone(),
                    )?;
                    rec.successor = Some(new.clone());
                    rec.state = KeyState::Superseded;
                    self.put_json(T_KEYS, &rec.id, &rec)?;
                    self.commit()?;
                    tracing::info!(old = %rec.id, new = %new, "key rolled over (built-in CA)");
                    actions.push(format!("key {} replaced by {new}", rec.id));
                }
                _ => {
                    if rec.pending_action.is_some() {
                        continue;
                    }
                    let new = self.csr_locked(
                        &subject,
                        rec.purpose,
                        rec.mailbox.clone(),
                        rec.domain.clone(),
                        Some(&rec.id),
                    )?;
                    rec.pending_action = Some(format!(
                        "expires {}: renewal key {new} waits for a certificate (CSR shown with `segl ctl key list`)",
                        model::iso(rec.not_after)
                    ));
                    self.put_json(T_KEYS, &rec.id, &rec)?;
                    self.commit()?;
                    tracing::warn!(old = %rec.id, new = %new, "key expires soon: renewal CSR made");
                    actions.push(format!("key {} needs renewal: CSR in key {new}", rec.id));
                }
            }
        }
        Ok(actions)
    }
}
