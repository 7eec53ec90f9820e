//! Node configuration: command-line flags, environment variables and a YAML file.
//! (Skeleton: the REST/config work fills in env and YAML handling.)

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "grape-node",
    version,
    about = "Grape vector database node (Qdrant-compatible)"
)]
pub struct NodeConfig {
    #[arg(long, env = "GRAPE_HOST", default_value = "0.0.0.0")]
    pub host: String,
    #[arg(long, env = "GRAPE_HTTP_PORT", default_value_t = 6333)]
    pub http_port: u16,
    #[arg(long, env = "GRAPE_GRPC_PORT", default_value_t = 6334)]
    pub grpc_port: u16,
    #[arg(long, env = "GRAPE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}
