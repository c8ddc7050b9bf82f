//! Recorded by the HTTP server and client layers, as the OpenTelemetry HTTP semantic conventions name them.

/// The request method, `_OTHER` for a method outside the well-known ones.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// The method as sent, when [`HTTP_REQUEST_METHOD`] is `_OTHER`.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// The route template the server matched (`/orders/{id}`).
pub const HTTP_ROUTE: &str = "http.route";
/// The response status code, an integer.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// The full URL a client requested, credentials redacted.
pub const URL_FULL: &str = "url.full";
/// The path of the URL a server received.
pub const URL_PATH: &str = "url.path";
/// The query string of the URL a server received.
pub const URL_QUERY: &str = "url.query";
/// `http` or `https`.
pub const URL_SCHEME: &str = "url.scheme";
/// The host the request was addressed to.
pub const SERVER_ADDRESS: &str = "server.address";
/// The port the request was addressed to, an integer.
pub const SERVER_PORT: &str = "server.port";
/// The original client, as proxies report it (`X-Forwarded-For`), else the peer.
pub const CLIENT_ADDRESS: &str = "client.address";
/// The address of the peer of the connection.
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
/// The port of the peer of the connection, an integer.
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
/// The HTTP version: `1.0`, `1.1`, `2`, `3`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// The `User-Agent` header.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
