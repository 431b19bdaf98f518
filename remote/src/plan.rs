//! The pure half of a transfer: which strategy, who sends to whom, from which offset, how long it
//! should take, and what to make of a host's progress. No I/O, so every rule here is tested
//! exhaustively without SSH.
//!
//! The time model treats a transfer as a set-up phase plus a stream phase. Every host must receive
//! the whole file, so nothing beats `S / B_host`; what differs between strategies is how many
//! streams share the front-end's uplink (unicast: all of them), how many children share a relay's
//! uplink (tree: k), how long the pipeline takes to fill (one SSH hop per level), and how much
//! CPU the encryption costs (one encryption and one decryption per delivered byte, whatever the
//! strategy). It reproduces the seed paper's finding: with a front-end uplink ten times a host's,
//! unicast wins for a handful of hosts and relaying wins from a few dozen.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the file travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Strategy {
    /// The front-end sends to every host itself, `parallel` streams at a time.
    Unicast {
        /// Streams at the same time (at least 1).
        parallel: usize,
    },
    /// A pipelined relay: front-end -> host 1 -> host 2 -> ... Every host receives at link speed
    /// at the same time; a dead host cuts off everything downstream until it is re-linked.
    Chain,
    /// A k-ary relay: the front-end feeds `fanout` hosts, each of which feeds `fanout` more. Each
    /// sender's uplink is split k ways, but the pipeline is only log_k(N) deep and a dead host
    /// cuts off only its own subtree.
    Tree {
        /// Children per sender (at least 2).
        fanout: usize,
    },
    /// Whichever of the above the model predicts to be fastest.
    Auto,
}

impl Strategy {
    /// True for the strategies in which hosts forward data to other hosts.
    pub fn relays(&self) -> bool {
        matches!(self, Strategy::Chain | Strategy::Tree { .. })
    }
}

/// The numbers the time model needs. Rates are in bytes per second, times in seconds. The
/// defaults assume idle VMs on a 1 Gbit/s LAN; pass the real link speeds. `transfer-bench`
/// calibrates its own from measurements (`docs/benchmarks/transfer.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelParams {
    /// Each host's link, in each direction.
    pub host_bandwidth: f64,
    /// The front-end's uplink.
    pub frontend_bandwidth: f64,
    /// How fast one core encrypts (or decrypts) an SSH stream, including the copies around it.
    pub crypto_rate: f64,
    /// How fast one core computes SHA-256.
    pub hash_rate: f64,
    /// Cores the front-end can spend on encryption.
    pub frontend_cores: f64,
    /// Cores a host can spend on relaying.
    pub host_cores: f64,
    /// When every host and the front-end share one machine (a test rig), its cores; `None` for
    /// real VMs.
    pub shared_cores: Option<f64>,
    /// Opening an SSH connection from the front-end (in parallel to every host).
    pub connect_seconds: f64,
    /// One round of short commands on every host in parallel.
    pub command_seconds: f64,
    /// Delay a relay hop adds before data flows through it (its SSH connection to the next host).
    pub hop_seconds: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            host_bandwidth: 125e6,
            frontend_bandwidth: 125e6,
            crypto_rate: 400e6,
            hash_rate: 1.5e9,
            frontend_cores: 2.0,
            host_cores: 1.0,
            shared_cores: None,
            connect_seconds: 0.05,
            command_seconds: 0.02,
            hop_seconds: 0.08,
        }
    }
}

/// What is to be transferred, for the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Bytes each host still needs.
    pub bytes: u64,
    /// Hosts to feed.
    pub hosts: usize,
    /// Bytes the front-end must hash before it can verify anything (0 when the caller supplied
    /// the hash).
    pub hash_bytes: u64,
}

/// The strategies `auto` chooses from, given the configured unicast parallelism.
pub fn candidates(unicast_parallel: usize) -> Vec<Strategy> {
    vec![
        Strategy::Unicast {
            parallel: unicast_parallel.max(1),
        },
        Strategy::Chain,
        Strategy::Tree { fanout: 2 },
        Strategy::Tree { fanout: 3 },
        Strategy::Tree { fanout: 4 },
    ]
}

/// Predicted seconds for `strategy` (never `Auto`: resolve it with [`choose`] first).
pub fn predict(strategy: Strategy, work: Workload, p: &ModelParams) -> f64 {
    if work.hosts == 0 {
        return 0.0;
    }
    let n = work.hosts as f64;
    let s = work.bytes as f64;
    // Per delivered byte: one encryption, one decryption, one SHA-256 on the receiver.
    let cpu_per_byte = 2.0 / p.crypto_rate + 1.0 / p.hash_rate;
    // Connect and look at every host while the source is hashed.
    let ready = (p.connect_seconds + p.command_seconds).max(work.hash_bytes as f64 / p.hash_rate);
    // After the stream: read the status and rename, one round.
    let finish = p.command_seconds;
    match strategy {
        Strategy::Unicast { parallel } => {
            let a = parallel.max(1).min(work.hosts);
            let rate = |streams: usize| {
                let k = streams as f64;
                let mut r = p
                    .host_bandwidth
                    .min(p.frontend_bandwidth / k)
                    .min(p.crypto_rate)
                    .min(p.frontend_cores * p.crypto_rate / k);
                if let Some(cores) = p.shared_cores {
                    r = r.min(cores / (k * cpu_per_byte));
                }
                r
            };
            let full = work.hosts / a;
            let rest = work.hosts % a;
            let mut stream = full as f64 * s / rate(a);
            if rest > 0 {
                stream += s / rate(rest);
            }
            ready + p.command_seconds + stream + finish
        }
        Strategy::Chain | Strategy::Tree { .. } => {
            let topology = Topology::build(strategy, work.hosts);
            let roots = topology.roots().len() as f64;
            let fanout = (0..work.hosts)
                .map(|i| topology.children(i).len())
                .max()
                .unwrap_or(0) as f64;
            let mut r = p
                .host_bandwidth
                .min(p.frontend_bandwidth / roots)
                .min(p.crypto_rate)
                .min(p.frontend_cores * p.crypto_rate / roots);
            if fanout > 0.0 {
                // A relay decrypts once and encrypts once per child.
                r = r
                    .min(p.host_bandwidth / fanout)
                    .min(p.host_cores * p.crypto_rate / (fanout + 1.0));
            }
            if let Some(cores) = p.shared_cores {
                r = r.min(cores / (n * cpu_per_byte));
            }
            let fill = topology.max_depth() as f64 * p.hop_seconds;
            // Relay keys and scripts: one more round than unicast.
            ready + 2.0 * p.command_seconds + fill + s / r + finish
        }
        Strategy::Auto => {
            let (chosen, _) = choose(work, p, &candidates(8));
            predict(chosen, work, p)
        }
    }
}

/// The fastest of `from` for this workload, with its prediction. Ties go to the earlier
/// candidate, so list the simpler strategies first.
pub fn choose(work: Workload, p: &ModelParams, from: &[Strategy]) -> (Strategy, f64) {
    let mut best = (Strategy::Chain, f64::INFINITY);
    for &candidate in from.iter().filter(|s| **s != Strategy::Auto) {
        let t = predict(candidate, work, p);
        if t < best.1 {
            best = (candidate, t);
        }
    }
    best
}

/// Who feeds whom: for each host (by index), its parent host, or `None` when the front-end feeds
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    parents: Vec<Option<usize>>,
}

impl Topology {
    /// The shape of `strategy` over `n` hosts. A tree is numbered breadth-first with the
    /// front-end as the virtual root, so host `i`'s parent is host `i / k - 1` (the front-end
    /// when `i < k`): every level is full before the next one starts, which keeps it shallow.
    pub fn build(strategy: Strategy, n: usize) -> Topology {
        let parents = (0..n)
            .map(|i| match strategy {
                Strategy::Unicast { .. } | Strategy::Auto => None,
                Strategy::Chain => i.checked_sub(1),
                Strategy::Tree { fanout } => {
                    let k = fanout.max(2);
                    (i / k).checked_sub(1)
                }
            })
            .collect();
        Topology { parents }
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// True if there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    /// The host feeding `host`, `None` for the front-end.
    pub fn parent(&self, host: usize) -> Option<usize> {
        self.parents[host]
    }

    /// The hosts `host` feeds, in order.
    pub fn children(&self, host: usize) -> Vec<usize> {
        (0..self.parents.len())
            .filter(|&i| self.parents[i] == Some(host))
            .collect()
    }

    /// The hosts the front-end feeds.
    pub fn roots(&self) -> Vec<usize> {
        (0..self.parents.len())
            .filter(|&i| self.parents[i].is_none())
            .collect()
    }

    /// The root whose stream reaches `host`.
    pub fn root_of(&self, mut host: usize) -> usize {
        while let Some(parent) = self.parents[host] {
            host = parent;
        }
        host
    }

    /// Hops from the front-end to `host` (1 for a root).
    pub fn depth(&self, mut host: usize) -> usize {
        let mut depth = 1;
        while let Some(parent) = self.parents[host] {
            host = parent;
            depth += 1;
        }
        depth
    }

    /// The deepest host's depth (0 without hosts).
    pub fn max_depth(&self) -> usize {
        (0..self.parents.len())
            .map(|i| self.depth(i))
            .max()
            .unwrap_or(0)
    }

    /// The offset each root's stream starts at: the smallest resume offset among the hosts it
    /// reaches, since one stream feeds them all. Hosts further along rewrite a little data they
    /// already had, which costs less than a separate stream.
    pub fn stream_offsets(&self, resume_from: &[u64]) -> Vec<u64> {
        let mut offsets: Vec<u64> = resume_from.to_vec();
        for (host, &from) in resume_from.iter().enumerate() {
            let root = self.root_of(host);
            offsets[root] = offsets[root].min(from);
        }
        (0..self.len()).map(|i| offsets[self.root_of(i)]).collect()
    }
}

/// What to do with a host given the size of its `<dest>.part` (if any) and of its `<dest>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// `<dest>` already has the file's size: hash it; if it matches, nothing to send.
    CheckExisting,
    /// `<dest>.part` is complete: hash it, then rename it or start over.
    VerifyPart,
    /// Send from this offset (0: from scratch).
    SendFrom(u64),
}

/// Decides [`Resume`] from the sizes found on the host.
pub fn resume(dest: Option<u64>, part: Option<u64>, total: u64) -> Resume {
    match (dest, part) {
        (Some(d), _) if d == total => Resume::CheckExisting,
        (_, Some(p)) if p == total => Resume::VerifyPart,
        (_, Some(p)) if p < total => Resume::SendFrom(p),
        _ => Resume::SendFrom(0),
    }
}

/// What a host reported when polled during a wave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Its receiver has not started (its parent has not connected yet).
    Waiting,
    /// Its receiver runs and `<dest>.part` has this size.
    Running(u64),
    /// Its receiver is gone without a status: it was killed.
    Gone(u64),
    /// Its receiver finished: the tee exit code, the final size and the SHA-256 of the file.
    Finished {
        /// Exit code of the writer.
        code: i32,
        /// Size of `<dest>.part`.
        size: u64,
        /// SHA-256 (hex) of `<dest>.part`.
        sha256: String,
    },
}

/// The monitor's verdict on a relayed host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep watching.
    Wait,
    /// The wave is over for this host (finished, or killed earlier).
    Done,
    /// It never received a connection and its parent is done: its feed is lost.
    Orphaned,
    /// It stopped growing for too long: kill its receiver, then treat it as incomplete.
    Stalled,
}

/// Judges a relayed host's progress. `quiet` is how long its size has not changed (or how long it
/// has been waiting), `parent_over` whether its feeder's part of the wave is over.
pub fn judge(progress: &Progress, quiet: Duration, parent_over: bool, stall: Duration) -> Verdict {
    match progress {
        Progress::Finished { .. } | Progress::Gone(_) => Verdict::Done,
        // A parent that is done without ever connecting will not connect any more; the quiet
        // period covers a connection that is on its way.
        Progress::Waiting if parent_over && quiet >= stall.min(Duration::from_secs(5)) => {
            Verdict::Orphaned
        }
        Progress::Waiting | Progress::Running(_) if quiet >= stall => Verdict::Stalled,
        Progress::Waiting | Progress::Running(_) => Verdict::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MBIT: f64 = 1e6 / 8.0;
    const GBIT: f64 = 1e9 / 8.0;

    fn work(bytes: u64, hosts: usize) -> Workload {
        Workload {
            bytes,
            hosts,
            hash_bytes: 0,
        }
    }

    #[test]
    fn topologies() {
        let check = |strategy, n, parents: &[Option<usize>], depth| {
            let t = Topology::build(strategy, n);
            assert_eq!(t.parents, parents, "{strategy:?} {n}");
            assert_eq!(t.max_depth(), depth, "{strategy:?} {n}");
        };
        check(Strategy::Unicast { parallel: 2 }, 3, &[None, None, None], 1);
        check(Strategy::Chain, 0, &[], 0);
        check(Strategy::Chain, 1, &[None], 1);
        check(Strategy::Chain, 4, &[None, Some(0), Some(1), Some(2)], 4);
        check(
            Strategy::Tree { fanout: 2 },
            7,
            &[None, None, Some(0), Some(0), Some(1), Some(1), Some(2)],
            3,
        );
        check(
            Strategy::Tree { fanout: 3 },
            8,
            &[
                None,
                None,
                None,
                Some(0),
                Some(0),
                Some(0),
                Some(1),
                Some(1),
            ],
            2,
        );
        // A fan-out below 2 would be a chain with extra steps: it is raised to 2.
        check(Strategy::Tree { fanout: 1 }, 3, &[None, None, Some(0)], 2);
    }

    #[test]
    fn tree_shape_invariants() {
        for k in 2..6 {
            for n in 0..200 {
                let t = Topology::build(Strategy::Tree { fanout: k }, n);
                assert_eq!(t.roots().len(), n.min(k));
                for i in 0..n {
                    assert!(t.children(i).len() <= k);
                    if let Some(p) = t.parent(i) {
                        assert!(p < i, "parents come first");
                    }
                }
                // Depth is the number of full levels needed: k + k^2 + ... >= n.
                let mut capacity = 0;
                let mut level = 1;
                let mut depth = 0;
                while capacity < n {
                    level *= k;
                    capacity += level;
                    depth += 1;
                }
                assert_eq!(t.max_depth(), depth, "k={k} n={n}");
            }
        }
    }

    #[test]
    fn chain_relationships() {
        let t = Topology::build(Strategy::Chain, 5);
        assert_eq!(t.roots(), vec![0]);
        assert_eq!(t.children(2), vec![3]);
        assert_eq!(t.children(4), Vec::<usize>::new());
        assert_eq!(t.root_of(4), 0);
        assert_eq!(t.depth(4), 5);
    }

    #[test]
    fn stream_offsets_take_the_minimum_per_root() {
        let chain = Topology::build(Strategy::Chain, 4);
        assert_eq!(chain.stream_offsets(&[10, 5, 7, 9]), vec![5, 5, 5, 5]);
        let unicast = Topology::build(Strategy::Unicast { parallel: 2 }, 3);
        assert_eq!(unicast.stream_offsets(&[10, 5, 7]), vec![10, 5, 7]);
        let tree = Topology::build(Strategy::Tree { fanout: 2 }, 5);
        // Roots 0 and 1; 0 feeds 2, 3; 1 feeds 4.
        assert_eq!(tree.stream_offsets(&[8, 9, 3, 8, 9]), vec![3, 9, 3, 3, 9]);
    }

    #[test]
    fn resume_decisions() {
        let cases = [
            (None, None, 100, Resume::SendFrom(0)),
            (None, Some(40), 100, Resume::SendFrom(40)),
            (None, Some(100), 100, Resume::VerifyPart),
            (None, Some(140), 100, Resume::SendFrom(0)),
            (Some(100), Some(40), 100, Resume::CheckExisting),
            (Some(7), Some(40), 100, Resume::SendFrom(40)),
            (Some(7), None, 100, Resume::SendFrom(0)),
            (None, Some(0), 0, Resume::VerifyPart),
            (Some(0), None, 0, Resume::CheckExisting),
        ];
        for (dest, part, total, expected) in cases {
            assert_eq!(resume(dest, part, total), expected, "{dest:?} {part:?}");
        }
    }

    #[test]
    fn judging_progress() {
        let stall = Duration::from_secs(30);
        let s = Duration::from_secs;
        let finished = Progress::Finished {
            code: 0,
            size: 1,
            sha256: "x".into(),
        };
        let cases = [
            (finished, s(100), true, Verdict::Done),
            (Progress::Gone(3), s(0), false, Verdict::Done),
            (Progress::Waiting, s(1), false, Verdict::Wait),
            (Progress::Waiting, s(1), true, Verdict::Wait),
            (Progress::Waiting, s(6), true, Verdict::Orphaned),
            (Progress::Waiting, s(6), false, Verdict::Wait),
            (Progress::Waiting, s(30), false, Verdict::Stalled),
            (Progress::Running(5), s(29), true, Verdict::Wait),
            (Progress::Running(5), s(30), false, Verdict::Stalled),
        ];
        for (progress, quiet, parent_over, verdict) in cases {
            assert_eq!(
                judge(&progress, quiet, parent_over, stall),
                verdict,
                "{progress:?} {quiet:?} {parent_over}"
            );
        }
    }

    fn bench_rig(bandwidth: f64) -> ModelParams {
        ModelParams {
            host_bandwidth: bandwidth,
            frontend_bandwidth: bandwidth,
            ..ModelParams::default()
        }
    }

    #[test]
    fn nothing_beats_the_physical_limit() {
        let p = bench_rig(100.0 * MBIT);
        let s = 256u64 << 20;
        let limit = s as f64 / p.host_bandwidth;
        for n in [1, 2, 4, 8, 64] {
            for strategy in candidates(8) {
                let t = predict(strategy, work(s, n), &p);
                assert!(t >= limit, "{strategy:?} n={n}: {t} < {limit}");
            }
        }
    }

    #[test]
    fn equal_links_chain_beats_unicast_from_two_hosts() {
        let p = bench_rig(100.0 * MBIT);
        let s = 256u64 << 20;
        let limit = s as f64 / p.host_bandwidth;
        assert!(matches!(
            choose(work(s, 1), &p, &candidates(8)).0,
            Strategy::Unicast { .. }
        ));
        for n in [2, 4, 8, 100] {
            let (best, t) = choose(work(s, n), &p, &candidates(8));
            assert_eq!(best, Strategy::Chain, "n={n}");
            if n <= 8 {
                assert!(t < 1.1 * limit, "n={n}: {t}");
            }
        }
        let unicast = predict(Strategy::Unicast { parallel: 8 }, work(s, 8), &p);
        assert!(unicast > 7.9 * limit, "{unicast}");
    }

    #[test]
    fn paper_crossover_with_a_fast_front_end() {
        // The seed paper's rig: 1 GbE hosts, a 10 GbE front-end, a 9.77 GB image. SSH hops on
        // real networks take longer to set up than on loopback.
        let p = ModelParams {
            host_bandwidth: GBIT,
            frontend_bandwidth: 10.0 * GBIT,
            frontend_cores: 8.0,
            hop_seconds: 0.5,
            connect_seconds: 1.0,
            ..ModelParams::default()
        };
        let s = 9_770_000_000;
        let unicast = |n| predict(Strategy::Unicast { parallel: 64 }, work(s, n), &p);
        let chain = |n| predict(Strategy::Chain, work(s, n), &p);
        for n in [1, 2, 5, 10] {
            assert!(unicast(n) < chain(n), "few hosts: unicast wins at n={n}");
        }
        for n in [20, 40, 72] {
            assert!(chain(n) < unicast(n), "many hosts: relaying wins at n={n}");
        }
    }

    #[test]
    fn deep_chains_lose_to_trees_when_hops_are_slow() {
        let p = ModelParams {
            hop_seconds: 2.0,
            ..bench_rig(GBIT)
        };
        let s = 1_000_000_000;
        let (best, _) = choose(work(s, 1000), &p, &candidates(8));
        assert!(matches!(best, Strategy::Tree { .. }), "{best:?}");
        let (best, _) = choose(work(s, 3), &p, &candidates(8));
        assert!(!matches!(best, Strategy::Tree { .. }), "{best:?}");
    }

    #[test]
    fn shared_cpu_caps_relays() {
        // Eight "hosts" on one two-core machine: the chain's N streams share the cores.
        let p = ModelParams {
            shared_cores: Some(2.0),
            crypto_rate: 100e6,
            ..bench_rig(GBIT)
        };
        let s = 1u64 << 30;
        let t = predict(Strategy::Chain, work(s, 8), &p);
        let per_byte = 2.0 / p.crypto_rate + 1.0 / p.hash_rate;
        assert!(t >= s as f64 * 8.0 * per_byte / 2.0, "{t}");
    }

    #[test]
    fn unicast_batches_streams() {
        let p = ModelParams {
            frontend_bandwidth: 10.0 * GBIT,
            ..bench_rig(GBIT)
        };
        let s = 1_000_000_000u64;
        let one = s as f64 / GBIT;
        // Two at a time over five hosts: three rounds at full host speed.
        let t = predict(Strategy::Unicast { parallel: 2 }, work(s, 5), &p);
        assert!((t - 3.0 * one).abs() < 0.5, "{t}");
    }

    #[test]
    fn hashing_the_source_overlaps_connecting() {
        let p = bench_rig(GBIT);
        let s = 1_000_000_000u64;
        let without = predict(Strategy::Chain, work(s, 4), &p);
        let with = predict(
            Strategy::Chain,
            Workload {
                hash_bytes: s,
                ..work(s, 4)
            },
            &p,
        );
        let hash = s as f64 / p.hash_rate;
        assert!(with > without && with <= without + hash, "{with} {without}");
        assert_eq!(predict(Strategy::Chain, work(s, 0), &p), 0.0);
    }

    #[test]
    fn auto_is_never_a_choice() {
        let p = bench_rig(GBIT);
        let (chosen, _) = choose(work(1, 3), &p, &[Strategy::Auto, Strategy::Chain]);
        assert_eq!(chosen, Strategy::Chain);
        let auto = predict(Strategy::Auto, work(1 << 30, 8), &p);
        assert_eq!(auto, predict(Strategy::Chain, work(1 << 30, 8), &p));
    }
}
