//! Reading own keys from files: PKCS#12 ([`p12`]) and PEM key + certificate ([`pem`]).
//! Both end in [`Imported`]: a PKCS#8 key checked against its certificate, plus the chain.

pub mod p12;
pub mod pem;

use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::error::{KeystoreError, Result};
use crate::smime::AwsLcRsaKey;

/// A private key (PKCS#8 DER, zeroized on drop) with its certificate and chain.
pub struct Imported {
    /// PKCS#8 DER of the private key.
    pub pkcs8: Zeroizing<Vec<u8>>,
    /// The certificate of the key.
    pub cert: Certificate,
    /// Other certificates that came with it (intermediates, root).
    pub chain: Vec<Certificate>,
}

/// Normalises a private key to PKCS#8 (PKCS#1 RSA keys are converted) and checks that it is
/// an RSA key aws-lc-rs can use.
pub(crate) fn to_pkcs8(der: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::RsaKeyPair;
    let kp = RsaKeyPair::from_pkcs8(der)
        .or_else(|_| RsaKeyPair::from_der(der))
        .map_err(|_| {
            KeystoreError::Unsupported(
                "the private key is not an RSA key (only RSA is supported)".into(),
            )
        })?;
    let out = kp
        .as_der()
        .map_err(|_| KeystoreError::BadInput("cannot encode the private key".into()))?;
    Ok(Zeroizing::new(out.as_ref().to_vec()))
}

/// Finds the certificate that belongs to `key` among `certs`; the others become the chain.
pub(crate) fn pair(key: Zeroizing<Vec<u8>>, certs: Vec<Certificate>) -> Result<Imported> {
    let pkcs8 = to_pkcs8(&key)?;
    let idx = certs
        .iter()
        .position(|c| AwsLcRsaKey::from_pkcs8(&pkcs8, c.clone()).is_ok())
        .ok_or_else(|| {
            KeystoreError::BadInput("no certificate in the file belongs to the private key".into())
        })?;
    let mut chain = certs;
    let cert = chain.remove(idx);
    Ok(Imported { pkcs8, cert, chain })
}
