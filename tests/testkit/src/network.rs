//! Network faults between loopback addresses, with iptables.
//!
//! All nodes share the loopback interface, so rules match on source and destination
//! address (`-s`/`-d`). Each [`Network`] owns one chain, `grape-tk-<pid>-<n>`, jumped to
//! from INPUT and OUTPUT, so parallel tests never touch each other's rules; dropping the
//! `Network` removes the chain. Chains left behind by a test process that died (killed, so
//! no `Drop` ran) are removed the first time a `Network` is created.
//!
//! Matching on the source address needs the sender's socket bound to its node's address:
//! an unbound socket connecting to 127.0.0.3 gets source 127.0.0.1. A node's outgoing
//! connections to its peers must therefore bind to its own `--host` (with tonic,
//! `Endpoint::local_address`), or partitions will not cut them.
//!
//! Needs root (CAP_NET_ADMIN) and the `iptables` package (`scripts/test` installs it); the
//! nf_tables backend (`iptables`) is used when it works, else `iptables-legacy`.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::error::{KitError, Result};

const CHAIN_PREFIX: &str = "grape-tk-";
const HOOKS: [&str; 2] = ["INPUT", "OUTPUT"];

static NEXT_CHAIN: AtomicU32 = AtomicU32::new(0);

/// The fault injector of one test; faults add up until [`heal`](Network::heal).
#[derive(Debug)]
pub struct Network {
    iptables: &'static str,
    chain: String,
}

impl Network {
    /// Creates this test's chain and hooks it into INPUT and OUTPUT.
    pub fn new() -> Result<Network> {
        let iptables = backend()?;
        remove_stale_chains(iptables);
        let chain = format!(
            "{CHAIN_PREFIX}{}-{}",
            std::process::id(),
            NEXT_CHAIN.fetch_add(1, Ordering::Relaxed)
        );
        run(iptables, &["-N", &chain])?;
        let network = Network { iptables, chain };
        for hook in HOOKS {
            run(iptables, &["-I", hook, "1", "-j", &network.chain])?;
        }
        Ok(network)
    }

    /// The iptables program in use (`iptables` for nf_tables, or `iptables-legacy`).
    pub fn backend(&self) -> &'static str {
        self.iptables
    }

    /// Drops all traffic, both ways, between every address of `a` and every address of `b`.
    /// Traffic within a group, and to addresses in neither (a client on 127.0.0.1), flows.
    pub fn partition(&self, a: &[Ipv4Addr], b: &[Ipv4Addr]) -> Result<()> {
        self.add(&partition_rules(a, b))
    }

    /// Drops packets from `from` to `to`; the reverse direction still flows (TCP
    /// connections between the two stall all the same: replies or acks are lost).
    pub fn drop_one_way(&self, from: Ipv4Addr, to: Ipv4Addr) -> Result<()> {
        self.add(&[Rule::drop(Addr::Is(from), Addr::Is(to))])
    }

    /// Cuts `node` off from every other address, clients on 127.0.0.1 included.
    pub fn isolate(&self, node: Ipv4Addr) -> Result<()> {
        self.add(&isolate_rules(node))
    }

    /// Removes every fault of this `Network`.
    pub fn heal(&self) -> Result<()> {
        run(self.iptables, &["-F", &self.chain])
    }

    fn add(&self, rules: &[Rule]) -> Result<()> {
        for rule in rules {
            let mut args = vec!["-A".to_string(), self.chain.clone()];
            args.extend(rule.args());
            run(self.iptables, &args)?;
        }
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Err(error) = remove_chain(self.iptables, &self.chain) {
            tracing::warn!(chain = %self.chain, %error, "could not remove the iptables chain");
        }
    }
}

/// A source or destination match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addr {
    Is(Ipv4Addr),
    Not(Ipv4Addr),
}

/// One DROP rule of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    from: Addr,
    to: Addr,
}

impl Rule {
    fn drop(from: Addr, to: Addr) -> Rule {
        Rule { from, to }
    }

    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (flag, addr) in [("-s", self.from), ("-d", self.to)] {
            match addr {
                Addr::Is(ip) => args.extend([flag.to_string(), ip.to_string()]),
                Addr::Not(ip) => args.extend(["!".to_string(), flag.to_string(), ip.to_string()]),
            }
        }
        args.extend(["-j".to_string(), "DROP".to_string()]);
        args
    }
}

fn partition_rules(a: &[Ipv4Addr], b: &[Ipv4Addr]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for &x in a {
        for &y in b {
            rules.push(Rule::drop(Addr::Is(x), Addr::Is(y)));
            rules.push(Rule::drop(Addr::Is(y), Addr::Is(x)));
        }
    }
    rules
}

fn isolate_rules(node: Ipv4Addr) -> Vec<Rule> {
    vec![
        Rule::drop(Addr::Is(node), Addr::Not(node)),
        Rule::drop(Addr::Not(node), Addr::Is(node)),
    ]
}

/// The first iptables program that can list the filter table here.
fn backend() -> Result<&'static str> {
    static BACKEND: OnceLock<std::result::Result<&'static str, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut failures = Vec::new();
            for program in ["iptables", "iptables-legacy"] {
                match run(program, &["-n", "-L", "INPUT"]) {
                    Ok(()) => return Ok(program),
                    Err(error) => failures.push(error.to_string()),
                }
            }
            Err(failures.join("; "))
        })
        .clone()
        .map_err(|stderr| KitError::Iptables {
            command: "iptables -n -L INPUT (needs the iptables package and root)".into(),
            stderr,
        })
}

/// Removes chains of kit processes that no longer exist.
fn remove_stale_chains(iptables: &'static str) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(listing) = output(iptables, &["-S"]) else {
            return;
        };
        for (chain, pid) in kit_chains(&listing) {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                tracing::info!(%chain, "removing the chain of a dead test process");
                let _ = remove_chain(iptables, &chain);
            }
        }
    });
}

/// Kit chains (and their owner pid) in `iptables -S` output.
fn kit_chains(listing: &str) -> Vec<(String, u32)> {
    listing
        .lines()
        .filter_map(|line| line.strip_prefix("-N "))
        .filter_map(|chain| {
            let rest = chain.strip_prefix(CHAIN_PREFIX)?;
            let pid = rest.split_once('-')?.0.parse().ok()?;
            Some((chain.to_string(), pid))
        })
        .collect()
}

fn remove_chain(iptables: &'static str, chain: &str) -> Result<()> {
    for hook in HOOKS {
        // Removes every jump to the chain (normally one per hook).
        while run(iptables, &["-D", hook, "-j", chain]).is_ok() {}
    }
    run(iptables, &["-F", chain])?;
    run(iptables, &["-X", chain])
}

fn run<S: AsRef<str>>(program: &str, args: &[S]) -> Result<()> {
    output(program, args).map(drop)
}

/// Runs an iptables command (`-w`: wait for the xtables lock other tests may hold).
fn output<S: AsRef<str>>(program: &str, args: &[S]) -> Result<String> {
    let args: Vec<&str> = std::iter::once("-w")
        .chain(args.iter().map(AsRef::as_ref))
        .collect();
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(&args)
        .output()
        .map_err(|e| KitError::Iptables {
            command: command.clone(),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(KitError::Iptables {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, last)
    }

    #[test]
    fn a_partition_drops_both_directions_between_every_pair() {
        let rules = partition_rules(&[ip(2)], &[ip(3), ip(4)]);
        let expected = [(2, 3), (3, 2), (2, 4), (4, 2)]
            .map(|(from, to)| Rule::drop(Addr::Is(ip(from)), Addr::Is(ip(to))));
        assert_eq!(rules, expected);
    }

    #[test]
    fn isolation_drops_everything_to_and_from_the_node() {
        let args: Vec<Vec<String>> = isolate_rules(ip(5)).iter().map(Rule::args).collect();
        assert_eq!(
            args,
            [
                ["-s", "127.0.0.5", "!", "-d", "127.0.0.5", "-j", "DROP"],
                ["!", "-s", "127.0.0.5", "-d", "127.0.0.5", "-j", "DROP"],
            ]
        );
    }

    #[test]
    fn kit_chains_are_found_with_their_owner() {
        let listing = "-P INPUT ACCEPT\n-N grape-tk-4242-0\n-N DOCKER\n-N grape-tk-17-3\n\
                       -A INPUT -j grape-tk-4242-0\n";
        assert_eq!(
            kit_chains(listing),
            [
                ("grape-tk-4242-0".to_string(), 4242),
                ("grape-tk-17-3".to_string(), 17)
            ]
        );
    }
}
