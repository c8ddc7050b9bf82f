//! [`Drip`]: a streamed response body, for what must cover a body sent after the response head.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame};

/// A body of `chunks` chunks of `chunk\n`, `gap` apart (the first one `gap` after the head).
pub struct Drip {
    left: u32,
    gap: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Drip {
    /// `chunks` chunks, `gap` apart.
    pub fn new(chunks: u32, gap: Duration) -> Drip {
        Drip {
            left: chunks,
            gap,
            sleep: Box::pin(tokio::time::sleep(gap)),
        }
    }
}

impl Body for Drip {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        std::task::ready!(self.sleep.as_mut().poll(cx));
        self.left -= 1;
        let next = tokio::time::Instant::now() + self.gap;
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"chunk\n")))))
    }
}
