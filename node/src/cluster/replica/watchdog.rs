//! Prompt elections once a shard leader is gone.
//!
//! openraft 0.9 campaigns when its leader was silent for the lease plus its election timeout
//! (1.2–1.6 s here). A replica that once lost an election for a shorter log (a restarted
//! follower, still catching up, that campaigned first) also waits twice the longest timeout
//! more at every later election, and only its own next campaign clears that penalty: after a
//! few failovers the surviving voters may all carry it, and replacing a leader took 3–4 s.
//!
//! The watchdog asks a voter to campaign as soon as its leader's lease ran out (plus a random
//! delay, so voters rarely campaign together), and again, later each time, while no leader
//! emerges. Only a replica whose log matched a leader's since it opened does so: one that
//! restarted and never caught up would lose, and its campaigns, each in a higher term, would
//! keep taking the vote of the replica that can win. It is left to openraft's own timers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use rand::Rng;

use super::{LocalReplica, ELECTION_TIMEOUT_MAX};

/// How long a follower waits after its leader's last message: the leader lease, before
/// which the other voters refuse any candidate.
const LEADER_SILENCE: Duration = ELECTION_TIMEOUT_MAX;
/// The random delay added to the first campaign.
const FIRST_JITTER_MS: u64 = 200;
/// The delay before the first retry (random within); each retry waits up to twice the
/// last, up to the cap.
const RETRY_MS: std::ops::Range<u64> = 150..350;
const RETRY_CAP: Duration = Duration::from_millis(1_600);
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// When the next campaign is due, while the leader stays silent.
enum Due {
    /// After this much silence.
    Silence(Duration),
    /// At this instant; the retry after that waits `next_retry`.
    Retry { at: Instant, next_retry: Duration },
}

/// Runs until the replica's Raft stops.
pub async fn campaign_when_leader_silent(replica: Arc<LocalReplica>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    let mut due = first_campaign();
    loop {
        tick.tick().await;
        let (running, state, voter) = {
            let metrics = replica.raft.metrics();
            let m = metrics.borrow();
            let voter = m
                .membership_config
                .membership()
                .voter_ids()
                .any(|id| id == m.id);
            (m.running_state.is_ok(), m.state, voter)
        };
        if !running {
            return;
        }
        if state == ServerState::Leader {
            // Its own leadership counts as hearing from the leader (once it steps down, the
            // next leader has a lease's time to make itself heard), not as following one: a
            // restarted replica briefly restores the stale leadership it had.
            replica.heard_from_leader(false);
            continue;
        }
        let silence = replica.leader_silence();
        if silence < LEADER_SILENCE {
            due = first_campaign();
            continue;
        }
        let now_due = match due {
            Due::Silence(wait) => silence >= wait,
            Due::Retry { at, .. } => Instant::now() >= at,
        };
        if !now_due || !voter || !replica.followed_a_leader() || replica.elections_held() {
            continue;
        }
        tracing::info!(
            group = replica.group,
            ?silence,
            "shard leader silent; campaigning"
        );
        if replica.raft.trigger().elect().await.is_err() {
            return;
        }
        let retry = match due {
            Due::Silence(_) => Duration::from_millis(rand::thread_rng().gen_range(RETRY_MS)),
            // Random within the upper half, so that two voters never stay in step.
            Due::Retry { next_retry, .. } => {
                next_retry.mul_f64(rand::thread_rng().gen_range(0.5..1.0))
            }
        };
        due = Due::Retry {
            at: Instant::now() + retry,
            next_retry: (retry * 2).min(RETRY_CAP),
        };
    }
}

fn first_campaign() -> Due {
    let jitter = Duration::from_millis(rand::thread_rng().gen_range(0..FIRST_JITTER_MS));
    Due::Silence(LEADER_SILENCE + jitter)
}
