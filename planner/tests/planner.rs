//! The planner on the embedded catalog: the benchmark scenarios, determinism, failover,
//! diagnoses, explanations and the JSON request format.

use planner::{
    check_placement, plan, plan_greedy_baseline, BlockedOffer, Catalog, FailureKind, Infeasible,
    Objective, PinnedVm, Placement, PlanOptions, Requirements,
};

const SEED: &str = include_str!("../benches/scenarios/seed-demo.json");
const CLUSTER: &str = include_str!("../benches/scenarios/latency-cluster.json");
const SCALE: &str = include_str!("../benches/scenarios/scale-1000.json");

fn cat() -> &'static Catalog {
    Catalog::embedded_ref()
}

fn req(json: &str) -> Requirements {
    Requirements::from_json(json).expect("valid request")
}

fn ok(r: &Requirements) -> Placement {
    ok_with(r, &PlanOptions::default())
}

fn ok_with(r: &Requirements, o: &PlanOptions) -> Placement {
    let p = plan(r, cat(), o).unwrap_or_else(|e| panic!("{e}"));
    let v = check_placement(r, cat(), o, &p.vms);
    assert!(v.is_empty(), "violations: {v:?}");
    p
}

fn err(r: &Requirements) -> Infeasible {
    match plan(r, cat(), &PlanOptions::default()) {
        Ok(p) => panic!("expected a failure, got {:?}", p.vms),
        Err(e) => e,
    }
}

fn with_placement(json: &str, f: impl FnOnce(&mut serde_json::Value)) -> Requirements {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    f(&mut v["placement"]);
    serde_json::from_value(v).unwrap()
}

#[test]
fn benchmark_scenarios_are_optimal_and_beat_the_baseline_constraints() {
    for (json, latency_bound) in [(SEED, None), (CLUSTER, Some(30.0)), (SCALE, Some(60.0))] {
        let r = req(json);
        let p = ok(&r);
        assert!(
            p.optimal && p.gap == 0.0,
            "{}",
            p.explanation.summary.join("\n")
        );
        assert_eq!(p.vms.len() as u32, r.total_vms());
        let total: f64 = p.vms.iter().map(|v| v.price_usd_per_hour).sum();
        assert!((total - p.hourly_cost).abs() < 1e-9);
        assert!((p.objective_value - p.hourly_cost).abs() < 1e-9);
        let b = plan_greedy_baseline(&r, cat()).unwrap();
        // The baseline ignores the MCIS-wide constraints, so it is cheaper but infeasible.
        assert!(!b.violations.is_empty());
        assert!(b.hourly_cost <= p.hourly_cost + 1e-9);
        if let Some(l) = latency_bound {
            assert!(p.max_rtt_ms.unwrap_or(0.0) <= l);
            assert!(
                b.max_rtt_ms.unwrap() > l,
                "the baseline breaks the latency bound"
            );
        }
    }
}

#[test]
fn plans_are_deterministic_byte_for_byte() {
    for json in [SEED, CLUSTER] {
        let r = req(json);
        let a = serde_json::to_string(&ok(&r)).unwrap();
        let b = serde_json::to_string(&ok(&r)).unwrap();
        assert_eq!(a, b);
        // A catalog loaded back from its export plans the same.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, planner::catalog::format::export_json(cat())).unwrap();
        let c2 = Catalog::load(&path).unwrap();
        let p2 = plan(&r, &c2, &PlanOptions::default()).unwrap();
        assert_eq!(serde_json::to_string(&p2).unwrap(), a);
    }
}

#[test]
fn latency_and_provider_conflict_is_diagnosed_with_the_smallest_feasible_bound() {
    let r = with_placement(CLUSTER, |p| p["max_latency_ms"] = 1.into());
    let e = err(&r);
    assert_eq!(e.kind, FailureKind::Infeasible);
    let text = e.to_string();
    assert!(
        e.conflicts
            .iter()
            .any(|c| c.contains("max_latency_ms = 1 ") && c.contains("min_providers = 3")),
        "{text}"
    );
    let line = e
        .relaxations
        .iter()
        .find(|l| l.contains("smallest feasible bound is"))
        .unwrap_or_else(|| panic!("{text}"));
    let ms: f64 = line
        .split("smallest feasible bound is ")
        .nth(1)
        .unwrap()
        .split(" ms")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 1.0);
    // The relaxation is exact: feasible at the bound, infeasible just below.
    let at = with_placement(CLUSTER, |p| p["max_latency_ms"] = (ms + 0.05).into());
    assert!(ok(&at).max_rtt_ms.unwrap() <= ms + 0.05);
    let below = with_placement(CLUSTER, |p| p["max_latency_ms"] = (ms - 0.2).into());
    assert_eq!(err(&below).kind, FailureKind::Infeasible);
    assert!(
        e.relaxations
            .iter()
            .any(|l| l.starts_with("min_providers = ")),
        "{text}"
    );
}

#[test]
fn other_conflicts_are_diagnosed() {
    // A filter no offer meets.
    let r = req(r#"{"groups":[{"name":"big","count":1,"vcpu":{"min":100000}}]}"#);
    let e = err(&r);
    assert!(
        e.conflicts[0].contains("vm_group `big`") && e.conflicts[0].contains("vcpu"),
        "{e}"
    );
    assert!(
        e.relaxations.iter().any(|l| l.contains("vcpu.min = ")),
        "{e}"
    );
    // Arm with a GPU model nobody sells on Arm.
    let r = req(r#"{"groups":[{"name":"g","count":1,"arch":"arm64","gpu":{"model":"A100"}}]}"#);
    let e = err(&r);
    assert!(
        e.conflicts[0].contains("arch") || e.conflicts[0].contains("gpu"),
        "{e}"
    );
    // More regions than VMs.
    let r = req(r#"{"groups":[{"name":"w","count":2}],"placement":{"min_regions":3}}"#);
    let e = err(&r);
    assert!(
        e.conflicts.iter().any(|c| c.contains("min_regions = 3")),
        "{e}"
    );
    assert!(
        e.relaxations.iter().any(|l| l.contains("min_regions = 2")),
        "{e}"
    );
    // A budget below the cheapest placement.
    let r = req(
        r#"{"groups":[{"name":"w","count":4,"vcpu":{"min":4}}],"placement":{"max_hourly_cost":0.01}}"#,
    );
    let e = err(&r);
    assert!(
        e.conflicts.iter().any(|c| c.contains("max_hourly_cost")),
        "{e}"
    );
    let line = e
        .relaxations
        .iter()
        .find(|l| l.contains("cheapest feasible"))
        .unwrap();
    assert!(line.starts_with("max_hourly_cost = 0."), "{line}");
    // Too few VMs per region for the latency bound.
    let r = req(
        r#"{"groups":[{"name":"w","count":30}],"placement":{"max_latency_ms":1,"max_vms_per_region":10}}"#,
    );
    let e = err(&r);
    assert!(
        e.conflicts
            .iter()
            .any(|c| c.contains("max_latency_ms = 1 ") && c.contains("max_vms_per_region = 10")),
        "{e}"
    );
    // Nothing near enough.
    let r = req(
        r#"{"groups":[{"name":"w","count":1}],"placement":{"near":{"latitude":-77.85,"longitude":166.67,"max_distance_km":100}}}"#,
    );
    let e = err(&r);
    assert!(e.conflicts[0].contains("max_distance_km"), "{e}");
    assert!(e.relaxations[0].contains("near.max_distance_km = "), "{e}");
    // Invalid requests are not infeasibility.
    let r = req(r#"{"groups":[{"name":"w","count":1}],"placement":{"objective":"location"}}"#);
    assert_eq!(err(&r).kind, FailureKind::InvalidRequest);
}

#[test]
fn failover_keeps_pinned_vms_and_avoids_blocked_offers() {
    let r = req(CLUSTER);
    let first = ok(&r);
    // The cloud refuses the offer of group `b` and of group `e`.
    let refused: Vec<BlockedOffer> = ["b", "e"]
        .iter()
        .map(|g| {
            let v = first.vms.iter().find(|v| v.group == *g).unwrap();
            BlockedOffer::offer(&v.provider, &v.region, &v.spec)
        })
        .collect();
    let pinned: Vec<PinnedVm> = first
        .vms
        .iter()
        .filter(|v| {
            !refused
                .iter()
                .any(|b| b.matches(&v.provider, &v.region, &v.spec))
        })
        .map(|v| PinnedVm {
            group: v.group.clone(),
            index: v.index,
            provider: v.provider.clone(),
            region: v.region.clone(),
            spec: v.spec.clone(),
            spot: v.spot,
            price_usd_per_hour: Some(v.price_usd_per_hour),
        })
        .collect();
    let opts = PlanOptions {
        blocked: refused.clone(),
        pinned: pinned.clone(),
        ..PlanOptions::default()
    };
    let second = ok_with(&r, &opts);
    assert!(second.optimal);
    for p in &pinned {
        let v = second
            .vms
            .iter()
            .find(|v| v.group == p.group && v.index == p.index)
            .unwrap();
        assert!(v.pinned && v.region == p.region && v.spec == p.spec);
    }
    let moved: Vec<_> = second.vms.iter().filter(|v| !v.pinned).collect();
    assert_eq!(moved.len(), r.total_vms() as usize - pinned.len());
    assert!(!moved.is_empty());
    for v in moved {
        assert!(!refused
            .iter()
            .any(|b| b.matches(&v.provider, &v.region, &v.spec)));
    }
    assert!(second.max_rtt_ms.unwrap() <= 30.0);
    assert!(
        second.hourly_cost >= first.hourly_cost - 1e-9,
        "a re-plan cannot be cheaper than the optimum"
    );
}

#[test]
fn explanations_name_the_pair_and_the_beaten_alternatives() {
    let p = ok(&req(CLUSTER));
    let (a, b) = p.max_rtt_pair.clone().unwrap();
    assert!(p
        .explanation
        .summary
        .iter()
        .any(|s| s.contains(&a.to_string()) && s.contains(&b.to_string())));
    assert!(p
        .explanation
        .summary
        .iter()
        .any(|s| s.contains("proven optimal")));
    assert!(p
        .explanation
        .choices
        .iter()
        .all(|c| !c.alternatives.is_empty()));
    let reasons: Vec<&str> = p
        .explanation
        .choices
        .iter()
        .flat_map(|c| c.alternatives.iter().map(|a| a.reason.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("exceeds max_latency_ms = 30")),
        "{reasons:?}"
    );
    let indices: usize = p.explanation.choices.iter().map(|c| c.indices.len()).sum();
    assert_eq!(indices, p.vms.len());
}

#[test]
fn every_objective_plans_on_the_real_catalog() {
    let seoul = r#""near":{"latitude":37.57,"longitude":126.98}"#;
    for placement in [
        r#"{"objective":"latency","min_providers":2}"#.to_string(),
        format!(r#"{{"objective":"location",{seoul},"min_regions":2}}"#),
        r#"{"objective":"performance","max_hourly_cost":2.0,"max_latency_ms":40}"#.to_string(),
        format!(
            r#"{{"objective":"weighted","weights":{{"cost":1,"latency":1,"location":0.5,"performance":0.5}},{seoul},"min_providers":2}}"#
        ),
    ] {
        let json = format!(
            r#"{{"groups":[{{"name":"web","count":4,"vcpu":{{"min":2,"max":4}}}},{{"name":"db","count":2,"memory_gib":{{"min":16}}}}],"placement":{placement}}}"#
        );
        let r = req(&json);
        let p = ok(&r);
        assert!(p.optimal, "{placement}: {:?}", p.explanation);
        match r.placement.objective {
            Objective::Latency => {
                // Two providers are needed, so the best is the closest pair of regions.
                assert!(p.max_rtt_ms.unwrap() < 5.0, "{:?}", p.max_rtt_ms);
                assert_eq!(p.objective_value, p.max_rtt_ms.unwrap());
            }
            Objective::Location => {
                for v in &p.vms {
                    let i = cat().region_index(&v.region_key()).unwrap();
                    assert!(cat().distance_to(i, 37.57, 126.98) < 600.0, "{v:?}");
                }
            }
            Objective::Performance => {
                assert!(p.hourly_cost <= 2.0 && p.objective_value > 0.0);
            }
            _ => {}
        }
    }
}

#[test]
fn the_documented_request_format_parses() {
    // The example of the `requirements` module documentation, field for field.
    let doc = r#"{
      "groups": [
        { "name": "web", "count": 4,
          "vcpu": { "min": 2, "max": 4 }, "memory_gib": { "min": 4 },
          "arch": "x86_64",
          "gpu": { "model": "T4", "count": 1 },
          "providers": ["aws", "gcp"], "deny_providers": [],
          "regions": ["us-east-1", "gcp-us-central1"], "deny_regions": [],
          "spot": false }
      ],
      "placement": {
        "objective": "cost",
        "weights": { "cost": 1, "latency": 0, "location": 0, "performance": 0 },
        "max_latency_ms": 40, "min_providers": 2, "min_regions": 3,
        "max_vms_per_region": 10,
        "near": { "latitude": 37.57, "longitude": 126.98, "max_distance_km": 3000 },
        "max_hourly_cost": 25.0
      }
    }"#;
    let r = req(doc);
    assert_eq!(
        r.groups[0].gpu.as_ref().unwrap().model.as_deref(),
        Some("T4")
    );
    assert_eq!(r.placement.near.unwrap().max_distance_km, Some(3000.0));
    // `vm_group` is the HCL block name and an accepted alias.
    let r2 = req(r#"{"vm_group":[{"name":"a","count":1}]}"#);
    assert_eq!(r2.groups.len(), 1);
    // Typos are errors, not silently dropped constraints.
    assert!(Requirements::from_json(r#"{"groups":[],"placement":{"max_latency":40}}"#).is_err());
    assert!(
        Requirements::from_json(r#"{"groups":[{"name":"a","count":1,"vcpus":{"min":2}}]}"#)
            .is_err()
    );
    // Serialisation uses the same names.
    let s = serde_json::to_string(&r).unwrap();
    for f in [
        "\"memory_gib\"",
        "\"max_latency_ms\"",
        "\"min_providers\"",
        "\"max_vms_per_region\"",
        "\"max_hourly_cost\"",
    ] {
        assert!(s.contains(f), "{f} in {s}");
    }
}

#[test]
fn spot_is_used_only_where_allowed() {
    let r = req(
        r#"{"groups":[{"name":"s","count":3,"spot":true,"vcpu":{"min":2}},{"name":"o","count":3,"vcpu":{"min":2}}]}"#,
    );
    let p = ok(&r);
    assert!(p.vms.iter().filter(|v| v.group == "s").all(|v| v.spot));
    assert!(p.vms.iter().filter(|v| v.group == "o").all(|v| !v.spot));
}

#[test]
fn a_time_limit_returns_the_best_placement_with_its_gap_and_never_claims_optimality() {
    // The one-ILP-per-stage strategy cannot prove the 1000-VM case in half a second with microlp.
    let r = req(SCALE);
    let opts = PlanOptions {
        strategy: planner::Strategy::Monolithic,
        time_limit: std::time::Duration::from_millis(500),
        ..PlanOptions::default()
    };
    let t = std::time::Instant::now();
    match plan(&r, cat(), &opts) {
        Ok(p) => {
            assert!(t.elapsed().as_secs_f64() < 5.0);
            assert!(check_placement(&r, cat(), &opts, &p.vms).is_empty());
            assert!(!p.optimal);
            assert!(p.gap > 0.0 && p.lower_bound < p.objective_value);
            assert!(p
                .explanation
                .summary
                .iter()
                .any(|s| s.contains("not proven optimal")));
        }
        Err(e) => assert_eq!(e.kind, FailureKind::TimedOut, "{e}"),
    }
}
