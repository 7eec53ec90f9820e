//! `kubectl apply --server-side` for multi-document YAML manifests.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::Client;
use serde::Deserialize;

use crate::Error;

/// The field manager of objects this crate applies.
const FIELD_MANAGER: &str = "grape-k8s-harness";

/// Applies every document of `yaml` with server-side apply, in order, and returns the objects
/// as the API server stored them. A namespaced object without a namespace goes to `default`.
pub async fn apply(client: &Client, yaml: &str) -> Result<Vec<DynamicObject>, Error> {
    let mut applied = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|source| Error::Manifest { index, source })?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject =
            serde_yaml::from_value(value).map_err(|source| Error::Manifest { index, source })?;
        applied.push(apply_one(client, index, obj).await?);
    }
    Ok(applied)
}

async fn apply_one(
    client: &Client,
    index: usize,
    obj: DynamicObject,
) -> Result<DynamicObject, Error> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let fail = |kind: &str, reason: String| Error::Apply {
        index,
        kind: kind.to_owned(),
        name: name.clone(),
        reason,
    };
    let types = obj
        .types
        .as_ref()
        .ok_or_else(|| fail("?", "no apiVersion/kind".into()))?;
    let gvk = GroupVersionKind::try_from(types).map_err(|e| fail(&types.kind, e.to_string()))?;
    let (resource, caps) = discovery::pinned_kind(client, &gvk).await?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            let ns = obj.metadata.namespace.as_deref().unwrap_or("default");
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(&name, &params, &Patch::Apply(&obj)).await?)
}
