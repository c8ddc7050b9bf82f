//! With the feature `off`, `#[traced]` returns the fn unchanged: no span is created even under a subscriber that
//! records everything.
#![cfg(feature = "off")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use traced::traced;

struct CountSpans(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for CountSpans {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[traced(args(x), kind = server)]
fn add_one(x: u32) -> u32 {
    x + 1
}

#[traced]
async fn double(x: u32) -> u32 {
    x * 2
}

#[test]
fn no_span_is_created() {
    let spans = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountSpans(spans.clone()));
    tracing::subscriber::with_default(subscriber, || {
        // The counting layer itself works: a hand-written span is seen.
        drop(tracing::info_span!("control"));
        assert_eq!(spans.load(Ordering::SeqCst), 1);
        assert_eq!(add_one(1), 2);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(double(4)), 8);
    });
    assert_eq!(
        spans.load(Ordering::SeqCst),
        1,
        "a #[traced] fn created a span with feature `off`"
    );
}
