//! The body deadline: a request's whole body must arrive within a fixed time of its
//! headers, or the request is answered `408` and its connection closed.
//!
//! A timeout between chunks (tower-http's `RequestBodyTimeout`) does not stop a
//! client that trickles one byte every few seconds; a deadline on the whole body
//! does. The body is wrapped so that, past the deadline, reading it fails; whatever
//! the handler then answers (its extractor saw an unreadable body), the middleware
//! replaces with the `408`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Sleep;

use crate::error::ApiError;

/// Wraps the request body in a [`DeadlineBody`] and turns a missed deadline into
/// `408`. Requests without a body are passed through untouched.
pub(super) async fn body_deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&expired);
    let request = request.map(|body| Body::new(DeadlineBody::new(body, timeout, flag)));
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    tracing::info!(
        timeout_secs = timeout.as_secs(),
        "A request body did not arrive in time"
    );
    let mut response = ApiError::RequestTimeout.into_response();
    // The rest of the body may still be on its way; the connection cannot be reused.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A body that fails once `deadline` has passed while it is still waiting for data.
/// Data already received is always delivered: a body that arrived in time never
/// fails, however slowly the handler reads it.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(inner: Body, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            expired,
        }
    }
}

/// The error a read past the deadline fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use futures_util::stream;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_fails_at_the_deadline() {
        let stalled = Body::from_stream(stream::pending::<Result<Bytes, std::io::Error>>());
        let expired = Arc::new(AtomicBool::new(false));
        let body = DeadlineBody::new(stalled, Duration::from_secs(5), Arc::clone(&expired));
        let read = to_bytes(Body::new(body), usize::MAX).await;
        assert!(read.is_err());
        assert!(expired.load(Ordering::Acquire));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_trickling_fails_at_the_deadline_all_the_same() {
        // One byte a second, for ever: each chunk is prompt, the whole never ends.
        let trickle = stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
        });
        let expired = Arc::new(AtomicBool::new(false));
        let body = DeadlineBody::new(
            Body::from_stream(trickle),
            Duration::from_secs(5),
            Arc::clone(&expired),
        );
        assert!(to_bytes(Body::new(body), usize::MAX).await.is_err());
        assert!(expired.load(Ordering::Acquire));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_delivered_whole() {
        let expired = Arc::new(AtomicBool::new(false));
        let body = DeadlineBody::new(
            Body::from("complete"),
            Duration::from_secs(5),
            Arc::clone(&expired),
        );
        let bytes = to_bytes(Body::new(body), usize::MAX)
            .await
            .expect("in time");
        assert_eq!(&bytes[..], b"complete");
        assert!(!expired.load(Ordering::Acquire));
    }
}
