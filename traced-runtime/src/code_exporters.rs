//! Span exporters given in code ([`ConfigBuilder::with_span_exporter`](crate::config::ConfigBuilder::with_span_exporter)),
//! held here until the pipeline that starts with them takes them.
//!
//! A [`Config`](crate::Config) is a value (cloned, compared, printed), and an exporter is a live object: the
//! configuration holds only their ids ([`SpanExporters`]), the exporters wait in a table of their own.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::Error;

/// A boxed export future.
pub(crate) type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// An `opentelemetry_sdk` [`SpanExporter`], object-safe (the SDK's trait returns `impl Future`).
pub(crate) trait GivenExporter: Send + Sync + Debug {
    /// Exports one batch.
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    /// Shuts the exporter down.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    /// Tells the exporter which resource the spans come from.
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter> GivenExporter for E {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        Box::pin(SpanExporter::export(self, batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// The exporters given in code and not taken yet, by id.
static WAITING: Mutex<Vec<(u64, Box<dyn GivenExporter>)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Span exporters given in code: any `opentelemetry_sdk` [`SpanExporter`] (an in-memory exporter in tests, a
/// vendor's exporter), run by the same batch processor as the exporters [`Config::exporters`](crate::Config::exporters)
/// names.
///
/// The configuration holds only their ids; the exporters themselves wait until the first pipeline started with
/// this configuration (or a clone of it) takes them. A second pipeline started from a clone fails with
/// [`Error::Exporter`] rather than export twice. An exporter given to a configuration that is never started is
/// held until the process exits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanExporters(Vec<u64>);

impl SpanExporters {
    /// Adds `exporter`.
    pub fn push<E: SpanExporter + 'static>(&mut self, exporter: E) {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        waiting().push((id, Box::new(exporter)));
        self.0.push(id);
    }

    /// True when no exporter was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many exporters were given.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Takes the exporters out of the table, for the pipeline that runs them.
    pub(crate) fn take(&self) -> Result<Vec<Box<dyn GivenExporter>>, Error> {
        let mut waiting = waiting();
        if !self
            .0
            .iter()
            .all(|id| waiting.iter().any(|(waiting, _)| waiting == id))
        {
            return Err(Error::Exporter {
                exporter: "custom",
                reason: "this span exporter already runs in another pipeline".into(),
            });
        }
        Ok(self
            .0
            .iter()
            .filter_map(|id| {
                let at = waiting.iter().position(|(waiting, _)| waiting == id)?;
                Some(waiting.swap_remove(at).1)
            })
            .collect())
    }
}

fn waiting() -> std::sync::MutexGuard<'static, Vec<(u64, Box<dyn GivenExporter>)>> {
    // A panic while holding the lock cannot leave the table inconsistent: keep using it.
    WAITING.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    #[test]
    fn exporters_are_taken_once() {
        let mut given = SpanExporters::default();
        given.push(InMemorySpanExporter::default());
        given.push(InMemorySpanExporter::default());
        let twin = given.clone();
        assert_eq!(twin, given);
        assert_eq!(given.take().expect("first take").len(), 2);
        assert!(twin.take().is_err(), "a clone cannot take them again");
        assert!(SpanExporters::default().take().expect("none").is_empty());
    }
}
