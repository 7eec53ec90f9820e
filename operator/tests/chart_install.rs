//! The Helm chart installed for real: `helm install` into the harness's API server, the
//! operator running as the chart's Deployment (a pod of the process kubelet, with its
//! ServiceAccount's token, not an admin one) takes the leader Lease and brings the sample
//! VectorCluster of `examples/` to Available — which proves the chart's RBAC is enough —
//! while that ServiceAccount is refused what the chart does not grant. Then every metric
//! name the chart's dashboards query is scraped from the running nodes and operator.

mod common;
mod dashboards;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::PodLogs;
use grape_k8s_harness::{apply, Harness};
use grape_operator::crd::{PlacementPhase, ShardPlacement, VectorCluster};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use kube::Client;
use reqwest::Method;
use serde_json::json;

/// The chart's release and namespace.
const RELEASE: &str = "grape-operator";
const OPS: &str = "grape-system";

fn root() -> PathBuf {
    grape_k8s_harness::checkout()
}

fn chart() -> PathBuf {
    root().join("helm/grape-operator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_installs_and_its_operator_runs_a_cluster() -> Result<()> {
    let harness = Harness::builder()
        .image("grape-node", common::node_binary()?)
        .image("grape-operator", env!("CARGO_BIN_EXE_grape-operator"))
        .start()?;
    let client = harness.client().await?;
    helm_install(&harness)?;

    // The chart's operator pod leads.
    let pods: Api<Pod> = Api::namespaced(client.clone(), OPS);
    let selector = format!("app.kubernetes.io/instance={RELEASE}");
    let operator_pod = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .next()
        .context("no operator pod")?;
    let operator_name = operator_pod.metadata.name.clone().context("unnamed pod")?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), OPS);
    common::wait_for(
        "the operator pod leading",
        Duration::from_secs(60),
        || async {
            let holder = leases
                .get("grape-operator")
                .await?
                .spec
                .and_then(|s| s.holder_identity);
            ensure!(
                holder.as_deref() == Some(operator_name.as_str()),
                "held by {holder:?}"
            );
            Ok(())
        },
    )
    .await
    .with_context(|| harness.pod_logs())?;

    // Its ServiceAccount has the chart's permissions and no others.
    let account = service_account_client(&harness, &client).await?;
    Api::<VectorCluster>::all(account.clone())
        .list(&ListParams::default())
        .await
        .context("the operator's account cannot list VectorClusters")?;
    let secrets = Api::<Secret>::namespaced(account, "default")
        .list(&ListParams::default())
        .await;
    ensure!(
        matches!(&secrets, Err(kube::Error::Api(s)) if s.code == 403),
        "the operator's account may list Secrets: {secrets:?}"
    );

    // The sample manifests: the VectorCluster comes up; the ShardPlacements are valid.
    let examples = chart().join("examples");
    apply(
        &client,
        &std::fs::read_to_string(examples.join("vectorcluster.yaml"))?,
    )
    .await?;
    let placements: Api<ShardPlacement> = Api::namespaced(client.clone(), "default");
    let mut samples = Vec::new();
    for file in ["shardplacement-balanced.yaml", "shardplacement-manual.yaml"] {
        let placement: ShardPlacement =
            serde_yaml::from_str(&std::fs::read_to_string(examples.join(file))?)?;
        let dry_run = PostParams {
            dry_run: true,
            ..Default::default()
        };
        placements
            .create(&dry_run, &placement)
            .await
            .with_context(|| format!("{file} refused"))?;
        samples.push(placement);
    }
    let clusters: Api<VectorCluster> = Api::namespaced(client.clone(), "default");
    let status =
        common::wait_running(&harness, &clusters, "vec", 3, Duration::from_secs(300)).await?;
    ensure!(status.nodes.len() == 3, "{:?}", status.nodes);
    ensure!(status.raft_leader.is_some(), "{status:?}");

    // A little traffic, then every metric a dashboard queries exists.
    let node_ips = [
        common::pod_ip(&client, "default", "vec-0").await?,
        common::pod_ip(&client, "default", "vec-1").await?,
        common::pod_ip(&client, "default", "vec-2").await?,
    ];
    workload(&node_ips[0]).await?;

    // The balanced sample (the first file), for real: the operator plans it with the chart's
    // permissions.
    placements
        .create(&PostParams::default(), &samples[0])
        .await?;
    let phase = common::wait_for(
        "the sample ShardPlacement planned",
        Duration::from_secs(60),
        || async {
            let status = placements.get_status("docs-balanced").await?.status;
            status.and_then(|s| s.phase).context("no phase yet")
        },
    )
    .await?;
    ensure!(
        matches!(phase, PlacementPhase::PlanReady | PlacementPhase::Balanced),
        "the sample placement is {phase:?}"
    );
    let mut scraped = std::collections::BTreeSet::new();
    let http = reqwest::Client::new();
    for ip in &node_ips {
        let text = http
            .get(format!("http://{ip}:6333/metrics"))
            .send()
            .await?
            .text()
            .await?;
        scraped.extend(dashboards::sample_names(&text));
    }
    let operator_ip = common::pod_ip(&client, OPS, &operator_name).await?;
    let text = http
        .get(format!("http://{operator_ip}:8080/metrics"))
        .send()
        .await?
        .text()
        .await?;
    scraped.extend(dashboards::sample_names(&text));
    let used = dashboards::metric_names(&chart().join("dashboards"))?;
    ensure!(
        used.len() >= 40,
        "only {} metric names in the dashboards",
        used.len()
    );
    let missing: Vec<_> = used
        .iter()
        .filter(|(name, _)| !scraped.contains(*name))
        .collect();
    ensure!(
        missing.is_empty(),
        "dashboards query metrics nobody exposes: {missing:?}"
    );
    Ok(())
}

/// `helm install` of the chart (its operator image is the harness's grape-operator), waiting
/// until the operator Deployment is ready.
fn helm_install(harness: &Harness) -> Result<()> {
    let out = Command::new("bash")
        .arg(root().join("e2e/harness"))
        .args(["helm", "install", RELEASE])
        .arg(chart())
        .args(["--namespace", OPS, "--create-namespace"])
        .arg("--kubeconfig")
        .arg(harness.kubeconfig())
        .args(["--set", "image.tag=dev", "--wait", "--timeout", "3m"])
        .output()?;
    ensure!(
        out.status.success(),
        "helm install: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        harness.pod_logs()
    );
    Ok(())
}

/// A client with a token of the chart's ServiceAccount (what the operator pod runs with).
async fn service_account_client(harness: &Harness, admin: &Client) -> Result<Client> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), OPS);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token: TokenRequest = accounts
        .create_subresource("token", RELEASE, &PostParams::default(), &request)
        .await?;
    let token = token.status.context("no token")?.token;
    let mut config = harness.config().await?;
    config.auth_info = serde_json::from_value(json!({ "token": token }))?;
    Ok(Client::try_from(config)?)
}

/// A collection with points written and searched over REST, and a gRPC call, so that the
/// request metrics have series.
async fn workload(ip: &str) -> Result<()> {
    let http = reqwest::Client::new();
    let rest = format!("http://{ip}:6333");
    common::send(
        &http,
        Method::PUT,
        &format!("{rest}/collections/docs"),
        json!({"vectors": {"size": 4, "distance": "Cosine"}}),
    )
    .await?;
    let points: Vec<_> = (1..=200)
        .map(|i| json!({"id": i, "vector": [1.0, i as f32, 0.5, -(i as f32)], "payload": {"i": i}}))
        .collect();
    common::send(
        &http,
        Method::PUT,
        &format!("{rest}/collections/docs/points?wait=true"),
        json!({ "points": points }),
    )
    .await?;
    let found = common::send(
        &http,
        Method::POST,
        &format!("{rest}/collections/docs/points/query"),
        json!({"query": [1.0, 7.0, 0.5, -7.0], "limit": 3}),
    )
    .await?;
    ensure!(found["result"]["points"][0]["id"] == 7, "{found}");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{ip}:6334"))?
        .connect()
        .await?;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await?;
    Ok(())
}
