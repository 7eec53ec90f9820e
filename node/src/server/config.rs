//! Node configuration: command-line flags, environment variables and a YAML file.
//!
//! Every setting is a flag (`--http-port`), an environment variable (`GRAPE_HTTP_PORT`) and a
//! key of the YAML file given with `--config` (`http_port`). Precedence, highest first:
//! flag, environment, config file, built-in default. Clap resolves flags, environment and
//! defaults; values that clap took from a default are then replaced by the file's.

use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;

use crate::cluster::PeerRole;

#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "grape-node",
    version,
    about = "Grape vector database node: Qdrant-compatible REST and gRPC APIs",
    after_help = "Every flag can also be set with the environment variable GRAPE_<FLAG> \
                  (e.g. GRAPE_HTTP_PORT) or with a snake_case key in the YAML file given \
                  with --config. Precedence: flag > environment > config file > default."
)]
pub struct NodeConfig {
    /// Address the REST and gRPC APIs bind to.
    #[arg(long, env = "GRAPE_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port of the REST API.
    #[arg(long, env = "GRAPE_HTTP_PORT", default_value_t = 6333)]
    pub http_port: u16,
    /// Port of the gRPC API.
    #[arg(long, env = "GRAPE_GRPC_PORT", default_value_t = 6334)]
    pub grpc_port: u16,
    /// Port of the internal peer-to-peer API (cluster mode: Raft, forwarding, admin).
    #[arg(long, env = "GRAPE_P2P_PORT", default_value_t = 6335)]
    pub p2p_port: u16,
    /// This node's advertised internal address, e.g. http://node-0.grape:6335 (cluster mode).
    #[arg(long, env = "GRAPE_URI")]
    pub uri: Option<String>,
    /// Internal address of a peer to join (cluster mode).
    #[arg(long, env = "GRAPE_BOOTSTRAP")]
    pub bootstrap: Option<String>,
    /// `data` holds shard replicas; `query` is a stateless router (cluster mode, needs
    /// `--bootstrap`): it holds no replica, forwards every request to the data nodes and
    /// leaves the cluster when it stops.
    #[arg(long, env = "GRAPE_ROLE", value_enum, default_value = "data")]
    pub role: PeerRole,
    /// Upper bound, in MB/s, on the shard snapshots this node sends to peers during replica
    /// transfers (all transfers together); at least 1. Unlimited when unset.
    #[arg(long, env = "GRAPE_TRANSFER_RATE_LIMIT", value_parser = clap::value_parser!(u32).range(1..))]
    pub transfer_rate_limit: Option<u32>,
    /// Directory holding collections, write-ahead logs, checkpoints and snapshots.
    #[arg(long, env = "GRAPE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// When set, every API request must carry this key (`api-key` header or
    /// `Authorization: Bearer`; `api-key` metadata over gRPC).
    #[arg(long, env = "GRAPE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// When set, this key is also accepted, for reads only.
    #[arg(long, env = "GRAPE_READ_ONLY_API_KEY", hide_env_values = true)]
    pub read_only_api_key: Option<String>,
    /// PEM certificate chain; with `--tls-key`, REST and gRPC are served over TLS.
    #[arg(long, env = "GRAPE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "GRAPE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Log filter: a level (error, warn, info, debug, trace) or a tracing directive list.
    /// `RUST_LOG`, when set, takes precedence.
    #[arg(long, env = "GRAPE_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Shards of a new collection whose create request does not say (default 1).
    #[arg(long, env = "GRAPE_DEFAULT_SHARD_NUMBER")]
    pub default_shard_number: Option<u32>,
    /// Replicas per shard of a new collection whose create request does not say (default 1).
    #[arg(long, env = "GRAPE_DEFAULT_REPLICATION_FACTOR")]
    pub default_replication_factor: Option<u32>,
    /// Write consistency factor of a new collection whose create request does not say
    /// (default 1).
    #[arg(long, env = "GRAPE_DEFAULT_WRITE_CONSISTENCY_FACTOR")]
    pub default_write_consistency_factor: Option<u32>,
    /// YAML file with any of the settings above (snake_case keys).
    #[arg(long, env = "GRAPE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The YAML configuration file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub host: Option<String>,
    pub http_port: Option<u16>,
    pub grpc_port: Option<u16>,
    pub p2p_port: Option<u16>,
    pub uri: Option<String>,
    pub bootstrap: Option<String>,
    pub role: Option<PeerRole>,
    pub transfer_rate_limit: Option<u32>,
    pub data_dir: Option<PathBuf>,
    pub api_key: Option<String>,
    pub read_only_api_key: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub log_level: Option<String>,
    pub default_shard_number: Option<u32>,
    pub default_replication_factor: Option<u32>,
    pub default_write_consistency_factor: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Args(#[from] clap::Error),
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "TLS needs both a certificate (--tls-cert) and a key (--tls-key); only the {given} is set"
    )]
    HalfTls { given: &'static str },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
}

/// What a request may do with the key it presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything (the API key, or no key configured).
    Full,
    /// Reads only (the read-only key).
    ReadOnly,
    /// Nothing: a key is configured and the request has none that matches.
    Denied,
}

impl NodeConfig {
    /// How this node takes part in a cluster: `None` without `--uri` (a single node). A
    /// `--bootstrap` equal to `--uri` means "form the cluster", so that every member of a
    /// StatefulSet can be given the first pod's address.
    pub fn cluster_settings(&self) -> anyhow::Result<Option<crate::cluster::ClusterSettings>> {
        let Some(uri) = &self.uri else {
            if self.role == PeerRole::Query {
                anyhow::bail!(
                    "--role query needs --uri and --bootstrap: it only runs in a cluster"
                );
            }
            if self.bootstrap.is_some() {
                anyhow::bail!("--bootstrap needs --uri: the address peers reach this node at");
            }
            return Ok(None);
        };
        let listen =
            std::net::ToSocketAddrs::to_socket_addrs(&(self.host.as_str(), self.p2p_port))?
                .next()
                .ok_or_else(|| anyhow::anyhow!("--host {} resolves to no address", self.host))?;
        let uri = uri.trim_end_matches('/').to_string();
        let bootstrap = self
            .bootstrap
            .as_ref()
            .map(|b| b.trim_end_matches('/').to_string())
            .filter(|b| *b != uri);
        if self.role == PeerRole::Query && bootstrap.is_none() {
            anyhow::bail!("--role query needs --bootstrap: a data node of the cluster to join");
        }
        Ok(Some(crate::cluster::ClusterSettings {
            uri,
            bootstrap,
            role: self.role,
            listen,
            transfer_rate_limit: self.transfer_rate_limit.map(|mb| u64::from(mb) * 1_000_000),
        }))
    }

    /// The collection parameters used when a create request omits them.
    pub fn collection_defaults(&self) -> crate::engine::CollectionDefaults {
        crate::engine::CollectionDefaults {
            shard_number: self.default_shard_number,
            replication_factor: self.default_replication_factor,
            write_consistency_factor: self.default_write_consistency_factor,
        }
    }

    /// Parses the process's arguments and environment, then the config file; prints help or
    /// an error and exits on bad arguments.
    pub fn load() -> Result<NodeConfig, ConfigError> {
        let matches = NodeConfig::command().get_matches();
        NodeConfig::from_matches(&matches)
    }

    /// Like [`NodeConfig::load`] with explicit arguments (the first is the program name).
    pub fn load_from<I, T>(args: I) -> Result<NodeConfig, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = NodeConfig::command().try_get_matches_from(args)?;
        NodeConfig::from_matches(&matches)
    }

    /// Builds the configuration from parsed arguments, filling settings that were left at
    /// their default from the config file.
    pub fn from_matches(matches: &ArgMatches) -> Result<NodeConfig, ConfigError> {
        let mut config = NodeConfig::from_arg_matches(matches)?;
        if let Some(path) = config.config.clone() {
            let file = FileConfig::read(&path)?;
            config.fill_from_file(file, matches);
        }
        match (&config.tls_cert, &config.tls_key) {
            (Some(_), None) => Err(ConfigError::HalfTls {
                given: "certificate",
            }),
            (None, Some(_)) => Err(ConfigError::HalfTls { given: "key" }),
            _ => Ok(config),
        }
    }

    fn fill_from_file(&mut self, file: FileConfig, matches: &ArgMatches) {
        // A setting is taken from the file only when neither a flag nor the environment gave it.
        let unset = |id: &str| {
            matches!(
                matches.value_source(id),
                None | Some(ValueSource::DefaultValue)
            )
        };
        fn fill<T>(target: &mut T, value: Option<T>, unset: bool) {
            if let (true, Some(value)) = (unset, value) {
                *target = value;
            }
        }
        fill(&mut self.host, file.host, unset("host"));
        fill(&mut self.http_port, file.http_port, unset("http_port"));
        fill(&mut self.grpc_port, file.grpc_port, unset("grpc_port"));
        fill(&mut self.p2p_port, file.p2p_port, unset("p2p_port"));
        fill(&mut self.uri, file.uri.map(Some), unset("uri"));
        fill(
            &mut self.bootstrap,
            file.bootstrap.map(Some),
            unset("bootstrap"),
        );
        fill(&mut self.role, file.role, unset("role"));
        fill(&mut self.data_dir, file.data_dir, unset("data_dir"));
        fill(&mut self.api_key, file.api_key.map(Some), unset("api_key"));
        fill(
            &mut self.read_only_api_key,
            file.read_only_api_key.map(Some),
            unset("read_only_api_key"),
        );
        fill(
            &mut self.tls_cert,
            file.tls_cert.map(Some),
            unset("tls_cert"),
        );
        fill(&mut self.tls_key, file.tls_key.map(Some), unset("tls_key"));
        fill(&mut self.log_level, file.log_level, unset("log_level"));
        fill(
            &mut self.transfer_rate_limit,
            file.transfer_rate_limit.map(Some),
            unset("transfer_rate_limit"),
        );
        fill(
            &mut self.default_shard_number,
            file.default_shard_number.map(Some),
            unset("default_shard_number"),
        );
        fill(
            &mut self.default_replication_factor,
            file.default_replication_factor.map(Some),
            unset("default_replication_factor"),
        );
        fill(
            &mut self.default_write_consistency_factor,
            file.default_write_consistency_factor.map(Some),
            unset("default_write_consistency_factor"),
        );
    }

    /// What the presented key (if any) allows. Comparison is constant-time.
    pub fn access(&self, presented: Option<&str>) -> Access {
        if self.api_key.is_none() && self.read_only_api_key.is_none() {
            return Access::Full;
        }
        let Some(presented) = presented else {
            return Access::Denied;
        };
        let matches = |key: &Option<String>| {
            key.as_deref()
                .is_some_and(|k| constant_time_eq(k.as_bytes(), presented.as_bytes()))
        };
        if matches(&self.api_key) {
            Access::Full
        } else if matches(&self.read_only_api_key) {
            Access::ReadOnly
        } else {
            Access::Denied
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig::load_from(["grape-node"]).expect("defaults are valid")
    }
}

impl FileConfig {
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if text.trim().is_empty() {
            return Ok(FileConfig::default());
        }
        serde_yaml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Tests touching the process environment run one at a time.
    static ENV: Mutex<()> = Mutex::new(());

    fn yaml(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    fn with_env<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
        let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        let result = f();
        for (k, _) in vars {
            std::env::remove_var(k);
        }
        result
    }

    #[test]
    fn defaults() {
        let c = with_env(&[], || NodeConfig::load_from(["grape-node"]).unwrap());
        assert_eq!(c.host, "0.0.0.0");
        assert_eq!((c.http_port, c.grpc_port, c.p2p_port), (6333, 6334, 6335));
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.log_level, "info");
        assert!(c.api_key.is_none() && c.uri.is_none() && c.bootstrap.is_none());
    }

    #[test]
    fn file_overrides_defaults_env_overrides_file_flags_override_env() {
        let file = yaml(
            "host: 127.0.0.2\nhttp_port: 7000\ngrpc_port: 7001\np2p_port: 7002\n\
             data_dir: /from/file\napi_key: file-key\nuri: http://file:6335\nlog_level: debug\n",
        );
        let path = file.path().to_str().unwrap().to_string();
        let c = with_env(
            &[("GRAPE_GRPC_PORT", "8001"), ("GRAPE_DATA_DIR", "/from/env")],
            || {
                NodeConfig::load_from(["grape-node", "--config", &path, "--data-dir", "/from/flag"])
                    .unwrap()
            },
        );
        // File beats defaults.
        assert_eq!(c.host, "127.0.0.2");
        assert_eq!(c.http_port, 7000);
        assert_eq!(c.p2p_port, 7002);
        assert_eq!(c.api_key.as_deref(), Some("file-key"));
        assert_eq!(c.uri.as_deref(), Some("http://file:6335"));
        assert_eq!(c.log_level, "debug");
        // Environment beats the file.
        assert_eq!(c.grpc_port, 8001);
        // A flag beats the environment and the file.
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
    }

    #[test]
    fn a_flag_equal_to_the_default_still_beats_the_file() {
        let file = yaml("http_port: 7000\n");
        let path = file.path().to_str().unwrap().to_string();
        let c = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--config", &path, "--http-port", "6333"]).unwrap()
        });
        assert_eq!(c.http_port, 6333);
    }

    #[test]
    fn config_file_can_come_from_the_environment() {
        let file = yaml("bootstrap: http://peer:6335\n");
        let path = file.path().to_str().unwrap().to_string();
        let c = with_env(&[("GRAPE_CONFIG", &path)], || {
            NodeConfig::load_from(["grape-node"]).unwrap()
        });
        assert_eq!(c.bootstrap.as_deref(), Some("http://peer:6335"));
    }

    #[test]
    fn bad_config_files_and_flags_are_errors() {
        let unknown = yaml("http_prot: 1\n");
        let path = unknown.path().to_str().unwrap().to_string();
        let err = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--config", &path]).unwrap_err()
        });
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        let err = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--config", "/no/such/file.yaml"]).unwrap_err()
        });
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let err = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--http-port", "notaport"]).unwrap_err()
        });
        assert!(matches!(err, ConfigError::Args(_)));
    }

    #[test]
    fn tls_needs_both_certificate_and_key() {
        let err = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--tls-cert", "cert.pem"]).unwrap_err()
        });
        assert!(
            matches!(
                err,
                ConfigError::HalfTls {
                    given: "certificate"
                }
            ),
            "{err}"
        );
        let file = yaml("tls_key: key.pem\n");
        let path = file.path().to_str().unwrap().to_string();
        let err = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--config", &path]).unwrap_err()
        });
        assert!(
            matches!(err, ConfigError::HalfTls { given: "key" }),
            "{err}"
        );
        let c = with_env(&[("GRAPE_TLS_KEY", "key.pem")], || {
            NodeConfig::load_from(["grape-node", "--config", &path, "--tls-cert", "c.pem"]).unwrap()
        });
        assert_eq!(c.tls_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(c.tls_key, Some(PathBuf::from("key.pem")));
    }

    #[test]
    fn bootstrap_equal_to_own_uri_forms_the_cluster() {
        let uri = "http://grape-0.grape-headless:6335";
        let settings = |bootstrap: &str| {
            with_env(&[], || {
                NodeConfig::load_from([
                    "grape-node",
                    "--host",
                    "127.0.0.1",
                    "--uri",
                    uri,
                    "--bootstrap",
                    bootstrap,
                ])
                .unwrap()
            })
            .cluster_settings()
            .unwrap()
            .unwrap()
        };
        assert_eq!(settings(&format!("{uri}/")).bootstrap, None);
        let joining = settings("http://grape-0.grape-headless:6335/x");
        assert_eq!(
            joining.bootstrap.as_deref(),
            Some("http://grape-0.grape-headless:6335/x")
        );
    }

    #[test]
    fn a_query_node_must_join_a_cluster() {
        let load = |args: &[&str]| {
            let line = ["grape-node", "--host", "127.0.0.1"]
                .iter()
                .chain(args)
                .copied();
            with_env(&[], || NodeConfig::load_from(line).unwrap())
        };
        let uri = "http://10.0.0.9:6335";
        let alone = load(&["--role", "query"]).cluster_settings().unwrap_err();
        assert!(
            alone.to_string().contains("--uri and --bootstrap"),
            "{alone}"
        );
        let forming = load(&["--role", "query", "--uri", uri, "--bootstrap", uri]);
        let err = forming.cluster_settings().unwrap_err();
        assert!(err.to_string().contains("needs --bootstrap"), "{err}");
        let joining = load(&[
            "--role",
            "query",
            "--uri",
            uri,
            "--bootstrap",
            "http://d:6335",
        ]);
        let settings = joining.cluster_settings().unwrap().unwrap();
        assert_eq!(settings.role, PeerRole::Query);
        let file = yaml("role: query\n");
        let path = file.path().to_str().unwrap().to_string();
        assert_eq!(load(&["--config", &path]).role, PeerRole::Query);
        assert_eq!(load(&[]).role, PeerRole::Data);
        let bad = with_env(&[], || {
            NodeConfig::load_from(["grape-node", "--role", "router"]).unwrap_err()
        });
        assert!(matches!(bad, ConfigError::Args(_)));
    }

    #[test]
    fn collection_defaults_from_file_env_and_flags() {
        let file = yaml("default_shard_number: 4\ndefault_replication_factor: 2\n");
        let path = file.path().to_str().unwrap().to_string();
        let c = with_env(&[("GRAPE_DEFAULT_REPLICATION_FACTOR", "3")], || {
            NodeConfig::load_from([
                "grape-node",
                "--config",
                &path,
                "--default-write-consistency-factor",
                "2",
            ])
            .unwrap()
        });
        let defaults = c.collection_defaults();
        assert_eq!(defaults.shard_number, Some(4));
        assert_eq!(defaults.replication_factor, Some(3));
        assert_eq!(defaults.write_consistency_factor, Some(2));
        let none = with_env(&[], || NodeConfig::load_from(["grape-node"]).unwrap());
        assert_eq!(none.collection_defaults().shard_number, None);
    }

    #[test]
    fn access_by_key() {
        let open = with_env(&[], || NodeConfig::load_from(["grape-node"]).unwrap());
        assert_eq!(open.access(None), Access::Full);
        let c = with_env(&[], || {
            NodeConfig::load_from([
                "grape-node",
                "--api-key",
                "secret",
                "--read-only-api-key",
                "reader",
            ])
            .unwrap()
        });
        assert_eq!(c.access(Some("secret")), Access::Full);
        assert_eq!(c.access(Some("reader")), Access::ReadOnly);
        assert_eq!(c.access(Some("wrong")), Access::Denied);
        assert_eq!(c.access(None), Access::Denied);
    }
}
