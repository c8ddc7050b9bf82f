//! End to end through a real collector: our pipeline → rotel (OTLP gRPC and HTTP in) → an in-process gRPC
//! receiver. Fails, saying how to install it, when `rotel-agent` cannot be found (`pip install rotel`, or set
//! `ROTEL_AGENT` to the binary): a missing collector must not turn into a silent pass.

mod pipeline_support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline_support::{grpc_receiver, Receiver};
use traced_runtime::config::{Config, LogFormat, Protocol};
use tracing_subscriber::layer::SubscriberExt;

fn rotel_agent() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("ROTEL_AGENT") {
        return Some(path.into());
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import rotel, os; print(os.path.dirname(rotel.__file__))",
        ])
        .output()
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    let path = PathBuf::from(dir.trim()).join("rotel-agent");
    path.is_file().then_some(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running rotel, killed on drop.
struct Rotel {
    child: Child,
    grpc: SocketAddr,
    http: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Rotel {
    fn start(agent: &PathBuf, forward_to: &Receiver) -> Rotel {
        let dir = tempfile::tempdir().unwrap();
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(agent)
            .arg("start")
            .args(["--otlp-grpc-endpoint", &grpc.to_string()])
            .args(["--otlp-http-endpoint", &http.to_string()])
            .args(["--exporter", "otlp"])
            .args(["--otlp-exporter-endpoint", &forward_to.grpc_endpoint()])
            .args(["--otlp-exporter-protocol", "grpc"])
            .args(["--batch-timeout", "100ms"])
            .arg("--pid-file")
            .arg(dir.path().join("rotel.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let rotel = Rotel {
            child,
            grpc,
            http,
            _dir: dir,
        };
        let start = Instant::now();
        while [grpc, http].iter().any(|a| TcpStream::connect(a).is_err()) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "rotel did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        rotel
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn through_rotel(protocol: Protocol) {
    let agent = rotel_agent().expect(
        "rotel-agent not found: `pip install rotel` (or set ROTEL_AGENT), as .ci/test does",
    );
    let receiver = grpc_receiver();
    let rotel = Rotel::start(&agent, &receiver);
    let mut config = Config {
        service_name: Some("via-rotel".into()),
        log_format: LogFormat::None,
        ..Config::default()
    };
    config.otlp.protocol = protocol;
    config.otlp.endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", rotel.grpc),
        _ => format!("http://{}/v1/traces", rotel.http),
    };
    let (layer, guard) = config.layer().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let root = tracing::info_span!("checkout");
        let _root = root.enter();
        for i in 0..99 {
            let _child = tracing::info_span!("step", i).entered();
        }
    });
    guard.shutdown().unwrap();
    assert_eq!(
        receiver.received.wait_for(100, Duration::from_secs(20)),
        100
    );
    let spans = receiver.received.spans();
    assert!(spans
        .iter()
        .all(|s| s.resource_attr("service.name") == Some("via-rotel")));
    assert!(
        spans.iter().all(|s| s.trace_id == spans[0].trace_id),
        "one trace"
    );
    assert_eq!(spans.iter().filter(|s| s.name == "checkout").count(), 1);
}

#[test]
fn grpc_through_rotel() {
    through_rotel(Protocol::Grpc);
}

#[test]
fn http_protobuf_through_rotel() {
    through_rotel(Protocol::HttpProtobuf);
}

#[test]
fn http_json_through_rotel() {
    through_rotel(Protocol::HttpJson);
}
