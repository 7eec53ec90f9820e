//! Polling with a timeout and a failure message that says what was awaited and what the
//! last attempt saw.

use std::fmt::Display;
use std::time::{Duration, Instant};

use crate::error::{KitError, Result};

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` until it returns `Ok`, at most for `timeout`; the error names `what` and
/// carries the last `Err` the probe returned.
///
/// ```no_run
/// # use std::time::Duration;
/// # fn peers() -> usize { 3 }
/// grape_testkit::wait_until("three peers", Duration::from_secs(10), || match peers() {
///     3 => Ok(()),
///     n => Err(format!("{n} peers")),
/// })
/// .unwrap();
/// ```
pub fn wait_until<T, E: Display>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> std::result::Result<T, E>,
) -> Result<T> {
    poll(what, timeout, || match probe() {
        Ok(value) => Probe::Ready(value),
        Err(reason) => Probe::NotYet(reason.to_string()),
    })
}

/// One attempt of [`poll`]: done, not yet (why, for the failure message), or hopeless.
pub(crate) enum Probe<T> {
    Ready(T),
    NotYet(String),
    Fatal(KitError),
}

pub(crate) fn poll<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Probe<T>,
) -> Result<T> {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match probe() {
            Probe::Ready(value) => return Ok(value),
            Probe::Fatal(error) => return Err(error),
            Probe::NotYet(last) if started.elapsed() >= timeout => {
                return Err(KitError::Timeout {
                    what: what.to_string(),
                    waited: started.elapsed(),
                    attempts,
                    last,
                })
            }
            Probe::NotYet(_) => std::thread::sleep(POLL_INTERVAL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_once_the_probe_succeeds() {
        let mut calls = 0;
        let value = wait_until("the third call", Duration::from_secs(5), || {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(format!("call {calls}"))
            }
        });
        assert_eq!(value.unwrap(), 3);
    }

    #[test]
    fn a_timeout_names_the_goal_and_the_last_failure() {
        let error = wait_until("the moon", Duration::from_millis(120), || {
            Err::<(), _>("still waxing")
        })
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("waiting for the moon"), "{message}");
        assert!(message.contains("last: still waxing"), "{message}");
        assert!(matches!(error, KitError::Timeout { attempts, .. } if attempts >= 2));
    }

    #[test]
    fn a_fatal_probe_stops_waiting_at_once() {
        let started = Instant::now();
        let error = poll::<()>("never", Duration::from_secs(30), || {
            Probe::Fatal(KitError::NoFreeAddress)
        })
        .unwrap_err();
        assert!(matches!(error, KitError::NoFreeAddress));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
