//! One kept-alive HTTP/1.1 connection to an upstream, driven by the task that uses it.
//!
//! hyper's pooled client runs every upstream connection as a task of its own and hands each
//! request to it through a channel, so every proxied request wakes a second task, often on the
//! other worker thread. Here the connection's I/O is polled by whoever holds it: the request's
//! task while it waits for the response headers, then the client connection's task as it pulls
//! the response body through [`UpstreamBody`]. Between requests the connection rests in its
//! target's [`ConnectionPool`] unpolled.

use super::pool::ConnectionPool;
use crate::server::proxy::body::{BoxError, RequestBody};
use axum::http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1};
use hyper_util::rt::TokioIo;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::TcpStream;

/// Longest a TCP connect to an upstream may take (the route timeout also bounds it).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Driver = http1::Connection<TokioIo<TcpStream>, RequestBody>;

/// An open connection to an upstream: the request sender and the protocol state it feeds.
pub struct UpstreamConnection {
    sender: http1::SendRequest<RequestBody>,
    /// Boxed: the protocol state is large, and connections move in and out of pools and bodies.
    driver: Box<Driver>,
    /// The driver finished: the connection is closed (by either side, or on an error).
    closed: bool,
}

impl UpstreamConnection {
    /// Connects to `authority` (`host:port`), with TCP_NODELAY, within [`CONNECT_TIMEOUT`].
    pub async fn open(authority: &str) -> io::Result<Self> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let (sender, driver) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        Ok(Self {
            sender,
            driver: Box::new(driver),
            closed: false,
        })
    }

    /// Polls the connection's I/O once; `false` once it has closed.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.closed && Pin::new(&mut *self.driver).poll(cx).is_ready() {
            self.closed = true;
        }
        !self.closed
    }

    /// Whether it can take a new request now. Polled first (without a waker: nothing waits on
    /// it) so that a close by the upstream, already read by the kernel, is noticed.
    pub fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        self.drive(&mut cx) && self.sender.is_ready()
    }

    /// Sends `request` and drives the connection until the response headers arrive. If the
    /// connection closed before the request was written, the error gives the request back.
    pub async fn send(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        let mut response = pin!(self.sender.try_send_request(request));
        poll_fn(|cx| {
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            self.drive(cx);
            response.as_mut().poll(cx)
        })
        .await
    }

    /// Sends `request` on a connection that may switch protocols: the connection runs as a task
    /// of its own, which hands the socket to [`hyper::upgrade::on`] when the upstream answers 101.
    pub async fn send_upgradable(
        self,
        request: Request<RequestBody>,
    ) -> hyper::Result<Response<Incoming>> {
        let Self {
            mut sender, driver, ..
        } = self;
        tokio::spawn(async move {
            if let Err(error) = (*driver).with_upgrades().await {
                tracing::debug!(%error, "upgradable upstream connection ended with an error");
            }
        });
        sender.send_request(request).await
    }
}

/// An upstream response body that drives its connection as it is read, and gives the connection
/// back to its pool when the body has been read to the end.
pub struct UpstreamBody {
    incoming: Incoming,
    /// The connection the body arrives on, unless it runs as a task of its own.
    connection: Option<(UpstreamConnection, Arc<ConnectionPool>)>,
    ended: bool,
}

impl UpstreamBody {
    /// A body arriving on `connection`, which goes back to `pool` once the body has ended.
    pub fn pooled(
        incoming: Incoming,
        connection: UpstreamConnection,
        pool: Arc<ConnectionPool>,
    ) -> Self {
        Self {
            incoming,
            connection: Some((connection, pool)),
            ended: false,
        }
    }

    /// A body whose connection is driven elsewhere (an upgradable connection's own task).
    pub fn detached(incoming: Incoming) -> Self {
        Self {
            incoming,
            connection: None,
            ended: false,
        }
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody")
            .field("pooled", &self.connection.is_some())
            .field("ended", &self.ended)
            .finish()
    }
}

impl Body for UpstreamBody {
    type Data = bytes::Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let mut drove = false;
        loop {
            match Pin::new(&mut this.incoming).poll_frame(cx) {
                Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(error))) => {
                    // The connection broke mid-body: it is not reused.
                    this.connection = None;
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Ready(Some(Ok(frame))) => return Poll::Ready(Some(Ok(frame))),
                Poll::Pending => {}
            }
            // Nothing buffered yet: read from the upstream (in this task), then look again.
            match &mut this.connection {
                Some((connection, _)) if !drove => {
                    connection.drive(cx);
                    drove = true;
                }
                _ => return Poll::Pending,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body dropped before its end leaves the connection mid-message: it is closed.
        if self.is_end_stream()
            && let Some((connection, pool)) = self.connection.take()
        {
            pool.put_back(connection);
        }
    }
}
