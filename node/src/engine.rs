//! The engine: every collection on this node, their aliases and snapshots, usable in-process.
//!
//! Layout of the data directory: `meta/` (sled: collection metadata and aliases),
//! `collections/<name>/shards/<id>/` (WAL and checkpoints), `snapshots/<name>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::collection::{Collection, CollectionMeta, FieldIndex};
use crate::error::{GrapeError, Result};
use crate::snapshot::{self, SnapshotDescription};
use crate::types::*;

/// One change of `POST /collections/aliases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasOperation {
    CreateAlias {
        collection_name: String,
        alias_name: String,
    },
    DeleteAlias {
        alias_name: String,
    },
    RenameAlias {
        old_alias_name: String,
        new_alias_name: String,
    },
}

/// An alias and the collection it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasDescription {
    pub alias_name: String,
    pub collection_name: String,
}

/// A change of the collection metadata of a node or a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaChange {
    CreateCollection {
        name: String,
        meta: CollectionMeta,
    },
    DeleteCollection {
        name: String,
    },
    UpdateCollection {
        name: String,
        update: UpdateCollection,
    },
    CreateFieldIndex {
        name: String,
        field: String,
        schema: serde_json::Value,
    },
    DeleteFieldIndex {
        name: String,
        field: String,
    },
    UpdateAliases {
        operations: Vec<AliasOperation>,
    },
}

/// Where metadata changes go when the node is part of a cluster: the cluster's metadata
/// consensus, which applies them on every peer (installing collections through
/// [`Engine::install_collection`] and friends).
pub trait MetaConsensus: Send + Sync {
    /// Proposes a change and returns once this node applied it; `Ok(false)` when the change
    /// found nothing to change (e.g. deleting a missing collection).
    fn propose(&self, change: MetaChange) -> Result<bool>;
}

pub struct Engine {
    data_dir: PathBuf,
    db: sled::Db,
    collections_tree: sled::Tree,
    aliases_tree: sled::Tree,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    /// Alias → collection name.
    aliases: RwLock<BTreeMap<String, String>>,
    /// Set when the node is part of a cluster: metadata then lives in the cluster, not in
    /// this node's sled trees.
    consensus: OnceLock<Arc<dyn MetaConsensus>>,
    /// The node's defaults for parameters a create request omits (set once at start-up).
    collection_defaults: OnceLock<CollectionDefaults>,
}

/// Collection parameters a node applies when a create request omits them (`None`: the
/// built-in default, 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollectionDefaults {
    pub shard_number: Option<u32>,
    pub replication_factor: Option<u32>,
    pub write_consistency_factor: Option<u32>,
}

impl CollectionDefaults {
    /// Fills the parameters `request` leaves out.
    pub fn apply(&self, mut request: CreateCollection) -> CreateCollection {
        request.shard_number = request.shard_number.or(self.shard_number);
        request.replication_factor = request.replication_factor.or(self.replication_factor);
        request.write_consistency_factor = request
            .write_consistency_factor
            .or(self.write_consistency_factor);
        request
    }
}

impl Engine {
    /// Opens the engine on `data_dir`, loading every collection found there.
    pub fn open(data_dir: &Path) -> Result<Engine> {
        std::fs::create_dir_all(data_dir.join("collections"))
            .map_err(GrapeError::io("create data dir"))?;
        let db = sled::open(data_dir.join("meta")).map_err(sled_error("open metadata store"))?;
        let collections_tree = db
            .open_tree("collections")
            .map_err(sled_error("open collections tree"))?;
        let aliases_tree = db
            .open_tree("aliases")
            .map_err(sled_error("open aliases tree"))?;
        let aliases = aliases_tree
            .iter()
            .map(|entry| {
                let (k, v) = entry.map_err(sled_error("read aliases"))?;
                Ok((
                    String::from_utf8_lossy(&k).to_string(),
                    String::from_utf8_lossy(&v).to_string(),
                ))
            })
            .collect::<Result<_>>()?;
        let engine = Engine {
            data_dir: data_dir.to_path_buf(),
            db,
            collections_tree,
            aliases_tree,
            collections: RwLock::new(BTreeMap::new()),
            aliases: RwLock::new(aliases),
            consensus: OnceLock::new(),
            collection_defaults: OnceLock::new(),
        };
        engine.load_collections()?;
        Ok(engine)
    }

    /// Hands metadata over to a cluster; from then on changes are proposed to it.
    pub fn join_cluster(&self, consensus: Arc<dyn MetaConsensus>) {
        if self.consensus.set(consensus).is_err() {
            tracing::warn!("the engine already belongs to a cluster");
        }
    }

    fn consensus(&self) -> Option<&Arc<dyn MetaConsensus>> {
        self.consensus.get()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn load_collections(&self) -> Result<()> {
        let mut collections = self.collections.write();
        for entry in self.collections_tree.iter() {
            let (key, value) = entry.map_err(sled_error("read collections"))?;
            let name = String::from_utf8_lossy(&key).to_string();
            let meta: CollectionMeta = serde_json::from_slice(&value).map_err(|e| {
                GrapeError::Internal(format!("corrupt metadata of collection `{name}`: {e}"))
            })?;
            let collection = Collection::open(&name, &self.collection_dir(&name), meta)?;
            collections.insert(name, Arc::new(collection));
        }
        tracing::info!(collections = collections.len(), "engine opened");
        Ok(())
    }

    fn collection_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("collections").join(name)
    }

    fn snapshots_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("snapshots").join(name)
    }

    /// Sets the defaults for parameters create requests omit; only the first call counts.
    pub fn set_collection_defaults(&self, defaults: CollectionDefaults) {
        let _ = self.collection_defaults.set(defaults);
    }

    /// Creates a collection; fails if the name is taken.
    pub fn create_collection(&self, name: &str, request: CreateCollection) -> Result<()> {
        validate_collection_name(name)?;
        let defaults = self.collection_defaults.get().copied().unwrap_or_default();
        let meta = CollectionMeta {
            config: config_from_request(defaults.apply(request))?,
            payload_schema: BTreeMap::new(),
        };
        if let Some(consensus) = self.consensus() {
            let name = name.to_string();
            return consensus
                .propose(MetaChange::CreateCollection { name, meta })
                .map(|_| ());
        }
        let mut collections = self.collections.write();
        if collections.contains_key(name) || self.alias_target(name).is_some() {
            return Err(GrapeError::CollectionExists(name.to_string()));
        }
        let dir = self.collection_dir(name);
        // A directory left by an interrupted delete must not leak into the new collection.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(GrapeError::io("remove stale collection dir"))?;
        }
        let collection = Collection::open(name, &dir, meta.clone())?;
        self.persist_meta(name, &meta)?;
        collections.insert(name.to_string(), Arc::new(collection));
        Ok(())
    }

    /// Deletes a collection and its aliases; returns whether it existed.
    pub fn delete_collection(&self, name: &str) -> Result<bool> {
        let name = self.resolve(name).unwrap_or_else(|| name.to_string());
        if let Some(consensus) = self.consensus() {
            return consensus.propose(MetaChange::DeleteCollection { name });
        }
        let removed = self.collections.write().remove(&name);
        if removed.is_none() {
            return Ok(false);
        }
        self.collections_tree
            .remove(name.as_bytes())
            .map_err(sled_error("delete collection"))?;
        let mut aliases = self.aliases.write();
        aliases.retain(|_, target| *target != name);
        self.persist_aliases(&aliases)?;
        let dir = self.collection_dir(&name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove collection files");
        }
        Ok(true)
    }

    pub fn list_collections(&self) -> Vec<String> {
        self.collections.read().keys().cloned().collect()
    }

    /// True if a collection (or an alias) of that name exists.
    pub fn collection_exists(&self, name: &str) -> bool {
        self.collection(name).is_ok()
    }

    /// The collection named `name`, directly or through an alias.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        let target = self.resolve(name).unwrap_or_else(|| name.to_string());
        self.collections
            .read()
            .get(&target)
            .cloned()
            .ok_or_else(|| GrapeError::CollectionNotFound(name.to_string()))
    }

    /// Updates HNSW, quantization and collection parameters. New HNSW settings apply to
    /// vectors inserted afterwards (existing graphs are kept); a changed quantization
    /// rebuilds the codes.
    pub fn update_collection(&self, name: &str, update: UpdateCollection) -> Result<()> {
        let collection = self.collection(name)?;
        if let Some(consensus) = self.consensus() {
            let name = collection.name().to_string();
            return consensus
                .propose(MetaChange::UpdateCollection { name, update })
                .map(|_| ());
        }
        let mut meta = collection.meta();
        apply_update(&mut meta.config, &update)?;
        self.persist_meta(collection.name(), &meta)?;
        collection.set_meta(meta)?;
        Ok(())
    }

    /// Declares a payload field index; it shows in `payload_schema`.
    pub fn create_field_index(
        &self,
        name: &str,
        field: &str,
        schema: serde_json::Value,
    ) -> Result<()> {
        crate::payload::JsonPath::parse(field)
            .map_err(|e| GrapeError::bad_input(format!("invalid field name `{field}`: {e}")))?;
        crate::shard::FieldSchema::parse(&schema).map_err(|e| GrapeError::bad_input(e.0))?;
        let collection = self.collection(name)?;
        if let Some(consensus) = self.consensus() {
            let (name, field) = (collection.name().to_string(), field.to_string());
            let change = MetaChange::CreateFieldIndex {
                name,
                field,
                schema,
            };
            consensus.propose(change)?;
            return collection.wait_indexes_applied();
        }
        let mut meta = collection.meta();
        meta.payload_schema
            .insert(field.to_string(), FieldIndex { schema });
        self.persist_meta(collection.name(), &meta)?;
        collection.set_meta(meta)?;
        Ok(())
    }

    pub fn delete_field_index(&self, name: &str, field: &str) -> Result<()> {
        let collection = self.collection(name)?;
        if let Some(consensus) = self.consensus() {
            let (name, field) = (collection.name().to_string(), field.to_string());
            consensus.propose(MetaChange::DeleteFieldIndex { name, field })?;
            return collection.wait_indexes_applied();
        }
        let mut meta = collection.meta();
        meta.payload_schema.remove(field);
        self.persist_meta(collection.name(), &meta)?;
        collection.set_meta(meta)?;
        Ok(())
    }

    /// Applies alias changes in order; all or nothing.
    pub fn update_aliases(&self, operations: &[AliasOperation]) -> Result<()> {
        if let Some(consensus) = self.consensus() {
            let operations = operations.to_vec();
            return consensus
                .propose(MetaChange::UpdateAliases { operations })
                .map(|_| ());
        }
        let collections = self.collections.read();
        let mut aliases = self.aliases.write();
        let mut updated = aliases.clone();
        apply_alias_operations(&mut updated, |c| collections.contains_key(c), operations)?;
        self.persist_aliases(&updated)?;
        *aliases = updated;
        Ok(())
    }

    pub fn list_aliases(&self) -> Result<Vec<AliasDescription>> {
        Ok(self
            .aliases
            .read()
            .iter()
            .map(|(alias, target)| AliasDescription {
                alias_name: alias.clone(),
                collection_name: target.clone(),
            })
            .collect())
    }

    /// Aliases naming `collection`.
    pub fn aliases_of(&self, collection: &str) -> Result<Vec<String>> {
        Ok(self
            .aliases
            .read()
            .iter()
            .filter(|(_, target)| *target == collection)
            .map(|(alias, _)| alias.clone())
            .collect())
    }

    fn alias_target(&self, alias: &str) -> Option<String> {
        self.aliases.read().get(alias).cloned()
    }

    /// The collection an alias names, or `None` when `name` is not an alias.
    fn resolve(&self, name: &str) -> Option<String> {
        if self.collections.read().contains_key(name) {
            return None;
        }
        self.alias_target(name)
    }

    /// Makes a collection of the cluster available on this node (under a new or the same
    /// name), replacing what was there.
    pub fn install_collection(&self, collection: Arc<Collection>) {
        let name = collection.name().to_string();
        self.collections.write().insert(name, collection);
    }

    /// Forgets a collection the cluster deleted; returns it so its files can be removed.
    pub fn uninstall_collection(&self, name: &str) -> Option<Arc<Collection>> {
        self.collections.write().remove(name)
    }

    /// Replaces every alias with the cluster's.
    pub fn set_aliases(&self, aliases: BTreeMap<String, String>) {
        *self.aliases.write() = aliases;
    }

    pub fn create_snapshot(&self, name: &str) -> Result<SnapshotDescription> {
        let collection = self.collection(name)?;
        snapshot::create(&collection, &self.snapshots_dir(collection.name()))
    }

    pub fn list_snapshots(&self, name: &str) -> Result<Vec<SnapshotDescription>> {
        let collection = self.collection(name)?;
        snapshot::list(&self.snapshots_dir(collection.name()))
    }

    /// The file of a snapshot, for download.
    pub fn snapshot_path(&self, name: &str, snapshot_name: &str) -> Result<PathBuf> {
        let collection = self.collection(name)?;
        if snapshot_name.contains('/') || snapshot_name.starts_with('.') {
            return Err(GrapeError::bad_input(format!(
                "invalid snapshot name `{snapshot_name}`"
            )));
        }
        let path = self.snapshots_dir(collection.name()).join(snapshot_name);
        if !path.is_file() {
            return Err(GrapeError::NotFound(format!(
                "Snapshot {snapshot_name} not found"
            )));
        }
        Ok(path)
    }

    pub fn delete_snapshot(&self, name: &str, snapshot_name: &str) -> Result<()> {
        let path = self.snapshot_path(name, snapshot_name)?;
        std::fs::remove_file(path).map_err(GrapeError::io("delete snapshot"))
    }

    /// Replaces (or creates) collection `name` with the contents of a snapshot file.
    pub fn recover_snapshot(&self, name: &str, archive: &Path) -> Result<()> {
        validate_collection_name(name)?;
        if self.consensus().is_some() {
            return Err(GrapeError::bad_input(
                "recovering a collection from a snapshot is not supported in cluster mode yet",
            ));
        }
        let staging = self
            .data_dir
            .join("collections")
            .join(format!(".recover-{}", uuid::Uuid::new_v4()));
        let meta = match snapshot::unpack(archive, &staging) {
            Ok(meta) => meta,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        self.delete_collection(name)?;
        let dir = self.collection_dir(name);
        std::fs::rename(&staging, &dir).map_err(GrapeError::io("install recovered collection"))?;
        let collection = Collection::open(name, &dir, meta.clone())?;
        self.persist_meta(name, &meta)?;
        self.collections
            .write()
            .insert(name.to_string(), Arc::new(collection));
        Ok(())
    }

    /// Where uploaded snapshots are staged before recovery.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots").join(".uploads")
    }

    /// Checkpoints every collection so the next start replays nothing.
    pub fn shutdown(&self) -> Result<()> {
        for collection in self.collections.read().values() {
            collection.checkpoint()?;
        }
        self.flush()
    }

    fn persist_meta(&self, name: &str, meta: &CollectionMeta) -> Result<()> {
        let bytes = serde_json::to_vec(meta).expect("metadata serializes");
        self.collections_tree
            .insert(name.as_bytes(), bytes)
            .map_err(sled_error("write collection metadata"))?;
        self.flush()
    }

    fn persist_aliases(&self, aliases: &BTreeMap<String, String>) -> Result<()> {
        self.aliases_tree
            .clear()
            .map_err(sled_error("rewrite aliases"))?;
        for (alias, target) in aliases {
            self.aliases_tree
                .insert(alias.as_bytes(), target.as_bytes())
                .map_err(sled_error("write alias"))?;
        }
        self.flush()
    }

    fn flush(&self) -> Result<()> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(sled_error("flush metadata"))
    }
}

fn sled_error(context: &'static str) -> impl Fn(sled::Error) -> GrapeError {
    move |e| GrapeError::Internal(format!("{context}: {e}"))
}

/// Applies alias changes in order to `aliases`; `exists` tells which collections exist.
/// Fails (leaving `aliases` partly changed: callers work on a copy) at the first invalid one.
pub fn apply_alias_operations(
    aliases: &mut BTreeMap<String, String>,
    exists: impl Fn(&str) -> bool,
    operations: &[AliasOperation],
) -> Result<()> {
    for op in operations {
        match op {
            AliasOperation::CreateAlias {
                collection_name,
                alias_name,
            } => {
                if !exists(collection_name) {
                    return Err(GrapeError::CollectionNotFound(collection_name.clone()));
                }
                if exists(alias_name) {
                    return Err(GrapeError::bad_input(format!(
                        "Collection `{alias_name}` already exists!"
                    )));
                }
                aliases.insert(alias_name.clone(), collection_name.clone());
            }
            AliasOperation::DeleteAlias { alias_name } => {
                aliases.remove(alias_name).ok_or_else(|| {
                    GrapeError::NotFound(format!("Alias {alias_name} does not exists!"))
                })?;
            }
            AliasOperation::RenameAlias {
                old_alias_name,
                new_alias_name,
            } => {
                let target = aliases.remove(old_alias_name).ok_or_else(|| {
                    GrapeError::NotFound(format!("Alias {old_alias_name} does not exists!"))
                })?;
                aliases.insert(new_alias_name.clone(), target);
            }
        }
    }
    Ok(())
}

/// Names become directory names: refuse anything that could escape or confuse the filesystem.
pub fn validate_collection_name(name: &str) -> Result<()> {
    const FORBIDDEN: &[char] = &['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0'];
    if name.is_empty() || name.len() > 255 || name.starts_with('.') || name.contains(FORBIDDEN) {
        return Err(GrapeError::bad_input(format!(
            "Validation error in path parameters: collection name `{name}` must be 1-255 characters, not start with `.`, and not contain any of <>:\"/\\|?*"
        )));
    }
    Ok(())
}

/// Builds the stored configuration from a create request, rejecting invalid parameters.
pub fn config_from_request(request: CreateCollection) -> Result<CollectionConfig> {
    for (name, params) in request.vectors.named() {
        if params.size == 0 || params.size > 65_536 {
            return Err(GrapeError::bad_input(format!(
                "Validation error in JSON body: [vectors{}.size: value {} invalid, must be from 1 to 65536]",
                if name.is_empty() { String::new() } else { format!(".{name}") },
                params.size
            )));
        }
    }
    check_sparse_names(&request)?;
    check_quantization(&request)?;
    let hnsw_config = request
        .hnsw_config
        .map_or_else(HnswConfig::default, |d| HnswConfig::default().updated(&d));
    if hnsw_config.m < 2 {
        return Err(GrapeError::bad_input(
            "Validation error in JSON body: [hnsw_config.m: value must be >= 2]",
        ));
    }
    if hnsw_config.ef_construct < 4 {
        return Err(GrapeError::bad_input(
            "Validation error in JSON body: [hnsw_config.ef_construct: value must be >= 4]",
        ));
    }
    let shard_number = request.shard_number.unwrap_or(1);
    if shard_number == 0 {
        return Err(GrapeError::bad_input(
            "Validation error in JSON body: [shard_number: value 0 invalid, must be 1 or more]",
        ));
    }
    Ok(CollectionConfig {
        params: CollectionParams {
            vectors: request.vectors,
            shard_number,
            replication_factor: request.replication_factor.unwrap_or(1).max(1),
            write_consistency_factor: request.write_consistency_factor.unwrap_or(1).max(1),
            on_disk_payload: request.on_disk_payload.unwrap_or(true),
            sparse_vectors: request.sparse_vectors.filter(|s| !s.is_empty()),
        },
        hnsw_config,
        optimizer_config: OptimizersConfig::default(),
        wal_config: WalConfig::default(),
        quantization_config: request.quantization_config,
    })
}

/// The collection's and each vector's quantization settings are valid.
fn check_quantization(request: &CreateCollection) -> Result<()> {
    check_quantization_config("quantization_config", request.quantization_config.as_ref())?;
    for (name, params) in request.vectors.named() {
        let field = match name.as_str() {
            "" => "vectors.quantization_config".to_string(),
            name => format!("vectors.{name}.quantization_config"),
        };
        check_quantization_config(&field, params.quantization_config.as_ref())?;
    }
    Ok(())
}

fn check_quantization_config(field: &str, config: Option<&QuantizationConfig>) -> Result<()> {
    match config.map(QuantizationConfig::validate) {
        Some(Err(e)) => Err(GrapeError::bad_input(format!(
            "Validation error in JSON body: [{field}.{e}]"
        ))),
        _ => Ok(()),
    }
}

/// Sparse vectors are named, and a name is either dense or sparse.
fn check_sparse_names(request: &CreateCollection) -> Result<()> {
    let dense = request.vectors.named();
    for name in request.sparse_vectors.iter().flat_map(|s| s.keys()) {
        if name.is_empty() {
            return Err(GrapeError::bad_input(
                "Validation error in JSON body: [sparse_vectors: a sparse vector needs a non-empty name]",
            ));
        }
        if dense.contains_key(name) {
            return Err(GrapeError::bad_input(format!(
                "Validation error in JSON body: [sparse_vectors.{name}: the name is already used by a dense vector]"
            )));
        }
    }
    Ok(())
}

pub fn apply_update(config: &mut CollectionConfig, update: &UpdateCollection) -> Result<()> {
    if let Some(diff) = &update.quantization_config {
        check_quantization_config("quantization_config", diff.config().as_ref())?;
    }
    for (name, diff) in update.vectors.iter().flatten() {
        let quantization = diff.quantization_config.and_then(|d| d.config());
        check_quantization_config(
            &format!("vectors.{name}.quantization_config"),
            quantization.as_ref(),
        )?;
    }
    if let Some(diff) = &update.quantization_config {
        config.quantization_config = diff.config();
    }
    if let Some(diff) = &update.hnsw_config {
        config.hnsw_config = config.hnsw_config.updated(diff);
    }
    if let Some(params) = &update.params {
        if let Some(rf) = params.replication_factor {
            config.params.replication_factor = rf.max(1);
        }
        if let Some(wcf) = params.write_consistency_factor {
            config.params.write_consistency_factor = wcf.max(1);
        }
        if let Some(on_disk) = params.on_disk_payload {
            config.params.on_disk_payload = on_disk;
        }
    }
    if let Some(vectors) = &update.vectors {
        let mut named = config.params.vectors.named();
        for (name, diff) in vectors {
            let params = named.get_mut(name).ok_or_else(|| {
                GrapeError::bad_input(format!("Not existing vector name error: {name}"))
            })?;
            if let Some(hnsw) = &diff.hnsw_config {
                params.hnsw_config = Some(*hnsw);
            }
            if let Some(on_disk) = diff.on_disk {
                params.on_disk = Some(on_disk);
            }
            // "Disabled" removes the vector's own setting: the collection's applies again.
            if let Some(quantization) = diff.quantization_config {
                params.quantization_config = quantization.config();
            }
        }
        config.params.vectors = match &config.params.vectors {
            VectorsConfig::Single(_) => {
                VectorsConfig::Single(named.remove(DEFAULT_VECTOR_NAME).expect("default vector"))
            }
            VectorsConfig::Multi(_) => VectorsConfig::Multi(named),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_defaults_fill_what_a_create_request_omits() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        engine.set_collection_defaults(CollectionDefaults {
            shard_number: Some(3),
            replication_factor: Some(2),
            write_consistency_factor: None,
        });
        let create =
            |body: serde_json::Value| -> CreateCollection { serde_json::from_value(body).unwrap() };
        let vectors = serde_json::json!({"size": 4, "distance": "Dot"});
        engine
            .create_collection("implicit", create(serde_json::json!({"vectors": vectors})))
            .unwrap();
        let explicit = serde_json::json!({"vectors": vectors, "shard_number": 1});
        engine
            .create_collection("explicit", create(explicit))
            .unwrap();
        let params = |name: &str| engine.collection(name).unwrap().config().params;
        let implicit = params("implicit");
        assert_eq!(
            (
                implicit.shard_number,
                implicit.replication_factor,
                implicit.write_consistency_factor
            ),
            (3, 2, 1)
        );
        assert_eq!(params("explicit").shard_number, 1);
    }
}
