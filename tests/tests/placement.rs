//! `tumblebug_placement` end to end: the planner through the real terraform binary, feeding an
//! MCIS on the simulator.

use tumblebug_e2e::{state_values, Workspace};

const PROVIDER: &str = r#"
provider "tumblebug" {
  poll_interval = "100ms"
  simulator {
    durations = { aws = 0, azure = 0, gcp = 0, alibaba = 0 }
  }
}
"#;

fn example() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/placement/main.tf");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn planned_placement_is_shown_applied_and_stable() {
    let ws = Workspace::new();
    ws.write_config(&format!("{PROVIDER}\n{}", example()));
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
