//! `tumblebug_mcis` end to end on the embedded simulator, through the real terraform binary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tumblebug_e2e::{planned_actions, state_values, Workspace};

const ADDRESS: &str = "tumblebug_mcis.demo";

/// The seed demo's layout: 18 VMs over aws, azure, gcp and alibaba in 10 regions.
const SEED_GROUPS: &[(&str, &str, &str, &str, u32)] = &[
    ("aws-seoul", "aws", "ap-northeast-2", "t3.small", 2),
    ("aws-virginia", "aws", "us-east-1", "t3.small", 2),
    ("aws-ireland", "aws", "eu-west-1", "t3.small", 2),
    ("azure-korea", "azure", "koreacentral", "Standard_B2s", 2),
    ("azure-us", "azure", "eastus", "Standard_B2s", 2),
    ("gcp-seoul", "gcp", "asia-northeast3", "e2-medium", 2),
    ("gcp-iowa", "gcp", "us-central1", "e2-medium", 2),
    ("gcp-belgium", "gcp", "europe-west1", "e2-medium", 1),
    (
        "alibaba-seoul",
        "alibaba",
        "ap-northeast-2",
        "ecs.g6.large",
        2,
    ),
    ("alibaba-hk", "alibaba", "cn-hongkong", "ecs.g6.large", 1),
];

struct Demo<'a> {
    counts: BTreeMap<&'a str, u32>,
    desired_status: &'a str,
    simulator: String,
    extra: &'a str,
}

impl<'a> Demo<'a> {
    fn new() -> Self {
        Demo {
            counts: SEED_GROUPS.iter().map(|g| (g.0, g.4)).collect(),
            desired_status: "running",
            simulator: "durations = { aws = 0, azure = 0, gcp = 0, alibaba = 0 }".into(),
            extra: "",
        }
    }

    fn hcl(&self) -> String {
        let mut groups = String::new();
        for (name, provider, region, spec, _) in SEED_GROUPS {
            groups.push_str(&format!(
                "  vm_group {{\n    name = \"{name}\"\n    count = {}\n    provider = \"{provider}\"\n    region = \"{region}\"\n    spec = \"{spec}\"\n    image = \"ubuntu-22.04\"\n  }}\n",
                self.counts[name]
            ));
        }
        format!(
            r#"
provider "tumblebug" {{
  poll_interval = "100ms"
  simulator {{
    {}
  }}
}}

resource "tumblebug_namespace" "ns" {{
  name = "seed"
}}

resource "tumblebug_mcis" "demo" {{
  namespace      = tumblebug_namespace.ns.id
  name           = "demo"
  desired_status = "{}"
{}
{groups}}}

output "status" {{
  value = tumblebug_mcis.demo.status
}}
"#,
            self.simulator, self.desired_status, self.extra
        )
    }
}

fn mcis(ws: &Workspace) -> Value {
    state_values(&ws.show_json(), ADDRESS).clone()
}

fn vm_ids(mcis: &Value) -> BTreeMap<String, String> {
    mcis["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vm| {
            (
                vm["name"].as_str().unwrap().to_owned(),
                vm["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// VMs and MCIR the store and the simulated clouds still hold.
#[test]
fn seed_demo_create_suspend_resume_scale_destroy() {
    let ws = Workspace::new();
    let mut demo = Demo::new();
    ws.write_config(&demo.hcl());
    ws.init();

    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, ADDRESS), ["create"]);
    ws.apply();
    let state = mcis(&ws);
    assert_eq!(state["status"], "Running:18 (R:18/18)", "{state:#}");
    assert_eq!(state["status_counts"]["Running"], 18);
    let vms = state["vms"].as_array().unwrap();
    assert_eq!(vms.len(), 18);
    let regions: std::collections::BTreeSet<_> = vms
        .iter()
        .map(|vm| (vm["provider"].as_str(), vm["region"].as_str()))
        .collect();
    assert_eq!(regions.len(), 10);
    assert!(
        vms.iter()
            .all(|vm| vm["status"] == "Running" && vm["private_ip"].is_string()),
        "{vms:#?}"
    );
    let ids = vm_ids(&state);
    assert!(ws.plan_is_empty(), "a second plan should show no changes");

    // Suspend: one status for all 18, and GCP's trap word read correctly.
    demo.desired_status = "suspended";
    ws.write_config(&demo.hcl());
    assert_eq!(planned_actions(&ws.plan_json(), ADDRESS), ["update"]);
    ws.apply();
    let state = mcis(&ws);
    assert_eq!(state["status"], "Suspended:18 (R:0/18)", "{state:#}");
    let gcp = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["provider"] == "gcp")
        .unwrap()
        .clone();
    assert_eq!(
        (gcp["native_status"].as_str(), gcp["status"].as_str()),
        (Some("TERMINATED"), Some("Suspended"))
    );
    assert_eq!(vm_ids(&state), ids, "suspending must not replace VMs");
    assert!(ws.plan_is_empty());

    demo.desired_status = "running";
    ws.write_config(&demo.hcl());
    ws.apply();
    assert_eq!(mcis(&ws)["status"], "Running:18 (R:18/18)");

    // Scale out 18 -> 20: the 18 stay, two are added.
    demo.counts.insert("gcp-belgium", 3);
    ws.write_config(&demo.hcl());
    ws.apply();
    let state = mcis(&ws);
    assert_eq!(state["status"], "Running:20 (R:20/20)");
    let scaled = vm_ids(&state);
    assert!(
        ids.iter().all(|(name, id)| scaled.get(name) == Some(id)),
        "scale-out touched existing VMs"
    );
    assert!(scaled.contains_key("demo-gcp-belgium-2"));

    // Scale in 20 -> 16: the highest indexes go, the rest stay.
    demo.counts.insert("gcp-belgium", 1);
    demo.counts.insert("aws-seoul", 1);
    demo.counts.insert("azure-us", 1);
    ws.write_config(&demo.hcl());
    ws.apply();
    let state = mcis(&ws);
    assert_eq!(state["status"], "Running:16 (R:16/16)");
    let shrunk = vm_ids(&state);
    for gone in [
        "demo-gcp-belgium-2",
        "demo-gcp-belgium-1",
        "demo-aws-seoul-1",
        "demo-azure-us-1",
    ] {
        assert!(!shrunk.contains_key(gone), "{gone} should be gone");
    }
    assert!(
        shrunk.iter().all(|(name, id)| scaled.get(name) == Some(id)),
        "scale-in touched remaining VMs"
    );

    // Import rebuilds the same state.
    let before = mcis(&ws);
    ws.ok(&["state", "rm", ADDRESS]);
    ws.ok(&["import", "-input=false", "-no-color", ADDRESS, "seed/demo"]);
    let after = mcis(&ws);
    assert_eq!(after["vms"], before["vms"]);
    assert_eq!(after["vm_group"], before["vm_group"]);

    ws.destroy();
    assert_eq!(
        ws.leftovers(),
        (0, 0, 0),
        "destroy left something behind: {:#}",
        ws.inventory()
    );
}

#[test]
fn capacity_failure_names_the_vms_and_a_later_apply_completes() {
    let ws = Workspace::new();
    let mut demo = Demo::new();
    demo.simulator = r#"durations = { aws = 0, azure = 0, gcp = 0, alibaba = 0 }
    fault {
      kind     = "create_failure"
      provider = "aws"
      region   = "us-east-1"
      error    = "capacity"
    }"#
    .into();
    ws.write_config(&demo.hcl());
    ws.init();
    let out = ws.fails(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        out.contains("2 of the MCIS's VMs failed to create"),
        "{out}"
    );
    assert!(
        out.contains("demo-aws-virginia-0") && out.contains("demo-aws-virginia-1"),
        "{out}"
    );
    assert!(
        out.contains("InsufficientInstanceCapacity"),
        "the cloud's own error text: {out}"
    );
    // The VMs that were created are recorded.
    let state = mcis(&ws);
    assert_eq!(state["vms"].as_array().unwrap().len(), 16, "{state:#}");

    demo.simulator = "durations = { aws = 0, azure = 0, gcp = 0, alibaba = 0 }".into();
    ws.write_config(&demo.hcl());
    ws.apply();
    assert_eq!(mcis(&ws)["status"], "Running:18 (R:18/18)");
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn a_vm_stuck_in_transition_shows_partial_then_failed_with_a_reason() {
    let ws = Workspace::new();
    let mut demo = Demo::new();
    demo.desired_status = "suspended";
    ws.write_config(&demo.hcl());
    ws.init();
    ws.apply();
    assert_eq!(mcis(&ws)["status"], "Suspended:18 (R:0/18)");

    // GCP VMs never finish resuming; the update's deadline is 4 seconds.
    demo.desired_status = "running";
    demo.simulator = r#"durations = { aws = 0, azure = 0, gcp = 0, alibaba = 0 }
    fault {
      kind     = "stuck"
      provider = "gcp"
      phase    = "resuming"
    }"#
    .into();
    demo.extra = r#"  timeouts = { update = "4s" }"#;
    ws.write_config(&demo.hcl());
    let apply = std::thread::scope(|scope| {
        let handle =
            scope.spawn(|| ws.run(&["apply", "-auto-approve", "-input=false", "-no-color"]));
        // While the apply waits, the MCIS is partly running and partly resuming.
        let started = Instant::now();
        let mut seen_partial = None;
        while started.elapsed() < Duration::from_secs(30) && !handle.is_finished() {
            let status = ws.inventory()["mcis"][0]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if status.starts_with("Partial-Running:13 (R:13/18)") {
                seen_partial = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (handle.join().unwrap(), seen_partial)
    });
    let (run, seen_partial) = apply;
    assert_eq!(
        seen_partial.as_deref(),
        Some("Partial-Running:13 (R:13/18)")
    );
    assert_ne!(run.code, Some(0), "the stuck VMs must fail the apply");
    let out = run.all();
    assert!(
        out.contains("5 of the MCIS's VMs failed to update"),
        "{out}"
    );
    assert!(out.contains("demo-gcp-seoul-0"), "{out}");
    let state = mcis(&ws);
    assert_eq!(state["status"], "Partial-Running:13 (R:13/18)", "{state:#}");
    assert_eq!(state["status_counts"]["Failed"], 5);
    let failed = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["status"] == "Failed")
        .unwrap()
        .clone();
    assert!(
        failed["reason"].as_str().unwrap().contains("resume"),
        "{failed:#}"
    );

    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn validation_names_the_attribute() {
    let ws = Workspace::new();
    let mut demo = Demo::new();
    demo.desired_status = "paused";
    ws.write_config(
        &demo
            .hcl()
            .replace("\"aws-ireland\"", "\"AWS_Ireland\"")
            .replace(
                "provider = \"alibaba\"\n    region = \"cn-hongkong\"",
                "provider = \"oracle\"\n    region = \"cn-hongkong\"",
            ),
    );
    ws.init();
    let out = ws.fails(&["validate", "-no-color"]);
    assert!(
        out.contains("Invalid value for \"desired_status\"")
            && out.contains("\"running\" or \"suspended\""),
        "{out}"
    );
    assert!(
        out.contains("Invalid value for \"name\"") && out.contains("AWS_Ireland"),
        "{out}"
    );
    assert!(
        out.contains("\"oracle\" is not a supported cloud") && out.contains("aws"),
        "{out}"
    );
}

/// A small MCIS for the scenarios below: two AWS VMs and one GCP VM.
fn small(durations: &str) -> String {
    format!(
        r#"
provider "tumblebug" {{
  poll_interval = "100ms"
  simulator {{
    durations = {durations}
  }}
}}

resource "tumblebug_namespace" "ns" {{
  name = "small"
}}

resource "tumblebug_mcis" "demo" {{
  namespace = tumblebug_namespace.ns.id
  name      = "demo"
  vm_group {{
    name     = "aws"
    count    = 4
    provider = "aws"
    region   = "ap-northeast-2"
    spec     = "t3.small"
    image    = "ubuntu-22.04"
  }}
  vm_group {{
    name     = "gcp"
    count    = 2
    provider = "gcp"
    region   = "us-central1"
    spec     = "e2-medium"
    image    = "ubuntu-22.04"
  }}
}}
"#
    )
}

#[test]
fn a_vm_terminated_outside_terraform_is_planned_for_recreation_alone() {
    let ws = Workspace::new();
    ws.write_config(&small("{ aws = 0, gcp = 0 }"));
    ws.init();
    ws.apply();
    let before = vm_ids(&mcis(&ws));
    let victim = before["demo-aws-3"].clone();
    let store = ws.default_store();
    tumblebug_e2e::provider_cli(&[
        "sim",
        "terminate",
        "--store",
        store.to_str().unwrap(),
        &victim,
    ]);
    // The simulated delete takes its cloud's usual few seconds; wait until the cloud forgets it.
    let started = Instant::now();
    while ws.inventory()["cloud"]["vms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|vm| vm["id"] == victim.as_str())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the simulator never deleted {victim}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, ADDRESS), ["update"]);
    let change = &plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == ADDRESS)
        .unwrap()["change"];
    let unknown_ids: Vec<usize> = change["after_unknown"]["vms"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, vm)| vm["id"] == true)
        .map(|(i, _)| i)
        .collect();
    let names: Vec<&str> = change["after"]["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vm| vm["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        unknown_ids.iter().map(|i| names[*i]).collect::<Vec<_>>(),
        ["demo-aws-3"],
        "only the vanished VM is re-created"
    );

    ws.apply();
    let after = vm_ids(&mcis(&ws));
    assert_ne!(after["demo-aws-3"], victim);
    assert!(before
        .iter()
        .filter(|(name, _)| *name != "demo-aws-3")
        .all(|(name, id)| after[name] == *id));
    assert!(ws.plan_is_empty());
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn sigkill_during_apply_then_apply_again_adopts_without_duplicates() {
    let ws = Workspace::new();
    // Creation takes 3 s per VM, so the kill lands while the VMs are being created.
    ws.write_config(&small("{ aws = 3, gcp = 3 }"));
    ws.init();
    let (run, killed) = std::thread::scope(|scope| {
        let handle =
            scope.spawn(|| ws.run(&["apply", "-auto-approve", "-input=false", "-no-color"]));
        let started = Instant::now();
        let mut killed = 0;
        while started.elapsed() < Duration::from_secs(60) && !handle.is_finished() {
            if !ws.default_store().exists() {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let created = ws.inventory()["mcis"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .flat_map(|m| m["vms"].as_array().unwrap().iter())
                        .filter(|vm| vm["cloud_id"].is_string())
                        .count()
                })
                .unwrap_or(0);
            if created >= 1 {
                killed = ws.kill_provider();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (handle.join().unwrap(), killed)
    });
    assert!(
        killed >= 1,
        "the provider was not running mid-apply: {}",
        run.all()
    );
    assert_ne!(run.code, Some(0), "the killed apply must fail");

    ws.write_config(&small("{ aws = 0, gcp = 0 }"));
    ws.apply();
    let state = mcis(&ws);
    assert_eq!(state["status"], "Running:6 (R:6/6)", "{state:#}");
    let cloud_vms = ws.inventory()["cloud"]["vms"].as_array().unwrap().len();
    assert_eq!(
        cloud_vms,
        6,
        "VMs were duplicated: {:#}",
        ws.inventory()["cloud"]
    );
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn reboot_trigger_reboots_every_vm_in_place() {
    let ws = Workspace::new();
    let with = |trigger: &str| {
        small("{ aws = 1, gcp = 1 }").replace(
            "  name      = \"demo\"\n",
            &format!(
                "  name      = \"demo\"\n  reboot_trigger = \"{trigger}\"\n  timeouts = {{ update = \"4s\" }}\n"
            ),
        )
    };
    ws.write_config(&with("first"));
    ws.init();
    ws.apply();
    let before = vm_ids(&mcis(&ws));

    ws.write_config(&with("second"));
    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, ADDRESS), ["update"]);
    // While the apply runs, VMs are seen rebooting (GCP's reboot is a stop and a start).
    let (run, seen) = std::thread::scope(|scope| {
        let handle =
            scope.spawn(|| ws.run(&["apply", "-auto-approve", "-input=false", "-no-color"]));
        let mut seen = std::collections::BTreeSet::new();
        while !handle.is_finished() {
            for mcis in ws.inventory()["mcis"].as_array().into_iter().flatten() {
                for vm in mcis["vms"].as_array().into_iter().flatten() {
                    if vm["action"] == "reboot" {
                        seen.insert(vm["group"].as_str().unwrap_or_default().to_owned());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (handle.join().unwrap(), seen)
    });
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(seen.contains("aws") && seen.contains("gcp"), "{seen:?}");
    let after = mcis(&ws);
    assert_eq!(after["status"], "Running:6 (R:6/6)", "{after:#}");
    assert_eq!(vm_ids(&after), before, "a reboot keeps every VM");
    assert!(ws.plan_is_empty());
}
