//! The function metrics of one test capture (`traced::testing`, feature `testing`): the calls made under the
//! capture's subscriber, recorded beside the process's statics and collected into the same OTLP metrics, so that
//! tests running in parallel each see only their own calls.
//!
//! A call finds its capture when it starts: the thread's default subscriber is the capture's while the captured
//! code runs, and on any thread where one of its spans is entered. Recording takes a lock, which is fine in a
//! test; with no capture alive a call pays one relaxed load, and without the feature nothing at all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry_proto::tonic::metrics::v1::Metric;
use tracing::Subscriber;

use super::{CallsPoint, FnMetrics, Key};
use crate::metrics::collect;
use crate::metrics::histogram::Histogram;

/// Captures alive now: while there is none, calls do not look for one.
static ALIVE: AtomicUsize = AtomicUsize::new(0);

/// True while some capture is alive.
#[inline(always)]
pub(crate) fn any_alive() -> bool {
    ALIVE.load(Ordering::Relaxed) > 0
}

/// The recorder of the capture whose subscriber is this thread's default, if any.
pub(crate) fn current() -> Option<Arc<Recorder>> {
    if !any_alive() {
        return None;
    }
    tracing::dispatcher::get_default(|dispatch| {
        dispatch
            .downcast_ref::<CaptureLayer>()
            .map(|layer| layer.0.clone())
    })
}

/// What one capture's calls did, in the order they happened.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Vec<Event>>);

#[derive(Debug)]
enum Event {
    Started(&'static FnMetrics),
    Ended {
        metrics: &'static FnMetrics,
        key: Key,
        nanos: u64,
    },
    Cancelled(&'static FnMetrics),
}

impl Recorder {
    fn push(&self, event: Event) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }

    pub(crate) fn started(&self, metrics: &'static FnMetrics) {
        self.push(Event::Started(metrics));
    }

    pub(crate) fn ended(&self, metrics: &'static FnMetrics, key: Key, nanos: u64) {
        self.push(Event::Ended {
            metrics,
            key,
            nanos,
        });
    }

    pub(crate) fn cancelled(&self, metrics: &'static FnMetrics) {
        self.push(Event::Cancelled(metrics));
    }

    /// `function.calls`, `function.calls.duration` and `function.calls.concurrent` of the calls so far, as the
    /// pipeline would export them (no exemplars: a capture has no collection interval).
    pub(crate) fn collect(&self) -> Vec<Metric> {
        struct Fn {
            metrics: &'static FnMetrics,
            calls: Vec<CallsPoint>,
            duration: Histogram,
            started: u64,
            ended: u64,
        }
        let events = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut fns: Vec<Fn> = Vec::new();
        let mut index: HashMap<*const FnMetrics, usize> = HashMap::new();
        let mut of = |metrics: &'static FnMetrics, fns: &mut Vec<Fn>| -> usize {
            *index.entry(std::ptr::from_ref(metrics)).or_insert_with(|| {
                fns.push(Fn {
                    metrics,
                    calls: Vec::new(),
                    duration: Histogram::default(),
                    started: 0,
                    ended: 0,
                });
                fns.len() - 1
            })
        };
        for event in events.iter() {
            match *event {
                Event::Started(metrics) => {
                    let i = of(metrics, &mut fns);
                    fns[i].started += 1;
                }
                Event::Cancelled(metrics) => {
                    let i = of(metrics, &mut fns);
                    fns[i].ended += 1;
                }
                Event::Ended {
                    metrics,
                    key,
                    nanos,
                } => {
                    let i = of(metrics, &mut fns);
                    let f = &mut fns[i];
                    f.ended += 1;
                    f.duration.record(nanos);
                    match f.calls.iter_mut().find(|point| point.key == key) {
                        Some(point) => point.count += 1,
                        None => f.calls.push(CallsPoint {
                            key,
                            count: 1,
                            exemplar: None,
                        }),
                    }
                }
            }
        }
        let points = fns.iter().map(|f| collect::FnSeries {
            metrics: f.metrics,
            calls: f.calls.clone(),
            duration: f.duration.collect(0),
            concurrent: f.started.saturating_sub(f.ended),
        });
        collect::function_metrics(points, 0, collect::now_nanos())
    }
}

/// The capture's layer: holds its recorder where a call can find it, through the subscriber's `downcast_ref`.
#[derive(Debug)]
pub(crate) struct CaptureLayer(Arc<Recorder>);

impl CaptureLayer {
    /// A layer for a new capture, counted alive until dropped, and its recorder.
    pub(crate) fn new() -> (CaptureLayer, Arc<Recorder>) {
        if ALIVE.fetch_add(1, Ordering::Relaxed) == 0 {
            // The sites cache whether their calls are recorded (`private::site`). Not done again when the last
            // capture ends, which may be inside `tracing`'s own rebuild (a dispatcher dropped there): a site
            // left recording only takes the slower path until the next rebuild.
            tracing::callsite::rebuild_interest_cache();
        }
        let recorder = Arc::new(Recorder::default());
        (CaptureLayer(recorder.clone()), recorder)
    }
}

impl Drop for CaptureLayer {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {}
