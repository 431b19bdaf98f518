//! One ILP solve: builds the `good_lp` model of a [`Problem`] for a goal and hands it to the
//! chosen backend.
//!
//! Model (`k` = candidate (group, offer), `r` = region, `p` = provider, `C` = maximal clique):
//!
//! - `n_k` integer in `[0, min(free_g, cap_r)]`; `sum_{k in g} n_k = free_g`;
//! - `y_r` binary, `n_k <= ub_k * y_r` (disaggregated: tighter LP than one row per region);
//!   with spread constraints also `y_r <= sum_{k in r} n_k` ("used means used": an empty region
//!   never counts toward `min_regions`); pinned regions have `y_r = 1`;
//! - `z_p` binary with `y_r <= z_p` and `z_p <= sum_{r in p} y_r`, only with `min_providers`;
//! - `sum y_r >= min_regions`, `sum z_p >= min_providers`, `sum_{k in r} n_k <= max_vms_per_region
//!   - pinned_r`, `sum price_k n_k <= max_hourly_cost - pinned cost`;
//! - latency bound `L`: maximal cliques `C` of the graph "RTT <= L" over the live regions, `u_C`
//!   binary, `sum u_C = 1`, `y_r <= sum_{C containing r} u_C`; past [`CLIQUE_CAP`] cliques, the
//!   pairwise rows `y_r + y_s <= 1` for every pair with RTT > L instead;
//! - lexicographic bounds of earlier stages: `sum a_k n_k <= v*`.

use super::cliques;
use super::problem::Problem;
use super::Backend;
use good_lp::{
    variable, Constraint, Expression, ProblemVariables, Solution, SolverModel, Variable,
};
use std::time::Instant;

/// Above this many maximal cliques the latency bound is written pairwise.
pub(crate) const CLIQUE_CAP: usize = 1000;

/// What to minimise.
#[derive(Clone, Debug)]
pub(crate) enum Goal {
    /// `sum a_k n_k`.
    Linear(Vec<f64>),
}

pub(crate) struct Spec<'s> {
    pub goal: Goal,
    /// The latency constraint of this solve, computed by [`latency_form`] over the same live
    /// regions (`None`: no conflicting pair).
    pub latency: Option<&'s LatencyForm>,
    pub bounds: &'s [(Vec<f64>, f64)],
    /// Candidates the solve may use.
    pub active: &'s [bool],
    /// A feasible assignment to start from.
    pub warm: Option<&'s [u32]>,
    pub deadline: Instant,
    pub backend: Backend,
}

#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Solved {
        counts: Vec<u32>,
        /// Goal value of `counts` (as minimised).
        value: f64,
        /// Best proven bound on the goal (as minimised).
        bound: f64,
        proven: bool,
    },
    Infeasible,
    TimedOut,
    Failed(String),
}

/// Statistics of the last model, for the explanation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ModelSize {
    pub variables: usize,
    pub constraints: usize,
    pub cliques: Option<usize>,
}

/// The latency structure for a cap: `None` when every pair of live regions is compatible.
pub(crate) enum LatencyForm {
    Cliques(Vec<Vec<usize>>),
    Pairs(Vec<(usize, usize)>),
}

pub(crate) fn latency_form(p: &Problem, live: &[usize], cap: f64) -> Option<LatencyForm> {
    let ok = |a: usize, b: usize| p.rtt(live[a], live[b]) <= cap + 1e-9;
    let all = (0..live.len()).all(|a| (a + 1..live.len()).all(|b| ok(a, b)));
    if all {
        return None;
    }
    // Dense compatibility graphs have exponentially many maximal cliques but few conflicting
    // pairs: go pairwise at once instead of enumerating up to the cap.
    let n = live.len();
    let conflicts = (0..n)
        .map(|a| (a + 1..n).filter(|&b| !ok(a, b)).count())
        .sum::<usize>();
    if n > 12 && conflicts * 3 < n * (n - 1) / 2 {
        let mut pairs = Vec::with_capacity(conflicts);
        for a in 0..n {
            for b in a + 1..n {
                if !ok(a, b) {
                    pairs.push((live[a], live[b]));
                }
            }
        }
        return Some(LatencyForm::Pairs(pairs));
    }
    let t = Instant::now();
    let g = cliques::compatibility_graph(live.len(), ok);
    let found = cliques::maximal_cliques(&g, CLIQUE_CAP);
    if std::env::var_os("PLANNER_TRACE").is_some() {
        eprintln!(
            "[planner] cliques over {} regions at {cap} ms: {:?} in {:.2} ms",
            live.len(),
            found.as_ref().map(|c| c.len()),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    match found {
        Some(cs) => Some(LatencyForm::Cliques(
            cs.into_iter()
                .map(|c| c.into_iter().map(|i| live[i]).collect())
                .collect(),
        )),
        None => {
            let mut pairs = Vec::new();
            for a in 0..live.len() {
                for b in a + 1..live.len() {
                    if !ok(a, b) {
                        pairs.push((live[a], live[b]));
                    }
                }
            }
            Some(LatencyForm::Pairs(pairs))
        }
    }
}

pub(crate) fn solve(p: &Problem, s: &Spec, size: &mut ModelSize) -> Outcome {
    let nr = p.regions.len();
    // Quick infeasibility: a group with VMs to place and nothing to place them on.
    for (g, &free) in p.free.iter().enumerate() {
        if free > 0
            && !p
                .cands
                .iter()
                .enumerate()
                .any(|(k, c)| c.g == g && s.active[k])
        {
            return Outcome::Infeasible;
        }
    }
    let lim = p.limits;
    let quota = lim.max_vms_per_region;
    let spread = lim.min_regions > 1 || lim.min_providers > 1;
    let by_provider = lim.min_providers > 1;

    // Region capacity for new VMs.
    let mut cap_r = vec![u32::MAX; nr];
    if let Some(q) = quota {
        for (r, reg) in p.regions.iter().enumerate() {
            if reg.pinned > q {
                return Outcome::Infeasible;
            }
            cap_r[r] = q - reg.pinned;
        }
    }
    let mut live = vec![false; nr];
    for (r, reg) in p.regions.iter().enumerate() {
        live[r] = reg.pinned > 0;
    }
    let ub: Vec<u32> = p
        .cands
        .iter()
        .enumerate()
        .map(|(k, c)| {
            if s.active[k] {
                p.free[c.g].min(cap_r[c.region])
            } else {
                0
            }
        })
        .collect();
    for (k, c) in p.cands.iter().enumerate() {
        if ub[k] > 0 {
            live[c.region] = true;
        }
    }
    let live_list: Vec<usize> = (0..nr).filter(|&r| live[r]).collect();

    let mut vars = ProblemVariables::new();
    let mut cons: Vec<Constraint> = Vec::new();
    let n: Vec<Option<Variable>> = ub
        .iter()
        .map(|&u| (u > 0).then(|| vars.add(variable().integer().min(0).max(u as f64))))
        .collect();
    let y: Vec<Option<Variable>> = (0..nr)
        .map(|r| {
            live[r].then(|| {
                if p.regions[r].pinned > 0 {
                    vars.add(variable().binary().min(1.0))
                } else {
                    vars.add(variable().binary())
                }
            })
        })
        .collect();
    let np = p.providers.len();
    let z: Vec<Option<Variable>> = (0..np)
        .map(|q| {
            (by_provider && live_list.iter().any(|&r| p.regions[r].provider == q)).then(|| {
                if p.provider_pinned[q] {
                    vars.add(variable().binary().min(1.0))
                } else {
                    vars.add(variable().binary())
                }
            })
        })
        .collect();

    // Group counts.
    for (g, &free) in p.free.iter().enumerate() {
        if free == 0 {
            continue;
        }
        let mut e = Expression::with_capacity(16);
        for (k, c) in p.cands.iter().enumerate() {
            if c.g == g {
                if let Some(v) = n[k] {
                    e.add_mul(1.0, v);
                }
            }
        }
        cons.push(e.eq(free as f64));
    }
    // Links.
    let mut in_region: Vec<Vec<usize>> = vec![Vec::new(); nr];
    for (k, c) in p.cands.iter().enumerate() {
        if let Some(v) = n[k] {
            in_region[c.region].push(k);
            let yr = y[c.region].expect("live region");
            let mut e = Expression::with_capacity(2);
            e.add_mul(1.0, v);
            e.add_mul(-(ub[k] as f64), yr);
            cons.push(e.leq(0.0));
        }
    }
    if spread {
        for &r in &live_list {
            if p.regions[r].pinned > 0 {
                continue;
            }
            let mut e = Expression::with_capacity(in_region[r].len() + 1);
            e.add_mul(1.0, y[r].expect("live"));
            for &k in &in_region[r] {
                e.add_mul(-1.0, n[k].expect("in region"));
            }
            cons.push(e.leq(0.0));
        }
    }
    if by_provider {
        for &r in &live_list {
            let zq = z[p.regions[r].provider].expect("provider of a live region");
            let mut e = Expression::with_capacity(2);
            e.add_mul(1.0, y[r].expect("live"));
            e.add_mul(-1.0, zq);
            cons.push(e.leq(0.0));
        }
        for (q, zq) in z.iter().enumerate() {
            let Some(zq) = *zq else { continue };
            if p.provider_pinned[q] {
                continue;
            }
            let mut e = Expression::with_capacity(8);
            e.add_mul(1.0, zq);
            for &r in &live_list {
                if p.regions[r].provider == q {
                    e.add_mul(-1.0, y[r].expect("live"));
                }
            }
            cons.push(e.leq(0.0));
        }
    }
    if lim.min_regions > 1 {
        let mut e = Expression::with_capacity(live_list.len());
        for &r in &live_list {
            e.add_mul(1.0, y[r].expect("live"));
        }
        cons.push(e.geq(lim.min_regions as f64));
    }
    if lim.min_providers > 1 {
        let mut e = Expression::with_capacity(np);
        for v in z.iter().flatten() {
            e.add_mul(1.0, *v);
        }
        cons.push(e.geq(lim.min_providers as f64));
    }
    if let Some(q) = quota {
        for &r in &live_list {
            let free_sum: u32 = in_region[r].iter().map(|&k| ub[k]).sum();
            if free_sum + p.regions[r].pinned <= q {
                continue; // cannot bind
            }
            let mut e = Expression::with_capacity(in_region[r].len());
            for &k in &in_region[r] {
                e.add_mul(1.0, n[k].expect("in region"));
            }
            cons.push(e.leq((q - p.regions[r].pinned) as f64));
        }
    }
    if let Some(b) = lim.max_hourly_cost {
        let mut e = Expression::with_capacity(p.cands.len());
        for (k, c) in p.cands.iter().enumerate() {
            if let Some(v) = n[k] {
                e.add_mul(c.price, v);
            }
        }
        cons.push(e.leq(b - p.pinned_cost() + 1e-9));
    }
    for (a, rhs) in s.bounds {
        let mut e = Expression::with_capacity(p.cands.len());
        for (k, v) in n.iter().enumerate() {
            if let Some(v) = v {
                if a[k] != 0.0 {
                    e.add_mul(a[k], *v);
                }
            }
        }
        cons.push(e.leq(*rhs));
    }
    // Latency.
    let mut u: Vec<Variable> = Vec::new();
    let mut warm_u: Option<usize> = None;
    size.cliques = None;
    match s.latency {
        None => {}
        Some(LatencyForm::Cliques(cs)) => {
            let cs: Vec<Vec<usize>> = cs
                .iter()
                .map(|c| {
                    c.iter()
                        .copied()
                        .filter(|&r| live[r])
                        .collect::<Vec<usize>>()
                })
                .filter(|c| !c.is_empty())
                .collect();
            size.cliques = Some(cs.len());
            let mut member: Vec<Vec<usize>> = vec![Vec::new(); nr];
            let mut sum = Expression::with_capacity(cs.len());
            for (ci, c) in cs.iter().enumerate() {
                let v = vars.add(variable().binary());
                u.push(v);
                sum.add_mul(1.0, v);
                for &r in c {
                    member[r].push(ci);
                }
            }
            cons.push(sum.eq(1.0));
            for &r in &live_list {
                let mut e = Expression::with_capacity(member[r].len() + 1);
                e.add_mul(1.0, y[r].expect("live"));
                for &ci in &member[r] {
                    e.add_mul(-1.0, u[ci]);
                }
                cons.push(e.leq(0.0));
            }
            if let Some(w) = s.warm {
                let used = p.used_regions(w);
                warm_u = cs
                    .iter()
                    .position(|c| used.iter().all(|r| c.binary_search(r).is_ok()));
            }
        }
        Some(LatencyForm::Pairs(pairs)) => {
            for &(a, b) in pairs {
                if let (Some(ya), Some(yb)) = (y[a], y[b]) {
                    let mut e = Expression::with_capacity(2);
                    e.add_mul(1.0, ya);
                    e.add_mul(1.0, yb);
                    cons.push(e.leq(1.0));
                }
            }
        }
    }

    // Objective.
    let mut obj = Expression::with_capacity(p.cands.len());
    match &s.goal {
        Goal::Linear(a) => {
            for (k, v) in n.iter().enumerate() {
                if let Some(v) = v {
                    if a[k] != 0.0 {
                        obj.add_mul(a[k], *v);
                    }
                }
            }
        }
    }

    // Warm start: a full assignment consistent with the rows above.
    let mut warm: Vec<(Variable, f64)> = Vec::new();
    if let Some(w) = s.warm {
        let feasible_counts = w
            .iter()
            .enumerate()
            .all(|(k, &c)| c == 0 || n[k].is_some_and(|_| c <= ub[k]));
        if feasible_counts {
            for (k, v) in n.iter().enumerate() {
                if let Some(v) = v {
                    warm.push((*v, w[k] as f64));
                }
            }
            let used = p.used_regions(w);
            for &r in &live_list {
                warm.push((
                    y[r].expect("live"),
                    used.binary_search(&r).is_ok() as u8 as f64,
                ));
            }
            for (q, zq) in z.iter().enumerate() {
                if let Some(zq) = zq {
                    let on = used.iter().any(|&r| p.regions[r].provider == q);
                    warm.push((*zq, on as u8 as f64));
                }
            }
            if !u.is_empty() {
                match warm_u {
                    Some(ci) => {
                        for (i, v) in u.iter().enumerate() {
                            warm.push((*v, (i == ci) as u8 as f64));
                        }
                    }
                    None => warm.clear(),
                }
            }
        }
    }

    size.variables = vars.len();
    size.constraints = cons.len();
    let remaining = s
        .deadline
        .saturating_duration_since(Instant::now())
        .as_secs_f64();
    if remaining <= 0.0 {
        return Outcome::TimedOut;
    }
    let result = run(s.backend, vars, obj, cons, warm, remaining, &n);
    match result {
        Ok((vals, status_proven, bound)) => {
            let counts: Vec<u32> = vals.iter().map(|v| v.round().max(0.0) as u32).collect();
            let value = goal_value(&s.goal, &counts);
            let bound = match bound {
                Some(b) if !status_proven => b.min(value),
                _ => value,
            };
            Outcome::Solved {
                counts,
                value,
                bound,
                proven: status_proven,
            }
        }
        Err(e) => e,
    }
}

/// The goal value of an assignment (as minimised).
pub(crate) fn goal_value(goal: &Goal, counts: &[u32]) -> f64 {
    match goal {
        Goal::Linear(a) => counts.iter().zip(a).map(|(&c, a)| c as f64 * a).sum(),
    }
}

type RunResult = Result<(Vec<f64>, bool, Option<f64>), Outcome>;

fn run(
    backend: Backend,
    vars: ProblemVariables,
    obj: Expression,
    cons: Vec<Constraint>,
    warm: Vec<(Variable, f64)>,
    seconds: f64,
    n: &[Option<Variable>],
) -> RunResult {
    use good_lp::{ResolutionError, WithInitialSolution, WithTimeLimit};
    let map_err = |e: ResolutionError| match e {
        ResolutionError::Infeasible => Outcome::Infeasible,
        ResolutionError::Other(s) if s.contains("Time limit") => Outcome::TimedOut,
        other => Outcome::Failed(other.to_string()),
    };
    let read = |sol: &dyn Fn(Variable) -> f64| -> Vec<f64> {
        n.iter().map(|v| v.map_or(0.0, sol)).collect()
    };
    match backend {
        Backend::Microlp => {
            let mut m = vars.minimise(obj).using(good_lp::microlp);
            for c in cons {
                m.add_constraint(c);
            }
            let mut m = m.with_time_limit(seconds);
            if !warm.is_empty() {
                m = m.with_initial_solution(warm);
            }
            let sol = m.solve().map_err(map_err)?;
            let vals = read(&|v| sol.value(v));
            let inner = sol.into_inner();
            let proven = inner.status() == microlp::SolutionStatus::Optimal;
            let bound = inner.stats().best_bound;
            if std::env::var_os("PLANNER_TRACE").is_some() {
                let st = inner.stats();
                eprintln!(
                    "[planner]   microlp: {} nodes, {} LP iterations, bound {:?}",
                    st.nodes_solved, st.lp_iterations, st.best_bound
                );
            }
            Ok((vals, proven, bound))
        }
        #[cfg(feature = "highs")]
        Backend::Highs => {
            let mut m = vars.minimise(obj).using(good_lp::highs);
            for c in cons {
                m.add_constraint(c);
            }
            let mut m = m.with_time_limit(seconds).set_threads(1);
            if !warm.is_empty() {
                m = m.with_initial_solution(warm);
            }
            let sol = m.solve().map_err(map_err)?;
            let proven = matches!(sol.status(), good_lp::SolutionStatus::Optimal);
            Ok((read(&|v| sol.value(v)), proven, None))
        }
        #[cfg(feature = "coin_cbc")]
        Backend::Cbc => {
            let mut m = vars.minimise(obj).using(good_lp::coin_cbc);
            for c in cons {
                m.add_constraint(c);
            }
            m.set_parameter("log", "0");
            m.set_parameter("threads", "1");
            let mut m = m.with_time_limit(seconds);
            if !warm.is_empty() {
                m = m.with_initial_solution(warm);
            }
            let sol = m.solve().map_err(map_err)?;
            let proven = matches!(sol.status(), good_lp::SolutionStatus::Optimal);
            Ok((read(&|v| sol.value(v)), proven, None))
        }
    }
}
