//! What the metrics tests share: the instrumented fns, and readers of the OTLP metrics a receiver got.
#![allow(dead_code)]

use std::collections::HashSet;

use traced::traced;
use traced_test_support::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use traced_test_support::proto::tonic::common::v1::{any_value, KeyValue};
use traced_test_support::proto::tonic::metrics::v1::{
    metric, number_data_point, HistogramDataPoint, Metric, NumberDataPoint,
};

/// The error `checkout` returns for odd orders.
#[derive(Debug, thiserror::Error)]
#[error("card declined")]
pub struct Declined;

#[traced]
pub fn charge(order: u32) -> u32 {
    order * 2
}

/// Calls `charge` (so `charge`'s caller is `checkout`), fails for every fourth order.
#[traced(args(order))]
pub fn checkout(order: u32) -> Result<u32, Declined> {
    let charged = charge(order);
    if order % 4 == 3 {
        Err(Declined)
    } else {
        Ok(charged)
    }
}

/// The value of a string attribute.
pub fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Every metric of `request`, all scopes.
pub fn metrics(request: &ExportMetricsServiceRequest) -> impl Iterator<Item = &Metric> {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
}

/// The points of the sum `name` in the last request that has it.
pub fn sum_points(requests: &[ExportMetricsServiceRequest], name: &str) -> Vec<NumberDataPoint> {
    requests
        .iter()
        .rev()
        .find_map(|r| {
            metrics(r)
                .find(|m| m.name == name)
                .and_then(|m| match &m.data {
                    Some(metric::Data::Sum(sum)) => Some(sum.data_points.clone()),
                    _ => None,
                })
        })
        .unwrap_or_default()
}

/// The points of the histogram `name` in the last request that has it.
pub fn histogram_points(
    requests: &[ExportMetricsServiceRequest],
    name: &str,
) -> Vec<HistogramDataPoint> {
    requests
        .iter()
        .rev()
        .find_map(|r| {
            metrics(r)
                .find(|m| m.name == name)
                .and_then(|m| match &m.data {
                    Some(metric::Data::Histogram(h)) => Some(h.data_points.clone()),
                    _ => None,
                })
        })
        .unwrap_or_default()
}

/// An integer point's value.
pub fn int(point: &NumberDataPoint) -> i64 {
    match point.value {
        Some(number_data_point::Value::AsInt(v)) => v,
        Some(number_data_point::Value::AsDouble(v)) => v as i64,
        None => 0,
    }
}

/// The trace ids of `ids`, as a set of hex strings.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The trace ids of every exemplar of `points`.
pub fn exemplar_trace_ids(points: &[HistogramDataPoint]) -> HashSet<String> {
    points
        .iter()
        .flat_map(|p| &p.exemplars)
        .map(|e| hex(&e.trace_id))
        .collect()
}

/// `GET path` over HTTP/1.0 (so the answer is never chunked): the status line's code, the headers, the body.
pub fn http_get(addr: std::net::SocketAddr, path: &str, accept: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_owned(), body.to_owned())
}

/// Percent-encodes a PromQL query for a URL.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A real Prometheus (the Debian package `prometheus`, installed by `.ci/test`) scraping `target` every second,
/// with exemplar storage; killed on drop.
pub struct Prometheus {
    child: std::process::Child,
    pub addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: traced\n    scrape_interval: 1s\n    \
                 static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let addr = traced_test_support::free_addr();
        let child = std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus not found: `apt-get install -y prometheus`, as .ci/test does");
        let prometheus = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        let start = std::time::Instant::now();
        while http_get_ok(addr, "/-/ready").is_none() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "prometheus did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        prometheus
    }

    /// The JSON answer of `GET /api/v1/{api}?{query}`.
    pub fn api(&self, api: &str, query: &str) -> serde_json::Value {
        let (_, _, body) = http_get(
            self.addr,
            &format!("/api/v1/{api}?{query}"),
            "application/json",
        );
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    }
}

fn http_get_ok(addr: std::net::SocketAddr, path: &str) -> Option<()> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .starts_with("HTTP/1.0 200")
        .then_some(())
        .or_else(|| response.starts_with("HTTP/1.1 200").then_some(()))
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
