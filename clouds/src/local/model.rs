//! The `local` driver's pure decisions: ids and interface names, the native word a VM shows for
//! what the host says about it, which actions its state allows, and the text of the files and
//! arguments it hands to `sshd` and `tc`. No I/O here, so all of it is tested without root.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::net::Cidr;
use crate::{FirewallRule, ResourceKind};

/// What the driver last did to a VM, as its record says; also the native status words.
///
/// The words, and what the lifecycle normaliser makes of them (`lifecycle`'s `local` table):
///
/// | word | unified | when |
/// |------|---------|------|
/// | `creating` | Creating | a create is running (namespace, veth, files, sshd) |
/// | `running` | Running | sshd answers in the VM's namespace |
/// | `stopping` | Suspending | a suspend is stopping sshd and freezing the VM's processes |
/// | `stopped` | Suspended | sshd is stopped and the VM's other processes are frozen (`SIGSTOP`) |
/// | `starting` | Resuming | a resume is thawing the processes and starting sshd |
/// | `rebooting` | Rebooting | a reboot is killing the VM's processes and starting sshd again |
/// | `terminating` | Terminating | a terminate is removing processes, namespace, veth, directory |
/// | `error` | Failed | an action was interrupted, or the namespace vanished (host restart) |
///
/// A terminated VM has no record, so it is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Being created.
    Creating,
    /// Up.
    Running,
    /// Being suspended.
    Stopping,
    /// Suspended.
    Stopped,
    /// Being resumed.
    Starting,
    /// Being rebooted.
    Rebooting,
    /// Being terminated.
    Terminating,
    /// Broken; the record's message says why.
    Error,
}

impl Phase {
    /// The native status word.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Creating => "creating",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Starting => "starting",
            Phase::Rebooting => "rebooting",
            Phase::Terminating => "terminating",
            Phase::Error => "error",
        }
    }

    /// True if and only if the phase only lasts while a call works on the VM.
    pub fn is_transitional(self) -> bool {
        !matches!(self, Phase::Running | Phase::Stopped | Phase::Error)
    }
}

/// The state of a VM's SSH server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sshd {
    /// Alive in the VM's namespace and not stopped.
    Serving,
    /// Alive but stopped (`SIGSTOP`).
    Frozen,
    /// Not running.
    Down,
}

/// What the host says about a VM, gathered by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The phase its record holds.
    pub(crate) phase: Phase,
    /// True if and only if a call holds the VM's lock now (an action is really in progress).
    pub(crate) busy: bool,
    /// True if and only if its network namespace exists.
    pub(crate) netns: bool,
    /// Its sshd.
    pub(crate) sshd: Sshd,
}

/// The word a VM shows, and a message when the word alone does not say enough.
///
/// A transitional phase is only true while a call holds the VM's lock: a record left in
/// `stopping` by a process that died mid-way would otherwise say `stopping` forever, so it is
/// `error`. A settled VM whose namespace is gone (namespaces do not survive a host restart) is
/// `error` too. A `running` VM whose sshd is gone or stopped behind the driver's back reads
/// `stopped`, as a real cloud shows a VM whose guest halted; `resume_vm` then starts it again.
pub(crate) fn observe(
    facts: Facts,
    recorded: Option<&str>,
    netns: &str,
) -> (Phase, Option<String>) {
    let phase = facts.phase;
    if phase.is_transitional() {
        if facts.busy {
            return (phase, None);
        }
        return (
            Phase::Error,
            Some(format!(
                "the VM was left {} by a call that did not finish (its process stopped); \
                 terminate the VM",
                phase.word()
            )),
        );
    }
    if phase == Phase::Error {
        return (Phase::Error, recorded.map(str::to_string));
    }
    if !facts.netns {
        return (
            Phase::Error,
            Some(format!(
                "its network namespace {netns} is gone (namespaces do not survive a host \
                 restart); terminate the VM"
            )),
        );
    }
    match (phase, facts.sshd) {
        (Phase::Running, Sshd::Serving) => (Phase::Running, None),
        (Phase::Running, Sshd::Frozen) => (
            Phase::Stopped,
            Some("its sshd was stopped by someone else".to_string()),
        ),
        (Phase::Running, Sshd::Down) => {
            (Phase::Stopped, Some("its sshd is not running".to_string()))
        }
        _ => (Phase::Stopped, None),
    }
}

/// What an action does given the word the VM shows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Do it.
    Act,
    /// The VM is already where the action leads: succeed without doing anything (as AWS does).
    AlreadyThere,
    /// Refuse: the VM's state does not allow it.
    Refuse,
}

/// Which of suspend, resume and reboot a VM showing `word` accepts. Terminate is always accepted,
/// so it is not asked.
pub(crate) fn decide(action: lifecycle::Action, word: Phase) -> Decision {
    use lifecycle::Action::*;
    match (action, word) {
        (Suspend, Phase::Running) | (Resume, Phase::Stopped) | (Reboot, Phase::Running) => {
            Decision::Act
        }
        (Suspend, Phase::Stopped) | (Resume, Phase::Running) => Decision::AlreadyThere,
        _ => Decision::Refuse,
    }
}

/// The id of the `n`-th thing of `kind` the driver created: `<prefix>-vm-<n>`, ...
pub(crate) fn make_id(prefix: &str, kind: ResourceKind, n: u64) -> String {
    format!("{prefix}-{}-{n}", kind_tag(kind))
}

/// The number inside an id of `kind` made by [`make_id`], or `None` when `id` is not one: ids are
/// file names, so anything else (`..`, slashes) must never reach a path.
pub(crate) fn parse_id(prefix: &str, kind: ResourceKind, id: &str) -> Option<u64> {
    let digits = id
        .strip_prefix(prefix)?
        .strip_prefix('-')?
        .strip_prefix(kind_tag(kind))?
        .strip_prefix('-')?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !(digits.len() > 1 && digits.starts_with('0'));
    canonical.then(|| digits.parse().ok()).flatten()
}

fn kind_tag(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Vm => "vm",
        ResourceKind::Vnet => "vnet",
        ResourceKind::SecurityGroup => "sg",
        ResourceKind::KeyPair => "key",
    }
}

/// The bridge of vNet number `n`.
pub(crate) fn bridge_name(prefix: &str, n: u64) -> String {
    format!("{prefix}b{n}")
}

/// The host end of the veth of VM number `n` (its other end is `eth0` inside the VM).
pub(crate) fn veth_name(prefix: &str, n: u64) -> String {
    format!("{prefix}v{n}")
}

/// The TUN device of the delay router of `prefix` (see `router.rs`).
pub(crate) fn delay_device(prefix: &str) -> String {
    format!("{prefix}delay")
}

/// True if and only if `name` is an interface name [`bridge_name`], [`veth_name`] or
/// [`delay_device`] makes with `prefix`: how [`super::cleanup`] finds leftovers that no record
/// names.
pub(crate) fn is_our_interface(prefix: &str, name: &str) -> bool {
    name == delay_device(prefix)
        || name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('b').or_else(|| rest.strip_prefix('v')))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The first routing table number [`route_table`] hands out: far above the small numbers people
/// give their own tables.
const FIRST_ROUTE_TABLE: u32 = 1_000_000_000;

/// The routing table that sends a prefix's inter-vNet traffic into its delay router. Its number
/// is the prefix read in base 37 (letters 1 to 26, digits 27 to 36), so every prefix has its own
/// and [`super::cleanup`] finds it without a record.
pub(crate) fn route_table(prefix: &str) -> u32 {
    let digit = |b: u8| match b {
        b'a'..=b'z' => u32::from(b - b'a') + 1,
        _ => u32::from(b.wrapping_sub(b'0')) + 27,
    };
    FIRST_ROUTE_TABLE + prefix.bytes().fold(0, |n, b| n * 37 + digit(b))
}

/// The priority of the first of the rules of [`bridge_rules`]; the others follow it.
pub(crate) const FIRST_RULE_PRIORITY: u32 = 9100;

/// The policy-routing rules (arguments of `ip rule add`) for what a vNet's bridge forwards, in
/// order: into the delay router's `table` (which routes the `pool` only while the router runs,
/// and is empty otherwise), else straight to the other vNets of the `pool`, else nowhere (the
/// VMs have no way out, as there is no NAT). What is for the host itself never gets this far:
/// the kernel's `local` table comes first.
pub(crate) fn bridge_rules(bridge: &str, pool: &str, table: u32) -> [Vec<String>; 3] {
    let rule = |n: u32, tail: &[&str]| -> Vec<String> {
        let head = [
            "priority",
            &(FIRST_RULE_PRIORITY + n).to_string(),
            "iif",
            bridge,
        ];
        head.iter().chain(tail).map(|s| s.to_string()).collect()
    };
    [
        rule(0, &["lookup", &table.to_string()]),
        rule(1, &["to", pool, "lookup", "main"]),
        rule(2, &["prohibit"]),
    ]
}

/// The priority and input interface of every rule of `ip rule show` output that names one
/// (`9100:\tfrom all iif tbb1 lookup 1000000100` gives `(9100, "tbb1")`).
pub(crate) fn rule_inputs(output: &str) -> Vec<(u32, String)> {
    output
        .lines()
        .filter_map(|line| {
            let (priority, rest) = line.split_once(':')?;
            let mut words = rest.split_whitespace();
            words.find(|w| *w == "iif")?;
            Some((priority.trim().parse().ok()?, words.next()?.to_string()))
        })
        .collect()
}

/// The interface names in the output of `ip -o link show` (`7: tbv1@if2: <...>` gives `tbv1`).
pub(crate) fn link_names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect()
}

/// Arguments of `tc qdisc add dev <dev>` for a token bucket of `mbit` Mbit/s. The bucket holds
/// 10 ms of traffic (at least ten 1514-byte frames), the least that reaches the rate with the
/// kernel's timer granularity.
pub(crate) fn tbf_args(mbit: u32) -> Vec<String> {
    let burst = (u64::from(mbit) * 1_000_000 / 8 / 100).max(15_140);
    [
        "root".to_string(),
        "tbf".to_string(),
        "rate".to_string(),
        format!("{mbit}mbit"),
        "burst".to_string(),
        burst.to_string(),
        "latency".to_string(),
        "50ms".to_string(),
    ]
    .to_vec()
}

/// The VM's `/etc/ssh/sshd_config`: root may log in with a key only, from the VM's
/// `/root/.ssh/authorized_keys`; one Ed25519 host key; logs and pid file in the VM's own `/run`.
/// PAM is off because its session modules expect a booted system (login records, systemd).
pub(crate) fn sshd_config() -> String {
    "# Written by the tumblebug local driver.\n\
     Port 22\n\
     HostKey /etc/ssh/ssh_host_ed25519_key\n\
     PidFile /run/sshd.pid\n\
     PermitRootLogin prohibit-password\n\
     PubkeyAuthentication yes\n\
     AuthorizedKeysFile .ssh/authorized_keys\n\
     PasswordAuthentication no\n\
     KbdInteractiveAuthentication no\n\
     UsePAM no\n\
     X11Forwarding no\n\
     PrintMotd no\n\
     Subsystem sftp internal-sftp\n"
        .to_string()
}

/// The paths a VM has to itself (bind mounts of its directory, in its mount namespace), as
/// (directory name under the VM's `fs/`, path inside the VM, mode). Every other path is the
/// host's, shared by all VMs.
pub const PRIVATE_PATHS: [(&str, &str, u32); 5] = [
    ("root", "/root", 0o700),
    ("tmp", "/tmp", 0o1777),
    ("srv", "/srv", 0o755),
    ("etc-ssh", "/etc/ssh", 0o755),
    ("run", "/run", 0o755),
];

/// The shell script that enters the VM's filesystem view and becomes its sshd. `$1` is the VM's
/// `fs/` directory, `$2` the sshd binary. The directory is first bound on `/mnt`, so that the
/// later mounts still find their sources when the state directory itself lies under a path they
/// cover (a state directory under `/tmp`, as in tests); `/mnt` is released at the end.
pub(crate) fn enter_script() -> String {
    let mut script = String::from("set -e\nmount --bind \"$1\" /mnt\n");
    for (dir, path, _) in PRIVATE_PATHS {
        script.push_str(&format!("mount --bind /mnt/{dir} {path}\n"));
    }
    script.push_str("umount /mnt\nexec \"$2\" -f /etc/ssh/sshd_config -E /run/sshd.log\n");
    script
}

/// The first two fields (type and key) of an OpenSSH public key line: the host key callers pin,
/// without the comment `ssh-keygen` adds.
pub(crate) fn key_line(text: &str) -> Option<String> {
    let mut fields = text.split_whitespace();
    let kind = fields.next()?;
    let key = fields.next()?;
    Some(format!("{kind} {key}"))
}

/// The IPv4 network `a.b.c.d/n` lies in: host bits are cleared, not refused, since the
/// provider accepts them in a rule's CIDR.
fn network_of(text: &str) -> Result<Cidr, String> {
    let (address, length) = text
        .split_once('/')
        .ok_or("it is not in the form a.b.c.d/n")?;
    let address: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("'{address}' is not an IPv4 address"))?;
    let prefix: u8 = length
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("'{length}' is not a prefix length from 0 to 32"))?;
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ok(Cidr {
        base: u32::from(address) & mask,
        prefix,
    })
}

/// Which way a security-group rule lets traffic pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Into the VM: the rule's CIDR is the source.
    Ingress,
    /// Out of the VM: the rule's CIDR is the destination.
    Egress,
}

/// One security-group rule as the nftables statement that accepts what it allows, or what is
/// wrong with it: the CIDR must be an IPv4 range, the protocol `tcp` or `udp` (with a port
/// range) or `icmp` or `all` (any case). The statement is made from the parsed values only, so
/// nothing of the request reaches `nft` as it was written.
pub(crate) fn accept_statement(
    rule: &FirewallRule,
    direction: Direction,
) -> Result<String, String> {
    let peer =
        network_of(&rule.cidr).map_err(|why| format!("cidr '{}': {why} (IPv4 only)", rule.cidr))?;
    let field = match direction {
        Direction::Ingress => "saddr",
        Direction::Egress => "daddr",
    };
    let protocol = rule.protocol.to_ascii_lowercase();
    let what = match protocol.as_str() {
        "tcp" | "udp" if rule.from_port <= rule.to_port => {
            format!(" {protocol} dport {}-{}", rule.from_port, rule.to_port)
        }
        "tcp" | "udp" => {
            return Err(format!(
                "ports {}-{}: from_port must not exceed to_port",
                rule.from_port, rule.to_port
            ))
        }
        "icmp" => " meta l4proto icmp".to_string(),
        "all" => String::new(),
        other => {
            return Err(format!(
                "protocol '{other}' is not one of tcp, udp, icmp, all"
            ))
        }
    };
    Ok(format!("ip {field} {peer}{what} accept"))
}

/// The nftables ruleset of a VM's network namespace: what comes in is dropped unless it belongs
/// to a connection the VM made or accepted, comes from the VM itself, or is allowed by an ingress
/// rule of its security group (see [`accept_statement`]). What goes out is filtered the same way
/// by the egress rules, when the group has any; a group without egress rules lets everything
/// out, like a cloud's default group.
pub(crate) fn firewall(
    ingress: &[FirewallRule],
    egress: &[FirewallRule],
) -> Result<String, String> {
    let mut script = String::from(
        "# Written by the tumblebug local driver: the VM's security group.\n\
         table inet tumblebug {\n",
    );
    let chains = [
        ("input", "iifname", ingress, Direction::Ingress),
        ("output", "oifname", egress, Direction::Egress),
    ];
    for (chain, interface, rules, direction) in chains {
        if direction == Direction::Egress && rules.is_empty() {
            continue;
        }
        script.push_str(&format!(
            "  chain {chain} {{\n    type filter hook {chain} priority filter; policy drop;\n    \
             ct state established,related accept\n    {interface} \"lo\" accept\n"
        ));
        for rule in rules {
            script.push_str(&format!("    {}\n", accept_statement(rule, direction)?));
        }
        script.push_str("  }\n");
    }
    script.push_str("}\n");
    Ok(script)
}
