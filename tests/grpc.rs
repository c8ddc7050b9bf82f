//! `traced::grpc` with a tonic server and a tonic client in one process: the client span's context and the
//! caller's baggage travel in the call's metadata, the server span continues them; names, RPC attributes and the
//! status rules of each side; a transport failure.
#![cfg(all(not(feature = "off"), feature = "grpc"))]

mod common;
#[path = "../examples/grpc/inventory.rs"]
mod inventory;

use inventory::{Inventory, InventoryServer, ReserveReply, ReserveRequest};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use traced::grpc::{ClientTraceLayer, TraceLayer};
use traced::propagation::baggage;
use traced_test_support::span::{attr, find, string};

/// Answers by the quantity asked for: 0 INVALID_ARGUMENT, 13 INTERNAL, anything else a reservation naming the
/// tenant of the caller's baggage.
struct Stock;

impl Inventory for Stock {
    async fn reserve(
        &self,
        request: tonic::Request<ReserveRequest>,
    ) -> Result<tonic::Response<ReserveReply>, tonic::Status> {
        match request.into_inner().quantity {
            0 => Err(tonic::Status::invalid_argument("nothing to reserve")),
            13 => Err(tonic::Status::internal("stock database down")),
            _ => Ok(tonic::Response::new(ReserveReply {
                reservation: baggage::get("tenant.id").unwrap_or_default(),
            })),
        }
    }
}

/// Runs `calls` against a traced tonic server on a loopback port, through a traced channel, under `traced`'s
/// pipeline; returns what they returned and the exported spans.
fn run<T>(
    calls: impl AsyncFnOnce(traced::grpc::ClientTraceService<tonic::transport::Channel>) -> T,
) -> (T, Vec<SpanData>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (result, spans) = common::capture_traced(
        |builder| builder.with_log_filter("info"),
        || runtime.block_on(serve(calls)),
    );
    (result, spans.0)
}

/// Runs `calls` against a traced tonic server on a loopback port, through a traced channel.
async fn serve<T>(
    calls: impl AsyncFnOnce(traced::grpc::ClientTraceService<tonic::transport::Channel>) -> T,
) -> T {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = incoming.local_addr().expect("addr");
    let server = tokio::spawn(
        Server::builder()
            .layer(TraceLayer::new())
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(incoming),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let channel = tower::ServiceBuilder::new()
        .layer(ClientTraceLayer::new())
        .service(channel);
    let result = calls(channel).await;
    server.abort();
    result
}

/// The client and server spans of the call whose client span is the child of `parent`.
fn call_under<'a>(spans: &'a [SpanData], parent: &SpanData) -> (&'a SpanData, &'a SpanData) {
    let client = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Client && s.parent_span_id == parent.span_context.span_id()
        })
        .unwrap_or_else(|| panic!("no client span under {}", parent.name));
    let server = spans
        .iter()
        .find(|s| {
            s.span_kind == SpanKind::Server && s.parent_span_id == client.span_context.span_id()
        })
        .unwrap_or_else(|| panic!("no server span under the client span of {}", parent.name));
    (client, server)
}

fn request(quantity: u32) -> ReserveRequest {
    ReserveRequest {
        sku: "sku-1".into(),
        quantity,
    }
}

#[traced::traced]
async fn checkout<C>(channel: C, quantity: u32) -> Result<ReserveReply, tonic::Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::Error: Into<tonic::codegen::StdError>,
    C::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <C::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    inventory::reserve(channel, request(quantity)).await
}

#[test]
fn the_server_continues_the_client_span_with_its_baggage() {
    let (reply, spans) = run(async |channel| {
        let _tenant = Context::new()
            .with_baggage([KeyValue::new("tenant.id", "acme")])
            .attach();
        checkout(channel, 2).await
    });
    // The handler read the caller's baggage from the metadata.
    assert_eq!(reply.expect("reply").reservation, "acme");

    let (client, server) = call_under(&spans, find(&spans, "checkout"));
    assert!(server.parent_span_is_remote);
    assert_eq!(
        server.span_context.trace_id(),
        find(&spans, "checkout").span_context.trace_id()
    );
    for span in [client, server] {
        assert_eq!(span.name, "shop.Inventory/Reserve");
        assert_eq!(string(span, "rpc.system"), "grpc");
        assert_eq!(string(span, "rpc.service"), "shop.Inventory");
        assert_eq!(string(span, "rpc.method"), "Reserve");
        assert_eq!(
            attr(span, "rpc.grpc.status_code"),
            Some(&Value::I64(0)),
            "{:?} {:?}",
            span.span_kind,
            span.attributes
        );
        assert_eq!(span.status, Status::Unset);
        assert!(attr(span, "duration_ms").is_some());
    }
}

#[traced::traced]
async fn refused(channel: traced::grpc::ClientTraceService<tonic::transport::Channel>) {
    let invalid = inventory::reserve(channel.clone(), request(0)).await;
    assert_eq!(invalid.unwrap_err().code(), tonic::Code::InvalidArgument);
    let internal = inventory::reserve(channel.clone(), request(13)).await;
    assert_eq!(internal.unwrap_err().code(), tonic::Code::Internal);
    let missing = inventory::call(channel, "/shop.Inventory/Missing", request(1)).await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::Unimplemented);
}

#[test]
fn each_side_fails_on_the_codes_the_conventions_name() {
    let ((), spans) = run(async |channel| refused(channel).await);
    let code = |span: &SpanData| match attr(span, "rpc.grpc.status_code") {
        Some(Value::I64(code)) => *code,
        other => panic!("{}: rpc.grpc.status_code {other:?}", span.name),
    };
    let by_code = |kind: SpanKind, wanted: i64| {
        spans
            .iter()
            .find(|s| s.span_kind == kind && code(s) == wanted)
            .unwrap_or_else(|| panic!("no {kind:?} span with code {wanted}"))
    };
    // INVALID_ARGUMENT: the caller's mistake. An error for the client, not for the server.
    let client = by_code(SpanKind::Client, 3);
    assert_eq!(client.status, Status::error("nothing to reserve"));
    assert_eq!(string(client, "error.type"), "INVALID_ARGUMENT");
    let server = by_code(SpanKind::Server, 3);
    assert_eq!(server.status, Status::Unset);
    assert!(attr(server, "error.type").is_none());
    // INTERNAL and UNIMPLEMENTED fail both sides.
    for (wanted, name) in [(13, "INTERNAL"), (12, "UNIMPLEMENTED")] {
        for kind in [SpanKind::Client, SpanKind::Server] {
            let span = by_code(kind.clone(), wanted);
            assert!(
                matches!(span.status, Status::Error { .. }),
                "{kind:?} {name}"
            );
            assert_eq!(string(span, "error.type"), name);
        }
    }
    assert_eq!(by_code(SpanKind::Server, 12).name, "shop.Inventory/Missing");
}

#[test]
fn a_call_that_fails_in_the_transport_is_an_error() {
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (error, spans) = run(async |_| {
        let channel = Endpoint::from_shared(format!("http://{closed}"))
            .unwrap()
            .connect_lazy();
        let channel = tower::ServiceBuilder::new()
            .layer(ClientTraceLayer::new())
            .service(channel);
        inventory::reserve(channel, request(1)).await.unwrap_err()
    });
    assert_eq!(error.code(), tonic::Code::Unavailable);
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("client span");
    assert!(matches!(&client.status, Status::Error { description } if !description.is_empty()));
    assert!(attr(client, "rpc.grpc.status_code").is_none());
    assert_eq!(
        string(client, "error.type"),
        "tonic::transport::error::Error"
    );
}

/// The histogram points named `name` in what the receiver got.
fn rpc_points(
    requests: &[traced_test_support::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest],
    name: &str,
) -> Vec<traced_test_support::proto::tonic::metrics::v1::HistogramDataPoint> {
    use traced_test_support::proto::tonic::metrics::v1::metric::Data;
    requests
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
        .filter_map(|m| match &m.data {
            Some(Data::Histogram(h)) => Some(h.data_points.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A string or integer attribute of a data point, as text.
fn point_attr(
    point: &traced_test_support::proto::tonic::metrics::v1::HistogramDataPoint,
    key: &str,
) -> Option<String> {
    use traced_test_support::proto::tonic::common::v1::any_value::Value as Any;
    point
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Any::StringValue(s) => Some(s.clone()),
            Any::IntValue(i) => Some(i.to_string()),
            _ => None,
        })
}

#[test]
fn each_side_measures_its_calls_by_method_and_status() {
    use traced::config::{Config, ExporterKind, LogFormat, MetricsExporterKind, Protocol};
    let receiver = traced_test_support::Receiver::start();
    let guard = Config::builder()
        .without_env()
        .with_service_name("grpc-metrics")
        .with_exporters([ExporterKind::Otlp])
        .with_protocol(Protocol::HttpProtobuf)
        .with_otlp_endpoint(format!("http://{}", receiver.addr))
        .with_metrics_exporters([MetricsExporterKind::Otlp])
        .with_logs_exporters([])
        .with_log_format(LogFormat::None)
        .build()
        .unwrap()
        .init()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(serve(async |channel| {
        for quantity in [1, 2, 0, 13] {
            let _ = checkout(channel.clone(), quantity).await;
        }
    }));
    guard.force_flush().unwrap();

    let start = std::time::Instant::now();
    let requests = loop {
        let requests = receiver.metrics();
        let counted = |name| {
            rpc_points(&requests, name)
                .iter()
                .map(|p| p.count)
                .sum::<u64>()
        };
        if counted("rpc.server.duration") >= 4 && counted("rpc.client.duration") >= 4
            || start.elapsed() > std::time::Duration::from_secs(20)
        {
            break requests;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    for (name, error_on_invalid) in [
        ("rpc.server.duration", false),
        ("rpc.client.duration", true),
    ] {
        let points = rpc_points(&requests, name);
        let with_code = |code: &str| {
            points
                .iter()
                .find(|p| point_attr(p, "rpc.grpc.status_code").as_deref() == Some(code))
                .unwrap_or_else(|| panic!("{name}: no point with status {code}: {points:#?}"))
        };
        let ok = with_code("0");
        assert_eq!(ok.count, 2, "{name}");
        assert_eq!(point_attr(ok, "rpc.system").as_deref(), Some("grpc"));
        assert_eq!(
            point_attr(ok, "rpc.service").as_deref(),
            Some("shop.Inventory")
        );
        assert_eq!(point_attr(ok, "rpc.method").as_deref(), Some("Reserve"));
        assert_eq!(point_attr(ok, "error.type"), None);
        assert!(ok.sum.is_some_and(|s| s > 0.0), "{name}: {ok:#?}");
        // INVALID_ARGUMENT is the caller's error: a failure for the client only; INTERNAL for both.
        assert_eq!(
            point_attr(with_code("3"), "error.type").is_some(),
            error_on_invalid,
            "{name}"
        );
        assert_eq!(
            point_attr(with_code("13"), "error.type").as_deref(),
            Some("INTERNAL"),
            "{name}"
        );
    }
}
