//! Shared by the gRPC test files: a real `grape-node` process on free loopback ports.

use std::fs::File;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use qdrant_client::Qdrant;

/// A `grape-node` process on free ports with its own data directory, killed on drop.
pub struct Node {
    child: Child,
    dir: tempfile::TempDir,
    pub url: String,
}

impl Node {
    pub async fn start() -> Node {
        Node::start_with(&[]).await
    }

    /// Starts a node with extra command-line flags.
    pub async fn start_with(flags: &[&str]) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let (http_port, grpc_port) = (free_port(), free_port());
        let log = File::create(dir.path().join("node.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_grape-node"))
            .args(["--host", "127.0.0.1"])
            .args(["--http-port", &http_port.to_string()])
            .args(["--grpc-port", &grpc_port.to_string()])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(flags)
            .env("RUST_LOG", "info,grape=debug")
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn grape-node");
        let mut node = Node {
            child,
            dir,
            url: format!("http://127.0.0.1:{grpc_port}"),
        };
        node.wait_until_healthy().await;
        node
    }

    pub fn client(&self) -> Qdrant {
        Qdrant::from_url(&self.url)
            .skip_compatibility_check()
            .build()
            .expect("client")
    }

    async fn wait_until_healthy(&mut self) {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.health_check().await.is_err() {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!("grape-node exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "grape-node did not answer health checks:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}
