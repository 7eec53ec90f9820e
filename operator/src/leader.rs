//! Leader election with a `coordination.k8s.io/v1` Lease, so that of several operator
//! replicas exactly one reconciles. The holder renews the lease every few seconds; another
//! replica takes it over only once it expired. Writes use the lease's resourceVersion, so
//! two replicas racing for an expired lease cannot both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;

/// How long a lease stays valid without renewal.
const LEASE_SECONDS: i32 = 15;
/// How often the holder renews (and a candidate retries).
const RENEW_EVERY: Duration = Duration::from_secs(5);

pub struct LeaderElection {
    leases: Api<Lease>,
    name: String,
    identity: String,
}

impl LeaderElection {
    /// Competes for lease `name` in the Api's namespace as `identity` (e.g. the pod name).
    pub fn new(leases: Api<Lease>, name: &str, identity: &str) -> LeaderElection {
        LeaderElection {
            leases,
            name: name.to_string(),
            identity: identity.to_string(),
        }
    }

    /// Runs forever, publishing whether this replica leads. Leadership counts as lost as
    /// soon as a renewal fails.
    pub async fn run(self, leading: watch::Sender<bool>) {
        loop {
            let holds = match self.try_acquire().await {
                Ok(holds) => holds,
                Err(error) => {
                    tracing::warn!(%error, lease = %self.name, "lease renewal failed");
                    false
                }
            };
            leading.send_if_modified(|was| {
                if *was != holds {
                    tracing::info!(leading = holds, identity = %self.identity, "leadership changed");
                    *was = holds;
                    return true;
                }
                false
            });
            tokio::time::sleep(RENEW_EVERY).await;
        }
    }

    /// Takes or renews the lease; `false` when another holder's lease is still valid or
    /// another replica won the race.
    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.leases.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..Default::default()
                },
                spec: Some(self.claim(0, now)),
            };
            return conflict_is_false(self.leases.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.take().unwrap_or_default();
        let mine = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        if !mine && !expired(&spec, now) {
            return Ok(false);
        }
        lease.spec = Some(if mine {
            LeaseSpec {
                renew_time: Some(MicroTime(now)),
                lease_duration_seconds: Some(LEASE_SECONDS),
                ..spec
            }
        } else {
            self.claim(spec.lease_transitions.unwrap_or(0) + 1, now)
        });
        // `lease` carries the resourceVersion read above: a concurrent change is a 409.
        conflict_is_false(
            self.leases
                .replace(&self.name, &PostParams::default(), &lease)
                .await,
        )
    }

    /// The spec of a lease this replica takes at `now`, the `transitions`-th change of holder.
    fn claim(&self, transitions: i32, now: Timestamp) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }
}

fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(renewed) = &spec.renew_time else {
        return true;
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    now.as_second() - renewed.0.as_second() > duration
}

/// A 409 means another replica changed the lease first: it leads, not us.
fn conflict_is_false(result: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}
