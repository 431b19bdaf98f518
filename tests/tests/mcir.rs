//! `tumblebug_vnet`, `tumblebug_security_group` and `tumblebug_ssh_key` end to end on the
//! simulator, through the real terraform binary, including an MCIS that uses them.

use tumblebug_e2e::{planned_actions, state_values, Workspace};

fn config(vnet_cidr: &str, subnet_cidr: &str, mcis_region: &str) -> String {
    format!(
        r#"
provider "tumblebug" {{
  poll_interval = "100ms"
  simulator {{
    durations = {{ aws = 0 }}
  }}
}}

resource "tumblebug_namespace" "ns" {{
  name = "mcir"
}}

resource "tumblebug_vnet" "net" {{
  namespace   = tumblebug_namespace.ns.id
  name        = "net"
  cloud       = "aws"
  region      = "ap-northeast-2"
  cidr        = "{vnet_cidr}"
  subnet_cidr = "{subnet_cidr}"
}}

resource "tumblebug_security_group" "web" {{
  namespace = tumblebug_namespace.ns.id
  name      = "web"
  cloud     = "aws"
  region    = "ap-northeast-2"
  vnet_id   = tumblebug_vnet.net.id
  ingress {{
    protocol  = "tcp"
    from_port = 80
    to_port   = 80
    cidr      = "0.0.0.0/0"
  }}
  egress {{
    protocol  = "all"
    from_port = 0
    to_port   = 0
    cidr      = "0.0.0.0/0"
  }}
}}

resource "tumblebug_ssh_key" "ops" {{
  namespace = tumblebug_namespace.ns.id
  name      = "ops"
  cloud     = "aws"
  region    = "ap-northeast-2"
}}

resource "tumblebug_mcis" "app" {{
  namespace = tumblebug_namespace.ns.id
  name      = "app"
  vm_group {{
    name           = "web"
    count          = 2
    provider       = "aws"
    region         = "{mcis_region}"
    spec           = "t3.small"
    image          = "ubuntu-22.04"
    vnet           = tumblebug_vnet.net.name
    security_group = tumblebug_security_group.web.name
    ssh_key        = tumblebug_ssh_key.ops.name
  }}
}}

output "private_key" {{
  value     = tumblebug_ssh_key.ops.private_key
  sensitive = true
}}
"#
    )
}

#[test]
fn mcir_resources_serve_an_mcis_then_import_replace_and_destroy_cleanly() {
    let ws = Workspace::new();
    ws.write_config(&config("10.20.0.0/16", "10.20.1.0/24", "ap-northeast-2"));
    ws.init();
    ws.apply();

    let show = ws.show_json();
    let vnet = state_values(&show, "tumblebug_vnet.net");
    assert_eq!(vnet["id"], "mcir/net");
    assert!(
        vnet["cloud_id"].as_str().unwrap().starts_with("vpc-"),
        "{vnet:#}"
    );
    let key = state_values(&show, "tumblebug_ssh_key.ops");
    let public_key = key["public_key"].as_str().unwrap();
    let private_key = key["private_key"].as_str().unwrap();
    assert!(public_key.starts_with("ssh-ed25519 ") && public_key.ends_with(" mcir/ops"));
    assert!(private_key.contains("BEGIN OPENSSH PRIVATE KEY"));
    let sensitive = show["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "tumblebug_ssh_key.ops")
        .unwrap()["sensitive_values"]
        .clone();
    assert_eq!(sensitive["private_key"], true, "{sensitive:#}");
    let mcis = state_values(&show, "tumblebug_mcis.app");
    assert_eq!(mcis["status"], "Running:2 (R:2/2)", "{mcis:#}");

    // The MCIS used the named MCIR and created none of its own.
    let inventory = ws.inventory();
    let mcir = inventory["mcir"].as_array().unwrap();
    assert_eq!(mcir.len(), 3, "{inventory:#}");
    assert!(
        mcir.iter().all(|m| m["owner_mcis"].is_null()),
        "{inventory:#}"
    );
    assert!(
        !inventory.to_string().contains("PRIVATE KEY"),
        "the inventory must not print secrets"
    );

    // Nothing secret in a plan's human output; the plan after apply is empty.
    let plan = ws.ok(&["plan", "-no-color"]).all();
    assert!(!plan.contains("PRIVATE KEY"), "{plan}");
    assert!(ws.plan_is_empty());

    // Import reproduces the state exactly.
    let before = state_values(&show, "tumblebug_security_group.web").clone();
    ws.ok(&["state", "rm", "tumblebug_security_group.web"]);
    ws.ok(&["import", "tumblebug_security_group.web", "mcir/web"]);
    assert_eq!(
        state_values(&ws.show_json(), "tumblebug_security_group.web"),
        &before
    );
    assert!(ws.plan_is_empty());

    // Destroy removes everything, in the clouds and in the store.
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn changed_vnet_range_replaces_only_what_depends_on_it() {
    let ws = Workspace::new();
    // Without an MCIS: vnet, security group and key only.
    let body = config("10.20.0.0/16", "10.20.1.0/24", "ap-northeast-2");
    let without_mcis = &body[..body.find("resource \"tumblebug_mcis\"").unwrap()];
    ws.write_config(without_mcis);
    ws.init();
    ws.apply();
    let first = state_values(&ws.show_json(), "tumblebug_vnet.net")["cloud_id"].clone();

    let body = config("10.30.0.0/16", "10.30.1.0/24", "ap-northeast-2");
    ws.write_config(&body[..body.find("resource \"tumblebug_mcis\"").unwrap()]);
    let plan = ws.plan_json();
    assert_eq!(
        planned_actions(&plan, "tumblebug_vnet.net"),
        ["delete", "create"]
    );
    // The security group refers to the vNet's id, so it follows the vNet; the key does not.
    assert_eq!(
        planned_actions(&plan, "tumblebug_security_group.web"),
        ["delete", "create"]
    );
    assert_eq!(planned_actions(&plan, "tumblebug_ssh_key.ops"), ["no-op"]);
    ws.apply();
    let second = state_values(&ws.show_json(), "tumblebug_vnet.net")["cloud_id"].clone();
    assert_ne!(first, second);
    assert!(ws.plan_is_empty());
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn an_mcis_refuses_mcir_of_another_region_and_leaves_nothing() {
    let ws = Workspace::new();
    ws.write_config(&config("10.20.0.0/16", "10.20.1.0/24", "us-east-1"));
    ws.init();
    let out = ws.fails(&["apply", "-auto-approve", "-no-color"]);
    // Terraform wraps long lines.
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains("vnet \"net\" is in aws/ap-northeast-2")
            && out.contains("group \"web\" is in aws/us-east-1"),
        "{out}"
    );
    ws.destroy();
    assert_eq!(ws.leftovers(), (0, 0, 0), "{:#}", ws.inventory());
}

#[test]
fn invalid_mcir_settings_are_named_at_validate_time() {
    let ws = Workspace::new();
    ws.write_config(&config("10.20.0.0/16", "10.20.1.0/24", "ap-northeast-2"));
    ws.init();
    // Terraform skips validating resources whose dependencies failed, so one kind of mistake at
    // a time where they depend on each other.
    let cases = [
        (
            config("10.20.0.0/16", "10.20.1.0/24", "ap-northeast-2")
                .replace(
                    "from_port = 80\n    to_port   = 80",
                    "from_port = 80\n    to_port   = 70000",
                )
                .replace("protocol  = \"all\"", "protocol  = \"sctp\"")
                .replace(
                    "name      = \"ops\"\n  cloud     = \"aws\"",
                    "name      = \"ops\"\n  cloud     = \"oracle\"",
                ),
            vec![
                "Invalid value for \"ingress.to_port\"",
                "70000 is not a port number",
                "Invalid value for \"egress.protocol\"",
                "\"sctp\"",
                "Invalid value for \"cloud\"",
                "\"oracle\" is not a supported cloud",
            ],
        ),
        (
            config("10.20.0.0/33", "10.20.1.0/24", "ap-northeast-2"),
            vec![
                "Invalid value for \"cidr\"",
                "\"10.20.0.0/33\" is not an IPv4 range",
            ],
        ),
        (
            config("10.20.0.0/16", "10.99.1.0/24", "ap-northeast-2"),
            vec![
                "Invalid value for \"subnet_cidr\"",
                "10.99.1.0/24 is not inside the network 10.20.0.0/16",
            ],
        ),
    ];
    for (body, expected) in cases {
        ws.write_config(&body);
        let out = ws.fails(&["validate", "-no-color"]);
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        for fragment in expected {
            assert!(out.contains(fragment), "missing {fragment:?} in:\n{out}");
        }
    }
}
