//! The transfer engine: copies one local file to a path on many hosts, verified, resumable, and
//! routed around hosts that die.
//!
//! # How a transfer runs
//!
//! 1. Set-up, in parallel: the source is hashed (SHA-256) while every host gets a private work
//!    directory and reports the sizes of `<dest>` and `<dest>.part`. For relaying strategies each
//!    host also gets a fresh Ed25519 relay key in its `authorized_keys` (see below).
//! 2. Hosts that already hold the file (same size, same hash) are done; a complete
//!    `<dest>.part` is verified and renamed; a partial one is resumed from its size.
//! 3. Waves: the pending hosts are arranged by the strategy ([`Topology`]); each host gets its
//!    receive script (and, when it relays, its children's keys and host keys); the front-end
//!    streams the file into each root's script; relaying hosts forward it while writing it. Every
//!    receiver hashes what it writes (the resumed prefix re-read from disk, then the stream) and
//!    records a status line. The front-end polls the relayed hosts, kills receivers that stall,
//!    and collects one outcome per host.
//! 4. A host whose status shows the full size and the source's hash has its part file renamed
//!    to `<dest>`. Any other host stays pending and joins the next wave, resuming from what it
//!    has: a dead relay is bypassed because the next wave's topology no longer contains it
//!    (its former downstream is fed by the front-end again, from where it stopped). A host that
//!    fails `max_attempts` waves, or cannot be reached, is reported by name.
//! 5. Clean-up everywhere: relay keys out of `authorized_keys`, work directories removed.
//!
//! # Relay security
//!
//! Relay hops are OpenSSH connections between the VMs, authenticated both ways and encrypted,
//! with nothing long-lived left behind. Per transfer and per receiving host, the engine generates
//! an Ed25519 key pair and appends its public key to that host's `authorized_keys` as
//! `from="<relaying hosts>",command="sh <workdir>/recv.sh",restrict,expiry-time="..."`: the key
//! works only from the MCIS's hosts, only runs the receive script (which refuses requests that
//! do not carry the current wave's token), allows no forwarding or terminal, and expires on its
//! own if the clean-up never runs. The private key goes (over the front-end's SSH session, on
//! stdin) only to the host that feeds that receiver in the current wave, into a 0700 work
//! directory, next to a `known_hosts` holding only the receiver's pinned host key, so the relay
//! checks the receiver's identity exactly as the front-end does. Both are deleted at the end.
//! The user's own key never leaves the front-end.
//!
//! Trade-off: while a transfer runs, someone with the user's rights on a relaying VM could use
//! the relay key to write into the next VM's part file, nothing more. The alternatives were
//! worse: agent forwarding would lend the user's key to every VM, and routing all data through
//! the front-end is unicast.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssh_key::{Algorithm, LineEnding, PrivateKey};
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::plan::{self, judge, Progress, Resume, Topology, Verdict, Workload};
use crate::pool::parallel_map;
use crate::script::{self, Child, HostPaths, Wave};
use crate::ssh::{pinned_key, Connection, SecretKey, SshConfig};
use crate::{Host, ModelParams, Strategy};

/// One destination: a host and the path the file must end up at there (absolute, or relative to
/// the user's home directory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The host.
    pub host: Host,
    /// Destination path on the host.
    pub dest: String,
}

/// How a transfer runs. `Default` is a sensible start; set `model` to the real link speeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferOptions {
    /// Strategy; `Auto` lets the model choose.
    pub strategy: Strategy,
    /// Streams at a time when `Auto` picks unicast.
    pub unicast_parallel: usize,
    /// The time model's numbers.
    pub model: ModelParams,
    /// SSH timeouts and limits (`max_sessions` bounds the parallel set-up, polling and clean-up).
    pub ssh: SshConfig,
    /// Waves a host may take part in without finishing before it is reported as failed.
    pub max_attempts: u32,
    /// `from=` pattern of the relay keys (e.g. the MCIS subnet `10.0.0.0/16`); by default the
    /// relay addresses of the hosts in the transfer.
    pub relay_from: Option<String>,
    /// The source's SHA-256 (hex), when already known (an image catalog): skips hashing it.
    pub expected_sha256: Option<String>,
    /// Parent of the per-transfer work directories on the hosts (relative to home, or absolute).
    pub work_dir: String,
    /// How often relayed hosts are polled.
    pub poll_interval: Duration,
    /// A receiver whose file does not grow for this long is killed and its host re-fed.
    pub stall_timeout: Duration,
    /// How often progress is logged.
    pub progress_interval: Duration,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            strategy: Strategy::Auto,
            unicast_parallel: 8,
            model: ModelParams::default(),
            ssh: SshConfig::default(),
            max_attempts: 3,
            relay_from: None,
            expected_sha256: None,
            work_dir: ".tumblebug-transfer".to_string(),
            poll_interval: Duration::from_millis(500),
            stall_timeout: Duration::from_secs(60),
            progress_interval: Duration::from_secs(10),
        }
    }
}

/// How a host ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// The file was written and verified, and now has its final name.
    Transferred,
    /// The host already had the file (verified by hash); nothing was sent.
    AlreadyPresent,
    /// The host did not get the file; see `error`. Its `<dest>.part` (if any) stays for a
    /// resume; `<dest>` was not touched.
    Failed,
}

/// One host's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReport {
    /// Host name.
    pub name: String,
    /// Outcome.
    pub status: HostStatus,
    /// Bytes written into its copy by this transfer (less than the file size after a resume).
    pub bytes: u64,
    /// Waves it took part in.
    pub attempts: u32,
    /// Why it failed, or the last error it recovered from.
    pub error: Option<String>,
}

/// The result of a transfer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferReport {
    /// SHA-256 (hex) of the source.
    pub sha256: String,
    /// Size of the source in bytes.
    pub size: u64,
    /// The strategy that ran (never `Auto`).
    pub strategy_used: Strategy,
    /// What the model predicted for it.
    pub predicted_seconds: f64,
    /// Wall time from start to the end of the clean-up.
    pub elapsed_seconds: f64,
    /// Waves run (1 when nothing failed).
    pub waves: u32,
    /// Per host, in the order of the targets.
    pub hosts: Vec<HostReport>,
    /// Problems that did not fail a host (a clean-up that could not reach a host, ...).
    pub warnings: Vec<String>,
}

impl TransferReport {
    /// True if and only if every host has the file.
    pub fn all_succeeded(&self) -> bool {
        self.hosts.iter().all(|h| h.status != HostStatus::Failed)
    }

    /// Names of the hosts that did not get the file.
    pub fn failed_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| h.status == HostStatus::Failed)
            .map(|h| h.name.as_str())
            .collect()
    }
}

/// Copies `source` to every target, verified by SHA-256, and reports per host. Blocking: it runs
/// on the calling thread plus one thread per active session; from async code call it inside
/// `spawn_blocking`. `key` must be accepted by every host for its user.
///
/// Errors only when the request is unusable (bad host entries, unreadable source); host failures
/// are in the report.
pub fn transfer(
    source: &Path,
    targets: &[Target],
    key: &SecretKey,
    options: &TransferOptions,
) -> Result<TransferReport, Error> {
    let started = Instant::now();
    validate(targets, options)?;
    let size = std::fs::metadata(source)
        .map_err(|e| source_error(source, e))?
        .len();
    let id = random_id();
    let work = Workload {
        bytes: size,
        hosts: targets.len(),
        hash_bytes: if options.expected_sha256.is_some() {
            0
        } else {
            size
        },
    };
    let (strategy, predicted) = match options.strategy {
        Strategy::Auto => plan::choose(
            work,
            &options.model,
            &plan::candidates(options.unicast_parallel),
        ),
        fixed => (fixed, plan::predict(fixed, work, &options.model)),
    };
    info!(
        transfer = %id, source = %source.display(), bytes = size, hosts = targets.len(),
        strategy = ?strategy, predicted_seconds = format!("{predicted:.1}"),
        "transfer starting"
    );
    let engine = Engine::new(id, source, size, targets, key, options, strategy, predicted)?;
    Ok(engine.run(started))
}

/// Removes what [`transfer`] leaves on each target: `<dest>` and a partial `<dest>.part`. A
/// host with neither file succeeds. Results are in the order of `targets`.
pub fn remove(targets: &[Target], key: &SecretKey, config: &SshConfig) -> Vec<Result<(), Error>> {
    parallel_map(targets, config.max_sessions, |target| {
        target.host.validate()?;
        let mut conn = Connection::open(&target.host, key, config)?;
        let out = conn.run(&format!(
            "rm -f -- {} {}",
            script::quote(&target.dest),
            script::quote(&script::part_path(&target.dest))
        ))?;
        conn.require_success("remove the copy", out).map(|_| ())
    })
}

fn validate(targets: &[Target], options: &TransferOptions) -> Result<(), Error> {
    let mut names = std::collections::HashSet::new();
    for t in targets {
        t.host.validate()?;
        if !names.insert(t.host.name.as_str()) {
            return Err(Error::Invalid(format!(
                "host name {:?} appears twice",
                t.host.name
            )));
        }
        if t.dest.is_empty() || t.dest.contains(['\n', '\0']) || t.dest.ends_with('/') {
            return Err(Error::Invalid(format!(
                "host {}: destination {:?} is not a file path",
                t.host.name, t.dest
            )));
        }
    }
    if let Some(pattern) = &options.relay_from {
        let ok = |c: char| c.is_ascii_alphanumeric() || ".:/*?,!-_".contains(c);
        if pattern.is_empty() || !pattern.chars().all(ok) {
            return Err(Error::Invalid(format!(
                "relay_from {pattern:?} is not an address pattern list"
            )));
        }
    }
    if let Some(sha) = &options.expected_sha256 {
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "expected_sha256 {sha:?} is not a hex SHA-256"
            )));
        }
    }
    if options.work_dir.is_empty() || options.work_dir.contains(['\n', '\0', '"']) {
        return Err(Error::Invalid(format!(
            "work_dir {:?} is not usable",
            options.work_dir
        )));
    }
    Ok(())
}

fn source_error(path: &Path, source: std::io::Error) -> Error {
    Error::Source {
        path: path.display().to_string(),
        source,
    }
}

fn random_id() -> String {
    format!("{:016x}", OsRng.next_u64())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (lowercase hex) of the file at `path`, as [`transfer`] computes and verifies it.
pub fn hash_file(path: &Path) -> Result<String, Error> {
    let mut file = File::open(path).map_err(|e| source_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(source_error(path, e)),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// A per-transfer relay key for one receiving host. The private half is wiped on drop.
struct RelayKey {
    public: String,
    private: Zeroizing<String>,
}

fn relay_key(comment: &str) -> Result<RelayKey, Error> {
    let failed = |e: ssh_key::Error| Error::Invalid(format!("cannot generate a relay key: {e}"));
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(failed)?;
    key.set_comment(comment);
    Ok(RelayKey {
        public: key.public_key().to_openssh().map_err(failed)?,
        private: key.to_openssh(LineEnding::LF).map_err(failed)?,
    })
}

/// Where a host stands between waves.
#[derive(Clone, Debug)]
struct HostState {
    status: Option<HostStatus>,
    /// Size of `<dest>.part` as last seen: where the next wave resumes.
    part: u64,
    bytes: u64,
    attempts: u32,
    error: Option<String>,
}

/// How a host's part of a wave ended.
#[derive(Debug)]
enum Outcome {
    Finished {
        size: u64,
        sha256: String,
        code: i32,
    },
    Incomplete {
        size: Option<u64>,
        why: String,
    },
    Lost(Error),
}

struct Slot<'a> {
    target: &'a Target,
    paths: HostPaths,
    conn: Mutex<Option<Connection>>,
    key: Option<RelayKey>,
}

struct Engine<'a> {
    id: String,
    source: &'a Path,
    size: u64,
    key: &'a SecretKey,
    options: &'a TransferOptions,
    strategy: Strategy,
    predicted: f64,
    slots: Vec<Slot<'a>>,
    from: String,
    expiry: String,
}

impl<'a> Engine<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: String,
        source: &'a Path,
        size: u64,
        targets: &'a [Target],
        key: &'a SecretKey,
        options: &'a TransferOptions,
        strategy: Strategy,
        predicted: f64,
    ) -> Result<Engine<'a>, Error> {
        let marker = format!("tumblebug-transfer-{id}");
        let mut slots = Vec::with_capacity(targets.len());
        for target in targets {
            slots.push(Slot {
                target,
                paths: HostPaths::new(&options.work_dir, &id, &target.host.name, &target.dest),
                conn: Mutex::new(None),
                key: if strategy.relays() {
                    Some(relay_key(&marker)?)
                } else {
                    None
                },
            });
        }
        let from = options.relay_from.clone().unwrap_or_else(|| {
            let mut addresses: Vec<&str> = targets.iter().map(|t| t.host.relay_address()).collect();
            addresses.sort_unstable();
            addresses.dedup();
            addresses.join(",")
        });
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        // Long enough for any retry of this transfer, short enough to matter if the clean-up
        // never runs.
        let lifetime = (4.0 * predicted).max(2.0 * 3600.0) as i64;
        Ok(Engine {
            id,
            source,
            size,
            key,
            options,
            strategy,
            predicted,
            slots,
            from,
            expiry: script::expiry_stamp(now + lifetime),
        })
    }

    fn marker(&self) -> String {
        format!("tumblebug-transfer-{}", self.id)
    }

    fn host(&self, i: usize) -> &Host {
        &self.slots[i].target.host
    }

    /// Runs `f` on host `i`'s connection, (re)connecting first if needed; a connection an error
    /// broke is dropped, so the next use reconnects.
    fn with_conn<R>(
        &self,
        i: usize,
        f: impl FnOnce(&mut Connection) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut guard = self.slots[i].conn.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(Connection::is_broken) {
            *guard = None;
            *guard = Some(Connection::open(self.host(i), self.key, &self.ssh())?);
        }
        let conn = guard.as_mut().expect("connected above");
        let result = f(conn);
        if conn.is_broken() {
            *guard = None;
        }
        result
    }

    fn ssh(&self) -> SshConfig {
        self.options.ssh.clone()
    }

    fn limit(&self) -> usize {
        self.options.ssh.max_sessions
    }

    fn run(self, started: Instant) -> TransferReport {
        let n = self.slots.len();
        let mut states: Vec<HostState> = (0..n)
            .map(|_| HostState {
                status: None,
                part: 0,
                bytes: 0,
                attempts: 0,
                error: None,
            })
            .collect();
        let mut warnings = Vec::new();

        // Set-up on every host while the source is hashed.
        let (sha256, sizes) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| match &self.options.expected_sha256 {
                Some(sha) => Ok(sha.to_lowercase()),
                None => hash_file(self.source),
            });
            let indices: Vec<usize> = (0..n).collect();
            let sizes = parallel_map(&indices, self.limit(), |&i| self.setup(i));
            (
                hashing.join().expect("the hashing thread does not panic"),
                sizes,
            )
        });
        let sha256 = match sha256 {
            Ok(sha) => sha,
            Err(e) => {
                // The source vanished or became unreadable after it was measured.
                for state in &mut states {
                    state.status = Some(HostStatus::Failed);
                    state.error = Some(e.to_string());
                }
                String::new()
            }
        };

        // What each host already has.
        let indices: Vec<usize> = (0..n).collect();
        let checks = parallel_map(&indices, self.limit(), |&i| match &sizes[i] {
            Err(e) => Err(e.to_string()),
            Ok((dest, part)) => self.reuse(i, *dest, *part, &sha256),
        });
        for (state, check) in states.iter_mut().zip(checks) {
            if state.status.is_some() {
                continue;
            }
            match check {
                Ok(Reuse::Present) => state.status = Some(HostStatus::AlreadyPresent),
                Ok(Reuse::Renamed) => state.status = Some(HostStatus::Transferred),
                Ok(Reuse::ResumeFrom(part)) => state.part = part,
                Err(e) => {
                    state.attempts += 1;
                    state.error = Some(e);
                    if state.attempts >= self.options.max_attempts {
                        state.status = Some(HostStatus::Failed);
                    }
                }
            }
        }

        let mut wave = 0;
        while states.iter().any(|s| s.status.is_none()) {
            wave += 1;
            self.run_wave(wave, &mut states, &sha256);
        }

        // Clean-up on every host, including failed ones that may be back.
        let cleanups = parallel_map(&indices, self.limit(), |&i| self.cleanup(i));
        for (i, result) in cleanups.into_iter().enumerate() {
            if let Err(e) = result {
                let what = if self.strategy.relays() {
                    format!(
                        "its relay key stays in {} until {} and its work directory {} remains",
                        self.host(i).authorized_keys(),
                        self.expiry,
                        self.slots[i].paths.dir
                    )
                } else {
                    format!("its work directory {} remains", self.slots[i].paths.dir)
                };
                warnings.push(format!(
                    "clean-up on host {} failed ({e}): {what}",
                    self.host(i).name
                ));
            }
        }
        for w in &warnings {
            warn!(transfer = %self.id, "{w}");
        }

        let hosts: Vec<HostReport> = states
            .into_iter()
            .enumerate()
            .map(|(i, s)| HostReport {
                name: self.host(i).name.clone(),
                status: s.status.unwrap_or(HostStatus::Failed),
                bytes: s.bytes,
                attempts: s.attempts,
                error: s.error,
            })
            .collect();
        let elapsed = started.elapsed().as_secs_f64();
        let failed: Vec<&str> = hosts
            .iter()
            .filter(|h| h.status == HostStatus::Failed)
            .map(|h| h.name.as_str())
            .collect();
        info!(
            transfer = %self.id, strategy = ?self.strategy, elapsed_seconds = format!("{elapsed:.1}"),
            predicted_seconds = format!("{:.1}", self.predicted), waves = wave, failed = ?failed,
            "transfer finished"
        );
        TransferReport {
            sha256,
            size: self.size,
            strategy_used: self.strategy,
            predicted_seconds: self.predicted,
            elapsed_seconds: elapsed,
            waves: wave,
            hosts,
            warnings,
        }
    }

    /// Creates the work directory, authorizes the relay key, and returns the sizes of `<dest>`
    /// and `<dest>.part`.
    fn setup(&self, i: usize) -> Result<(Option<u64>, Option<u64>), Error> {
        let slot = &self.slots[i];
        let line = slot.key.as_ref().map(|k| {
            script::authorized_keys_line(
                &k.public,
                &self.from,
                &slot.paths,
                &self.expiry,
                &self.marker(),
            )
        });
        let file = self.host(i).authorized_keys().to_string();
        let setup = script::setup_script(&slot.paths, line.as_deref().map(|l| (file.as_str(), l)));
        self.with_conn(i, |c| {
            let out = c.run_with_input(
                "sh -s",
                &mut setup.as_bytes(),
                Some(self.options.ssh.command_timeout),
                &mut |_| {},
            )?;
            let out = c.require_success("prepare the transfer", out)?;
            script::parse_sizes(&out.stdout_text()).map_err(|e| Error::CommandFailed {
                host: self.host(i).name.clone(),
                action: "prepare the transfer".into(),
                status: "exit 0".into(),
                stderr: e,
            })
        })
    }

    /// Uses what a host already has: a verified `<dest>`, or a verified complete part file.
    fn reuse(
        &self,
        i: usize,
        dest: Option<u64>,
        part: Option<u64>,
        sha256: &str,
    ) -> Result<Reuse, String> {
        let paths = &self.slots[i].paths;
        let hash = |path: &str| {
            self.with_conn(i, |c| {
                let out = c.check("hash the existing file", &script::hash_command(path))?;
                Ok(out.stdout_text().trim().to_string())
            })
            .map_err(|e| e.to_string())
        };
        match plan::resume(dest, part, self.size) {
            Resume::CheckExisting => {
                if hash(&paths.dest)? == sha256 {
                    return Ok(Reuse::Present);
                }
                let part = part.filter(|&p| p < self.size).unwrap_or(0);
                Ok(Reuse::ResumeFrom(part))
            }
            Resume::VerifyPart => {
                if hash(&paths.part)? == sha256 {
                    self.with_conn(i, |c| {
                        c.check("rename the verified file", &script::finalize_command(paths))
                    })
                    .map_err(|e| e.to_string())?;
                    Ok(Reuse::Renamed)
                } else {
                    Ok(Reuse::ResumeFrom(0))
                }
            }
            Resume::SendFrom(offset) => Ok(Reuse::ResumeFrom(offset)),
        }
    }

    fn run_wave(&self, wave: u32, states: &mut [HostState], sha256: &str) {
        let members: Vec<usize> = (0..states.len())
            .filter(|&i| states[i].status.is_none())
            .collect();
        for &i in &members {
            states[i].attempts += 1;
        }
        // Hosts lost in an earlier wave rejoin only if they answer again; the sizes also give
        // the resume offsets after the previous wave.
        let fresh: Vec<Result<u64, Error>> = if wave == 1 {
            members.iter().map(|&i| Ok(states[i].part)).collect()
        } else {
            parallel_map(&members, self.limit(), |&i| {
                let paths = &self.slots[i].paths;
                let out = self.with_conn(i, |c| {
                    c.check(
                        "look at the partial copy",
                        &format!(
                            "stat -c %s {} 2>/dev/null || echo 0",
                            script::quote(&paths.part)
                        ),
                    )
                })?;
                Ok(out.stdout_text().trim().parse::<u64>().unwrap_or(0))
            })
        };
        let mut hosts = Vec::new();
        for (&i, result) in members.iter().zip(fresh) {
            match result {
                Ok(part) => {
                    // A pending host with a full-size part file failed verification (verified
                    // ones were renamed): start it over.
                    states[i].part = if part >= self.size { 0 } else { part };
                    hosts.push(i);
                }
                Err(e) => self.fail_attempt(&mut states[i], e.to_string()),
            }
        }
        if hosts.is_empty() {
            return;
        }
        let topology = Topology::build(self.strategy, hosts.len());
        let resume: Vec<u64> = hosts.iter().map(|&i| states[i].part).collect();
        let offsets = topology.stream_offsets(&resume);
        info!(
            transfer = %self.id, wave, hosts = hosts.len(), strategy = ?self.strategy,
            "wave starting"
        );

        // Install every host's receive script and its children's keys.
        let positions: Vec<usize> = (0..hosts.len()).collect();
        let installed = parallel_map(&positions, self.limit(), |&pos| {
            let i = hosts[pos];
            let kids = topology.children(pos);
            let children: Vec<Child> = kids.iter().map(|&c| self.child(hosts[c])).collect();
            let keys: Vec<(&str, &str)> = kids
                .iter()
                .filter_map(|&c| {
                    let slot = &self.slots[hosts[c]];
                    slot.key
                        .as_ref()
                        .map(|k| (slot.target.host.name.as_str(), k.private.as_str()))
                })
                .collect();
            // It holds private keys: wiped once sent.
            let install = Zeroizing::new(script::install_script(
                &Wave {
                    transfer_id: &self.id,
                    wave,
                    paths: &self.slots[i].paths,
                    offset: offsets[pos],
                    children: &children,
                },
                &keys,
            ));
            self.with_conn(i, |c| {
                let out = c.run_with_input(
                    "sh -s",
                    &mut install.as_bytes(),
                    Some(self.options.ssh.command_timeout),
                    &mut |_| {},
                )?;
                c.require_success("install the receive script", out)
            })
            .map(|_| ())
        });

        let outcomes = self.stream_and_watch(wave, &hosts, &topology, &offsets, installed);

        // Verify, rename, or keep for the next wave.
        let finals = parallel_map(&positions, self.limit(), |&pos| {
            let i = hosts[pos];
            match &outcomes[pos] {
                Outcome::Finished { size, sha256: got, .. } if *size == self.size && got == sha256 => {
                    let paths = &self.slots[i].paths;
                    self.with_conn(i, |c| {
                        c.check("rename the verified file", &script::finalize_command(paths))
                    })
                    .map(|_| true)
                    .map_err(|e| e.to_string())
                }
                Outcome::Finished { size, sha256: got, code } if *size == self.size => {
                    let paths = &self.slots[i].paths;
                    // Should the discard fail, the next wave starts over anyway: a pending host's
                    // full-size part file is never trusted.
                    let _ = self.with_conn(i, |c| {
                        c.check("discard the bad copy", &script::discard_command(paths))
                    });
                    Err(format!(
                        "checksum mismatch: the copy hashes to {got}, expected {sha256} (writer exit {code}); the copy was discarded"
                    ))
                }
                Outcome::Finished { size, code, .. } => Err(format!(
                    "incomplete: received {size} of {} bytes (writer exit {code}); its feed was cut, it will resume",
                    self.size
                )),
                Outcome::Incomplete { why, .. } => Err(why.clone()),
                Outcome::Lost(e) => Err(e.to_string()),
            }
        });
        for (pos, result) in finals.into_iter().enumerate() {
            let i = hosts[pos];
            let state = &mut states[i];
            let size = match &outcomes[pos] {
                Outcome::Finished { size, .. } => Some(*size),
                Outcome::Incomplete { size, .. } => *size,
                Outcome::Lost(_) => None,
            };
            if let Some(size) = size {
                state.bytes += size.saturating_sub(offsets[pos]);
                state.part = size.min(self.size);
            }
            match result {
                Ok(_) => {
                    state.status = Some(HostStatus::Transferred);
                    info!(transfer = %self.id, host = %self.host(i).name, "host verified");
                }
                Err(e) => {
                    warn!(transfer = %self.id, host = %self.host(i).name, wave, "{e}");
                    self.fail_attempt(state, e);
                }
            }
        }
    }

    fn fail_attempt(&self, state: &mut HostState, error: String) {
        state.error = Some(error);
        if state.attempts >= self.options.max_attempts {
            state.status = Some(HostStatus::Failed);
        }
    }

    fn child(&self, i: usize) -> Child {
        let host = self.host(i);
        let key = pinned_key(host)
            .ok()
            .and_then(|k| k.to_openssh().ok())
            .unwrap_or_default();
        let mut fields = key.split_whitespace();
        let host_key = format!(
            "{} {}",
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default()
        );
        Child {
            name: host.name.clone(),
            address: host.relay_address().to_string(),
            port: host.port,
            user: host.user.clone(),
            host_key,
        }
    }

    /// Streams the file into every root and watches the relayed hosts until each has an
    /// outcome. Positions index `hosts` (and the topology).
    fn stream_and_watch(
        &self,
        wave: u32,
        hosts: &[usize],
        topology: &Topology,
        offsets: &[u64],
        installed: Vec<Result<(), Error>>,
    ) -> Vec<Outcome> {
        let count = hosts.len();
        let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..count).map(|_| None).collect());
        let over: Vec<AtomicBool> = (0..count).map(|_| AtomicBool::new(false)).collect();
        // Bytes the front-end streamed into each position this wave (roots only).
        let fed: Vec<AtomicU64> = (0..count).map(|_| AtomicU64::new(0)).collect();
        let settle = |pos: usize, outcome: Outcome| {
            over[pos].store(true, Ordering::SeqCst);
            outcomes.lock().unwrap_or_else(|e| e.into_inner())[pos].get_or_insert(outcome);
        };
        for (pos, result) in installed.into_iter().enumerate() {
            if let Err(e) = result {
                settle(pos, Outcome::Lost(e));
            }
        }
        let roots: Vec<usize> = topology
            .roots()
            .into_iter()
            .filter(|&r| !over[r].load(Ordering::SeqCst))
            .collect();
        let parallel = match self.strategy {
            Strategy::Unicast { parallel } => parallel,
            _ => roots.len(),
        };
        let (woken, wake) = mpsc::channel::<()>();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                parallel_map(&roots, parallel, |&pos| {
                    let outcome = self.feed(wave, hosts[pos], offsets[pos], &fed[pos]);
                    settle(pos, outcome);
                    let _ = woken.send(());
                });
                drop(woken);
            });
            let streams = Streams { offsets, fed: &fed };
            self.watch(wave, hosts, topology, &over, &settle, &streams, &wake);
        });
        outcomes
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|o| o.expect("every position is settled before the wave ends"))
            .collect()
    }

    /// Streams the file from `offset` into host `i`'s receive script, then reads its status.
    /// Counts the bytes sent in `fed`.
    fn feed(&self, wave: u32, i: usize, offset: u64, fed: &AtomicU64) -> Outcome {
        let paths = &self.slots[i].paths;
        let mut file = match File::open(self.source) {
            Ok(f) => f,
            Err(e) => {
                return Outcome::Incomplete {
                    size: None,
                    why: source_error(self.source, e).to_string(),
                }
            }
        };
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            return Outcome::Incomplete {
                size: None,
                why: source_error(self.source, e).to_string(),
            };
        }
        // No stream should take ten times its predicted time; a bound keeps a wedged host from
        // holding the transfer forever.
        let expected = (self.size - offset) as f64 / self.options.model.host_bandwidth;
        let deadline = Duration::from_secs_f64((10.0 * expected).max(600.0));
        let result = self.with_conn(i, |c| {
            let out = c.run_with_input(
                &script::feed_command(&self.id, wave, paths),
                &mut file,
                Some(deadline),
                &mut |n| {
                    fed.fetch_add(n, Ordering::Relaxed);
                },
            )?;
            let progress = c.check(
                "read the receiver's status",
                &script::poll_command(wave, paths),
            )?;
            Ok((out, progress.stdout_text()))
        });
        match result {
            Err(e) => Outcome::Lost(e),
            Ok((out, progress)) => match script::parse_progress(&progress) {
                Ok(Progress::Finished { size, sha256, code }) => {
                    Outcome::Finished { size, sha256, code }
                }
                _ => Outcome::Incomplete {
                    size: None,
                    why: format!(
                        "the receiver did not finish ({}): {}",
                        out.status_text(),
                        out.stderr_text().trim()
                    ),
                },
            },
        }
    }

    /// Polls the relayed hosts until each has an outcome; kills stalled receivers; logs
    /// progress.
    #[allow(clippy::too_many_arguments)]
    fn watch(
        &self,
        wave: u32,
        hosts: &[usize],
        topology: &Topology,
        over: &[AtomicBool],
        settle: &(dyn Fn(usize, Outcome) + Sync),
        streams: &Streams,
        wake: &mpsc::Receiver<()>,
    ) {
        let count = hosts.len();
        let relayed: Vec<usize> = (0..count)
            .filter(|&p| topology.parent(p).is_some())
            .collect();
        let mut last_size: Vec<Option<u64>> = vec![None; count];
        let mut last_change: Vec<Instant> = vec![Instant::now(); count];
        let mut next_log = Instant::now() + self.options.progress_interval;
        let mut roots_running = true;
        loop {
            let open: Vec<usize> = relayed
                .iter()
                .copied()
                .filter(|&p| !over[p].load(Ordering::SeqCst))
                .collect();
            if open.is_empty() && !roots_running {
                break;
            }
            let polls = parallel_map(&open, self.limit(), |&pos| {
                let i = hosts[pos];
                let paths = &self.slots[i].paths;
                self.with_conn(i, |c| {
                    c.check("poll the receiver", &script::poll_command(wave, paths))
                })
                .map(|out| script::parse_progress(&out.stdout_text()))
            });
            for (&pos, poll) in open.iter().zip(polls) {
                let i = hosts[pos];
                let progress = match poll {
                    Err(e) => {
                        settle(pos, Outcome::Lost(e));
                        continue;
                    }
                    Ok(Err(e)) => {
                        settle(
                            pos,
                            Outcome::Incomplete {
                                size: last_size[pos],
                                why: e,
                            },
                        );
                        continue;
                    }
                    Ok(Ok(p)) => p,
                };
                let size = match &progress {
                    Progress::Running(s) | Progress::Gone(s) => Some(*s),
                    Progress::Finished { size, .. } => Some(*size),
                    Progress::Waiting => None,
                };
                if size.is_some() && size != last_size[pos] {
                    last_size[pos] = size;
                    last_change[pos] = Instant::now();
                }
                let parent_over = topology
                    .parent(pos)
                    .is_none_or(|p| over[p].load(Ordering::SeqCst));
                let name = &self.host(i).name;
                match judge(
                    &progress,
                    last_change[pos].elapsed(),
                    parent_over,
                    self.options.stall_timeout,
                ) {
                    Verdict::Wait => {}
                    Verdict::Done => settle(
                        pos,
                        match progress {
                            Progress::Finished { size, sha256, code } => {
                                Outcome::Finished { size, sha256, code }
                            }
                            _ => Outcome::Incomplete {
                                size,
                                why: "its receiver was stopped before the end".into(),
                            },
                        },
                    ),
                    Verdict::Orphaned => settle(
                        pos,
                        Outcome::Incomplete {
                            size: last_size[pos],
                            why: "its relay parent never connected to it".into(),
                        },
                    ),
                    Verdict::Stalled => {
                        warn!(transfer = %self.id, host = %name, wave, "receiver stalled, stopping it");
                        let paths = &self.slots[i].paths;
                        let killed =
                            self.with_conn(i, |c| c.run(&script::kill_command(wave, paths)));
                        settle(
                            pos,
                            match killed {
                                Ok(_) => Outcome::Incomplete {
                                    size: last_size[pos],
                                    why: format!(
                                        "its data stopped arriving for {:?}",
                                        self.options.stall_timeout
                                    ),
                                },
                                Err(e) => Outcome::Lost(e),
                            },
                        );
                    }
                }
            }
            if Instant::now() >= next_log {
                next_log = Instant::now() + self.options.progress_interval;
                let done = over.iter().filter(|o| o.load(Ordering::SeqCst)).count();
                // A root holds what was streamed into it; a relayed host what its poll saw.
                let have: Vec<u64> = (0..count)
                    .map(|p| match topology.parent(p) {
                        None => streams.offsets[p] + streams.fed[p].load(Ordering::Relaxed),
                        Some(_) => last_size[p].unwrap_or(streams.offsets[p]),
                    })
                    .collect();
                let names: Vec<&str> = hosts.iter().map(|&i| self.host(i).name.as_str()).collect();
                let (percent, per_host) = progress_summary(&names, &have, self.size);
                let sent: u64 = streams.fed.iter().map(|f| f.load(Ordering::Relaxed)).sum();
                info!(
                    transfer = %self.id, wave, percent, sent_mib = sent >> 20,
                    hosts_over = done, hosts = count, per_host = %per_host,
                    "transfer progress"
                );
            }
            // Wake early when a root's stream ends: its downstream finishes right after.
            let pause = if roots_running {
                self.options.poll_interval
            } else {
                self.options.poll_interval.min(Duration::from_millis(100))
            };
            match wake.recv_timeout(pause) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if roots_running {
                        roots_running = false;
                    } else {
                        std::thread::sleep(pause);
                    }
                }
            }
        }
    }

    /// Removes the relay key and the work directory.
    fn cleanup(&self, i: usize) -> Result<(), Error> {
        let paths = &self.slots[i].paths;
        let mut script = String::new();
        if self.strategy.relays() {
            script += &script::unauthorize_script(self.host(i).authorized_keys(), &self.marker());
        }
        script += &script::cleanup_script(paths);
        self.with_conn(i, |c| {
            let out = c.run_with_input(
                "sh -s",
                &mut script.as_bytes(),
                Some(self.options.ssh.command_timeout),
                &mut |_| {},
            )?;
            c.require_success("clean up", out)
        })
        .map(|_| ())
    }
}

/// What the front-end streams in a wave, by position: where each stream starts and how much has
/// gone into it so far.
struct Streams<'a> {
    offsets: &'a [u64],
    fed: &'a [AtomicU64],
}

/// The progress log's numbers: the percentage of all hosts' bytes that are in place, and each
/// host's own percentage (`"vm-1 40%, vm-2 38%"`), from what each host holds of a file of `size`
/// bytes.
fn progress_summary(names: &[&str], have: &[u64], size: u64) -> (u64, String) {
    let percent = |part: u64, whole: u64| {
        if whole == 0 {
            100
        } else {
            (u128::from(part.min(whole)) * 100 / u128::from(whole)) as u64
        }
    };
    let held: u64 = have.iter().map(|&h| h.min(size)).sum();
    let per_host = names
        .iter()
        .zip(have)
        .map(|(name, &h)| format!("{name} {}%", percent(h, size)))
        .collect::<Vec<_>>()
        .join(", ");
    (percent(held, size * have.len() as u64), per_host)
}

/// What a host's existing files are good for.
enum Reuse {
    Present,
    Renamed,
    ResumeFrom(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_keys_are_fresh_ed25519_pairs() {
        let a = relay_key("tumblebug-transfer-x").unwrap();
        let b = relay_key("tumblebug-transfer-x").unwrap();
        assert!(a.public.starts_with("ssh-ed25519 "));
        assert!(a.public.ends_with(" tumblebug-transfer-x"));
        assert_ne!(a.public, b.public);
        assert!(a.private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    }

    #[test]
    fn validation() {
        let host = Host::new(
            "vm-1",
            "127.0.0.1",
            22,
            "root",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeYmrWLqUz7zR5aGMPrN3qHS55h/oeCbLDk2FoOvQ0f",
        );
        let target = |dest: &str| Target {
            host: host.clone(),
            dest: dest.into(),
        };
        let ok = TransferOptions::default();
        assert!(validate(&[target("/a/b")], &ok).is_ok());
        assert!(validate(&[target("/a/b"), target("/c")], &ok).is_err());
        assert!(validate(&[target("")], &ok).is_err());
        assert!(validate(&[target("/dir/")], &ok).is_err());
        let bad_from = TransferOptions {
            relay_from: Some("10.0.0.0/8\",command=\"x".into()),
            ..TransferOptions::default()
        };
        assert!(validate(&[target("/a")], &bad_from).is_err());
        let bad_sha = TransferOptions {
            expected_sha256: Some("abc".into()),
            ..TransferOptions::default()
        };
        assert!(validate(&[target("/a")], &bad_sha).is_err());
    }

    #[test]
    fn progress_summary_gives_each_host_and_the_whole() {
        let (percent, per_host) = progress_summary(&["a", "b", "c"], &[100, 50, 0], 100);
        assert_eq!(percent, 50);
        assert_eq!(per_host, "a 100%, b 50%, c 0%");
        // A resumed prefix rewritten past the size still counts as the whole file, no more.
        assert_eq!(progress_summary(&["a"], &[150], 100).0, 100);
        assert_eq!(progress_summary(&["a"], &[0], 0), (100, "a 100%".into()));
        assert_eq!(progress_summary(&[], &[], 100).0, 100);
    }

    #[test]
    fn hex_and_hash() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            hash_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
