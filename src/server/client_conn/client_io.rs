//! A client connection's byte stream as HTTP reads it: the bytes read to tell HTTP/2 from
//! HTTP/1.1 are given back first, and every read that brings bytes is noted in the connection's
//! [`Activity`] (an HTTP/1.1 head starting on an idle connection starts its deadline), as is
//! every write that takes bytes (a response still going out keeps the connection from idling).

use super::activity::Activity;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest prefix read before choosing the protocol: the HTTP/2 connection preface.
pub const PREFIX_LEN: usize = 24;

/// The stream with the bytes already read in front of it.
pub struct ClientIo<S> {
    stream: S,
    prefix: [u8; PREFIX_LEN],
    /// The part of `prefix` not yet read again.
    start: usize,
    end: usize,
    activity: Arc<Activity>,
}

impl<S> ClientIo<S> {
    /// `stream`, whose first `prefix` bytes were already read.
    pub fn new(stream: S, prefix: &[u8], activity: Arc<Activity>) -> Self {
        let mut buffer = [0; PREFIX_LEN];
        let end = prefix.len().min(PREFIX_LEN);
        buffer[..end].copy_from_slice(&prefix[..end]);
        Self {
            stream,
            prefix: buffer,
            start: 0,
            end,
            activity,
        }
    }

    /// The stream (the prefix is assumed read).
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ClientIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.start < this.end {
            let n = (this.end - this.start).min(buf.remaining());
            buf.put_slice(&this.prefix[this.start..this.start + n]);
            this.start += n;
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ClientIo<S> {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(1..)) = polled {
            self.activity.bytes_written();
        }
        polled
    }

    #[inline]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(1..)) = polled {
            self.activity.bytes_written();
        }
        polled
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_prefix_is_read_first_and_reads_are_noted() {
        let activity = Arc::new(Activity::default());
        let rest: &[u8] = b" / HTTP/1.1\r\n";
        let mut io = ClientIo::new(rest, b"GET", activity.clone());
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\n");
        assert!(activity.take_bytes_read());
        assert!(!activity.take_bytes_written());
        let mut out = ClientIo::new(Vec::new(), b"", activity.clone());
        out.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        assert!(activity.take_bytes_written());
        assert_eq!(out.into_inner(), b"HTTP/1.1 200 OK\r\n");
    }
}
