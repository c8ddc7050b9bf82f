//! Zipkin v2 JSON over HTTP (feature `zipkin`).

use super::{DynExporter, Named};
use crate::Error;

/// The Zipkin exporter posting to `endpoint`; the service name comes from the resource.
// Upstream deprecated it in favour of Zipkin's OTLP intake; `OTEL_TRACES_EXPORTER=zipkin` is still a spec value.
#[allow(deprecated)]
pub(super) fn build(endpoint: &str) -> Result<Box<dyn DynExporter>, Error> {
    let exporter = opentelemetry_zipkin::ZipkinExporter::builder()
        .with_collector_endpoint(endpoint)
        .build()
        .map_err(|e| Error::Exporter {
            exporter: "zipkin",
            reason: format!("{e} (endpoint {endpoint:?})"),
        })?;
    Ok(Named::boxed("zipkin", exporter))
}
