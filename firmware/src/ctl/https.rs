//! How `segl ctl` reaches an admin listener that speaks HTTPS: a ureq transport that accepts
//! exactly the certificate whose SHA-256 `segl serve` wrote to `<data_dir>/admin-tls/pin.sha256`
//! (self-signed or configured alike), so no CA, host name or clock is involved, and a
//! man in the middle with any other certificate is refused.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use ureq::unversioned::resolver::DefaultResolver;

use crate::tls::{ChainCheck, PresentedChain};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// An agent for `https://` URLs that trusts only the certificate with this SHA-256.
pub fn pinned_agent(config: ureq::config::Config, pin: [u8; 32]) -> ureq::Agent {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = match crate::tls::custom_client_config(provider, Pinned { pin }) {
        Ok(t) => t,
        // The default protocol versions are always supported by the built-in provider.
        Err(e) => panic!("rustls client configuration: {e}"),
    };
    let connector = TcpConnector::default().chain(PinnedTls { tls });
    ureq::Agent::with_parts(config, connector, DefaultResolver::default())
}

/// Parse the hex pin file's content.
pub fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if t.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Accepts exactly the certificate with this SHA-256 (compared in constant time).
#[derive(Debug)]
struct Pinned {
    pin: [u8; 32],
}

impl ChainCheck for Pinned {
    fn check(&self, chain: &PresentedChain<'_, '_>) -> Result<(), rustls::Error> {
        let got: [u8; 32] = Sha256::digest(chain.end_entity.as_ref()).into();
        if bool::from(got.ct_eq(&self.pin)) {
            Ok(())
        } else {
            Err(rustls::Error::General(
                "the admin listener's certificate is not the one pinned in <data_dir>/admin-tls/pin.sha256".into(),
            ))
        }
    }
}

/// Wraps the TCP transport in TLS with the pinning verifier.
#[derive(Debug)]
struct PinnedTls {
    tls: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        // The name is not checked (the pin is); "localhost" keeps SNI harmless.
        let name = ServerName::try_from("localhost")
            .map_err(|_| ureq::Error::Tls("invalid server name"))?;
        let mut conn = ClientConnection::new(self.tls.clone(), name)
            .map_err(|e| ureq::Error::Io(std::io::Error::other(e)))?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport").finish()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
