//! A tonic server and a tonic client in one process and one trace: `checkout` reserves stock over gRPC; the
//! client span of the call carries the trace context in the call's metadata, the server span continues it.
//!
//! ```sh
//! OTEL_TRACES_EXPORTER=console cargo run --example grpc --features grpc
//! ```
//!
//! The second checkout asks for nothing: the server answers INVALID_ARGUMENT, an error of the client span (every
//! non-OK code is) but not of the server span (the caller's mistake, as the RPC conventions say).

mod inventory;

use inventory::{Inventory, InventoryServer, ReserveReply, ReserveRequest};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use traced::grpc::{ClientTraceLayer, TraceLayer};
use traced::traced;

struct Stock;

impl Inventory for Stock {
    async fn reserve(
        &self,
        request: tonic::Request<ReserveRequest>,
    ) -> Result<tonic::Response<ReserveReply>, tonic::Status> {
        let request = request.into_inner();
        let reservation = hold(&request.sku, request.quantity).await?;
        Ok(tonic::Response::new(ReserveReply { reservation }))
    }
}

#[traced(args(sku, quantity))]
async fn hold(sku: &str, quantity: u32) -> Result<String, tonic::Status> {
    if quantity == 0 {
        return Err(tonic::Status::invalid_argument(
            "quantity must be at least 1",
        ));
    }
    Ok(format!("{sku}x{quantity}"))
}

#[traced(args(sku, quantity))]
async fn checkout<C>(channel: C, sku: &str, quantity: u32) -> Result<String, tonic::Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::Error: Into<tonic::codegen::StdError>,
    C::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <C::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let request = ReserveRequest {
        sku: sku.to_owned(),
        quantity,
    };
    Ok(inventory::reserve(channel, request).await?.reservation)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = traced::init()?;

    let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?)?;
    let addr = incoming.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .layer(TraceLayer::new())
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming_shutdown(incoming, async {
                stopped.await.ok();
            }),
    );

    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let channel = tower::ServiceBuilder::new()
        .layer(ClientTraceLayer::new())
        .service(channel);
    println!("reserved: {}", checkout(channel.clone(), "sku-7", 2).await?);
    let refused = checkout(channel, "sku-7", 0).await.unwrap_err();
    println!("refused: {} ({:?})", refused.message(), refused.code());

    stop.send(()).ok();
    server.await??;
    guard.shutdown()?;
    Ok(())
}
