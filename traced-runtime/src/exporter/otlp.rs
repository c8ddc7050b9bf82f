//! OTLP over gRPC (tonic), HTTP protobuf and HTTP JSON (async reqwest).

#[cfg(feature = "otlp-http")]
use std::collections::HashMap;

use opentelemetry_otlp::WithExportConfig;

use super::{DynExporter, Named};
use crate::config::{Compression, OtlpConfig, Protocol};
use crate::Error;

/// The OTLP exporter for the configured protocol. Must run inside a tokio runtime (tonic connects lazily but
/// needs a reactor to create its channel).
pub(super) fn build(config: &OtlpConfig) -> Result<Box<dyn DynExporter>, Error> {
    let compression = match config.compression {
        None => None,
        Some(Compression::Gzip) => Some(opentelemetry_otlp::Compression::Gzip),
        Some(Compression::Zstd) => {
            return Err(Error::InvalidValue {
                option: "OTEL_EXPORTER_OTLP_COMPRESSION".into(),
                value: "zstd".into(),
                reason: "this build supports gzip only".into(),
            })
        }
    };
    let build_error = |e: opentelemetry_otlp::ExporterBuildError| Error::Exporter {
        exporter: "otlp",
        reason: format!("{e} (endpoint {:?})", config.endpoint),
    };
    let exporter = match config.protocol {
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => grpc(config, compression)?.build().map_err(build_error)?,
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            use opentelemetry_otlp::WithHttpConfig;
            let protocol = if config.protocol == Protocol::HttpJson {
                opentelemetry_otlp::Protocol::HttpJson
            } else {
                opentelemetry_otlp::Protocol::HttpBinary
            };
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(config.endpoint.clone())
                .with_protocol(protocol)
                .with_timeout(config.timeout)
                .with_headers(config.headers.iter().cloned().collect::<HashMap<_, _>>());
            if let Some(compression) = compression {
                builder = builder.with_compression(compression);
            }
            builder.build().map_err(build_error)?
        }
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::Exporter {
                exporter: "otlp",
                reason: format!(
                "protocol {other:?} is not enabled in this build (features otlp-grpc, otlp-http)"
            ),
            })
        }
    };
    Ok(Named::boxed("otlp", exporter))
}

#[cfg(feature = "otlp-grpc")]
fn grpc(
    config: &OtlpConfig,
    compression: Option<opentelemetry_otlp::Compression>,
) -> Result<
    opentelemetry_otlp::SpanExporterBuilder<opentelemetry_otlp::TonicExporterBuilderSet>,
    Error,
> {
    use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
    use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
    use opentelemetry_otlp::WithTonicConfig;

    let mut headers = http::HeaderMap::new();
    for (key, value) in &config.headers {
        let invalid = |reason: String| Error::InvalidValue {
            option: "OTEL_EXPORTER_OTLP_HEADERS".into(),
            value: format!("{key}={value}"),
            reason,
        };
        let name = http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
            .map_err(|e| invalid(format!("not a gRPC metadata key: {e}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|e| invalid(format!("not a gRPC metadata value: {e}")))?;
        headers.append(name, value);
    }
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(config.endpoint.clone())
        .with_timeout(config.timeout)
        .with_metadata(MetadataMap::from_headers(headers));
    if let Some(compression) = compression {
        builder = builder.with_compression(compression);
    }
    if config.endpoint.starts_with("https://") {
        // A bare ClientTlsConfig trusts no root at all: take the system's roots.
        builder = builder.with_tls_config(ClientTlsConfig::new().with_enabled_roots());
    }
    Ok(builder)
}
