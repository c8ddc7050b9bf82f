//! A one-method gRPC service, `shop.Inventory/Reserve`, written out by hand as tonic's code generator would
//! write it (no `protoc` needed): its messages, its server and a call from a client.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic_prost::ProstCodec;

/// The request of `Reserve`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReserveRequest {
    #[prost(string, tag = "1")]
    pub sku: String,
    #[prost(uint32, tag = "2")]
    pub quantity: u32,
}

/// The reply of `Reserve`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReserveReply {
    #[prost(string, tag = "1")]
    pub reservation: String,
}

/// The service name, as in the `.proto` file.
pub const SERVICE: &str = "shop.Inventory";
/// The path of the `Reserve` method.
pub const RESERVE: &str = "/shop.Inventory/Reserve";

/// What the server does for each method.
pub trait Inventory: Send + Sync + 'static {
    fn reserve(
        &self,
        request: tonic::Request<ReserveRequest>,
    ) -> impl Future<Output = Result<tonic::Response<ReserveReply>, tonic::Status>> + Send;
}

/// The tower service a tonic server routes `shop.Inventory` calls to.
pub struct InventoryServer<T>(Arc<T>);

impl<T> InventoryServer<T> {
    pub fn new(inventory: T) -> Self {
        InventoryServer(Arc::new(inventory))
    }
}

impl<T> Clone for InventoryServer<T> {
    fn clone(&self) -> Self {
        InventoryServer(self.0.clone())
    }
}

impl<T> tonic::server::NamedService for InventoryServer<T> {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<T, B> tower::Service<http::Request<B>> for InventoryServer<T>
where
    T: Inventory,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inventory = self.0.clone();
        Box::pin(async move {
            if request.uri().path() == RESERVE {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                return Ok(grpc.unary(Reserve(inventory), request).await);
            }
            Ok(tonic::Status::unimplemented("no such method").into_http())
        })
    }
}

/// `Reserve` as tonic's unary call machinery wants it.
struct Reserve<T>(Arc<T>);

impl<T: Inventory> tonic::server::UnaryService<ReserveRequest> for Reserve<T> {
    type Response = ReserveReply;
    type Future = BoxFuture<tonic::Response<ReserveReply>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<ReserveRequest>) -> Self::Future {
        let inventory = self.0.clone();
        Box::pin(async move { inventory.reserve(request).await })
    }
}

/// Calls `Reserve` over `channel` (any gRPC tower service, such as a traced tonic channel).
pub async fn reserve<C>(channel: C, request: ReserveRequest) -> Result<ReserveReply, tonic::Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::Error: Into<tonic::codegen::StdError>,
    C::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <C::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    call(channel, RESERVE, request).await
}

/// Calls the method at `path` with a `ReserveRequest` (a path the server does not know answers UNIMPLEMENTED).
pub async fn call<C>(
    channel: C,
    path: &'static str,
    request: ReserveRequest,
) -> Result<ReserveReply, tonic::Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::Error: Into<tonic::codegen::StdError>,
    C::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <C::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.into().to_string()))?;
    let path = http::uri::PathAndQuery::from_static(path);
    let reply = grpc
        .unary(tonic::Request::new(request), path, ProstCodec::default())
        .await?;
    Ok(reply.into_inner())
}
