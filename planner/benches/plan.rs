//! The planner's benchmarks: medians of wall-clock time per backend, side by side with the
//! CB-Tumblebug-style greedy baseline. Not a timed test: it prints a table.
//!
//! ```text
//! CARGO_TARGET_DIR=/root/.cache/tumblebug/target-planner cargo bench -p tumblebug-planner
//! ```
//!
//! `PLANNER_BENCH_RUNS` overrides the number of timed runs per scenario; `PLANNER_BENCH_MONOLITHIC=1`
//! also times the one-ILP-per-stage strategy (fewer runs, 30 s limit), which is what compares the
//! MILP backends on full models. Build with `--features coin_cbc` (or `highs`) to add backends.

use planner::{plan, plan_greedy_baseline, Backend, Catalog, PlanOptions, Requirements, Strategy};
use std::time::{Duration, Instant};

const SCENARIOS: &[(&str, &str, &str, usize)] = &[
    (
        "1 seed demo",
        "18 VMs, cost, min_providers 4, min_regions 10",
        include_str!("scenarios/seed-demo.json"),
        41,
    ),
    (
        "2 latency cluster",
        "24 VMs / 5 groups, max_latency_ms 30, min_providers 3",
        include_str!("scenarios/latency-cluster.json"),
        41,
    ),
    (
        "3 scale",
        "1000 VMs / 20 groups, max_latency_ms 60, min_providers 3",
        include_str!("scenarios/scale-1000.json"),
        11,
    ),
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let t = Instant::now();
    let cat = Catalog::embedded();
    let load = t.elapsed();
    println!(
        "embedded catalog: {} offers, {} regions, loaded in {:.1} ms",
        cat.offers().len(),
        cat.regions().len(),
        load.as_secs_f64() * 1e3
    );
    println!();
    println!("| scenario | backend | median | min | max | optimal | cost USD/h | max RTT ms | greedy baseline USD/h | baseline max RTT ms | baseline violations |");
    println!("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|");
    for &(name, what, json, runs) in SCENARIOS {
        let runs = std::env::var("PLANNER_BENCH_RUNS")
            .ok()
            .and_then(|x| x.parse().ok())
            .unwrap_or(runs);
        let req = Requirements::from_json(json).expect("scenario parses");
        let base = plan_greedy_baseline(&req, &cat).expect("baseline");
        let monolithic = std::env::var_os("PLANNER_BENCH_MONOLITHIC").is_some();
        let strategies: &[Strategy] = if monolithic {
            &[Strategy::Decomposed, Strategy::Monolithic]
        } else {
            &[Strategy::Decomposed]
        };
        for &strategy in strategies {
            for backend in Backend::available() {
                let (runs, limit) = match strategy {
                    Strategy::Decomposed => (runs, 60),
                    Strategy::Monolithic => (runs.min(5), 30),
                };
                let opts = PlanOptions {
                    backend,
                    strategy,
                    time_limit: Duration::from_secs(limit),
                    ..PlanOptions::default()
                };
                let first = plan(&req, &cat, &opts).expect("feasible");
                let mut times = Vec::new();
                for _ in 0..runs {
                    let t = Instant::now();
                    let p = plan(&req, &cat, &opts).expect("feasible");
                    times.push(t.elapsed());
                    if first.optimal {
                        assert_eq!(p, first, "deterministic");
                    }
                }
                let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
                let violations = if base.violations.is_empty() {
                    "none".to_string()
                } else {
                    base.violations.join("; ")
                };
                println!(
                    "| {name} ({what}) | {} {} | {} | {} | {} | {} | {:.4} | {} | {:.4} | {} | {} |",
                    backend.name(),
                    match strategy {
                        Strategy::Decomposed => "decomposed",
                        Strategy::Monolithic => "monolithic",
                    },
                    ms(median(times.clone())),
                    ms(*times.iter().min().expect("runs")),
                    ms(*times.iter().max().expect("runs")),
                    if first.optimal {
                        "yes".to_string()
                    } else {
                        format!("no (gap {:.2} %)", first.gap * 100.0)
                    },
                    first.hourly_cost,
                    first.max_rtt_ms.map_or("-".into(), |x| format!("{x:.1}")),
                    base.hourly_cost,
                    base.max_rtt_ms.map_or("-".into(), |x| format!("{x:.1}")),
                    violations
                );
            }
        }
    }
}
