//! Helpers of the tests against the harness's real API server (each test file uses a part
//! of them).
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use grape_k8s_harness::{Cluster, Harness};
use grape_operator::admin::GrpcAdmin;
use grape_operator::controller;
use grape_operator::crd::{ClusterPhase, VectorCluster, VectorClusterStatus};
use grape_operator::metrics::Metrics;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use serde_json::Value;

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

/// A harness with the node image `grape-node` (this build's binary), the CRDs installed
/// and namespace `ns` created, with no operator: for tests that need the local harness.
pub async fn start_in_namespace(ns: &str) -> Result<(Harness, Client)> {
    let harness = local_harness()?.start()?;
    let client = harness.client().await?;
    install_crds(&client).await?;
    create_namespace(&client, ns).await?;
    Ok((harness, client))
}

/// A local harness whose `grape-node` image is this build's binary.
fn local_harness() -> Result<grape_k8s_harness::Builder> {
    Ok(Harness::builder().image("grape-node", node_binary()?))
}

/// Where an operator scenario runs. By default on a new local harness, with the CRDs
/// installed and the operator's controllers in-process. When `GRAPE_E2E_KUBECONFIG` names a
/// cluster (`e2e/scenarios`, which `e2e/kind/run` calls), on that cluster, whose CRDs and
/// operator the Helm chart installed; the host must reach its pod IPs there too. There the
/// scenario's namespace is deleted when it passes (and [`Scenario::finish`] waits until it is
/// gone), and one left by a failing run is deleted before the next run recreates it.
pub struct Scenario {
    cluster: Cluster,
    pub client: Client,
    namespace: String,
    operator: Operator,
}

enum Operator {
    InProcess {
        task: tokio::task::JoinHandle<()>,
        metrics: Arc<Metrics>,
    },
    /// The chart's Deployment, in this namespace.
    Installed { namespace: String },
}

/// The namespace of the chart's operator on an external cluster.
const OPERATOR_NAMESPACE_ENV: &str = "GRAPE_E2E_OPERATOR_NAMESPACE";
/// The labels of the chart's operator pods.
const OPERATOR_SELECTOR: &str = "app.kubernetes.io/name=grape-operator";

impl Scenario {
    /// The cluster, an operator running on it, and the new namespace `ns`.
    pub async fn start(ns: &str) -> Result<Scenario> {
        let cluster = Cluster::start_with(local_harness()?)?;
        let client = cluster.client().await?;
        let operator = match cluster.harness() {
            Some(_) => {
                install_crds(&client).await?;
                let (task, metrics) = start_operator(&client);
                Operator::InProcess { task, metrics }
            }
            None => {
                let namespace = std::env::var(OPERATOR_NAMESPACE_ENV)
                    .unwrap_or_else(|_| "grape-system".to_owned());
                operator_pod(&client, &namespace).await.with_context(|| {
                    format!("no operator in {namespace}: install the chart first (e2e/scenarios)")
                })?;
                remove_leftover_namespace(&client, ns).await?;
                Operator::Installed { namespace }
            }
        };
        create_namespace(&client, ns).await?;
        Ok(Scenario {
            cluster,
            client,
            namespace: ns.to_owned(),
            operator,
        })
    }

    /// The operator's Prometheus metrics, rendered or scraped from its pod.
    pub async fn operator_metrics(&self) -> Result<String> {
        match &self.operator {
            Operator::InProcess { metrics, .. } => Ok(metrics.render()),
            Operator::Installed { namespace } => {
                let pod = operator_pod(&self.client, namespace).await?;
                let ip = pod.status.and_then(|s| s.pod_ip).context("no pod IP")?;
                let port = pod
                    .spec
                    .into_iter()
                    .flat_map(|s| s.containers)
                    .flat_map(|c| c.ports.unwrap_or_default())
                    .find(|p| p.name.as_deref() == Some("metrics"))
                    .context("the operator pod has no metrics port")?
                    .container_port;
                let url = format!("http://{ip}:{port}/metrics");
                Ok(reqwest::get(&url).await?.error_for_status()?.text().await?)
            }
        }
    }

    /// Stops the in-process operator; on an external cluster, deletes the namespace and waits
    /// until it is gone.
    pub async fn finish(self) -> Result<()> {
        match self.operator {
            Operator::InProcess { task, .. } => task.abort(),
            Operator::Installed { .. } => delete_namespace(&self.client, &self.namespace).await?,
        }
        Ok(())
    }
}

/// Deletes namespace `ns` if an earlier failing run on the same cluster left it (a passing
/// run deletes its own), and waits until it is gone.
async fn remove_leftover_namespace(client: &Client, ns: &str) -> Result<()> {
    if Api::<Namespace>::all(client.clone())
        .get_opt(ns)
        .await?
        .is_none()
    {
        return Ok(());
    }
    eprintln!("deleting namespace {ns}, left by an earlier run");
    delete_namespace(client, ns).await
}

/// Deletes namespace `ns` and waits until it is gone. A namespace still holding a
/// VectorCluster goes only once the operator's finalizer has run there.
async fn delete_namespace(client: &Client, ns: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.delete(ns, &DeleteParams::default()).await {
        // Gone meanwhile, or already terminating.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        other => {
            other?;
        }
    }
    let what = format!("namespace {ns} deleted");
    wait_for(&what, Duration::from_secs(180), || async {
        ensure!(namespaces.get_opt(ns).await?.is_none(), "still terminating");
        Ok(())
    })
    .await
}

/// A running operator pod of the chart in `namespace`.
async fn operator_pod(client: &Client, namespace: &str) -> Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let listed = pods
        .list(&ListParams::default().labels(OPERATOR_SELECTOR))
        .await?;
    listed
        .items
        .into_iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .with_context(|| format!("no running pod labelled {OPERATOR_SELECTOR}"))
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

/// What a failing scenario shows of its pods' logs.
pub trait PodLogs {
    fn pod_logs(&self) -> String;
}

impl PodLogs for Harness {
    /// The last lines of every container log of the harness.
    fn pod_logs(&self) -> String {
        let mut out = String::new();
        let Ok(pods) = std::fs::read_dir(self.dir().join("pods")) else {
            return out;
        };
        for pod in pods.flatten() {
            let Ok(logs) = std::fs::read_dir(pod.path().join("logs")) else {
                continue;
            };
            for log in logs.flatten() {
                out.push_str(&log_tail(&log.path()));
            }
        }
        out
    }
}

impl PodLogs for Scenario {
    /// The local harness's logs; on an external cluster, where to find them.
    fn pod_logs(&self) -> String {
        match self.cluster.harness() {
            Some(harness) => harness.pod_logs(),
            None => format!(
                "(pods' logs: kubectl --kubeconfig {} -n {} logs POD on kind; \
                 e2e/outside/run prints the local harness's)",
                self.cluster.kubeconfig().display(),
                self.namespace
            ),
        }
    }
}

/// The last 15 lines of a log file, under its path.
fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    let mut out = format!("--- {}\n", path.display());
    for line in tail.into_iter().rev() {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The operator's controllers, in-process (its task ends when the test aborts it).
pub fn start_operator(client: &Client) -> (tokio::task::JoinHandle<()>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new().expect("metrics register"));
    let admin = Arc::new(GrpcAdmin::default());
    let ctx = controller::context(client.clone(), admin, metrics.clone(), "test");
    (
        tokio::spawn(controller::run(ctx, controller::Watch::All)),
        metrics,
    )
}

/// Waits until the VectorCluster `name` is Running and Available with `replicas` ready
/// data nodes; the pods' logs explain a timeout.
pub async fn wait_running(
    logs: &impl PodLogs,
    clusters: &Api<VectorCluster>,
    name: &str,
    replicas: i32,
    timeout: Duration,
) -> Result<VectorClusterStatus> {
    let what = format!("{name} Running and Available with {replicas} data nodes");
    wait_for(&what, timeout, || async {
        let status = clusters
            .get_status(name)
            .await?
            .status
            .context("no status")?;
        let available = status.conditions.iter().find(|c| c.type_ == "Available");
        ensure!(
            status.phase == Some(ClusterPhase::Running)
                && status.ready_replicas == Some(replicas)
                && available.is_some_and(|c| c.status == "True"),
            "phase {:?}, ready {:?}, Available {available:?}",
            status.phase,
            status.ready_replicas,
        );
        Ok(status)
    })
    .await
    .with_context(|| logs.pod_logs())
}

/// The IP of a pod (the host reaches pods at their IPs).
pub async fn pod_ip(client: &Client, namespace: &str, pod: &str) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pod = pods.get(pod).await?;
    pod.status
        .and_then(|s| s.pod_ip)
        .context("the pod has no IP")
}

/// Sends `body` with `method` to `url` and returns the JSON answer, failing on an error
/// status.
pub async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Value,
) -> Result<Value> {
    let response = http.request(method.clone(), url).json(&body).send().await?;
    let status = response.status();
    let text = response.text().await?;
    ensure!(status.is_success(), "{method} {url}: {status}: {text}");
    Ok(serde_json::from_str(&text)?)
}

/// The exact number of points in `collection`, counted through `rest`.
pub async fn count(http: &reqwest::Client, rest: &str, collection: &str) -> Result<u64> {
    let url = format!("{rest}/collections/{collection}/points/count");
    let exact = serde_json::json!({"exact": true});
    let answer = send(http, reqwest::Method::POST, &url, exact).await?;
    answer["result"]["count"]
        .as_u64()
        .with_context(|| format!("count: {answer}"))
}

/// The Python interpreter with the official `qdrant-client` installed: `GRAPE_PYTHON`, else
/// the venv that `scripts/test` prepares.
fn python() -> Result<PathBuf> {
    let python = match std::env::var_os("GRAPE_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(std::env::var("HOME")?).join(".cache/grape/venv/bin/python"),
    };
    ensure!(
        python.exists(),
        "{} is missing: run scripts/test once, or set GRAPE_PYTHON to a Python with \
         qdrant-client (tests/python/requirements.txt)",
        python.display()
    );
    Ok(python)
}

/// Creates `collection` and writes `count` points into it through `rest` with the official
/// Python client (`tests/client/write_points.py`); answers the count it reads back.
pub async fn python_client_writes(rest: &str, collection: &str, count: u64) -> Result<u64> {
    let script = grape_k8s_harness::checkout().join("operator/tests/client/write_points.py");
    let output = tokio::process::Command::new(python()?)
        .arg(script)
        .args([rest, collection, &count.to_string()])
        .output()
        .await?;
    ensure!(
        output.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .trim()
        .parse()
        .with_context(|| format!("the Python client printed {stdout:?}"))
}
