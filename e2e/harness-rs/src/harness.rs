//! Running `e2e/harness up` as a child process group and stopping it on drop.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};
use serde::Deserialize;
use tempfile::TempDir;

use crate::Error;

/// How long a started harness may take to report ready (the control plane, not the build).
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the harness gets to stop its pods and control plane before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// `DIR/harness.json`: where the running cluster is.
#[derive(Debug, Clone, Deserialize)]
pub struct Info {
    pub pid: u32,
    pub instance: u32,
    /// cluster-admin kubeconfig, reaching the API server on loopback.
    pub kubeconfig: PathBuf,
    /// The API server from the host, `https://127.0.0.1:PORT`.
    pub server: String,
    /// The API server from pods, `https://NODE_IP:PORT`.
    pub pod_server: String,
    pub node_name: String,
    /// The node's address: the bridge every pod's network namespace is joined to.
    pub node_ip: String,
    /// Pods get addresses from this range; the host reaches them directly.
    pub pod_cidr: String,
    /// Time from the harness's start to ready.
    pub startup_ms: u64,
}

/// Options for a cluster.
#[derive(Debug, Default)]
pub struct Builder {
    images: Vec<(String, PathBuf)>,
}

impl Builder {
    /// Containers of image `name` (any tag or registry) run the local binary `path`.
    /// `grape-node`, `grape-operator` and `e2e-sample` are mapped by default.
    pub fn image(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.images.push((name.into(), path.into()));
        self
    }

    /// Builds the binaries if they are not cached, starts the cluster and waits until it is
    /// ready.
    pub fn start(self) -> Result<Harness, Error> {
        let script = script();
        build(&script)?;
        let dir = tempfile::Builder::new()
            .prefix("grape-k8s-")
            .tempdir()
            .map_err(Error::TempDir)?;
        let log_path = dir.path().join("harness.log");
        let log = fs::File::create(&log_path).map_err(|source| Error::Read {
            path: log_path.clone(),
            source,
        })?;
        let mut cmd = Command::new("bash");
        cmd.arg(&script).arg("up").arg("--dir").arg(dir.path());
        for (name, path) in &self.images {
            cmd.arg("--image").arg(format!("{name}={}", path.display()));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(Error::Spawn)?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(Error::Spawn)?;
        let mut harness = Harness {
            dir: Some(dir),
            child,
            script,
            info: None,
        };
        harness.info = Some(harness.wait_ready()?);
        Ok(harness)
    }
}

/// A running cluster. Dropping it stops every process it started.
pub struct Harness {
    dir: Option<TempDir>,
    child: Child,
    script: PathBuf,
    info: Option<Info>,
}

impl Harness {
    /// A cluster with the default image mappings.
    pub fn start() -> Result<Harness, Error> {
        Builder::default().start()
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn info(&self) -> &Info {
        self.info.as_ref().expect("a started harness has its info")
    }

    /// The cluster-admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.info().kubeconfig
    }

    /// The cluster's state directory: `logs/` holds the control plane's logs, and
    /// `pods/<ns>_<name>_<uid>/logs/` each container's output.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the directory lives as long as the harness")
            .path()
    }

    /// The cluster-admin client configuration.
    pub async fn config(&self) -> Result<kube::Config, Error> {
        crate::cluster::config(self.kubeconfig()).await
    }

    /// A cluster-admin client.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        Ok(kube::Client::try_from(self.config().await?)?)
    }

    /// The process id of the harness (the leader of its process group).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self) -> Result<Info, Error> {
        let path = self.dir().join("harness.json");
        let started = Instant::now();
        loop {
            if let Ok(data) = fs::read(&path) {
                return serde_json::from_slice(&data)
                    .map_err(|source| Error::Parse { path, source });
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.not_ready(format!("it exited with {status}")));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(self.not_ready(format!("not ready after {READY_TIMEOUT:?}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn not_ready(&self, reason: String) -> Error {
        let log = self.dir().join("harness.log");
        Error::NotReady {
            tail: tail(&log, 4000),
            log,
            reason,
        }
    }

    /// SIGTERM to the harness, which stops pods and control plane; SIGKILL to the group if
    /// it takes too long; then `down` removes anything a killed harness left behind.
    fn stop(&mut self) {
        let Some(pgid) = Pid::from_raw(self.child.id() as i32) else {
            return;
        };
        if let Ok(None) = self.child.try_wait() {
            let _ = kill_process_group(pgid, Signal::TERM);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = kill_process_group(pgid, Signal::KILL);
        let _ = self.child.wait();
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("down")
            .arg("--dir")
            .arg(self.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop();
        // A failing test keeps the cluster's logs for whoever reads the failure.
        let keep = std::thread::panicking() || std::env::var_os("GRAPE_HARNESS_KEEP").is_some();
        if let Some(dir) = self.dir.take() {
            if keep {
                eprintln!("harness state and logs kept in {}", dir.keep().display());
            }
        }
    }
}

/// The `e2e/harness` script of this checkout.
fn script() -> PathBuf {
    crate::checkout().join("e2e/harness")
}

/// Runs `e2e/harness build` (a no-op once the binaries are cached), letting its progress
/// through to stderr: a cold build of the control plane takes minutes.
fn build(script: &Path) -> Result<(), Error> {
    let out = Command::new("bash")
        .arg(script)
        .arg("build")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| Error::Build {
            script: script.to_owned(),
            reason: e.to_string(),
        })?;
    if !out.success() {
        return Err(Error::Build {
            script: script.to_owned(),
            reason: format!("exited with {out}"),
        });
    }
    Ok(())
}

fn tail(path: &Path, bytes: u64) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s
}
