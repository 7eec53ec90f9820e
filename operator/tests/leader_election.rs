//! Two operator replicas competing for the Lease on the real API server: exactly one leads,
//! and the other takes over once the leader stops renewing.

mod common;

use std::time::Duration;

use anyhow::{ensure, Result};
use grape_k8s_harness::Harness;
use grape_operator::leader::LeaderElection;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_the_other_takes_over() -> Result<()> {
    let harness = Harness::start()?;
    let client = harness.client().await?;
    let leases: Api<Lease> = Api::namespaced(client, "default");
    let (a_tx, a) = watch::channel(false);
    let (b_tx, b) = watch::channel(false);
    let first = tokio::spawn(LeaderElection::new(leases.clone(), "op", "a").run(a_tx));
    let second = tokio::spawn(LeaderElection::new(leases.clone(), "op", "b").run(b_tx));
    let leader = common::wait_for("a leader", Duration::from_secs(30), || async {
        match (*a.borrow(), *b.borrow()) {
            (true, false) => Ok("a"),
            (false, true) => Ok("b"),
            other => anyhow::bail!("leading: {other:?}"),
        }
    })
    .await?;
    // Several renewals later there is still exactly one leader, the same one.
    tokio::time::sleep(Duration::from_secs(12)).await;
    ensure!(*a.borrow() != *b.borrow(), "both or neither lead");
    let holder = leases.get("op").await?.spec.and_then(|s| s.holder_identity);
    ensure!(
        holder.as_deref() == Some(leader),
        "lease held by {holder:?}"
    );

    // The leader stops; the other replica takes the lease once it expired.
    let (stopped, standby, other) = if leader == "a" {
        (first, b, "b")
    } else {
        (second, a, "a")
    };
    stopped.abort();
    common::wait_for("the standby leading", Duration::from_secs(40), || async {
        ensure!(*standby.borrow(), "standby not leading yet");
        Ok(())
    })
    .await?;
    let lease = leases.get("op").await?.spec.unwrap_or_default();
    ensure!(lease.holder_identity.as_deref() == Some(other), "{lease:?}");
    ensure!(lease.lease_transitions == Some(1), "{lease:?}");
    Ok(())
}
