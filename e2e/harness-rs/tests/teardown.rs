//! Dropping a harness, even while a test panics, stops every process it started: control
//! plane, kubelet and pods, and removes the pods' network namespaces.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use grape_k8s_harness::{apply, Harness};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: lone, namespace: default}
spec:
  containers:
    - name: app
      image: e2e-sample
      env: [{name: DATA_DIR, value: /tmp}]
"#;

/// What the panicking test saw before it panicked.
#[derive(Default)]
struct Seen {
    dir: PathBuf,
    instance: u32,
    harness_pid: u32,
    pod_pid: u32,
}

#[test]
fn dropping_the_harness_in_a_panicking_test_leaves_no_process_behind() {
    let seen = Mutex::new(Seen::default());
    let outcome = std::panic::catch_unwind(|| {
        let cluster = Harness::start().expect("harness starts");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let pod_pid = rt.block_on(run_pod(&cluster)).expect("pod runs");
        *seen.lock().unwrap() = Seen {
            dir: cluster.dir().to_owned(),
            instance: cluster.info().instance,
            harness_pid: cluster.pid(),
            pod_pid,
        };
        panic!("a test failing with a cluster up");
    });
    assert!(outcome.is_err());
    let seen = seen.into_inner().unwrap();
    assert!(!alive(seen.harness_pid), "the harness still runs");
    assert!(!alive(seen.pod_pid), "the pod's process still runs");
    let strays = processes_mentioning(&seen.dir);
    assert!(
        strays.is_empty(),
        "processes still use the cluster directory: {strays:?}"
    );
    let prefix = format!("grape{}-", seen.instance);
    let namespaces: Vec<_> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !namespaces.iter().any(|n| n.starts_with(&prefix)),
        "{namespaces:?}"
    );
    // A panicking test keeps the directory for its logs; this one has read them.
    let _ = std::fs::remove_dir_all(&seen.dir);
}

async fn run_pod(cluster: &Harness) -> Result<u32> {
    let client = cluster.client().await?;
    apply(&client, POD).await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    for _ in 0..240 {
        let pod = pods.get("lone").await?;
        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
        if let Some(ip) = ip {
            if let Ok(resp) = reqwest::get(format!("http://{ip}:8080/")).await {
                let info: serde_json::Value = resp.json().await?;
                return info["pid"].as_u64().map(|p| p as u32).context("no pid");
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!("the pod never answered")
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Live processes whose command line names `dir` (every component gets paths in it).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains(&needle) && alive(pid)).then(|| format!("{pid}: {cmdline}"))
        })
        .collect()
}
