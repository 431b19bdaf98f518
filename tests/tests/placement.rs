//! The planner end to end, through the real terraform binary on the simulator: the
//! `tumblebug_placement` data source feeding fixed groups, and `tumblebug_mcis` groups with
//! `requirements` placed at plan time, kept in state, scaled, and failed over.

use std::collections::BTreeSet;

use serde_json::Value;
use tumblebug_e2e::{planned_actions, state_values, Workspace};

const PROVIDER: &str = r#"
provider "tumblebug" {
  poll_interval = "100ms"
  simulator {
    durations = { aws = 0, azure = 0, gcp = 0, alibaba = 0 }
  }
}
"#;

fn example(name: &str) -> String {
    // Read at run time: a path compiled in goes stale when cargo reuses this test binary for a
    // checkout at another place with the same target directory.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo");
    let path = format!("{dir}/../examples/{name}/main.tf");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn planned_placement_is_shown_applied_and_stable() {
    let ws = Workspace::new();
    ws.write_config(&format!("{PROVIDER}\n{}", example("placement-data-source")));
    ws.init();

    // The plan already knows the placement and its cost: the data source runs at plan time.
    let plan = ws.plan_json();
    let prior = &plan["prior_state"]["values"]["root_module"]["resources"];
    let data = prior
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "data.tumblebug_placement.web")
        .expect("the data source is read during plan")["values"]
        .clone();
    let vms = data["vms"].as_array().unwrap();
    assert_eq!(vms.len(), 5, "{data:#}");
    assert_eq!(data["optimal"], true);
    assert!(data["max_rtt_ms"].as_f64().unwrap() <= 40.0, "{data:#}");
    let mut providers: Vec<&str> = vms
        .iter()
        .map(|v| v["provider"].as_str().unwrap())
        .collect();
    providers.sort();
    providers.dedup();
    assert!(providers.len() >= 2, "{providers:?}");
    let total: f64 = vms
        .iter()
        .map(|v| v["price_usd_per_hour"].as_f64().unwrap())
        .sum();
    assert!((total - data["hourly_cost"].as_f64().unwrap()).abs() < 1e-6);
    assert!(
        data["explanation"]
            .as_str()
            .unwrap()
            .contains("why these offers"),
        "{data:#}"
    );

    // The simulator accepts whatever the planner chose; the MCIS runs exactly the placed VMs.
    ws.apply();
    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.web");
    assert_eq!(mcis["status"], "Running:5 (R:5/5)", "{mcis:#}");
    let mut placed: Vec<(String, String, String)> = vms
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_owned();
            (s("provider"), s("region"), s("spec"))
        })
        .collect();
    let mut running: Vec<(String, String, String)> = mcis["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_owned();
            (s("provider"), s("region"), s("spec"))
        })
        .collect();
    placed.sort();
    running.sort();
    assert_eq!(placed, running);

    // Deterministic: planning again changes nothing.
    assert!(ws.plan_is_empty());
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn infeasible_requests_name_the_conflict_and_the_nearest_feasible_bound() {
    let ws = Workspace::new();
    ws.write_config(&format!(
        r#"{PROVIDER}
data "tumblebug_placement" "tight" {{
  vm_group {{
    name  = "app"
    count = 3
  }}
  placement {{
    max_latency_ms = 1
    min_providers  = 3
  }}
}}
"#
    ));
    ws.init();
    let out = ws.fails(&["plan", "-no-color"]);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains("No placement satisfies the requirements"),
        "{out}"
    );
    assert!(out.contains("max_latency_ms"), "{out}");
    assert!(out.contains("nearest feasible"), "{out}");
}

#[test]
fn invalid_requirements_are_reported_at_validate_time() {
    let ws = Workspace::new();
    ws.write_config(&format!(
        r#"{PROVIDER}
data "tumblebug_placement" "bad" {{
  vm_group {{
    name  = "app"
    count = 2
    requirements {{
      vcpu = {{ min = 8, max = 2 }}
    }}
  }}
  placement {{
    objective = "location"
  }}
}}
"#
    ));
    ws.init();
    let out = ws.fails(&["validate", "-no-color"]);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(out.contains("vcpu.min = 8 exceeds vcpu.max = 2"), "{out}");
    assert!(out.contains("needs placement.near"), "{out}");
}

/// (group, index, provider, region, spec) of each entry of a list of VMs.
fn places(vms: &Value) -> Vec<(String, i64, String, String, String)> {
    let mut out: Vec<_> = vms
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {vms:#}"))
        .iter()
        .map(|v| {
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{k} unknown in {v:#}"))
                    .to_owned()
            };
            (
                s("group"),
                v["index"].as_i64().unwrap(),
                s("provider"),
                s("region"),
                s("spec"),
            )
        })
        .collect();
    out.sort();
    out
}

/// The planned `after` values of `address`.
fn planned_after(plan: &Value, address: &str) -> Value {
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no change for {address}"))["change"]["after"]
        .clone()
}

#[test]
fn mcis_requirements_are_placed_at_plan_time_kept_and_scaled() {
    let ws = Workspace::new();
    let config = format!("{PROVIDER}\n{}", example("placement"));
    ws.write_config(&config);
    ws.init();

    // `terraform plan` already shows every VM's provider, region, spec and the total cost.
    let plan = ws.plan_json();
    let after = planned_after(&plan, "tumblebug_mcis.web");
    let planned = places(&after["planned_vms"]);
    assert_eq!(planned.len(), 5, "{after:#}");
    let providers: BTreeSet<&str> = planned.iter().map(|p| p.2.as_str()).collect();
    assert!(providers.len() >= 2, "min_providers = 2: {planned:?}");
    let total: f64 = after["planned_vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["price_usd_per_hour"].as_f64().unwrap())
        .sum();
    assert!(
        (total - after["hourly_cost"].as_f64().unwrap()).abs() < 1e-9,
        "{after:#}"
    );
    assert!(after["max_rtt_ms"].as_f64().unwrap() <= 40.0, "{after:#}");
    assert!(after["placement_explanation"]
        .as_str()
        .unwrap()
        .contains("why these offers"));

    // Applied exactly as planned; a second plan changes nothing.
    ws.apply();
    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.web");
    assert_eq!(mcis["status"], "Running:5 (R:5/5)", "{mcis:#}");
    assert_eq!(places(&mcis["vms"]), planned);
    assert_eq!(places(&mcis["planned_vms"]), planned);
    assert!(ws.plan_is_empty());
    let ids: Vec<Value> = mcis["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].clone())
        .collect();

    // Scale-out places only the new VMs: the four running web VMs keep their place and id.
    ws.write_config(&config.replacen("count = 4", "count = 6", 1));
    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, "tumblebug_mcis.web"), ["update"]);
    let scaled = places(&planned_after(&plan, "tumblebug_mcis.web")["planned_vms"]);
    assert_eq!(scaled.len(), 7);
    for vm in &planned {
        assert!(scaled.contains(vm), "{vm:?} moved: {scaled:?}");
    }
    ws.apply();
    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.web");
    assert_eq!(mcis["status"], "Running:7 (R:7/7)", "{mcis:#}");
    assert_eq!(places(&mcis["vms"]), scaled);
    let still: Vec<Value> = mcis["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].clone())
        .collect();
    for id in &ids {
        assert!(still.contains(id), "VM {id} was replaced");
    }
    assert!(ws.plan_is_empty());

    // Import rebuilds the requirements, the placement block and the places.
    ws.ok(&["state", "rm", "tumblebug_mcis.web"]);
    ws.ok(&["import", "-no-color", "tumblebug_mcis.web", "planned/web"]);
    assert!(ws.plan_is_empty(), "an imported MCIS plans no change");
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn refused_vms_fail_over_to_other_offers_within_the_constraints() {
    let ws = Workspace::new();
    let body = example("placement");
    ws.write_config(&format!("{PROVIDER}\n{body}"));
    ws.init();
    let planned = places(&planned_after(&ws.plan_json(), "tumblebug_mcis.web")["planned_vms"]);
    // The cloud of the first web VM refuses every create in that region (no capacity).
    let (_, _, provider, region, _) = planned.iter().find(|p| p.0 == "web").unwrap().clone();
    let faulty = format!(
        r#"
provider "tumblebug" {{
  poll_interval = "100ms"
  simulator {{
    durations = {{ aws = 0, azure = 0, gcp = 0, alibaba = 0 }}
    fault {{
      kind     = "create_failure"
      provider = "{provider}"
      region   = "{region}"
      error    = "capacity"
    }}
  }}
}}
{body}"#
    );
    ws.write_config(&faulty);
    let run = ws.apply();
    let out = run.all().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(out.contains("Failover: VMs placed elsewhere"), "{out}");

    // Every VM runs, none in the refusing region, and the refreshed placement says where they
    // went, still within max_latency_ms and min_providers.
    ws.ok(&[
        "apply",
        "-refresh-only",
        "-auto-approve",
        "-input=false",
        "-no-color",
    ]);
    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.web");
    assert_eq!(mcis["status"], "Running:5 (R:5/5)", "{mcis:#}");
    let running = places(&mcis["vms"]);
    assert!(
        running
            .iter()
            .all(|p| (p.2.as_str(), p.3.as_str()) != (provider.as_str(), region.as_str())),
        "{running:?}"
    );
    assert_eq!(places(&mcis["planned_vms"]), running);
    let providers: BTreeSet<&str> = running.iter().map(|p| p.2.as_str()).collect();
    assert!(providers.len() >= 2, "{running:?}");
    assert!(mcis["max_rtt_ms"].as_f64().unwrap() <= 40.0, "{mcis:#}");
    assert!(ws.plan_is_empty());
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn mcis_placement_problems_are_reported_before_anything_is_created() {
    let ws = Workspace::new();
    let mcis = |group: &str, placement: &str| {
        format!(
            r#"{PROVIDER}
resource "tumblebug_namespace" "ns" {{
  name = "planned"
}}
resource "tumblebug_mcis" "x" {{
  namespace = tumblebug_namespace.ns.id
  name      = "x"
  vm_group {{
    name  = "app"
    count = 3
    image = "ubuntu-22.04"
    {group}
  }}
  placement {{
    {placement}
  }}
}}
"#
        )
    };
    ws.write_config(&mcis(
        r#"provider = "aws"
    requirements {
      vcpu = { min = 8, max = 2 }
    }"#,
        "min_providers = 2",
    ));
    ws.init();
    let out = ws.fails(&["validate", "-no-color"]);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains("`provider` cannot be combined with `requirements`"),
        "{out}"
    );
    assert!(out.contains("vcpu.min = 8 exceeds vcpu.max = 2"), "{out}");

    ws.write_config(&mcis(
        "requirements {}",
        "max_latency_ms = 1\n    min_providers = 3",
    ));
    let out = ws.fails(&["plan", "-no-color"]);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains("No placement satisfies the requirements"),
        "{out}"
    );
    assert!(out.contains("nearest feasible"), "{out}");
    assert_eq!(ws.leftovers(), (0, 0, 0));
}

#[test]
fn a_kept_placement_warns_of_a_cheaper_one_and_moves_only_on_replan() {
    let ws = Workspace::new();
    // The user's catalog: the embedded one, exported by the planner's own exporter.
    let catalog_path = ws.dir().join("catalog.json");
    let mut catalog: Value = serde_json::from_str(&planner::catalog::format::export_json(
        planner::Catalog::embedded_ref(),
    ))
    .unwrap();
    std::fs::write(&catalog_path, catalog.to_string()).unwrap();
    let provider = format!(
        r#"
provider "tumblebug" {{
  poll_interval = "100ms"
  catalog       = "{}"
  simulator {{
    durations = {{ aws = 0, azure = 0, gcp = 0, alibaba = 0 }}
  }}
}}
"#,
        catalog_path.display()
    );
    let body = example("placement");
    ws.write_config(&format!("{provider}\n{body}"));
    ws.init();
    ws.apply();
    let show = ws.show_json();
    let applied = places(&state_values(&show, "tumblebug_mcis.web")["vms"]);

    // The catalog now offers, in the region of the first web VM, another fitting spec for almost
    // nothing: a plan keeps every VM where it is and says a cheaper placement exists.
    let (_, _, provider_name, region, spec) =
        applied.iter().find(|p| p.0 == "web").unwrap().clone();
    let offers = catalog["offers"].as_array_mut().unwrap();
    let cheap = offers
        .iter_mut()
        .find(|o| {
            o["provider"] == provider_name.as_str()
                && o["region"] == region.as_str()
                && o["spec"] != spec.as_str()
                && (2..=4).contains(&o["vcpu"].as_u64().unwrap())
                && o["memory_gib"].as_f64().unwrap() >= 4.0
                && o["arch"] == "x86_64"
                && o["gpu_count"].as_u64().unwrap_or(0) == 0
        })
        .expect("another fitting spec in that region");
    cheap["price_usd_per_hour"] = serde_json::json!(0.001);
    let cheap_spec = cheap["spec"].as_str().unwrap().to_owned();
    std::fs::write(&catalog_path, catalog.to_string()).unwrap();
    let run = ws.run(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    let out = run.all().split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(run.code, Some(0), "the placement is kept: {out}");
    assert!(out.contains("A cheaper placement is available"), "{out}");

    // replan_trigger lets the planner move the VMs: the web group goes to the cheap offer.
    let replan = body.replacen(
        "  placement {",
        "  replan_trigger = \"1\"\n\n  placement {",
        1,
    );
    ws.write_config(&format!("{provider}\n{replan}"));
    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, "tumblebug_mcis.web"), ["update"]);
    let moved = places(&planned_after(&plan, "tumblebug_mcis.web")["planned_vms"]);
    let web: Vec<_> = moved.iter().filter(|p| p.0 == "web").collect();
    assert!(web.iter().all(|p| p.4 == cheap_spec), "{moved:?}");
    ws.apply();
    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.web");
    assert_eq!(places(&mcis["vms"]), moved);
    assert_eq!(mcis["status"], "Running:5 (R:5/5)", "{mcis:#}");
    assert!(ws.plan_is_empty());
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn spot_vms_are_planned_at_the_spot_price_and_requested_as_spot() {
    let ws = Workspace::new();
    ws.write_config(&format!(
        r#"{PROVIDER}
resource "tumblebug_namespace" "ns" {{
  name = "spot"
}}
resource "tumblebug_mcis" "batch" {{
  namespace = tumblebug_namespace.ns.id
  name      = "batch"
  vm_group {{
    name  = "worker"
    count = 3
    image = "ubuntu-22.04"
    requirements {{
      vcpu = {{ min = 4 }}
      spot = true
    }}
  }}
}}
"#
    ));
    ws.init();
    ws.apply();
    let show = ws.show_json();
    let mcis = state_values(&show, "tumblebug_mcis.batch");
    let planned = mcis["planned_vms"].as_array().unwrap();
    assert!(planned.iter().all(|vm| vm["spot"] == true), "{mcis:#}");
    // Each price is the catalog's spot price of its offer, below its on-demand price.
    let catalog = planner::Catalog::embedded_ref();
    for vm in planned {
        let s = |k: &str| vm[k].as_str().unwrap();
        let offer = &catalog.offers()[catalog
            .offer_index(s("provider"), s("region"), s("spec"))
            .unwrap()];
        let price = vm["price_usd_per_hour"].as_f64().unwrap();
        assert_eq!(Some(price), offer.spot_usd_per_hour, "{vm:#}");
        assert!(price < offer.price_usd_per_hour);
    }
    assert!(mcis["vms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|vm| vm["spot"] == true));
    assert!(ws.plan_is_empty());
    ws.destroy();
}
