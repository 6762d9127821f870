//! The copies that go out: one signed-then-encrypted copy per group of recipients with
//! certificates, one signed (or unchanged) copy per group of the others. Groups differ only
//! where a domain key signs for some recipients' domains ([`super::super::domain_key`]).

use std::sync::Arc;

use super::super::{finish, Content, Output, PolicyCtx, ProcessError};
use crate::smime::{self, Certificate, EncryptOptions, PrivateKeyOps, Recipient, SignOptions};
use crate::spool::Envelope;

/// The key that signs and its chain.
pub(super) type Signer = (Arc<dyn PrivateKeyOps>, Vec<Certificate>);

/// What every copy of one message shares.
pub(super) struct Copies<'a> {
    pub ctx: &'a PolicyCtx,
    pub env: &'a Envelope,
    /// The original message, as received.
    pub original: &'a [u8],
    /// The message after the sender's controls were applied.
    pub base: &'a [u8],
    /// `base` differs from `original`.
    pub changed: bool,
    /// The (possibly function-mailbox) From address.
    pub from: &'a str,
    pub signer: Option<&'a Signer>,
    /// A domain key signs (the copies are split by recipient domain).
    pub domain_signed: bool,
    /// The envelope sender of the copies, when not the original one.
    pub mail_from: Option<String>,
}

fn smime_err(what: &str, e: smime::SmimeError) -> ProcessError {
    ProcessError::Quarantine(format!("cannot {what} the message: {e}"))
}

impl Copies<'_> {
    /// The encrypted copies for `recipients` (address, certificate).
    pub fn encrypted(
        &self,
        recipients: Vec<(String, Certificate)>,
    ) -> Result<Vec<Output>, ProcessError> {
        let (ctx, env) = (self.ctx, self.env);
        let mut outputs = vec![];
        for (group, signed) in
            super::super::domain_key::split(ctx, env, self.domain_signed, recipients, |(r, _)| r)
        {
            let signer = self.signer.filter(|_| signed);
            let mut infos: Vec<Recipient> = vec![];
            let mut certs: Vec<&Certificate> = vec![];
            for (_, c) in &group {
                if !certs.contains(&c) {
                    certs.push(c);
                    infos.push(Recipient::from(c.clone()));
                }
            }
            let group: Vec<String> = group.iter().map(|(r, _)| r.clone()).collect();
            let bytes = self.encrypt(signer, &infos)?;
            tracing::info!(id = %env.id, to = ?group, signed = signer.is_some(), "encrypted");
            outputs.push(Output {
                recipients: group,
                mail_from: self.mail_from.clone(),
                content: Content::New(finish::outbound(ctx, env, bytes)),
            });
        }
        Ok(outputs)
    }

    fn encrypt(
        &self,
        signer: Option<&Signer>,
        recipients: &[Recipient],
    ) -> Result<Vec<u8>, ProcessError> {
        let mut opts = EncryptOptions {
            include_sender: self.ctx.cfg.encrypt.include_sender,
            ..EncryptOptions::default()
        };
        match signer {
            Some((key, chain)) => {
                opts.sender_cert = Some(key.certificate().clone());
                let sign = SignOptions::default();
                smime::sign_and_encrypt(self.base, key.as_ref(), chain, recipients, &sign, &opts)
                    .map_err(|e| smime_err("sign and encrypt", e))
            }
            None => {
                if opts.include_sender {
                    opts.sender_cert = self.ctx.keystore.encryption_cert(self.from);
                }
                smime::encrypt(self.base, recipients, &opts).map_err(|e| smime_err("encrypt", e))
            }
        }
    }

    /// The signed (or unchanged) copies for `recipients`.
    pub fn plain(&self, recipients: Vec<String>) -> Result<Vec<Output>, ProcessError> {
        let (ctx, env) = (self.ctx, self.env);
        let mut outputs = vec![];
        for (group, signed) in
            super::super::domain_key::split(ctx, env, self.domain_signed, recipients, |r| r)
        {
            let content = match self.signer.filter(|_| signed) {
                Some((key, chain)) => {
                    tracing::info!(id = %env.id, to = ?group, "signed");
                    let signed =
                        smime::sign(self.base, key.as_ref(), chain, &SignOptions::default())
                            .map_err(|e| smime_err("sign", e))?;
                    Content::New(finish::outbound(ctx, env, signed))
                }
                None if self.changed => {
                    Content::New(finish::outbound(ctx, env, self.base.to_vec()))
                }
                None => finish::unchanged(ctx, env, self.original),
            };
            outputs.push(Output {
                recipients: group,
                mail_from: self.mail_from.clone(),
                content,
            });
        }
        Ok(outputs)
    }
}
