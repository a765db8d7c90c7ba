//! Request bodies that must keep arriving: a body of `n` bytes may take
//! `grace + n / min_rate`, so a client that trickles bytes, or stops, is cut off once it
//! falls behind, while a large upload on a slow link still goes through.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::config::Http;

#[derive(Debug, Clone, Copy)]
pub struct BodyRate {
    grace: Duration,
    min_bytes_per_sec: u64,
}

impl BodyRate {
    pub fn from_config(http: &Http) -> BodyRate {
        BodyRate {
            grace: Duration::from_secs(http.body_timeout_secs.max(1)),
            min_bytes_per_sec: http.min_body_bytes_per_sec.max(1),
        }
    }

    /// The clock starts when the body is first read, not when the request arrived, so
    /// a handler's own work before it reads the body is not held against the client.
    pub fn wrap<B>(self, inner: B) -> TimedBody<B> {
        TimedBody {
            inner: Box::pin(inner),
            rate: self,
            start: None,
            deadline: None,
            received: 0,
        }
    }

    /// When a body that has sent `received` bytes since `start` falls behind.
    fn deadline(&self, start: Instant, received: u64) -> Instant {
        let earned = Duration::from_secs_f64(received as f64 / self.min_bytes_per_sec as f64);
        start + self.grace + earned
    }
}

/// Why a body was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly: {received} bytes in {elapsed:?}")]
pub struct BodyTooSlow {
    received: u64,
    elapsed: Duration,
}

pub struct TimedBody<B> {
    inner: Pin<Box<B>>,
    rate: BodyRate,
    /// When reading began.
    start: Option<Instant>,
    /// The deadline as of the bytes received so far, armed only once the body has had to
    /// wait: a body that is all there when read costs no timer.
    deadline: Option<Pin<Box<Sleep>>>,
    received: u64,
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let rate = this.rate;
        let start = *this.start.get_or_insert_with(Instant::now);
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if let Some(deadline) = &mut this.deadline {
                        deadline.as_mut().reset(rate.deadline(start, this.received));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let received = this.received;
                let deadline = this.deadline.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep_until(rate.deadline(start, received)))
                });
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                        received,
                        elapsed: start.elapsed(),
                    })))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
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

    #[test]
    fn a_body_earns_time_with_every_byte() {
        let rate = BodyRate {
            grace: Duration::from_secs(10),
            min_bytes_per_sec: 1024,
        };
        let start = Instant::now();
        assert_eq!(rate.deadline(start, 0), start + Duration::from_secs(10));
        assert_eq!(
            rate.deadline(start, 10 * 1024),
            start + Duration::from_secs(20)
        );
    }
}
