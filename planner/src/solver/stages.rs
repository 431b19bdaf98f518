//! The lexicographic stages of a plan and the exact minimisation they share.
//!
//! [`Run::min_linear`] minimises a linear criterion under a latency bound exactly. With no
//! conflicting pair it is one ILP. Otherwise it uses the maximal cliques of the compatibility
//! graph as a decomposition: every feasible placement lies inside one maximal clique, so the
//! optimum is the best of the per-clique optima. Cliques are visited in order of a
//! combinatorial lower bound (every VM on its group's best offer in the clique, plus the
//! cheapest way to open the regions and providers the spread constraints demand); the search
//! stops once the next bound cannot beat the incumbent, and a clique whose greedy fill meets its
//! bound needs no ILP. Each per-clique ILP has no latency rows at all. Past [`ilp::CLIQUE_CAP`]
//! cliques it falls back to one ILP with pairwise conflict rows.

use super::greedy;
use super::ilp::{self, latency_form, Goal, LatencyForm, ModelSize, Outcome, Spec};
use super::problem::Problem;
use super::{Backend, Strategy};
use crate::catalog::RegionKey;
use crate::requirements::Objective;
use std::time::Instant;

pub(crate) fn tol(v: f64) -> f64 {
    1e-6 + 1e-9 * v.abs()
}

#[derive(Clone, Debug)]
enum Crit {
    Lin(Vec<f64>),
    MaxRtt,
    /// Linear part and weight per ms of maximum RTT.
    WeightedRtt(Vec<f64>, f64),
    /// The final canonical form by names.
    Names,
}

pub(crate) enum RunError {
    Infeasible,
    TimedOut,
    Failed(String),
}

/// What the stages produced.
pub(crate) struct RunResult {
    pub counts: Vec<u32>,
    pub first_value: f64,
    pub first_bound: f64,
    pub proven: bool,
    pub tie_breaks_complete: bool,
    pub size: ModelSize,
    pub ilp_solves: usize,
    pub stages: Vec<String>,
}

pub(crate) struct Run<'p, 'a> {
    p: &'p Problem<'a>,
    active: Vec<bool>,
    bounds: Vec<(Vec<f64>, f64)>,
    rtt_cap: Option<f64>,
    current: Option<Vec<u32>>,
    /// A solution already optimal for the next linear stage (from the latency search).
    pre: Option<(Vec<u32>, bool)>,
    deadline: Instant,
    backend: Backend,
    strategy: Strategy,
    size: ModelSize,
    solves: usize,
    stages: Vec<String>,
}

/// Precomputed parts of the set bound.
struct Opening {
    base: f64,
    /// Best coefficient per group inside the set.
    best: Vec<f64>,
    /// (opening cost, region), sorted.
    regions: Vec<(f64, usize)>,
}

fn value(a: &[f64], c: &[u32]) -> f64 {
    c.iter().zip(a).map(|(&n, a)| n as f64 * a).sum()
}

impl<'p, 'a> Run<'p, 'a> {
    pub(crate) fn new(p: &'p Problem<'a>, deadline: Instant, backend: Backend) -> Run<'p, 'a> {
        Run {
            p,
            active: vec![true; p.cands.len()],
            bounds: Vec::new(),
            rtt_cap: p.limits.max_latency_ms,
            current: None,
            pre: None,
            deadline,
            backend,
            strategy: Strategy::Decomposed,
            size: ModelSize::default(),
            solves: 0,
            stages: Vec::new(),
        }
    }

    fn ilp(
        &mut self,
        goal: Goal,
        latency: Option<&LatencyForm>,
        active: &[bool],
        nb: usize,
        warm: Option<&[u32]>,
    ) -> Outcome {
        self.solves += 1;
        let spec = Spec {
            goal,
            latency,
            bounds: &self.bounds[..nb],
            active,
            warm,
            deadline: self.deadline,
            backend: self.backend,
        };
        let t = Instant::now();
        let out = ilp::solve(self.p, &spec, &mut self.size);
        if std::env::var_os("PLANNER_TRACE").is_some() {
            let kind = match &out {
                Outcome::Solved { proven, .. } => {
                    if *proven {
                        "optimal"
                    } else {
                        "feasible"
                    }
                }
                Outcome::Infeasible => "infeasible",
                Outcome::TimedOut => "timed out",
                Outcome::Failed(_) => "failed",
            };
            eprintln!(
                "[planner] ILP {:>3}: {kind:<10} {:>8.2} ms  {} vars {} rows cliques {:?}",
                self.solves,
                t.elapsed().as_secs_f64() * 1e3,
                self.size.variables,
                self.size.constraints,
                self.size.cliques
            );
        }
        out
    }

    /// Sum over groups of free VMs times the best coefficient among `active`, and the best
    /// coefficient per group.
    fn trivial_bound(&self, a: &[f64], active: &[bool]) -> (f64, Vec<f64>) {
        let mut best = vec![f64::INFINITY; self.p.free.len()];
        for (k, c) in self.p.cands.iter().enumerate() {
            if active[k] {
                best[c.g] = best[c.g].min(a[k]);
            }
        }
        let lb = self
            .p
            .free
            .iter()
            .zip(&best)
            .map(|(&f, &b)| if f == 0 { 0.0 } else { f as f64 * b })
            .sum();
        (lb, best)
    }

    fn live_regions(&self) -> Vec<usize> {
        let mut live = vec![false; self.p.regions.len()];
        for (k, c) in self.p.cands.iter().enumerate() {
            if self.active[k] {
                live[c.region] = true;
            }
        }
        for pin in &self.p.pins {
            live[pin.region] = true;
        }
        (0..live.len()).filter(|&r| live[r]).collect()
    }

    /// A lower bound of `a` over placements inside region set `set` (sorted): every VM on its
    /// group's best offer there, plus the cheapest openings of the regions and providers the
    /// spread constraints need (each used region hosts at least one VM, whose excess over its
    /// group's best is at least the region's opening cost). `INFINITY` if the set cannot work.
    fn set_bound(&self, a: &[f64], set: &[usize]) -> f64 {
        match self.opening(a, set) {
            Some(op) => op.base + self.spread_extra(&op, None),
            None => f64::INFINITY,
        }
    }

    /// The parts of [`Run::set_bound`] that do not depend on a forced candidate.
    fn opening(&self, a: &[f64], set: &[usize]) -> Option<Opening> {
        let p = self.p;
        let inside = |r: usize| set.binary_search(&r).is_ok();
        if p.pins.iter().any(|x| !inside(x.region)) {
            return None;
        }
        let mut best = vec![f64::INFINITY; p.free.len()];
        for (k, c) in p.cands.iter().enumerate() {
            if self.active[k] && inside(c.region) {
                best[c.g] = best[c.g].min(a[k]);
            }
        }
        let mut base = 0.0;
        for (&free, &b) in p.free.iter().zip(&best) {
            if free > 0 {
                if !b.is_finite() {
                    return None;
                }
                base += free as f64 * b;
            }
        }
        let lim = p.limits;
        let mut open = vec![f64::INFINITY; p.regions.len()];
        for (k, c) in p.cands.iter().enumerate() {
            if self.active[k] && inside(c.region) && p.free[c.g] > 0 {
                open[c.region] = open[c.region].min(a[k] - best[c.g]);
            }
        }
        if let Some(q) = lim.max_vms_per_region {
            // Room for the free VMs in the set's regions that have candidates.
            let room: u64 = set
                .iter()
                .filter(|&&r| open[r].is_finite())
                .map(|&r| q.saturating_sub(p.regions[r].pinned) as u64)
                .sum();
            if room < p.free.iter().map(|&f| f as u64).sum::<u64>() {
                return None;
            }
        }
        let mut regions: Vec<(f64, usize)> = Vec::new();
        for &r in set {
            let o = if p.regions[r].pinned > 0 {
                0.0
            } else {
                open[r]
            };
            if o.is_finite() {
                regions.push((o, r));
            }
        }
        regions.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let pinned_regions = set.iter().filter(|&&r| p.regions[r].pinned > 0).count();
        let total_free: u32 = p.free.iter().sum();
        if lim.min_regions as usize > pinned_regions + total_free as usize {
            return None;
        }
        Some(Opening {
            base,
            best,
            regions,
        })
    }

    /// Cheapest way to open at least `min_regions` regions covering `min_providers` providers,
    /// with region `free_region` (if any) open at no cost: the cheapest opening per provider
    /// ("representative"), the cheapest `min_providers` representatives, then the cheapest
    /// other regions. Optimal for this relaxation by an exchange argument (swapping a
    /// representative for a cheaper unused one never costs more); pinned regions open for free.
    fn spread_extra(&self, op: &Opening, free_region: Option<usize>) -> f64 {
        let p = self.p;
        let lim = p.limits;
        if lim.min_regions <= 1 && lim.min_providers <= 1 {
            return 0.0;
        }
        // The sorted list with `free_region` moved to the front at cost 0.
        let order: Vec<(f64, usize)> = free_region
            .into_iter()
            .map(|r| (0.0, r))
            .chain(
                op.regions
                    .iter()
                    .copied()
                    .filter(|&(_, r)| Some(r) != free_region),
            )
            .collect();
        let mut rep_taken = vec![false; p.providers.len()];
        let mut reps = Vec::new();
        for (i, &(_, r)) in order.iter().enumerate() {
            let q = p.regions[r].provider;
            if !rep_taken[q] {
                rep_taken[q] = true;
                reps.push(i);
            }
        }
        let need_p = lim.min_providers as usize;
        if need_p > reps.len() {
            return f64::INFINITY;
        }
        let mut taken = vec![false; order.len()];
        let mut extra = 0.0;
        for &i in &reps[..need_p] {
            taken[i] = true;
            extra += order[i].0;
        }
        let mut count = need_p;
        for (i, &(o, _)) in order.iter().enumerate() {
            if count >= lim.min_regions as usize {
                break;
            }
            if !taken[i] {
                taken[i] = true;
                extra += o;
                count += 1;
            }
        }
        if count < lim.min_regions as usize {
            return f64::INFINITY;
        }
        extra
    }

    /// Drops candidates that no placement of value at most `rhs` can use: forcing one VM of
    /// the candidate's group onto it costs its excess over the group's best, and its region is
    /// then open for free in the spread bound.
    fn prune(&mut self, a: &[f64], rhs: f64, keep: &[u32]) {
        let live = self.live_regions();
        let Some(op) = self.opening(a, &live) else {
            return;
        };
        let spread = self.spread_extra(&op, None);
        for k in 0..self.p.cands.len() {
            if !self.active[k] || keep[k] > 0 {
                continue;
            }
            let c = &self.p.cands[k];
            let excess = a[k] - op.best[c.g];
            if op.base + excess + spread <= rhs {
                continue; // even the unforced spread bound fits: cannot prune
            }
            if op.base + excess + self.spread_extra(&op, Some(c.region)) > rhs {
                self.active[k] = false;
            }
        }
    }

    /// Exact minimum of `a` under latency bound `cap` and the first `nb` stage bounds. With a
    /// `cutoff`, returns as soon as a placement of value at most `cutoff` is found (a
    /// feasibility question), and skips everything that cannot reach it.
    pub(crate) fn min_linear(
        &mut self,
        a: &[f64],
        cap: Option<f64>,
        nb: usize,
        cutoff: Option<f64>,
        warm: Option<Vec<u32>>,
    ) -> Outcome {
        let live = self.live_regions();
        let form = cap.and_then(|c| latency_form(self.p, &live, c));
        let cs = match form {
            Some(LatencyForm::Cliques(cs))
                if cs.len() > 1 && self.strategy == Strategy::Decomposed =>
            {
                cs
            }
            form => return self.monolithic(a, form.as_ref(), nb, cutoff, warm, &live),
        };
        let mut order: Vec<(f64, usize)> = cs
            .iter()
            .enumerate()
            .map(|(i, c)| (self.set_bound(a, c), i))
            .filter(|x| x.0.is_finite())
            .collect();
        order.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let bounds: Vec<(Vec<f64>, f64)> = self.bounds[..nb].to_vec();
        let mut best: Option<(f64, Vec<u32>)> = warm.map(|w| (value(a, &w), w));
        let mut proven = true;
        let mut open_bound = f64::INFINITY;
        for &(lb, ci) in &order {
            if let Some((b, _)) = &best {
                if lb >= *b - tol(*b) {
                    break;
                }
            }
            if cutoff.is_some_and(|c| lb > c) {
                break;
            }
            if Instant::now() >= self.deadline {
                proven = false;
                open_bound = open_bound.min(lb);
                break;
            }
            let set = &cs[ci];
            let mut active = self.active.clone();
            for (k, c) in self.p.cands.iter().enumerate() {
                if set.binary_search(&c.region).is_err() {
                    active[k] = false;
                }
            }
            let fill = greedy::fill(self.p, a, &active, set, &bounds);
            let found = match fill {
                Some(c) if value(a, &c) <= lb + tol(lb) => Some((value(a, &c), c)),
                fill => {
                    match self.ilp(Goal::Linear(a.to_vec()), None, &active, nb, fill.as_deref()) {
                        Outcome::Solved {
                            counts,
                            value: v,
                            bound,
                            proven: pr,
                        } => {
                            if !pr {
                                proven = false;
                                open_bound = open_bound.min(bound.max(lb));
                            }
                            Some((v, counts))
                        }
                        Outcome::Infeasible => None,
                        Outcome::TimedOut => {
                            proven = false;
                            open_bound = open_bound.min(lb);
                            match fill {
                                Some(c) => Some((value(a, &c), c)),
                                None => break,
                            }
                        }
                        Outcome::Failed(e) => return Outcome::Failed(e),
                    }
                }
            };
            if let Some((v, c)) = found {
                if best.as_ref().is_none_or(|(b, _)| v < *b - tol(*b)) {
                    best = Some((v, c));
                }
                if cutoff.is_some_and(|cut| v <= cut) {
                    let (v, c) = best.expect("just set");
                    return Outcome::Solved {
                        counts: c,
                        value: v,
                        bound: v,
                        proven: true,
                    };
                }
            }
        }
        match best {
            Some((v, c)) => Outcome::Solved {
                counts: c,
                value: v,
                bound: open_bound.min(v),
                proven,
            },
            None if proven => Outcome::Infeasible,
            None => Outcome::TimedOut,
        }
    }

    fn monolithic(
        &mut self,
        a: &[f64],
        latency: Option<&LatencyForm>,
        nb: usize,
        cutoff: Option<f64>,
        warm: Option<Vec<u32>>,
        live: &[usize],
    ) -> Outcome {
        let active = self.active.clone();
        let (lb, _) = self.trivial_bound(a, &active);
        let lb = lb.max(self.set_bound(a, live));
        if !lb.is_finite() {
            return Outcome::Infeasible;
        }
        if cutoff.is_some_and(|c| lb > c) {
            return Outcome::Infeasible;
        }
        let bounds: Vec<(Vec<f64>, f64)> = self.bounds[..nb].to_vec();
        let start = warm.or_else(|| greedy::greedy(self.p, a, &active, latency, &bounds));
        if let Some(c) = &start {
            let v = value(a, c);
            let proof = self.strategy == Strategy::Decomposed && v <= lb + tol(lb);
            if proof || cutoff.is_some_and(|cut| v <= cut) {
                return Outcome::Solved {
                    counts: c.clone(),
                    value: v,
                    bound: v,
                    proven: true,
                };
            }
        }
        match self.ilp(
            Goal::Linear(a.to_vec()),
            latency,
            &active,
            nb,
            start.as_deref(),
        ) {
            Outcome::TimedOut => match start {
                Some(c) => Outcome::Solved {
                    value: value(a, &c),
                    counts: c,
                    bound: lb,
                    proven: false,
                },
                None => Outcome::TimedOut,
            },
            Outcome::Solved {
                counts,
                value,
                bound,
                proven,
            } => Outcome::Solved {
                counts,
                value,
                bound: bound.max(lb).min(value),
                proven,
            },
            other => other,
        }
    }

    /// A linear stage. Returns (value, bound, proven).
    fn linear(&mut self, a: Vec<f64>, name: &str) -> Result<(f64, f64, bool), RunError> {
        let (counts, v, bound, proven) = if let Some((c, proven)) = self.pre.take() {
            let v = value(&a, &c);
            self.stages
                .push(format!("{name}: settled by the latency search"));
            (c, v, v, proven)
        } else {
            let before = self.solves;
            let warm = self.current.clone();
            match self.min_linear(&a, self.rtt_cap, self.bounds.len(), None, warm) {
                Outcome::Solved {
                    counts,
                    value,
                    bound,
                    proven,
                } => {
                    self.stages.push(format!(
                        "{name}: {} ({} ILPs)",
                        if proven {
                            "proven optimal"
                        } else {
                            "stopped by the time limit"
                        },
                        self.solves - before
                    ));
                    (counts, value, bound, proven)
                }
                Outcome::Infeasible => return Err(RunError::Infeasible),
                Outcome::TimedOut => return Err(RunError::TimedOut),
                Outcome::Failed(e) => return Err(RunError::Failed(e)),
            }
        };
        // Keep the optimum as a bound and prune what cannot meet it.
        let rhs = v + tol(v);
        self.prune(&a, rhs, &counts);
        self.bounds.push((a, rhs));
        self.current = Some(counts);
        Ok((v, bound, proven))
    }

    /// Minimises the maximum RTT. As a tie-break (an earlier stage exists) each probe asks
    /// whether the previous criterion's optimum is still reachable under the tighter bound,
    /// probing just below the current maximum first (usually it is already minimal); as the
    /// primary criterion it is a binary search whose probes optimise `next`, so the probe that
    /// settles the bound also settles the next stage. Returns (value, bound, proven).
    pub(crate) fn max_rtt(
        &mut self,
        next: Option<&Vec<f64>>,
    ) -> Result<(f64, f64, bool), RunError> {
        let before = self.solves;
        let zeros = vec![0.0; self.p.cands.len()];
        let goal_next: Vec<f64> = next.cloned().unwrap_or(zeros);
        let prev = self.bounds.last().cloned();
        let mut probe: Option<(Vec<u32>, bool)> = None;
        if self.current.is_none() {
            match self.min_linear(&goal_next, self.rtt_cap, self.bounds.len(), None, None) {
                Outcome::Solved { counts, proven, .. } => {
                    probe = Some((counts.clone(), proven));
                    self.current = Some(counts);
                }
                Outcome::Infeasible => return Err(RunError::Infeasible),
                Outcome::TimedOut => return Err(RunError::TimedOut),
                Outcome::Failed(e) => return Err(RunError::Failed(e)),
            }
        }
        let cur = self.current.clone().expect("set above");
        let t_cur = self.p.max_rtt(&cur).map_or(0.0, |x| x.0);
        let th: Vec<f64> = self
            .p
            .rtt_thresholds(&self.live_regions())
            .into_iter()
            .filter(|&t| t < t_cur - 1e-9)
            .collect();
        let nb = self.bounds.len();
        let (mut lo, mut hi) = (0usize, th.len());
        let mut complete = true;
        let mut first = true;
        while lo < hi {
            let mid = if first && prev.is_some() {
                hi - 1
            } else {
                (lo + hi) / 2
            };
            first = false;
            let out = match &prev {
                Some((a_prev, rhs)) => {
                    match self.min_linear(a_prev, Some(th[mid]), nb - 1, Some(*rhs), None) {
                        Outcome::Solved { counts, value, .. } if value <= *rhs => Outcome::Solved {
                            value,
                            bound: value,
                            proven: false,
                            counts,
                        },
                        // The previous optimum is out of reach under this bound if proven; an
                        // unproven minimum above it (time limit) decides nothing.
                        Outcome::Solved { proven: true, .. } => Outcome::Infeasible,
                        Outcome::Solved { proven: false, .. } => Outcome::TimedOut,
                        other => other,
                    }
                }
                None => self.min_linear(&goal_next, Some(th[mid]), nb, None, None),
            };
            match out {
                Outcome::Solved { counts, proven, .. } => {
                    let t = self.p.max_rtt(&counts).map_or(0.0, |x| x.0);
                    hi = th.partition_point(|&x| x < t - 1e-9).min(mid);
                    probe = Some((counts, proven));
                }
                Outcome::Infeasible => lo = mid + 1,
                Outcome::TimedOut | Outcome::Failed(_) => {
                    complete = false;
                    break;
                }
            }
        }
        let t_star = if hi == th.len() { t_cur } else { th[hi] };
        let bound = if lo < th.len() {
            th[lo].min(t_star)
        } else {
            t_cur
        };
        self.rtt_cap = Some(t_star);
        if let Some((c, proven)) = probe {
            let t = self.p.max_rtt(&c).map_or(0.0, |x| x.0);
            if (t - t_star).abs() <= 1e-9 {
                self.current = Some(c.clone());
                if prev.is_none() && next.is_some() {
                    self.pre = Some((c, proven));
                }
            }
        }
        self.stages.push(format!(
            "max RTT: {} ({} ILPs)",
            if complete {
                "proven minimal"
            } else {
                "search stopped by the time limit"
            },
            self.solves - before
        ));
        Ok((t_star, bound, complete))
    }

    /// Weighted sum with a latency term: an epsilon-constraint scan over decreasing latency
    /// bounds, stopped when the linear part alone can no longer beat the incumbent.
    fn weighted_rtt(&mut self, a: Vec<f64>, w_ms: f64) -> Result<(f64, f64, bool), RunError> {
        let before = self.solves;
        let mut cap = self.rtt_cap;
        let mut best: Option<(f64, f64, f64, Vec<u32>)> = None; // value, linear part, rtt, counts
        let mut lb = f64::INFINITY;
        let mut proven = true;
        loop {
            match self.min_linear(&a, cap, self.bounds.len(), None, None) {
                Outcome::Solved {
                    counts,
                    value: lin,
                    bound,
                    proven: pr,
                } => {
                    proven &= pr;
                    let t = self.p.max_rtt(&counts).map_or(0.0, |x| x.0);
                    let v = lin + w_ms * t;
                    if best.as_ref().is_none_or(|b| v < b.0 - tol(b.0)) {
                        best = Some((v, lin, t, counts));
                    }
                    let b = best.as_ref().expect("set").0;
                    if bound >= b - tol(b) {
                        lb = lb.min(b);
                        break;
                    }
                    lb = lb.min(bound + w_ms * t);
                    let th = self.p.rtt_thresholds(&self.live_regions());
                    match th.iter().rev().find(|&&x| x < t - 1e-9) {
                        Some(&next) => cap = Some(next),
                        None => break,
                    }
                }
                Outcome::Infeasible => {
                    if best.is_none() {
                        return Err(RunError::Infeasible);
                    }
                    break;
                }
                Outcome::TimedOut => {
                    proven = false;
                    if best.is_none() {
                        return Err(RunError::TimedOut);
                    }
                    lb = lb.min(0.0);
                    break;
                }
                Outcome::Failed(e) => return Err(RunError::Failed(e)),
            }
        }
        let (v, lin, t, counts) = best.expect("checked");
        self.stages.push(format!(
            "weighted (with latency): {} ({} ILPs)",
            if proven {
                "proven optimal"
            } else {
                "stopped by the time limit"
            },
            self.solves - before
        ));
        self.rtt_cap = Some(self.rtt_cap.map_or(t, |c| c.min(t)));
        self.bounds.push((a, lin + tol(lin)));
        self.current = Some(counts);
        Ok((v, lb.min(v), proven))
    }

    /// The canonical form by names: while some VM can move to an offer earlier in catalog order
    /// that is equal on every earlier criterion and keeps every constraint and the maximum RTT,
    /// move it (the earliest such offer first). Deterministic, and it terminates because the
    /// sum of ranks strictly decreases.
    fn canonicalize(&mut self) {
        let p = self.p;
        let Some(mut counts) = self.current.clone() else {
            return;
        };
        let nr = p.regions.len();
        let lim = p.limits;
        let mut load: Vec<u32> = p.regions.iter().map(|r| r.pinned).collect();
        for (k, &c) in counts.iter().enumerate() {
            load[p.cands[k].region] += c;
        }
        let cap = self.rtt_cap;
        let mut moves = 0;
        loop {
            let mut mv: Option<(usize, usize)> = None;
            'search: for from in 0..counts.len() {
                if counts[from] == 0 {
                    continue;
                }
                let cf = &p.cands[from];
                let mut tos: Vec<usize> = (0..p.cands.len())
                    .filter(|&to| {
                        let ct = &p.cands[to];
                        self.active[to]
                            && ct.g == cf.g
                            && ct.rank < cf.rank
                            && self
                                .bounds
                                .iter()
                                .all(|(a, _)| (a[to] - a[from]).abs() <= 1e-12)
                    })
                    .collect();
                tos.sort_by(|&x, &y| p.cands[x].rank.total_cmp(&p.cands[y].rank));
                for to in tos {
                    let (rf, rt) = (cf.region, p.cands[to].region);
                    if rf != rt {
                        if lim.max_vms_per_region.is_some_and(|q| load[rt] + 1 > q) {
                            continue;
                        }
                        // Regions after the move.
                        let mut used: Vec<bool> = load.iter().map(|&l| l > 0).collect();
                        used[rf] = load[rf] > 1;
                        used[rt] = true;
                        let regions: Vec<usize> = (0..nr).filter(|&r| used[r]).collect();
                        if (regions.len() as u32) < lim.min_regions {
                            continue;
                        }
                        let mut provs: Vec<usize> =
                            regions.iter().map(|&r| p.regions[r].provider).collect();
                        provs.dedup();
                        provs.sort_unstable();
                        provs.dedup();
                        if (provs.len() as u32) < lim.min_providers {
                            continue;
                        }
                        if let Some(c) = cap {
                            if regions.iter().any(|&r| r != rt && p.rtt(r, rt) > c + 1e-9) {
                                continue;
                            }
                        }
                    }
                    mv = Some((from, to));
                    break 'search;
                }
            }
            let Some((from, to)) = mv else { break };
            counts[from] -= 1;
            counts[to] += 1;
            load[p.cands[from].region] -= 1;
            load[p.cands[to].region] += 1;
            moves += 1;
        }
        self.stages
            .push(format!("names: canonical form ({moves} moves)"));
        self.current = Some(counts);
    }
}

/// Runs the stages of the request's objective on a built problem.
pub(crate) fn run_stages(
    p: &Problem,
    deadline: Instant,
    backend: Backend,
    strategy: Strategy,
) -> Result<RunResult, RunError> {
    let price: Vec<f64> = p.cands.iter().map(|c| c.price).collect();
    let req = p.req;
    let (crits, names): (Vec<Crit>, Vec<&str>) = match req.placement.objective {
        Objective::Cost => (
            vec![Crit::Lin(price), Crit::MaxRtt, Crit::Names],
            vec!["cost", "max RTT", "names"],
        ),
        Objective::Latency => (
            vec![Crit::MaxRtt, Crit::Lin(price), Crit::Names],
            vec!["max RTT", "cost", "names"],
        ),
        Objective::Location => {
            let d = p
                .cands
                .iter()
                .map(|c| p.regions[c.region].dist_km)
                .collect();
            (
                vec![Crit::Lin(d), Crit::Lin(price), Crit::MaxRtt, Crit::Names],
                vec!["distance", "cost", "max RTT", "names"],
            )
        }
        Objective::Performance => {
            let perf = p.cands.iter().map(|c| -c.perf).collect();
            (
                vec![Crit::Lin(perf), Crit::Lin(price), Crit::MaxRtt, Crit::Names],
                vec!["performance", "cost", "max RTT", "names"],
            )
        }
        Objective::Weighted => {
            let (lin, w_ms) = weighted_terms(p);
            let first = if w_ms > 0.0 {
                Crit::WeightedRtt(lin, w_ms)
            } else {
                Crit::Lin(lin)
            };
            (
                vec![first, Crit::Lin(price), Crit::MaxRtt, Crit::Names],
                vec!["weighted", "cost", "max RTT", "names"],
            )
        }
    };
    let mut run = Run::new(p, deadline, backend);
    run.strategy = strategy;
    let mut first = None;
    let mut complete = true;
    for (i, c) in crits.iter().enumerate() {
        if i > 0 && Instant::now() >= deadline {
            complete = false;
            run.stages.push("tie-breaks skipped: time limit".into());
            break;
        }
        let next_lin = match crits.get(i + 1) {
            Some(Crit::Lin(a)) => Some(a),
            _ => None,
        };
        let r = match c {
            Crit::Lin(a) => run.linear(a.clone(), names[i]),
            Crit::MaxRtt => run.max_rtt(next_lin),
            Crit::WeightedRtt(a, w) => run.weighted_rtt(a.clone(), *w),
            Crit::Names => {
                run.canonicalize();
                continue;
            }
        };
        match r {
            Ok(v) => {
                if i == 0 {
                    first = Some(v);
                } else if !v.2 {
                    complete = false;
                }
            }
            Err(e) if i == 0 => return Err(e),
            Err(_) => {
                complete = false;
                run.stages.push(format!("{}: not completed", names[i]));
                break;
            }
        }
    }
    let (first_value, first_bound, proven) = first.expect("at least one stage");
    Ok(RunResult {
        counts: run.current.expect("a stage succeeded"),
        first_value,
        first_bound,
        proven,
        tie_breaks_complete: complete,
        size: run.size,
        ilp_solves: run.solves,
        stages: run.stages,
    })
}

/// Linear coefficients of the weighted objective and the weight per ms of maximum RTT (see
/// [`crate::requirements::Weights`] for the normalisation).
pub(crate) fn weighted_terms(p: &Problem) -> (Vec<f64>, f64) {
    let w = p.req.placement.weights.unwrap_or_default();
    let (cref, pref) = weighted_refs(p);
    let n_total = p.req.total_vms().max(1) as f64;
    let lin = p
        .cands
        .iter()
        .map(|c| {
            w.cost * c.price / cref + w.location * p.regions[c.region].dist_km / (n_total * 1000.0)
                - w.performance * c.perf / pref
        })
        .collect();
    (lin, w.latency / 100.0)
}

/// Reference cost and performance of the weighted normalisation.
pub(crate) fn weighted_refs(p: &Problem) -> (f64, f64) {
    let mut cref = 0.0;
    let mut pref = 0.0;
    for (g, grp) in p.req.groups.iter().enumerate() {
        let offers = &p.group_offers[g];
        let min_price = offers
            .iter()
            .map(|&o| grp.effective_price(&p.cat.offers()[o]).0)
            .fold(f64::INFINITY, f64::min);
        let max_perf = offers
            .iter()
            .map(|&o| p.cat.offers()[o].performance.unwrap_or(0.0))
            .fold(0.0, f64::max);
        if min_price.is_finite() {
            cref += grp.count as f64 * min_price;
        }
        pref += grp.count as f64 * max_perf;
    }
    (
        if cref > 0.0 { cref } else { 1.0 },
        if pref > 0.0 { pref } else { 1.0 },
    )
}

/// Feasibility or a diagnosis goal over the whole reduced problem.
pub(crate) fn solve_once(
    p: &Problem,
    goal: Goal,
    cap: Option<f64>,
    deadline: Instant,
    backend: Backend,
) -> Outcome {
    let mut run = Run::new(p, deadline, backend);
    let Goal::Linear(a) = goal;
    run.min_linear(&a, cap, 0, None, None)
}

/// The smallest achievable maximum RTT (ms), whether it is proven, and the pair of regions that
/// sets it with its `estimated` flag.
pub(crate) type MinRtt = (f64, bool, Option<(RegionKey, RegionKey, bool)>);

/// The smallest achievable maximum RTT of a problem (diagnosis).
pub(crate) fn min_max_rtt(
    p: &Problem,
    deadline: Instant,
    backend: Backend,
) -> Result<MinRtt, RunError> {
    let mut run = Run::new(p, deadline, backend);
    let (v, _, proven) = run.max_rtt(None)?;
    let pair = run
        .current
        .as_ref()
        .and_then(|c| p.max_rtt(c))
        .map(|(_, a, b)| {
            let n = p.regions.len();
            (
                p.cat.regions()[p.regions[a].cat].key(),
                p.cat.regions()[p.regions[b].cat].key(),
                p.rtt_est[a * n + b],
            )
        });
    Ok((v, proven, pair))
}
