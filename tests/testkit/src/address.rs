//! Loopback addresses for nodes. Every node gets its own 127.0.0.x, so nodes can keep the
//! default ports and network faults can pick nodes out by address.
//!
//! Tests inside one test binary run in parallel, and other `cargo test` runs (other
//! checkouts on the same machine) may run at the same time, so an address is *leased*: an
//! exclusive `flock` on a file named after it, held until the lease is dropped. A
//! process-wide counter spreads the attempts; an address whose lock is taken is skipped.

use std::fs::{File, OpenOptions, TryLockError};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{KitError, Result};

const FIRST: u8 = 2;
const LAST: u8 = 254;

/// Qdrant's default REST, gRPC and internal (peer-to-peer) ports.
pub const DEFAULT_PORTS: Ports = Ports {
    http: 6333,
    grpc: 6334,
    p2p: 6335,
};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The three ports a node listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub http: u16,
    pub grpc: u16,
    pub p2p: u16,
}

/// An exclusively held loopback address; released on drop.
#[derive(Debug)]
pub struct Lease {
    ip: Ipv4Addr,
    _lock: File,
}

impl Lease {
    /// Leases the next loopback address nobody else holds.
    pub fn acquire() -> Result<Lease> {
        for _ in FIRST..=LAST {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            if let Some(lease) = Lease::try_take(nth_address(n))? {
                return Ok(lease);
            }
        }
        Err(KitError::NoFreeAddress)
    }

    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The default ports when all three are free on this address (the usual case); otherwise
    /// (say a process listens on 0.0.0.0:6333) ports the kernel picks, so the node still runs.
    pub fn ports(&self) -> Result<Ports> {
        let defaults = [DEFAULT_PORTS.http, DEFAULT_PORTS.grpc, DEFAULT_PORTS.p2p];
        if defaults
            .iter()
            .all(|&port| TcpListener::bind((self.ip, port)).is_ok())
        {
            return Ok(DEFAULT_PORTS);
        }
        // Hold all three listeners at once so the kernel hands out three distinct ports.
        let listeners = (0..3)
            .map(|_| TcpListener::bind((self.ip, 0)))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|source| io_error(format!("pick ports on {}", self.ip), source))?;
        let port = |i: usize| listeners[i].local_addr().map(|a| a.port());
        let ports = (|| {
            Ok(Ports {
                http: port(0)?,
                grpc: port(1)?,
                p2p: port(2)?,
            })
        })()
        .map_err(|source| io_error(format!("pick ports on {}", self.ip), source))?;
        Ok(ports)
    }

    fn try_take(ip: Ipv4Addr) -> Result<Option<Lease>> {
        let path = lock_dir()?.join(format!("{ip}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| KitError::Lease {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Lease { ip, _lock: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(source)) => Err(KitError::Lease { path, source }),
        }
    }
}

/// The n-th candidate address, cycling through 127.0.0.2-254 (127.0.0.1 is left to
/// everything that is not the kit).
fn nth_address(n: u32) -> Ipv4Addr {
    let span = u32::from(LAST - FIRST) + 1;
    Ipv4Addr::new(127, 0, 0, FIRST + (n % span) as u8)
}

fn lock_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("grape-testkit-addresses");
    std::fs::create_dir_all(&dir)
        .map_err(|source| io_error(format!("create {}", dir.display()), source))?;
    Ok(dir)
}

pub(crate) fn io_error(what: impl Into<String>, source: std::io::Error) -> KitError {
    KitError::Io {
        what: what.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cycle_through_127_0_0_2_to_254() {
        assert_eq!(nth_address(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(nth_address(252), Ipv4Addr::new(127, 0, 0, 254));
        assert_eq!(nth_address(253), Ipv4Addr::new(127, 0, 0, 2));
    }

    #[test]
    fn leases_are_exclusive_until_released() {
        let held: Vec<Lease> = (0..5).map(|_| Lease::acquire().unwrap()).collect();
        let mut ips: Vec<Ipv4Addr> = held.iter().map(Lease::ip).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), 5, "duplicate leases: {ips:?}");
        // An address outside the kit's range, so no other test (or test run) takes it.
        let ip = Ipv4Addr::new(127, 0, 1, 77);
        let lease = Lease::try_take(ip).unwrap().expect("a free address");
        assert!(Lease::try_take(ip).unwrap().is_none(), "{ip} leased twice");
        drop(lease);
        assert!(Lease::try_take(ip).unwrap().is_some(), "{ip} not released");
    }

    #[test]
    fn ports_are_bindable_on_the_leased_address() {
        let lease = Lease::acquire().unwrap();
        let ports = lease.ports().unwrap();
        for port in [ports.http, ports.grpc, ports.p2p] {
            TcpListener::bind((lease.ip(), port)).unwrap();
        }
    }

    #[test]
    fn busy_default_ports_fall_back_to_free_ones() {
        let lease = Lease::acquire().unwrap();
        let _squatter = TcpListener::bind((lease.ip(), DEFAULT_PORTS.grpc)).unwrap();
        let ports = lease.ports().unwrap();
        assert_ne!(ports, DEFAULT_PORTS);
        assert!(ports.http != ports.grpc && ports.grpc != ports.p2p && ports.http != ports.p2p);
    }
}
