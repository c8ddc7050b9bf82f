//! Recorded by the gRPC server and client layers, as the OpenTelemetry RPC semantic conventions name them.

/// The RPC system: `grpc`.
pub const RPC_SYSTEM: &str = "rpc.system";
/// The full name of the service, `package.Service`.
pub const RPC_SERVICE: &str = "rpc.service";
/// The method's name, `Method`.
pub const RPC_METHOD: &str = "rpc.method";
/// The numeric gRPC status code of the call.
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";
