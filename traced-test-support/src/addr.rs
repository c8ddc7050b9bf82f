//! Loopback addresses for the servers and clients of a test.

use std::net::{SocketAddr, TcpListener};

/// A loopback address nobody listens on (yet): free a moment ago.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral loopback port")
}
