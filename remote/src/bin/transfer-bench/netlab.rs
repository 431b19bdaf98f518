//! A throw-away network for the benchmark: a "switch" namespace holding a Linux bridge, one
//! namespace per host, and a veth from the root namespace (the front-end) to the switch. Every
//! link, the front-end's included, is limited by `tc tbf` in both directions, so that unicast
//! pays for sharing the front-end's uplink exactly as it would on a real network.
//!
//! Why not the `local` cloud driver: its VMs hang off a bridge in the root namespace, so the
//! front-end's traffic to N VMs is limited per VM but not in total, which would let unicast use
//! N times the bandwidth a real front-end has. It would also make this crate depend on the
//! clouds crate.
//!
//! Everything it creates is deleted on drop, also after a failure half-way.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// Names start with this; nothing else on the machine is touched.
const PREFIX: &str = "tbbench";
/// A /24 that must be unused on this machine (checked before use).
const SUBNET: &str = "10.213.0";

pub struct Lab {
    hosts: usize,
    namespaces: Vec<String>,
}

fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ip(args: &[&str]) -> Result<String> {
    run("ip", args)
}

/// `tc tbf` on `dev` (in namespace `ns`): the same shape the seed measurements used.
fn limit(ns: &str, dev: &str, mbit: u32) -> Result<()> {
    let rate = format!("{mbit}mbit");
    run(
        "ip",
        &[
            "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", &rate,
            "burst", "256kb", "latency", "50ms",
        ],
    )
    .map(|_| ())
}

impl Lab {
    /// The switch, the front-end link and `hosts` host namespaces, every link at `mbit`.
    pub fn build(hosts: usize, mbit: u32) -> Result<Lab> {
        let existing = ip(&["netns", "list"])?;
        if existing.contains(PREFIX) {
            bail!("namespaces named {PREFIX}-* exist already: another benchmark runs, or one crashed (delete them with `ip netns delete`)");
        }
        if ip(&["-o", "-4", "addr", "show"])?.contains(&format!(" {SUBNET}.")) {
            bail!("{SUBNET}.0/24 is in use on this machine");
        }
        if !ip(&["route", "show", &format!("{SUBNET}.0/24")])?
            .trim()
            .is_empty()
        {
            bail!("{SUBNET}.0/24 is routed on this machine");
        }
        let mut lab = Lab {
            hosts,
            namespaces: Vec::new(),
        };
        let sw = format!("{PREFIX}-sw");
        lab.add_namespace(&sw)?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;

        // The front-end: the root namespace's end of a veth into the switch.
        let fe = format!("{PREFIX}-fe");
        ip(&[
            "link", "add", &fe, "type", "veth", "peer", "name", "fe", "netns", &sw,
        ])?;
        ip(&["addr", "add", &format!("{SUBNET}.1/24"), "dev", &fe])?;
        ip(&["link", "set", &fe, "up"])?;
        ip(&["-n", &sw, "link", "set", "fe", "master", "br0", "up"])?;
        run(
            "tc",
            &[
                "qdisc",
                "add",
                "dev",
                &fe,
                "root",
                "tbf",
                "rate",
                &format!("{mbit}mbit"),
                "burst",
                "256kb",
                "latency",
                "50ms",
            ],
        )?;
        limit(&sw, "fe", mbit)?;

        for i in 0..hosts {
            let ns = lab.namespace(i);
            lab.add_namespace(&ns)?;
            let port = format!("h{i}");
            ip(&[
                "link", "add", &port, "netns", &sw, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", lab.address(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            limit(&ns, "eth0", mbit)?;
            limit(&sw, &port, mbit)?;
        }
        // Only ever send to addresses inside these namespaces.
        let route = ip(&["route", "get", &lab.address(0)])?;
        if !route.contains(&format!("dev {fe}")) {
            bail!(
                "{} would not be reached through {fe}: {route}",
                lab.address(0)
            );
        }
        Ok(lab)
    }

    fn add_namespace(&mut self, ns: &str) -> Result<()> {
        ip(&["netns", "add", ns])?;
        self.namespaces.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Host `i`'s namespace.
    pub fn namespace(&self, i: usize) -> String {
        format!("{PREFIX}-h{i}")
    }

    /// Host `i`'s address.
    pub fn address(&self, i: usize) -> String {
        format!("{SUBNET}.{}", 10 + i)
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.hosts
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting the switch namespace deletes its veth ends, and with them the front-end's.
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = ip(&["netns", "delete", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}
