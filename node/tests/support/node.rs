//! A single `grape-node` process for the API test files, started through the test kit.

use grape_testkit::NodeProcess;
use qdrant_client::Qdrant;

/// A `grape-node` process on its own loopback address with its own data directory, killed
/// on drop.
pub struct Node {
    _process: NodeProcess,
    pub url: String,
}

impl Node {
    pub async fn start() -> Node {
        Node::start_with(&[]).await
    }

    /// Starts a node with extra command-line flags.
    pub async fn start_with(flags: &[&str]) -> Node {
        let process = NodeProcess::builder(env!("CARGO_BIN_EXE_grape-node"))
            .and_then(|builder| builder.args(flags).start())
            .expect("start grape-node");
        Node {
            url: process.grpc_url(),
            _process: process,
        }
    }

    pub fn client(&self) -> Qdrant {
        Qdrant::from_url(&self.url)
            .skip_compatibility_check()
            .build()
            .expect("client")
    }
}
