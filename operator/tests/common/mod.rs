//! Helpers of the tests against the harness's real API server (each test file uses a part
//! of them).
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use grape_operator::crd::VectorCluster;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams, PostParams};
use kube::Client;

/// The debug grape-node binary of this build: next to the test binary's `deps/` directory
/// (`$CARGO_TARGET_DIR/debug/`), built first if it is missing.
pub fn node_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("test binary outside target/debug/deps")?;
    let node = debug.join("grape-node");
    if !node.exists() {
        let target = debug.parent().context("no target directory")?;
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "grape-node", "--bin", "grape-node"])
            .env("CARGO_TARGET_DIR", target)
            .status()?;
        ensure!(status.success(), "building grape-node failed");
    }
    Ok(node)
}

/// Applies the generated CRDs and waits until the API server serves them.
pub async fn install_crds(client: &Client) -> Result<()> {
    for (_, yaml) in grape_operator::crd::crd_files()? {
        grape_k8s_harness::apply(client, &yaml).await?;
    }
    let clusters: Api<VectorCluster> = Api::all(client.clone());
    wait_for("the CRDs served", Duration::from_secs(60), || async {
        Ok(clusters.list(&ListParams::default()).await?)
    })
    .await?;
    Ok(())
}

pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    namespaces.create(&PostParams::default(), &ns).await?;
    Ok(())
}

/// Polls `check` every half second until it succeeds or `timeout` passes; the error then
/// says what was awaited and the last failure.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() > deadline => {
                return Err(e.context(format!("waiting {timeout:?} for {what}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// The last lines of every container log of the harness, for a failing test's message.
pub fn pod_logs(harness: &grape_k8s_harness::Harness) -> String {
    let mut out = String::new();
    let Ok(pods) = std::fs::read_dir(harness.dir().join("pods")) else {
        return out;
    };
    for pod in pods.flatten() {
        let Ok(logs) = std::fs::read_dir(pod.path().join("logs")) else {
            continue;
        };
        for log in logs.flatten() {
            let text = std::fs::read_to_string(log.path()).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {}\n", log.path().display()));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}
