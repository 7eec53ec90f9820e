//! One `grape-node` process on its own loopback address, with the faults a test inflicts on
//! it: `kill -9`, `SIGSTOP`/`SIGCONT`, `SIGTERM`, restart on the same data and address.
//!
//! The kit owns the node's temporary directory (`data/` and `node.log`). stdout and stderr
//! go to `node.log`, appended across restarts; when a test panics, dropping the node prints
//! the tail of that log, then kills the process.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::address::{io_error, Lease, Ports};
use crate::error::{KitError, Result};
use crate::wait::{poll, Probe};

/// How long a node may take to answer `/readyz` (debug builds on a loaded 2-core machine).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `terminate` waits for a clean exit before it kills.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of `node.log` printed when a test panics.
const PANIC_TAIL_LINES: usize = 60;
/// Log filter unless the test sets `GRAPE_LOG_LEVEL` or `--log-level` itself.
const DEFAULT_LOG_LEVEL: &str = "info,grape=debug";

/// How to start a node; get one from [`NodeProcess::builder`]. It already holds the node's
/// address, ports and directory, so a test can use them (in a config file, a certificate)
/// before the node starts.
#[derive(Debug)]
pub struct NodeBuilder {
    binary: PathBuf,
    lease: Lease,
    ports: Ports,
    dir: tempfile::TempDir,
    bootstrap: Option<String>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    listen_flags: bool,
    /// Runs in cluster mode (`--uri`); a single node runs without it.
    cluster_member: bool,
}

impl NodeBuilder {
    pub fn ip(&self) -> Ipv4Addr {
        self.lease.ip()
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// The kit-owned directory of this node (holds `data/` and `node.log`; a test may put
    /// its own files here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Joins the cluster through this peer (`--bootstrap`), e.g. another node's
    /// [`NodeProcess::p2p_uri`].
    pub fn bootstrap(mut self, peer_uri: impl Into<String>) -> Self {
        self.bootstrap = Some(peer_uri.into());
        self.cluster_member = true;
        self
    }

    /// An extra command-line argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> Self {
        args.into_iter().fold(self, |builder, arg| builder.arg(arg))
    }

    /// An environment variable for the node (inherited `GRAPE_*` and `RUST_LOG` are removed).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Leaves out `--host`, the port flags and `--uri`, for a test that sets them another
    /// way (a config file, the environment) from [`ip`](Self::ip) and [`ports`](Self::ports).
    pub fn without_listen_flags(mut self) -> Self {
        self.listen_flags = false;
        self
    }

    /// Starts the process and returns at once, without waiting for readiness (for nodes a
    /// plain-HTTP `/readyz` cannot reach, e.g. with TLS).
    pub fn spawn(self) -> Result<NodeProcess> {
        let mut node = NodeProcess {
            command: std::iter::once(self.binary.clone().into())
                .chain(self.command_line())
                .collect(),
            env: self.env,
            ip: self.lease.ip(),
            ports: self.ports,
            log_path: self.dir.path().join("node.log"),
            child: None,
            starts: 0,
            _lease: self.lease,
            dir: self.dir,
        };
        node.spawn_process()?;
        Ok(node)
    }

    /// Starts the process and waits until it answers `/readyz` and accepts gRPC connections.
    pub fn start(self) -> Result<NodeProcess> {
        let mut node = self.spawn()?;
        node.wait_ready(READY_TIMEOUT)?;
        Ok(node)
    }

    /// Runs the node in cluster mode, advertising its internal address (`--uri`); the first
    /// node of a cluster, which bootstraps no one, needs this.
    pub fn cluster_member(mut self) -> Self {
        self.cluster_member = true;
        self
    }

    fn command_line(&self) -> Vec<OsString> {
        let ip = self.lease.ip();
        let mut line: Vec<OsString> = Vec::new();
        if self.listen_flags {
            let flags = [
                ("--host", ip.to_string()),
                ("--http-port", self.ports.http.to_string()),
                ("--grpc-port", self.ports.grpc.to_string()),
                ("--p2p-port", self.ports.p2p.to_string()),
            ];
            for (flag, value) in flags {
                line.extend([flag.into(), value.into()]);
            }
            if self.cluster_member {
                line.extend(["--uri".into(), p2p_uri(ip, self.ports).into()]);
            }
        }
        if let Some(peer) = &self.bootstrap {
            line.extend(["--bootstrap".into(), peer.into()]);
        }
        line.extend(["--data-dir".into(), self.dir.path().join("data").into()]);
        line.extend(self.args.iter().cloned());
        line
    }
}

/// A running (or deliberately stopped) `grape-node`; killed when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    command: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    ip: Ipv4Addr,
    ports: Ports,
    log_path: PathBuf,
    child: Option<Child>,
    starts: u32,
    _lease: Lease,
    // Last, so the directory is removed after the process is gone.
    dir: tempfile::TempDir,
}

impl NodeProcess {
    /// A builder for a node run from `binary` (in `node/tests`:
    /// `env!("CARGO_BIN_EXE_grape-node")`), with a fresh address, ports and directory.
    pub fn builder(binary: impl Into<PathBuf>) -> Result<NodeBuilder> {
        let lease = Lease::acquire()?;
        let ports = lease.ports()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("grape-node-{}-", lease.ip()))
            .tempdir()
            .map_err(|source| io_error("create the node directory", source))?;
        Ok(NodeBuilder {
            binary: binary.into(),
            lease,
            ports,
            dir,
            bootstrap: None,
            args: Vec::new(),
            env: Vec::new(),
            listen_flags: true,
            cluster_member: false,
        })
    }

    /// A node with default settings, ready.
    pub fn start(binary: impl Into<PathBuf>) -> Result<NodeProcess> {
        NodeProcess::builder(binary)?.start()
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Base URL of the REST API, e.g. `http://127.0.0.2:6333`.
    pub fn rest_url(&self) -> String {
        format!("http://{}:{}", self.ip, self.ports.http)
    }

    /// URL of the gRPC API, e.g. `http://127.0.0.2:6334`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}:{}", self.ip, self.ports.grpc)
    }

    /// The internal address this node advertises (`--uri`), e.g. `http://127.0.0.2:6335`.
    pub fn p2p_uri(&self) -> String {
        p2p_uri(self.ip, self.ports)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The command-line arguments the node is started with (after the binary).
    pub fn command_line(&self) -> &[OsString] {
        &self.command[1..]
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (a paused process is alive).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The last `lines` lines of `node.log`.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }

    /// Waits until `/readyz` answers 200 and the gRPC port accepts connections; fails at
    /// once, with the log tail, if the process exits.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let (ip, ports) = (self.ip, self.ports);
        let readyz = format!("{}/readyz", self.rest_url());
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(1))
            .build();
        let waited = poll(&format!("{readyz} and gRPC"), timeout, || {
            if let Some(status) = self.exit_status() {
                return Probe::Fatal(self.exited(status));
            }
            if let Err(e) = agent.get(&readyz).call() {
                return Probe::NotYet(e.to_string());
            }
            match TcpStream::connect_timeout(&(ip, ports.grpc).into(), Duration::from_secs(1)) {
                Ok(_) => Probe::Ready(()),
                Err(e) => Probe::NotYet(format!("gRPC port: {e}")),
            }
        });
        waited.map_err(|error| match error {
            exited @ KitError::Exited { .. } => exited,
            other => KitError::NotReady {
                ip,
                source: Box::new(other),
                log_tail: self.log_tail(PANIC_TAIL_LINES),
            },
        })
    }

    /// `kill -9`, and reaps the process.
    pub fn kill9(&mut self) -> Result<ExitStatus> {
        let mut child = self
            .child
            .take()
            .ok_or(KitError::NotRunning { ip: self.ip })?;
        // The process may have died on its own already; reaping below tells either way.
        let _ = child.kill();
        child
            .wait()
            .map_err(|source| io_error(format!("reap grape-node {}", self.ip), source))
    }

    /// `SIGSTOP`: the process freezes, its sockets stay open, requests hang.
    pub fn pause(&self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// `SIGCONT` after [`pause`](Self::pause).
    pub fn resume(&self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    /// `SIGTERM` (a clean shutdown: the node checkpoints), then waits for the exit; kills
    /// and reports a timeout if the node does not exit in time.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        self.signal(Signal::SIGTERM)?;
        // A paused process only handles SIGTERM once it runs again.
        self.signal(Signal::SIGCONT)?;
        let exited = poll(
            "a clean exit after SIGTERM",
            TERMINATE_TIMEOUT,
            || match self.exit_status() {
                Some(status) => Probe::Ready(status),
                None => Probe::NotYet("still running".into()),
            },
        );
        if exited.is_err() {
            self.kill9()?;
        }
        self.child = None;
        exited
    }

    /// Starts the node again with the same command line, data directory and address, and
    /// waits until it is ready. A node still running is terminated first.
    pub fn restart(&mut self) -> Result<()> {
        self.spawn_again()?;
        self.wait_ready(READY_TIMEOUT)
    }

    /// Restarts the node on the same data at a new loopback address and new ports (a pod
    /// that came back with another IP): `--host`, the ports and `--uri` change, nothing else.
    pub fn relocate(&mut self) -> Result<()> {
        if self.is_running() {
            self.terminate()?;
        }
        let lease = Lease::acquire()?;
        let ports = lease.ports()?;
        let values = [
            ("--host", lease.ip().to_string()),
            ("--http-port", ports.http.to_string()),
            ("--grpc-port", ports.grpc.to_string()),
            ("--p2p-port", ports.p2p.to_string()),
            ("--uri", p2p_uri(lease.ip(), ports)),
        ];
        for (flag, value) in values {
            replace_flag_value(&mut self.command, flag, value);
        }
        (self.ip, self.ports, self._lease) = (lease.ip(), ports, lease);
        self.spawn_process()?;
        self.wait_ready(READY_TIMEOUT)
    }

    /// Like [`restart`](Self::restart) without waiting: for nodes that can only become ready
    /// together (a cluster restarted whole).
    pub fn spawn_again(&mut self) -> Result<()> {
        if self.is_running() {
            self.terminate()?;
        }
        self.spawn_process()
    }

    fn spawn_process(&mut self) -> Result<()> {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|source| io_error(format!("open {}", self.log_path.display()), source))?;
        let banner = format!(
            "==== grape-testkit: start #{} of {}\n",
            self.starts, self.ip
        );
        let stderr = log
            .write_all(banner.as_bytes())
            .and_then(|()| log.try_clone())
            .map_err(|source| io_error(format!("write {}", self.log_path.display()), source))?;
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .env_remove("RUST_LOG")
            .env("GRAPE_LOG_LEVEL", DEFAULT_LOG_LEVEL)
            // Plain text in the log file, no colour escapes.
            .env("NO_COLOR", "1");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GRAPE_") && key != "GRAPE_LOG_LEVEL" {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let child = command.spawn().map_err(|source| {
            io_error(
                format!("spawn {}", Path::new(&self.command[0]).display()),
                source,
            )
        })?;
        tracing::debug!(ip = %self.ip, pid = child.id(), start = self.starts, "grape-node spawned");
        self.child = Some(child);
        Ok(())
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        let pid = self.pid().ok_or(KitError::NotRunning { ip: self.ip })?;
        kill(Pid::from_raw(pid as i32), signal).map_err(|source| KitError::Signal {
            signal: signal.as_str(),
            ip: self.ip,
            pid,
            source,
        })
    }

    fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    fn exited(&self, status: ExitStatus) -> KitError {
        KitError::Exited {
            ip: self.ip,
            status,
            log_tail: self.log_tail(PANIC_TAIL_LINES),
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- grape-node {} ({}), last {PANIC_TAIL_LINES} log lines:\n{}\n---- end of grape-node {} log",
                self.ip,
                self.command_line()
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                self.log_tail(PANIC_TAIL_LINES),
                self.ip
            );
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sets the value that follows `flag` in a command line, if the flag is there.
fn replace_flag_value(command: &mut [OsString], flag: &str, value: String) {
    if let Some(i) = command.iter().position(|arg| arg == flag) {
        if let Some(slot) = command.get_mut(i + 1) {
            *slot = value.into();
        }
    }
}

fn p2p_uri(ip: Ipv4Addr, ports: Ports) -> String {
    format!("http://{ip}:{}", ports.p2p)
}

/// The last `lines` lines of a file, reading at most its last 256 KiB.
fn tail(path: &Path, lines: usize) -> String {
    const WINDOW: u64 = 256 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => last_lines(&text, lines).to_string(),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

fn last_lines(text: &str, lines: usize) -> &str {
    let trimmed = text.trim_end_matches('\n');
    match trimmed.rmatch_indices('\n').nth(lines.saturating_sub(1)) {
        Some((at, _)) if lines > 0 => &trimmed[at + 1..],
        _ if lines == 0 => "",
        _ => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_takes_the_end_of_the_text() {
        let text = "one\ntwo\nthree\nfour\n";
        assert_eq!(last_lines(text, 2), "three\nfour");
        assert_eq!(last_lines(text, 4), "one\ntwo\nthree\nfour");
        assert_eq!(last_lines(text, 10), "one\ntwo\nthree\nfour");
        assert_eq!(last_lines(text, 0), "");
    }

    #[test]
    fn the_command_line_gives_the_node_its_own_address_and_identity() {
        let builder = NodeProcess::builder("grape-node")
            .unwrap()
            .bootstrap("http://127.0.0.9:6335")
            .args(["--api-key", "k"]);
        let (ip, ports) = (builder.ip(), builder.ports());
        let line: Vec<String> = builder
            .command_line()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let expected_prefix = [
            "--host".to_string(),
            ip.to_string(),
            "--http-port".into(),
            ports.http.to_string(),
            "--grpc-port".into(),
            ports.grpc.to_string(),
            "--p2p-port".into(),
            ports.p2p.to_string(),
            "--uri".into(),
            format!("http://{ip}:{}", ports.p2p),
            "--bootstrap".into(),
            "http://127.0.0.9:6335".into(),
            "--data-dir".into(),
        ];
        assert_eq!(line[..13], expected_prefix);
        assert!(line[13].ends_with("/data"), "{line:?}");
        assert_eq!(line[14..], ["--api-key", "k"]);
    }

    #[test]
    fn a_single_node_runs_without_an_internal_address() {
        let builder = NodeProcess::builder("grape-node").unwrap();
        let line = builder.command_line();
        assert!(!line.iter().any(|a| a == "--uri"), "{line:?}");
        let line = builder.cluster_member().command_line();
        assert!(line.iter().any(|a| a == "--uri"), "{line:?}");
    }

    #[test]
    fn without_listen_flags_only_the_data_dir_and_extras_remain() {
        let builder = NodeProcess::builder("grape-node")
            .unwrap()
            .without_listen_flags()
            .arg("--config");
        let line = builder.command_line();
        assert_eq!(line.len(), 3, "{line:?}");
        assert_eq!(line[0], "--data-dir");
        assert_eq!(line[2], "--config");
    }

    #[test]
    fn a_binary_that_exits_is_reported_with_its_log() {
        // `echo` prints its command line to the captured log and exits at once.
        let error = NodeProcess::start("/bin/echo").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, KitError::Exited { .. }), "{message}");
        assert!(message.contains("--data-dir"), "{message}");
    }
}
