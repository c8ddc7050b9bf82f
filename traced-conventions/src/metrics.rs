//! The metric instruments the runtime records and their attribute keys (the autometrics specification's for
//! the function metrics, the HTTP semantic conventions' for the [`http`](crate::http) keys): read by the recording
//! side, the encoders, the Prometheus endpoint and the tests. `error.type` is [`crate::error::ERROR_TYPE`].

/// Counter: calls of a `#[traced]` fn (autometrics `function.calls`, Prometheus `function_calls_total`).
pub const FUNCTION_CALLS: &str = "function.calls";
/// Histogram in seconds: the duration of those calls (Prometheus `function_calls_duration_seconds`).
pub const FUNCTION_CALLS_DURATION: &str = "function.calls.duration";
/// Up-down counter: calls under way (Prometheus `function_calls_concurrent`).
pub const FUNCTION_CALLS_CONCURRENT: &str = "function.calls.concurrent";
/// Histogram in seconds: server requests (HTTP semantic conventions).
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
/// Up-down counter: server requests under way.
pub const HTTP_SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";
/// Histogram in seconds: client requests.
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http.client.request.duration";
/// Histogram in seconds: calls a gRPC server handled (RPC semantic conventions).
pub const RPC_SERVER_DURATION: &str = "rpc.server.duration";
/// Histogram in seconds: calls a gRPC client made.
pub const RPC_CLIENT_DURATION: &str = "rpc.client.duration";
/// Gauge, always 1: the version and commit the autometrics queries join on.
pub const BUILD_INFO: &str = "build_info";

/// The span name of the fn (`checkout`, `Repo::find`).
pub const FUNCTION: &str = "function";
/// `module_path!()` of the fn.
pub const MODULE: &str = "module";
/// `ok` or `error`.
pub const RESULT: &str = "result";
/// The nearest enclosing `#[traced]` fn on the task, `""` when none.
pub const CALLER_FUNCTION: &str = "caller.function";
/// Its module.
pub const CALLER_MODULE: &str = "caller.module";
/// The name of the SLO of `#[traced(objective(..))]`.
pub const OBJECTIVE_NAME: &str = "objective.name";
/// Its target percentile (`99.9`).
pub const OBJECTIVE_PERCENTILE: &str = "objective.percentile";
/// Its latency threshold in seconds (`0.25`).
pub const OBJECTIVE_LATENCY_THRESHOLD: &str = "objective.latency_threshold";
/// Set on the one series past the cardinality limit.
pub const OVERFLOW: &str = "otel.metric.overflow";
/// `ok` of [`RESULT`].
pub const OK: &str = "ok";
/// `error` of [`RESULT`].
pub const ERROR: &str = "error";
/// [`ERROR_TYPE`](crate::error::ERROR_TYPE) of a panic.
pub const PANIC: &str = "panic";

/// At most this many attribute sets per instrument; the rest go to one [`OVERFLOW`] series.
pub const CARDINALITY_LIMIT: usize = 2000;
