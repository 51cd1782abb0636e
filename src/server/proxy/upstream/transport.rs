//! The byte stream under an upstream connection: plain TCP, or TLS over TCP for `https://`
//! targets. Plain TCP keeps the proxy's fast path — reads straight into the connection's buffer
//! once the socket is readable, no flush after writes; TLS goes through tokio-rustls' `AsyncRead`
//! / `AsyncWrite`, whose writes are flushed explicitly (rustls holds records until then).

use super::tls::{TargetTls, TlsFailure};
use bytes::BytesMut;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Longest a TCP connect to an upstream may take, and then its TLS handshake (the route timeout
/// also bounds both).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// An open stream to an upstream.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection failed (refused, unreachable, timed out).
    #[error("connect: {0}")]
    Tcp(#[from] io::Error),
    /// The TLS handshake failed.
    #[error("{}", .0.reason())]
    Tls(TlsFailure),
}

impl Transport {
    /// Connects to `authority` (`host:port`) with TCP_NODELAY, then, for an `https://` target,
    /// runs the TLS handshake; each step within [`CONNECT_TIMEOUT`].
    pub async fn connect(authority: &str, tls: Option<&TargetTls>) -> Result<Self, ConnectError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let Some(tls) = tls else {
            return Ok(Self::Plain(stream));
        };
        let handshake = tls.connector.connect(tls.server_name.clone(), stream);
        match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
            Ok(Ok(stream)) => Ok(Self::Tls(Box::new(stream))),
            Ok(Err(error)) => {
                let failure = TlsFailure::of_io(&error).unwrap_or(TlsFailure::Handshake);
                tracing::debug!(%error, authority, "upstream TLS handshake failed");
                Err(ConnectError::Tls(failure))
            }
            Err(_) => Err(ConnectError::Tls(TlsFailure::Handshake)),
        }
    }

    /// Reads what has arrived into `buffer`; `Ready(Ok(0))` once the upstream has closed (over
    /// TLS also when it closed without a close_notify: the framing tells a cut body).
    pub fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        buffer: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        match self {
            Self::Plain(stream) => loop {
                ready!(stream.poll_read_ready(cx))?;
                match stream.try_read_buf(buffer) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                    read => return Poll::Ready(read),
                }
            },
            Self::Tls(stream) => {
                match ready!(tokio_util::io::poll_read_buf(Pin::new(stream), cx, buffer)) {
                    Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                        Poll::Ready(Ok(0))
                    }
                    read => Poll::Ready(read),
                }
            }
        }
    }

    /// Whether the upstream has neither closed the stream nor sent anything unasked (checked
    /// without waiting).
    pub fn is_quiet(&mut self) -> bool {
        match self {
            Self::Plain(stream) => matches!(
                stream.try_read(&mut [0u8; 1]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock
            ),
            Self::Tls(stream) => {
                // Records that carry no data (session tickets) are taken in and nothing is
                // returned: only data, a close or an error end the wait.
                let mut probe = [0u8; 1];
                let mut probe = ReadBuf::new(&mut probe);
                let mut cx = Context::from_waker(Waker::noop());
                Pin::new(stream).poll_read(&mut cx, &mut probe).is_pending()
            }
        }
    }

    /// Writes all of `bytes` and, over TLS, flushes them to the socket.
    pub async fn write_all_flushed(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.write_all(bytes).await,
            Self::Tls(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await
            }
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(stream) => stream.is_write_vectored(),
            Self::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(_) => Poll::Ready(Ok(())),
            Self::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
