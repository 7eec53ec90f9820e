//! N nodes started the way issue 5 describes: the first with its own `--uri` and no
//! bootstrap (it becomes a one-node cluster), every other one bootstrapping from the first.

use std::ffi::{OsStr, OsString};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::error::Result;
use crate::node::{NodeBuilder, NodeProcess};
use crate::wait::wait_until;

/// Starts a [`Cluster`]; every node gets the same extra arguments and environment.
#[derive(Debug)]
pub struct ClusterBuilder {
    binary: PathBuf,
    size: usize,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl ClusterBuilder {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Starts the first node and waits until it is ready, then the others one at a time,
    /// each bootstrapping from the first.
    pub fn start(self) -> Result<Cluster> {
        let first = self.node()?.start()?;
        let seed = first.p2p_uri();
        let mut nodes = vec![first];
        for _ in 1..self.size {
            nodes.push(self.node()?.bootstrap(seed.clone()).start()?);
        }
        Ok(Cluster { nodes })
    }

    fn node(&self) -> Result<NodeBuilder> {
        let builder = NodeProcess::builder(&self.binary)?
            .cluster_member()
            .args(&self.args);
        Ok(self
            .env
            .iter()
            .fold(builder, |builder, (key, value)| builder.env(key, value)))
    }
}

/// Several `grape-node` processes, each on its own loopback address; all killed on drop.
#[derive(Debug)]
pub struct Cluster {
    nodes: Vec<NodeProcess>,
}

impl Cluster {
    pub fn builder(binary: impl Into<PathBuf>, size: usize) -> ClusterBuilder {
        ClusterBuilder {
            binary: binary.into(),
            size,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// `size` nodes with default settings, each ready.
    pub fn start(binary: impl Into<PathBuf>, size: usize) -> Result<Cluster> {
        Cluster::builder(binary, size).start()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, i: usize) -> &NodeProcess {
        &self.nodes[i]
    }

    /// For faults: `cluster.node_mut(0).kill9()`.
    pub fn node_mut(&mut self, i: usize) -> &mut NodeProcess {
        &mut self.nodes[i]
    }

    pub fn nodes(&self) -> &[NodeProcess] {
        &self.nodes
    }

    /// Adds a node started elsewhere (e.g. one that joined later, to scale out).
    pub fn push(&mut self, node: NodeProcess) {
        self.nodes.push(node);
    }

    pub fn ips(&self) -> Vec<Ipv4Addr> {
        self.nodes.iter().map(NodeProcess::ip).collect()
    }

    pub fn rest_urls(&self) -> Vec<String> {
        self.nodes.iter().map(NodeProcess::rest_url).collect()
    }

    pub fn grpc_urls(&self) -> Vec<String> {
        self.nodes.iter().map(NodeProcess::grpc_url).collect()
    }

    /// Waits until every node's `GET /cluster` lists all the cluster's peers.
    pub fn wait_formed(&self, timeout: Duration) -> Result<()> {
        let want = self.nodes.len();
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        wait_until(
            &format!("all {want} nodes to list {want} peers"),
            timeout,
            || {
                let views: Vec<(String, Value)> = self
                    .rest_urls()
                    .into_iter()
                    .map(|url| {
                        let view = cluster_view(&agent, &url);
                        (url, view)
                    })
                    .collect();
                if views.iter().all(|(_, view)| peer_count(view) == Some(want)) {
                    Ok(())
                } else {
                    let seen: Vec<String> = views
                        .iter()
                        .map(|(url, view)| format!("{url}/cluster -> {view}"))
                        .collect();
                    Err(seen.join("; "))
                }
            },
        )
    }
}

/// `GET /cluster`'s `result`, or the error as a JSON string (it ends up in the message).
fn cluster_view(agent: &ureq::Agent, base: &str) -> Value {
    let answer = agent
        .get(&format!("{base}/cluster"))
        .call()
        .map_err(|e| e.to_string())
        .and_then(|response| response.into_json::<Value>().map_err(|e| e.to_string()));
    match answer {
        Ok(body) => body.get("result").cloned().unwrap_or(body),
        Err(error) => Value::String(error),
    }
}

/// Entries of `peers` in Qdrant's `/cluster` result (`{"peers": {"<id>": {"uri": ..}}}`).
fn peer_count(view: &Value) -> Option<usize> {
    view.get("peers")?.as_object().map(|peers| peers.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn peers_are_counted_from_qdrants_cluster_shape() {
        let view = json!({
            "status": "enabled",
            "peer_id": 1,
            "peers": {"1": {"uri": "http://127.0.0.2:6335"}, "7": {"uri": "http://127.0.0.3:6335"}},
            "raft_info": {"term": 2, "commit": 9, "leader": 1, "role": "Leader", "is_voter": true},
        });
        assert_eq!(peer_count(&view), Some(2));
    }

    #[test]
    fn a_disabled_cluster_has_no_peer_count() {
        assert_eq!(peer_count(&json!({"status": "disabled"})), None);
        assert_eq!(peer_count(&json!("connection refused")), None);
    }
}
