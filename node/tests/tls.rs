//! TLS from certificate files: REST and gRPC answer over TLS with a certificate the client
//! trusts, and refuse plain connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use grape_testkit::NodeProcess;
use qdrant_client::qdrant::qdrant_client::QdrantClient;
use qdrant_client::qdrant::HealthCheckRequest;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

struct TlsNode {
    process: NodeProcess,
    cert_pem: String,
    cert_der: Vec<u8>,
}

impl TlsNode {
    /// Starts a node with a certificate for `localhost` and its address; returns without
    /// waiting, the tests poll over TLS themselves.
    fn start() -> TlsNode {
        let builder = NodeProcess::builder(env!("CARGO_BIN_EXE_grape-node")).expect("builder");
        let names = vec!["localhost".to_string(), builder.ip().to_string()];
        let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
        let (cert_path, key_path) = (
            builder.dir().join("cert.pem"),
            builder.dir().join("key.pem"),
        );
        std::fs::write(&cert_path, certified.cert.pem()).expect("write cert");
        std::fs::write(&key_path, certified.key_pair.serialize_pem()).expect("write key");
        let process = builder
            .arg("--tls-cert")
            .arg(&cert_path)
            .arg("--tls-key")
            .arg(&key_path)
            .spawn()
            .expect("spawn grape-node");
        TlsNode {
            process,
            cert_pem: certified.cert.pem(),
            cert_der: certified.cert.der().to_vec(),
        }
    }

    /// `scheme://address:port` of the REST or the gRPC API.
    fn url(&self, scheme: &str, port: u16) -> String {
        format!("{scheme}://{}:{port}", self.process.ip())
    }

    /// An HTTP agent that trusts only this node's certificate.
    fn https_agent(&self) -> ureq::Agent {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der.clone().into())
            .expect("trust the test certificate");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        ureq::AgentBuilder::new()
            .tls_config(Arc::new(config))
            .timeout(Duration::from_secs(5))
            .build()
    }
}

#[test]
fn rest_is_served_over_tls_only() {
    let node = TlsNode::start();
    let agent = node.https_agent();
    let http_port = node.process.ports().http;
    let url = format!("{}/", node.url("https", http_port));
    let deadline = Instant::now() + Duration::from_secs(30);
    let root: serde_json::Value = loop {
        match agent.get(&url).call() {
            Ok(response) => break response.into_json().expect("JSON"),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("no TLS answer from {url}: {e}"),
        }
    };
    assert_eq!(root["title"], "grape");
    let plain = ureq::get(&format!("{}/", node.url("http", http_port)))
        .timeout(Duration::from_secs(5))
        .call();
    assert!(plain.is_err(), "a plain HTTP request must not be answered");
}

#[tokio::test]
async fn grpc_is_served_over_tls() {
    let node = TlsNode::start();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&node.cert_pem))
        .domain_name("localhost");
    let grpc_port = node.process.ports().grpc;
    let endpoint = Channel::from_shared(node.url("https", grpc_port))
        .expect("endpoint")
        .tls_config(tls)
        .expect("TLS config");
    let deadline = Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let attempt = async {
            let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
            QdrantClient::new(channel)
                .health_check(HealthCheckRequest {})
                .await
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(reply) => break reply.into_inner(),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("no gRPC answer over TLS: {e}"),
        }
    };
    assert_eq!(reply.title, "grape");
    let plain = Channel::from_shared(node.url("http", grpc_port))
        .expect("endpoint")
        .connect()
        .await;
    let refused = match plain {
        Err(_) => true,
        Ok(channel) => QdrantClient::new(channel)
            .health_check(HealthCheckRequest {})
            .await
            .is_err(),
    };
    assert!(refused, "a plain gRPC call must not be answered");
}
