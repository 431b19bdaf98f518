//! Latency between `local` regions, driven by the real terraform binary: the provider block gives
//! two local regions a round-trip time, an MCIS puts VMs in both, and the VMs themselves (through
//! `tumblebug_command`) see that time between the regions and none within one. Needs root (as CI
//! runs); a guard runs the provider's `local cleanup` even when an assertion fails.

use std::collections::BTreeMap;
use std::path::Path;

use tumblebug_e2e::local::{assert_nothing_left, LocalGuard};
use tumblebug_e2e::{state_values, Workspace};

fn config(state_dir: &Path) -> String {
    format!(
        r#"
provider "tumblebug" {{
  poll_interval = "200ms"
  local {{
    state_dir    = "{}"
    prefix       = "tbe2"
    address_pool = "10.232.0.0/16"
    latency {{
      regions = ["seoul", "virginia"]
      rtt_ms  = 100
    }}
  }}
}}

resource "tumblebug_namespace" "ns" {{
  name = "far"
}}

resource "tumblebug_mcis" "lab" {{
  namespace = tumblebug_namespace.ns.id
  name      = "lab"
  vm_group {{
    name     = "near"
    count    = 2
    provider = "local"
    region   = "seoul"
    spec     = "small"
    image    = "host"
  }}
  vm_group {{
    name     = "far"
    count    = 1
    provider = "local"
    region   = "virginia"
    spec     = "small"
    image    = "host"
  }}
}}

# Every VM times a TCP connect (one round trip) to port 22 of every other VM, in microseconds.
resource "tumblebug_command" "rtt" {{
  mcis_id  = tumblebug_mcis.lab.id
  commands = [<<-EOT
    for to in ${{join(" ", tumblebug_mcis.lab.vms[*].private_ip)}}; do
      start=$(date +%s%N); exec 3<>/dev/tcp/$to/22; end=$(date +%s%N); exec 3>&-
      echo "$to $(( (end - start) / 1000 ))"
    done
  EOT
  ]
}}
"#,
        state_dir.display()
    )
}

#[test]
fn vms_of_far_regions_see_the_configured_round_trip_time() {
    let ws = Workspace::new();
    let guard = LocalGuard::new(&ws);
    ws.write_config(&config(&guard.state_dir));
    ws.init();
    ws.apply();

    let show = ws.show_json();
    let vms = state_values(&show, "tumblebug_mcis.lab")["vms"]
        .as_array()
        .unwrap()
        .clone();
    // Each VM's group, by the value of one of its fields.
    let group_by = |field: &str| -> BTreeMap<String, String> {
        vms.iter()
            .map(|vm| {
                let group = vm["group"].as_str().unwrap().to_owned();
                (vm[field].as_str().unwrap().to_owned(), group)
            })
            .collect()
    };
    let (group_by_address, group_by_name) = (group_by("private_ip"), group_by("name"));
    let results = state_values(&show, "tumblebug_command.rtt")["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results.len(), 3);
    let mut checked = 0;
    for result in &results {
        let from = &group_by_name[result["vm"].as_str().unwrap()];
        let stdout = result["stdout"].as_str().unwrap();
        for line in stdout.lines() {
            let (to, micros) = line.split_once(' ').unwrap();
            let micros: u64 = micros.parse().unwrap();
            let to_group = &group_by_address[to];
            if to_group == from {
                // Within a region (including the VM itself): nothing added.
                assert!(micros < 20_000, "{from} -> {to}: {micros} µs");
            } else {
                // Between the regions: the round trip, with a generous margin for a busy host.
                assert!(
                    (100_000..250_000).contains(&micros),
                    "{from} -> {to}: {micros} µs"
                );
                checked += 1;
            }
            eprintln!("{from} -> {to_group} {to}: {micros} µs");
        }
    }
    assert_eq!(checked, 4, "near -> far twice, far -> near twice");

    ws.destroy();
    // The router went with the vNets: nothing for the clean-up command to find.
    assert_nothing_left(&ws, &guard.state_dir, "tbe2");
}
