//! The harness's smoke scenario against a real control plane: a CRD validated by the API
//! server, a StatefulSet run by the real controllers and the process kubelet (probes,
//! volumes, DNS names, restarts, graceful deletion, garbage collection), and RBAC enforced.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use grape_k8s_harness::{apply, Harness};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};

const NS: &str = "smoke";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_of_local_processes_under_real_controllers() -> Result<()> {
    let cluster = Harness::start()?;
    eprintln!("harness ready in {} ms", cluster.info().startup_ms);
    let client = cluster.client().await?;

    crd_is_validated_by_the_api_server(&client).await?;
    rbac_denies_a_service_account_without_permissions(&cluster, &client).await?;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NS}}))?,
        )
        .await?;
    apply(
        &client,
        include_str!("../../testdata/sample-statefulset.yaml"),
    )
    .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let ready = wait_for("both sample pods Running and Ready", || {
        ready_pods(&pods, 2)
    })
    .await?;
    let first = http_get(&ready[0], "/").await?;
    let second = http_get(&ready[1], "/").await?;

    // Names, environment and the downward API, as the pod sees them.
    ensure!(
        first["pod"] == "sample-0" && first["hostname"] == "sample-0",
        "{first}"
    );
    ensure!(
        first["namespace"] == NS && first["pod_ip"] == pod_ip(&ready[0])?,
        "{first}"
    );
    ensure!(
        first["args"] == json!(["--greeting", "hello from sample-0"]),
        "$(VAR) not expanded: {first}"
    );
    ensure!(first["boots"] == 1, "{first}");

    // Pod to pod by the name the headless service gives, and pod to API server with its own
    // service account's token.
    let via_dns = http_get(
        &ready[0],
        "/peer?addr=sample-1.sample.smoke.svc.cluster.local:8080",
    )
    .await?;
    ensure!(via_dns["pod"] == "sample-1", "sample-0 reached {via_dns}");
    let short = http_get(&ready[1], "/peer?addr=sample-0.sample:8080").await?;
    ensure!(short["pod"] == "sample-0", "sample-1 reached {short}");
    // The API server's pod proxy, which also works where pod addresses are not reachable
    // from the test (kind).
    let proxied = client
        .request_text(
            http::Request::get("/api/v1/namespaces/smoke/pods/sample-1:8080/proxy/")
                .body(vec![])?,
        )
        .await?;
    ensure!(
        serde_json::from_str::<Value>(&proxied)?["pod"] == "sample-1",
        "{proxied}"
    );
    let whoami = http_get(&ready[0], "/whoami").await?;
    ensure!(
        whoami["username"] == "system:serviceaccount:smoke:default",
        "{whoami}"
    );

    // Each claim is Bound to a volume the provisioner made.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
    for claim in ["data-sample-0", "data-sample-1"] {
        let pvc = claims.get(claim).await?;
        let phase = pvc.status.and_then(|s| s.phase);
        ensure!(phase.as_deref() == Some("Bound"), "{claim} is {phase:?}");
    }

    // A crashed container is restarted in place, on the same volume.
    let _ = http_get(&ready[1], "/exit?code=3").await;
    let restarted = wait_for("sample-1 restarted and Ready again", || async {
        let pod = pods.get("sample-1").await?;
        let restarts = container_status(&pod).map(|c| c.restart_count).unwrap_or(0);
        ensure!(restarts == 1 && is_ready(&pod), "restarts {restarts}");
        Ok(pod)
    })
    .await?;
    let after_crash = http_get(&restarted, "/").await?;
    ensure!(
        after_crash["boots"] == 2 && after_crash["pid"] != second["pid"],
        "{after_crash}"
    );
    let last = container_status(&restarted)
        .and_then(|c| c.last_state.clone())
        .and_then(|s| s.terminated);
    ensure!(
        last.as_ref().map(|t| t.exit_code) == Some(3),
        "last state {last:?}"
    );

    // A deleted pod gets SIGTERM; the StatefulSet controller recreates it on the same claim.
    let old_uid = ready[0].metadata.uid.clone();
    pods.delete("sample-0", &DeleteParams::default()).await?;
    let recreated = wait_for("sample-0 recreated and Ready", || async {
        let pods = ready_pods(&pods, 2).await?;
        let pod = pods
            .into_iter()
            .find(|p| p.metadata.name.as_deref() == Some("sample-0"));
        let pod = pod.context("no sample-0")?;
        ensure!(pod.metadata.uid != old_uid, "still the old pod");
        Ok(pod)
    })
    .await?;
    let reborn = http_get(&recreated, "/").await?;
    ensure!(
        reborn["boots"] == 2,
        "the volume did not survive the pod: {reborn}"
    );
    ensure!(
        reborn["previous_sigterm"] == true,
        "the old pod was not stopped by SIGTERM: {reborn}"
    );
    ensure!(
        !process_alive(&first["pid"]),
        "the deleted pod's process still runs"
    );

    // Deleting the StatefulSet leaves the pods to the garbage collector, which deletes them
    // through the kubelet; their processes end.
    let pids = [reborn["pid"].clone(), after_crash["pid"].clone()];
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    sets.delete("sample", &DeleteParams::background()).await?;
    wait_for("the StatefulSet's pods gone", || async {
        let left = pods
            .list(&ListParams::default().labels("app=sample"))
            .await?
            .items
            .len();
        ensure!(left == 0, "{left} pods left");
        Ok(())
    })
    .await?;
    for pid in &pids {
        ensure!(!process_alive(pid), "process {pid} outlived its pod");
    }
    ensure!(cluster.dir().join("logs/kube-apiserver.log").exists());
    Ok(())
}

async fn crd_is_validated_by_the_api_server(client: &kube::Client) -> Result<()> {
    apply(client, include_str!("../../testdata/widget-crd.yaml")).await?;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("e2e.grape.io", "v1", "Widget"),
        "widgets",
    );
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let widget = |name: &str, size: Value| -> Result<DynamicObject> {
        Ok(serde_json::from_value(json!({
            "apiVersion": "e2e.grape.io/v1", "kind": "Widget",
            "metadata": {"name": name}, "spec": {"size": size}
        }))?)
    };
    wait_for("the Widget CRD served", || async {
        Ok(widgets
            .create(&PostParams::default(), &widget("good", json!(3))?)
            .await?)
    })
    .await?;
    match widgets
        .create(&PostParams::default(), &widget("bad", json!(0))?)
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 422 => Ok(()),
        other => bail!("a widget violating the schema (size 0 < minimum 1) got {other:?}"),
    }
}

async fn rbac_denies_a_service_account_without_permissions(
    cluster: &Harness,
    client: &kube::Client,
) -> Result<()> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "nobody"}}))?,
        )
        .await?;
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}}))?;
    let token = accounts
        .create_token_request("nobody", &PostParams::default(), &request)
        .await?
        .status
        .context("token request has no status")?
        .token;
    let mut config = cluster.config().await?;
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..Default::default()
    };
    let nobody = kube::Client::try_from(config)?;
    match Api::<Pod>::namespaced(nobody, "default")
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
        other => bail!("listing pods without permission got {other:?}"),
    }
}

/// Polls `check` until it succeeds, for up to two minutes.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() > deadline => {
                return Err(e.context(format!("waiting for {what}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The `app=sample` pods, sorted by name, once there are `n` and all are Running and Ready.
async fn ready_pods(pods: &Api<Pod>, n: usize) -> Result<Vec<Pod>> {
    let mut list = pods
        .list(&ListParams::default().labels("app=sample"))
        .await?
        .items;
    list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    ensure!(list.len() == n, "{} pods", list.len());
    for pod in &list {
        ensure!(is_ready(pod), "{:?} not ready", pod.metadata.name);
    }
    Ok(list)
}

fn is_ready(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn container_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

fn pod_ip(pod: &Pod) -> Result<String> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .context("pod has no IP")
}

/// GET from the sample program of `pod`, at its pod IP (the host reaches pods directly).
async fn http_get(pod: &Pod, path: &str) -> Result<Value> {
    let url = format!("http://{}:8080{path}", pod_ip(pod)?);
    let resp = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp.text().await?;
    ensure!(status.is_success(), "GET {url}: {status}: {body}");
    Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn process_alive(pid: &Value) -> bool {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"));
    // A zombie has exited; only its parent has not collected it yet.
    stat.map(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
    .unwrap_or(false)
}
