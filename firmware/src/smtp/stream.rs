//! A boxed async byte stream, so one session type serves plain TCP, TLS after STARTTLS, and
//! in-memory pipes in tests.

use tokio::io::{AsyncRead, AsyncWrite};

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub type BoxedStream = Box<dyn Stream>;
