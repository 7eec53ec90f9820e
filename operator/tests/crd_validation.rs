//! The generated CRDs on the real API server: they are accepted (structural schemas), and
//! the CEL rules refuse invalid specs with their messages. Every create is a dry run, so no
//! operator acts on them and the scenario runs on an outside cluster too (`common::Scenario`).

mod common;

use anyhow::{bail, Result};
use grape_operator::crd::{ShardPlacement, VectorCluster};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use serde_json::{json, Value};

const NS: &str = "validation";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_specs_are_refused_by_the_api_server() -> Result<()> {
    let scenario = common::Scenario::start(NS).await?;
    let client = scenario.client.clone();
    // Untyped, so that specs the Rust types could not even represent reach the server.
    let resource = |r: ApiResource| Api::<DynamicObject>::namespaced_with(client.clone(), NS, &r);
    let clusters = resource(ApiResource::erase::<VectorCluster>(&()));
    let placements = resource(ApiResource::erase::<ShardPlacement>(&()));

    let cluster = |name: &str, spec: Value| {
        json!({"apiVersion": "grape.io/v1alpha1", "kind": "VectorCluster",
               "metadata": {"name": name}, "spec": spec})
    };
    let valid = cluster(
        "good",
        json!({
            "replicas": 3, "image": "grape-node:1", "storage": {"size": "1Gi"},
            "collectionDefaults": {"replicationFactor": 3, "writeConsistencyFactor": 2},
        }),
    );
    create(&clusters, valid).await?;

    let too_few = cluster(
        "too-few",
        json!({
            "replicas": 1, "image": "grape-node:1", "storage": {"size": "1Gi"},
            "collectionDefaults": {"replicationFactor": 2},
        }),
    );
    refused(
        &clusters,
        too_few,
        "spec.replicas must be at least spec.collectionDefaults.replicationFactor",
    )
    .await?;
    let consistency = cluster(
        "wcf",
        json!({
            "replicas": 3, "image": "grape-node:1", "storage": {"size": "1Gi"},
            "collectionDefaults": {"replicationFactor": 1, "writeConsistencyFactor": 2},
        }),
    );
    refused(
        &clusters,
        consistency,
        "writeConsistencyFactor cannot exceed replicationFactor",
    )
    .await?;
    let zero = cluster(
        "zero",
        json!({"replicas": 0, "image": "grape-node:1", "storage": {"size": "1Gi"}}),
    );
    refused(&clusters, zero, "spec.replicas must be at least 1").await?;
    let policy = cluster(
        "policy",
        json!({
            "replicas": 1, "image": "grape-node:1", "storage": {"size": "1Gi", "retentionPolicy": "Forget"},
        }),
    );
    refused(&clusters, policy, "Unsupported value: \"Forget\"").await?;

    let placement = |name: &str, spec: Value| {
        json!({"apiVersion": "grape.io/v1alpha1", "kind": "ShardPlacement",
               "metadata": {"name": name}, "spec": spec})
    };
    create(
        &placements,
        placement(
            "balanced",
            json!({"clusterRef": "good", "mode": "Balanced"}),
        ),
    )
    .await?;
    let manual = placement("manual", json!({"clusterRef": "good", "mode": "Manual"}));
    refused(&placements, manual, "mode Manual needs spec.shards").await?;
    let pinned = placement(
        "pinned",
        json!({
            "clusterRef": "good", "mode": "Manual", "shards": [{"shard": 0, "nodes": ["good-0", "good-1"]}],
        }),
    );
    create(&placements, pinned).await?;
    scenario.finish().await
}

/// A create that the API server validates in full and does not store.
fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..Default::default()
    }
}

async fn create(api: &Api<DynamicObject>, object: Value) -> Result<()> {
    api.create(&dry_run(), &serde_json::from_value(object)?)
        .await?;
    Ok(())
}

/// Creating `object` fails with 422 and a message containing `message`.
async fn refused(api: &Api<DynamicObject>, object: Value, message: &str) -> Result<()> {
    let name = object["metadata"]["name"].clone();
    match api
        .create(&dry_run(), &serde_json::from_value(object)?)
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 422 && status.message.contains(message) => {
            Ok(())
        }
        other => bail!("{name}: expected a 422 saying {message:?}, got {other:?}"),
    }
}
