//! A grape-node server process for the benchmark.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use super::Args;

/// A grape-node started from the binary next to this one, killed on drop.
pub struct LocalNode {
    child: Child,
    pub http_url: String,
    pub grpc_url: String,
}

impl LocalNode {
    /// The address to benchmark: `--url`, or that of a node started here (with data in
    /// `--data-dir` or else `temp`), picked by `address`.
    pub fn unless_given(
        args: &Args,
        temp: &Path,
        address: impl Fn(&LocalNode) -> String,
    ) -> anyhow::Result<(String, Option<LocalNode>)> {
        if let Some(url) = &args.url {
            return Ok((url.clone(), None));
        }
        let dir = args.data_dir.clone().unwrap_or_else(|| temp.to_path_buf());
        let node = LocalNode::start(dir)?;
        Ok((address(&node), Some(node)))
    }

    pub fn start(data_dir: PathBuf) -> anyhow::Result<LocalNode> {
        let exe = std::env::current_exe()?;
        let binary = exe.with_file_name("grape-node");
        let (http, grpc) = (free_port()?, free_port()?);
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1"])
            .args(["--http-port", &http.to_string()])
            .args(["--grpc-port", &grpc.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "start {} (build it with the same profile)",
                    binary.display()
                )
            })?;
        Ok(LocalNode {
            child,
            http_url: format!("http://127.0.0.1:{http}"),
            grpc_url: format!("http://127.0.0.1:{grpc}"),
        })
    }

    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
