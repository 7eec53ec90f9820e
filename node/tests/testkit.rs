//! Self-tests of `grape-testkit` against real single `grape-node` processes: the process
//! faults, the workload and its verifier across a crash, and iptables network faults.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use grape_testkit::{
    create_collection, read_back, Cluster, Lease, Network, NodeProcess, Report, Workload,
    WorkloadConfig,
};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, UdpSocket};

const BIN: &str = env!("CARGO_BIN_EXE_grape-node");

fn get(url: &str, timeout: Duration) -> Result<Value, Box<ureq::Error>> {
    let response = ureq::get(url).timeout(timeout).call().map_err(Box::new)?;
    Ok(response.into_json().expect("JSON body"))
}

#[test]
fn a_node_stops_and_restarts_on_its_address_with_its_data() {
    let mut node = NodeProcess::start(BIN).unwrap();
    assert_ne!(
        node.ip(),
        Ipv4Addr::LOCALHOST,
        "nodes get their own address"
    );
    let (url, pid) = (node.rest_url(), node.pid().unwrap());
    ureq::put(&format!("{url}/collections/kept"))
        .send_json(json!({"vectors": {"size": 2, "distance": "Dot"}}))
        .unwrap();

    let status = node.terminate().unwrap();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
    assert!(!node.is_running());
    assert!(
        get(&url, Duration::from_secs(1)).is_err(),
        "a stopped node answers nothing"
    );

    node.restart().unwrap();
    assert_ne!(node.pid().unwrap(), pid, "a new process");
    assert_eq!(node.rest_url(), url, "same address and port");
    let collection = get(&format!("{url}/collections/kept"), Duration::from_secs(5)).unwrap();
    assert_eq!(
        collection["result"]["config"]["params"]["vectors"]["size"],
        2
    );
    let log = std::fs::read_to_string(node.log_path()).unwrap();
    assert!(log.contains("start #2"), "the log spans both runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_restart_keeps_every_acknowledged_write() {
    let mut node = NodeProcess::start(BIN).unwrap();
    let workload = start_workload(&node, Duration::from_secs(2)).await;
    wait_for_acks(&workload, 50).await;

    tokio::task::block_in_place(|| {
        node.kill9().unwrap();
        node.restart().unwrap();
    });
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 50).await;

    let report = stop_and_verify(workload, &node).await;
    assert!(
        report.writes.unknown > 0,
        "the crash hit requests: {report}"
    );
    assert!(report.reads.acked > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_makes_requests_time_out_and_sigcont_resumes_them() {
    let node = NodeProcess::start(BIN).unwrap();
    let workload = start_workload(&node, Duration::from_millis(300)).await;
    wait_for_acks(&workload, 20).await;

    let pause = Duration::from_millis(1200);
    node.pause().unwrap();
    let rest = tokio::task::block_in_place(|| get(&node.rest_url(), Duration::from_millis(500)));
    assert!(
        rest.as_ref()
            .is_err_and(|e| matches!(**e, ureq::Error::Transport(_))),
        "a paused node does not answer: {rest:?}"
    );
    tokio::time::sleep(pause).await;
    node.resume().unwrap();
    let before = workload.acked_writes();
    wait_for_acks(&workload, before + 20).await;

    let report = stop_and_verify(workload, &node).await;
    assert!(
        report
            .error_kinds
            .get("unknown/timeout")
            .is_some_and(|&n| n > 0),
        "requests to the paused node time out: {report}"
    );
    let gap = report
        .longest_write_gap
        .expect("acknowledged writes")
        .length();
    assert!(
        gap >= pause,
        "no write is acknowledged while paused: {report}"
    );
}

#[tokio::test]
async fn a_partition_drops_traffic_between_addresses_until_healed() {
    let node = NodeProcess::start(BIN).unwrap();
    let client = Lease::acquire().unwrap();
    let target: SocketAddr = (node.ip(), node.ports().http).into();
    let network = Network::new().unwrap();
    eprintln!("iptables backend: {}", network.backend());
    connect_from(client.ip(), target)
        .await
        .expect("connects before the partition");

    network.partition(&[client.ip()], &[node.ip()]).unwrap();
    let cut = connect_from(client.ip(), target).await;
    assert!(
        cut.is_err(),
        "{} reached {target} through the partition",
        client.ip()
    );
    connect_from(Ipv4Addr::LOCALHOST, target)
        .await
        .expect("addresses outside the partition still reach the node");

    network.heal().unwrap();
    connect_from(client.ip(), target)
        .await
        .expect("connects after heal");
    let answer = get(&node.rest_url(), Duration::from_secs(5)).unwrap();
    assert_eq!(answer["title"], "grape");
}

#[tokio::test]
async fn one_way_drops_and_isolation_cut_what_they_say() {
    let (a, b, c) = (
        Lease::acquire().unwrap(),
        Lease::acquire().unwrap(),
        Lease::acquire().unwrap(),
    );
    let network = Network::new().unwrap();

    network.drop_one_way(a.ip(), b.ip()).unwrap();
    assert!(
        !datagram_arrives(a.ip(), b.ip()).await,
        "{} -> {} must be dropped",
        a.ip(),
        b.ip()
    );
    assert!(
        datagram_arrives(b.ip(), a.ip()).await,
        "{} -> {} must flow",
        b.ip(),
        a.ip()
    );
    network.heal().unwrap();
    assert!(datagram_arrives(a.ip(), b.ip()).await, "healed");

    network.isolate(c.ip()).unwrap();
    for other in [a.ip(), Ipv4Addr::LOCALHOST] {
        assert!(
            !datagram_arrives(other, c.ip()).await,
            "{other} -> isolated {}",
            c.ip()
        );
        assert!(
            !datagram_arrives(c.ip(), other).await,
            "isolated {} -> {other}",
            c.ip()
        );
    }
    assert!(datagram_arrives(a.ip(), b.ip()).await, "others still talk");
    drop(network);
    assert!(
        datagram_arrives(c.ip(), a.ip()).await,
        "dropping the Network removes its rules"
    );
}

#[test]
fn a_cluster_starts_every_node_on_its_own_address_bootstrapping_from_the_first() {
    let cluster = Cluster::start(BIN, 3).unwrap();
    let mut ips = cluster.ips();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 3, "{ips:?}");
    let seed = cluster.node(0).p2p_uri();
    for (i, node) in cluster.nodes().iter().enumerate() {
        let root = get(&node.rest_url(), Duration::from_secs(5)).unwrap();
        assert_eq!(root["title"], "grape");
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", node.pid().unwrap())).unwrap();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        let flag = |name: &str| {
            let at = args.iter().position(|a| a == name)?;
            args.get(at + 1).cloned()
        };
        assert_eq!(flag("--uri"), Some(node.p2p_uri()), "node {i}: {args:?}");
        let bootstrap = flag("--bootstrap");
        assert_eq!(
            bootstrap,
            (i > 0).then(|| seed.clone()),
            "node {i}: {args:?}"
        );
    }
}

/// A workload on collection `w` of `node`, giving up on requests after `timeout`.
async fn start_workload(node: &NodeProcess, timeout: Duration) -> Workload {
    create_collection(&node.grpc_url(), "w").await.unwrap();
    let mut config = WorkloadConfig::new(vec![node.grpc_url()], "w");
    config.timeout = timeout;
    Workload::start(config).unwrap()
}

/// Stops the workload and checks the node's contents against its history.
async fn stop_and_verify(workload: Workload, node: &NodeProcess) -> Report {
    let history = workload.stop().await;
    let report = history.verify(&read_back(&node.grpc_url(), "w").await.unwrap());
    eprintln!("{report}");
    assert!(report.is_consistent(), "{report}");
    report
}

async fn wait_for_acks(workload: &Workload, acked: usize) {
    for _ in 0..600 {
        if workload.acked_writes() >= acked {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {acked} writes acknowledged in 30 s");
}

/// A TCP connection from a socket bound to `from`; an error if it is not established in 1 s.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((from, 0).into())?;
    match tokio::time::timeout(Duration::from_secs(1), socket.connect(to)).await {
        Ok(stream) => stream.map(drop),
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Whether a UDP datagram from `from` to `to` arrives within 300 ms.
async fn datagram_arrives(from: Ipv4Addr, to: Ipv4Addr) -> bool {
    let receiver = UdpSocket::bind((to, 0)).await.unwrap();
    let sender = UdpSocket::bind((from, 0)).await.unwrap();
    // A DROP in OUTPUT makes the send itself fail (EPERM).
    if sender
        .send_to(b"ping", receiver.local_addr().unwrap())
        .await
        .is_err()
    {
        return false;
    }
    let mut buffer = [0; 4];
    tokio::time::timeout(Duration::from_millis(300), receiver.recv_from(&mut buffer))
        .await
        .is_ok()
}
