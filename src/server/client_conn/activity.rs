//! What one client connection is doing, shared between its service (requests start and end) and
//! its deadlines: requests in flight, requests started, whether bytes arrived or went out. A request is in
//! flight from its head's arrival until its response body has been handed over whole (or
//! dropped): the service wraps each response body in a [`TrackedBody`].

use futures_util::task::AtomicWaker;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// One connection's activity.
#[derive(Debug, Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    started: AtomicU64,
    read: AtomicBool,
    written: AtomicBool,
    /// Woken when the last request in flight ends (HTTP/2 serves streams on tasks of their own).
    idle: AtomicWaker,
}

impl Activity {
    /// A request's head arrived; it is in flight until the returned guard is dropped.
    pub fn start_request(self: &Arc<Self>) -> RequestGuard {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestGuard(self.clone())
    }

    /// Bytes arrived from the client.
    pub fn bytes_read(&self) {
        self.read.store(true, Ordering::Relaxed);
    }

    /// Bytes went out to the client.
    pub fn bytes_written(&self) {
        self.written.store(true, Ordering::Relaxed);
    }

    /// Whether requests are in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }

    /// Requests started so far.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Whether bytes arrived since the last call.
    pub fn take_bytes_read(&self) -> bool {
        // A load first: most looks find nothing new, and a store would dirty the line.
        self.read.load(Ordering::Relaxed) && self.read.swap(false, Ordering::Relaxed)
    }

    /// Whether bytes went out since the last call.
    pub fn take_bytes_written(&self) -> bool {
        self.written.load(Ordering::Relaxed) && self.written.swap(false, Ordering::Relaxed)
    }

    /// Wakes `waker`'s task when no request is in flight any more (at once if none is now).
    pub fn wake_when_idle(&self, cx: &mut Context<'_>) {
        self.idle.register(cx.waker());
        if !self.in_flight() {
            cx.waker().wake_by_ref();
        }
    }
}

/// Keeps a request in flight until dropped.
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle.wake();
        }
    }
}

/// A response body that keeps its request in flight until it ends or is dropped.
#[derive(Debug)]
pub struct TrackedBody<B> {
    body: B,
    request: Option<RequestGuard>,
}

impl<B> TrackedBody<B> {
    pub fn new(body: B, request: RequestGuard) -> Self {
        Self {
            body,
            request: Some(request),
        }
    }
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None | Some(Err(_))) = polled {
            self.request = None;
        }
        polled
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn a_request_is_in_flight_until_its_body_ends() {
        let activity = Arc::new(Activity::default());
        let mut body = TrackedBody::new(
            Full::new(bytes::Bytes::from_static(b"hi")),
            activity.start_request(),
        );
        assert!(activity.in_flight());
        assert_eq!(activity.started(), 1);
        assert_eq!(body.size_hint().exact(), Some(2));
        while body.frame().await.is_some() {}
        assert!(!activity.in_flight());

        let dropped = TrackedBody::new(Full::new(bytes::Bytes::new()), activity.start_request());
        assert!(activity.in_flight());
        drop(dropped);
        assert!(!activity.in_flight());
        assert_eq!(activity.started(), 2);
    }

    #[test]
    fn bytes_read_are_taken_once() {
        let activity = Activity::default();
        assert!(!activity.take_bytes_read());
        activity.bytes_read();
        assert!(activity.take_bytes_read());
        assert!(!activity.take_bytes_read());
        assert!(!activity.take_bytes_written());
        activity.bytes_written();
        assert!(activity.take_bytes_written());
        assert!(!activity.take_bytes_written());
    }
}
