//! The Helm chart (`helm/grape-operator`), rendered by the real helm CLI (`e2e/harness
//! helm`): it lints, its RBAC grants exactly the permissions of
//! `grape_operator::permissions` (no more, no wildcard), cluster-wide or per watched
//! namespace, the operator Deployment is hardened and elects a leader, every dashboard
//! becomes a labelled ConfigMap, and the values schema refuses bad values.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use grape_operator::permissions::{Scope, PERMISSIONS};
use serde::Deserialize;
use serde_json::Value;

/// The release namespace of every rendering.
const NS: &str = "grape-system";

fn root() -> PathBuf {
    grape_k8s_harness::checkout()
}

fn chart() -> PathBuf {
    root().join("helm/grape-operator")
}

/// Runs `e2e/harness helm ARGS` (helm is built from Go modules on first use, then cached).
fn helm(args: &[&str]) -> Result<std::process::Output> {
    Command::new("bash")
        .arg(root().join("e2e/harness"))
        .arg("helm")
        .args(args)
        .output()
        .context("running e2e/harness helm")
}

/// `helm template` of the chart with `--set` values, as parsed documents.
fn render(sets: &[&str]) -> Result<Vec<Value>> {
    let chart = chart();
    let mut args = vec![
        "template",
        "grape-operator",
        chart.to_str().context("chart path")?,
        "--namespace",
        NS,
        // helm built from modules defaults to Kubernetes v1.20; the chart needs >= 1.30.
        "--kube-version",
        "1.34.4",
    ];
    for set in sets {
        args.extend(["--set", set]);
    }
    let out = helm(&args)?;
    ensure!(
        out.status.success(),
        "helm template {sets:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = Value::deserialize(doc)?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn str_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A grant of one verb on one resource of one group.
type Grant = (String, String, String);

/// The grants of a Role's or ClusterRole's rules; refuses what a least-privilege rule never
/// needs: wildcards, non-resource URLs, a rule without verbs or resources.
fn grants(role: &Value) -> Result<BTreeSet<Grant>> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().context("no rules")? {
        ensure!(rule.get("nonResourceURLs").is_none(), "{rule}");
        ensure!(rule.get("resourceNames").is_none(), "{rule}");
        let (groups, resources, verbs) = (
            str_list(&rule["apiGroups"]),
            str_list(&rule["resources"]),
            str_list(&rule["verbs"]),
        );
        ensure!(
            !groups.is_empty() && !resources.is_empty() && !verbs.is_empty(),
            "incomplete rule {rule}"
        );
        for item in groups.iter().chain(&resources).chain(&verbs) {
            ensure!(!item.contains('*'), "wildcard in {rule}");
        }
        for group in &groups {
            for resource in &resources {
                for verb in &verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// What `grape_operator::permissions` says the operator needs in `scope`.
fn needed(scope: Scope) -> BTreeSet<Grant> {
    PERMISSIONS
        .iter()
        .filter(|p| p.scope == scope)
        .flat_map(|p| {
            p.verbs
                .iter()
                .map(|v| (p.group.to_string(), p.resource.to_string(), v.to_string()))
        })
        .collect()
}

/// Fails with the difference when the chart grants more or less than the operator needs.
fn assert_exact(what: &str, granted: &BTreeSet<Grant>, needed: &BTreeSet<Grant>) -> Result<()> {
    let extra: Vec<_> = granted.difference(needed).collect();
    let missing: Vec<_> = needed.difference(granted).collect();
    ensure!(
        extra.is_empty() && missing.is_empty(),
        "{what}: grants beyond operator/src/permissions.rs {extra:?}, missing {missing:?}"
    );
    Ok(())
}

/// The binding names the chart's ServiceAccount in the release namespace and `role_kind`.
fn assert_binds(binding: &Value, role_kind: &str, role: &str) -> Result<()> {
    ensure!(binding["roleRef"]["kind"] == role_kind, "{binding}");
    ensure!(binding["roleRef"]["name"] == role, "{binding}");
    let subjects = binding["subjects"].as_array().context("no subjects")?;
    ensure!(subjects.len() == 1, "{binding}");
    let subject = &subjects[0];
    ensure!(
        subject["kind"] == "ServiceAccount"
            && subject["name"] == "grape-operator"
            && subject["namespace"] == NS,
        "{binding}"
    );
    Ok(())
}

/// The leader-election Role: the Lease in the release namespace only.
fn assert_lease_role(docs: &[Value]) -> Result<()> {
    let roles = of_kind(docs, "Role");
    let lease = roles
        .iter()
        .find(|r| r["metadata"]["name"] == "grape-operator-leader-election")
        .context("no leader-election Role")?;
    ensure!(lease["metadata"]["namespace"] == NS);
    assert_exact("Lease Role", &grants(lease)?, &needed(Scope::Own))?;
    let bindings = of_kind(docs, "RoleBinding");
    let binding = bindings
        .iter()
        .find(|b| b["metadata"]["name"] == "grape-operator-leader-election")
        .context("no leader-election RoleBinding")?;
    assert_binds(binding, "Role", "grape-operator-leader-election")
}

#[test]
fn chart_lints_with_default_and_namespaced_values() -> Result<()> {
    let chart = chart();
    let chart = chart.to_str().context("chart path")?;
    for extra in [&[][..], &["--set", "watchNamespaces={team-a,team-b}"][..]] {
        let mut args = vec!["lint", "--strict", chart, "--kube-version", "1.34.4"];
        args.extend(extra);
        let out = helm(&args)?;
        ensure!(
            out.status.success(),
            "helm lint {extra:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[test]
fn cluster_role_grants_exactly_what_the_operator_uses() -> Result<()> {
    let docs = render(&[])?;
    let cluster_roles = of_kind(&docs, "ClusterRole");
    ensure!(cluster_roles.len() == 1, "{cluster_roles:?}");
    assert_exact(
        "ClusterRole",
        &grants(cluster_roles[0])?,
        &needed(Scope::Watched),
    )?;
    let bindings = of_kind(&docs, "ClusterRoleBinding");
    ensure!(bindings.len() == 1);
    assert_binds(bindings[0], "ClusterRole", "grape-operator")?;
    // Besides the ClusterRole, only the Lease Role.
    ensure!(of_kind(&docs, "Role").len() == 1);
    assert_lease_role(&docs)
}

#[test]
fn watched_namespaces_get_roles_and_nothing_is_cluster_wide() -> Result<()> {
    let docs = render(&["watchNamespaces={team-a,team-b}"])?;
    ensure!(of_kind(&docs, "ClusterRole").is_empty());
    ensure!(of_kind(&docs, "ClusterRoleBinding").is_empty());
    for namespace in ["team-a", "team-b"] {
        let in_ns = |kind: &str| -> Result<Value> {
            of_kind(&docs, kind)
                .into_iter()
                .find(|d| {
                    d["metadata"]["namespace"] == namespace
                        && d["metadata"]["name"] == "grape-operator"
                })
                .cloned()
                .with_context(|| format!("no {kind} in {namespace}"))
        };
        let role = in_ns("Role")?;
        assert_exact(
            &format!("Role in {namespace}"),
            &grants(&role)?,
            &needed(Scope::Watched),
        )?;
        assert_binds(&in_ns("RoleBinding")?, "Role", "grape-operator")?;
    }
    assert_lease_role(&docs)?;
    let deployment = of_kind(&docs, "Deployment")[0];
    let args = str_list(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    ensure!(
        args.contains(&"--watch-namespaces=team-a,team-b".to_string()),
        "{args:?}"
    );
    Ok(())
}

#[test]
fn operator_deployment_is_hardened_and_elects_a_leader() -> Result<()> {
    let docs = render(&["replicaCount=2"])?;
    let deployments = of_kind(&docs, "Deployment");
    ensure!(deployments.len() == 1);
    let spec = &deployments[0]["spec"];
    ensure!(spec["replicas"] == 2);
    let pod = &spec["template"]["spec"];
    ensure!(pod["serviceAccountName"] == "grape-operator");
    ensure!(pod["securityContext"]["runAsNonRoot"] == true, "{pod}");
    let container = &pod["containers"][0];
    ensure!(container["image"] == "grape-operator:0.1.0", "{container}");
    let args = str_list(&container["args"]);
    ensure!(
        args == ["run", "--leader-election", "--metrics-addr=0.0.0.0:8080"],
        "{args:?}"
    );
    let security = &container["securityContext"];
    ensure!(
        security["readOnlyRootFilesystem"] == true
            && security["allowPrivilegeEscalation"] == false
            && str_list(&security["capabilities"]["drop"]) == ["ALL"],
        "{security}"
    );
    ensure!(container["livenessProbe"]["httpGet"]["path"] == "/healthz");
    ensure!(container["readinessProbe"]["httpGet"]["path"] == "/readyz");
    ensure!(container["resources"]["requests"]["memory"].is_string());
    ensure!(container["resources"]["limits"]["memory"].is_string());
    // The Lease identity and namespace come from the downward API.
    let env = container["env"].as_array().context("no env")?;
    for name in ["POD_NAME", "POD_NAMESPACE"] {
        ensure!(
            env.iter()
                .any(|e| e["name"] == name && e["valueFrom"]["fieldRef"].is_object()),
            "{name} missing from {env:?}"
        );
    }
    let services = of_kind(&docs, "Service");
    ensure!(services.len() == 1 && services[0]["spec"]["ports"][0]["port"] == 8080);
    Ok(())
}

#[test]
fn every_dashboard_is_a_labelled_config_map() -> Result<()> {
    let mut files: Vec<String> = std::fs::read_dir(chart().join("dashboards"))?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    files.sort();
    ensure!(files.len() >= 5, "{files:?}");
    let docs = render(&[])?;
    let maps = of_kind(&docs, "ConfigMap");
    for file in &files {
        let map = maps
            .iter()
            .find(|m| m["data"].get(file).is_some())
            .with_context(|| format!("no ConfigMap holds {file}"))?;
        ensure!(map["metadata"]["labels"]["grafana_dashboard"] == "1");
        let text = map["data"][file].as_str().context("not text")?;
        let dashboard: Value = serde_json::from_str(text).with_context(|| file.clone())?;
        ensure!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    }
    // Monitors only when asked (they need the prometheus-operator CRDs).
    ensure!(of_kind(&docs, "ServiceMonitor").is_empty() && of_kind(&docs, "PodMonitor").is_empty());
    let monitored = render(&[
        "metrics.serviceMonitor.enabled=true",
        "metrics.grapeNodes.enabled=true",
        "dashboards.enabled=false",
    ])?;
    ensure!(of_kind(&monitored, "ServiceMonitor").len() == 1);
    ensure!(of_kind(&monitored, "PodMonitor").len() == 1);
    ensure!(of_kind(&monitored, "ConfigMap").is_empty());
    Ok(())
}

#[test]
fn values_schema_refuses_bad_values() -> Result<()> {
    for bad in [
        "replicaCount=many",
        "unknownKey=1",
        "watchNamespaces={Not_A_Namespace}",
        "metrics.port=70000",
        // Two replicas without leader election would both reconcile.
        "replicaCount=2,leaderElection.enabled=false",
    ] {
        let error = render(&[bad])
            .err()
            .with_context(|| format!("{bad} accepted"))?;
        ensure!(
            format!("{error:#}").contains("schema"),
            "{bad}: not a schema error: {error:#}"
        );
    }
    Ok(())
}
