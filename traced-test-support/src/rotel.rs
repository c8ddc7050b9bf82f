//! A real collector for tests and benches: rotel (`pip install rotel`), receiving OTLP over gRPC and HTTP on
//! loopback and forwarding over gRPC to a receiver of the caller. Missing rotel fails the caller, it never
//! skips it.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `ROTEL_AGENT` (set by `.ci/test`), else the binary inside the installed `rotel` Python package.
pub fn rotel_agent() -> PathBuf {
    if let Ok(path) = std::env::var("ROTEL_AGENT") {
        return path.into();
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import rotel, os; print(os.path.dirname(rotel.__file__))",
        ])
        .output()
        .expect("python3 is needed to find rotel-agent (or set ROTEL_AGENT)");
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("rotel-agent");
    assert!(
        path.is_file(),
        "rotel-agent not found: `pip install rotel` (or set ROTEL_AGENT), as .ci/test does"
    );
    path
}

/// A running rotel, killed on drop.
#[derive(Debug)]
pub struct Rotel {
    child: Child,
    /// Its OTLP/gRPC receiver.
    pub grpc: SocketAddr,
    /// Its OTLP/HTTP receiver.
    pub http: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Rotel {
    /// Starts rotel on `grpc` and `http`, forwarding to the OTLP/gRPC receiver at `forward_to`, and waits until
    /// both ports accept connections.
    pub fn start(
        agent: &Path,
        grpc: SocketAddr,
        http: SocketAddr,
        forward_to: SocketAddr,
    ) -> Rotel {
        let dir = tempfile::tempdir().expect("a temporary directory for rotel's pid file");
        let child = Command::new(agent)
            .arg("start")
            .args(["--otlp-grpc-endpoint", &grpc.to_string()])
            .args(["--otlp-http-endpoint", &http.to_string()])
            .args(["--exporter", "otlp"])
            .args(["--otlp-exporter-endpoint", &format!("http://{forward_to}")])
            .args(["--otlp-exporter-protocol", "grpc"])
            .args(["--batch-timeout", "100ms"])
            .arg("--pid-file")
            .arg(dir.path().join("rotel.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start rotel-agent");
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

    /// The process id of rotel-agent.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
