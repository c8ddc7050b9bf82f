//! The Prometheus pull endpoint: `GET /metrics` on the export thread's runtime, one collection per scrape,
//! rendered as OpenMetrics (with exemplars) when the scraper's `Accept` asks for it, as text 0.0.4 otherwise.
//!
//! A minimal HTTP/1.1 server: one request per connection, a bounded request head read within a timeout, so a
//! slow or hostile client holds one task for a few seconds at most and never the export thread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::collect::Collector;
use super::prometheus;
use crate::Error;

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// What a client has to send its request head, and to read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the endpoint now, so a port in use fails `init` with a message naming it.
pub(crate) fn bind(host: &str, port: u16) -> Result<std::net::TcpListener, Error> {
    let listener = std::net::TcpListener::bind((host, port)).map_err(|e| Error::Exporter {
        exporter: "prometheus",
        reason: format!("cannot listen on {host}:{port} (OTEL_EXPORTER_PROMETHEUS_HOST, OTEL_EXPORTER_PROMETHEUS_PORT): {e}"),
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Exporter {
            exporter: "prometheus",
            reason: e.to_string(),
        })?;
    Ok(listener)
}

/// Serves scrapes until `stop` changes; runs on the export thread.
pub(crate) async fn serve(
    listener: std::net::TcpListener,
    collector: Arc<Collector>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => {
                if let Ok((stream, peer)) = accepted {
                    let collector = collector.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(CLIENT_TIMEOUT, answer(stream, peer, &collector)).await;
                    });
                }
            }
        }
    }
}

async fn answer(
    mut stream: TcpStream,
    _peer: SocketAddr,
    collector: &Collector,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() + read > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split('?').next().unwrap_or_default();
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let openmetrics = prometheus::wants_openmetrics(&accept);
            let request = collector.collect(0);
            let body = prometheus::render(&request, openmetrics);
            let content_type = if openmetrics {
                prometheus::OPENMETRICS
            } else {
                prometheus::TEXT
            };
            (
                "200 OK",
                content_type,
                if method == "HEAD" {
                    String::new()
                } else {
                    body
                },
            )
        }
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "metrics are at /metrics\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "GET /metrics\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
