//! The command line: exit codes, outputs and the catalog subcommands.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tumblebug-planner");
/// A path inside this crate's directory, read when the test runs (cargo sets
/// `CARGO_MANIFEST_DIR`): a path compiled in goes stale when cargo reuses a test binary built
/// from a checkout at another place with the same target directory.
fn in_crate(relative: &str) -> String {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo");
    format!("{dir}/{relative}")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn plan_prints_a_table_and_json() {
    let (code, out, _) = run(&[
        "plan",
        &in_crate("benches/scenarios/latency-cluster.json"),
        "--baseline",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("GROUP"), "{out}");
    assert!(
        out.contains("maximum RTT") && out.contains("why these offers:"),
        "{out}"
    );
    assert!(
        out.contains("CB-Tumblebug-style per-group greedy baseline"),
        "{out}"
    );
    let json_start = out.find("\n{").expect("JSON after the table") + 1;
    let v: serde_json::Value = serde_json::from_str(&out[json_start..]).unwrap();
    assert_eq!(v["optimal"], true);
    assert_eq!(v["vms"].as_array().unwrap().len(), 24);

    let (code, out, _) = run(&[
        "plan",
        &in_crate("benches/scenarios/seed-demo.json"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(!v["explanation"]["summary"].as_array().unwrap().is_empty());
}

#[test]
fn infeasible_requests_exit_2_with_the_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("r.json");
    std::fs::write(
        &req,
        r#"{"groups":[{"name":"a","count":4}],"placement":{"max_latency_ms":1,"min_providers":3}}"#,
    )
    .unwrap();
    let json = dir.path().join("out.json");
    let (code, out, err) = run(&[
        "plan",
        req.to_str().unwrap(),
        "--json-out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("conflict: max_latency_ms = 1 and min_providers = 3"),
        "{err}"
    );
    assert!(err.contains("smallest feasible bound is"), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(v["kind"], "infeasible");
    // Bad input is a different failure.
    let (code, _, err) = run(&["plan", "/nonexistent.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("reading /nonexistent.json"), "{err}");
}

#[test]
fn blocking_an_offer_moves_the_vms() {
    let f = in_crate("benches/scenarios/latency-cluster.json");
    let (_, out, _) = run(&["plan", &f, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let vm = &v["vms"][0];
    let block = format!(
        "{}/{}/{}",
        vm["provider"].as_str().unwrap(),
        vm["region"].as_str().unwrap(),
        vm["spec"].as_str().unwrap()
    );
    let (code, out, _) = run(&["plan", &f, "--format", "json", "--block", &block]);
    assert_eq!(code, 0);
    let w: serde_json::Value = serde_json::from_str(&out).unwrap();
    for x in w["vms"].as_array().unwrap() {
        let k = format!(
            "{}/{}/{}",
            x["provider"].as_str().unwrap(),
            x["region"].as_str().unwrap(),
            x["spec"].as_str().unwrap()
        );
        assert_ne!(k, block);
    }
}

#[test]
fn catalog_build_reproduces_the_committed_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.json.gz");
    let (code, _, err) = run(&[
        "catalog",
        "build",
        "--from",
        &in_crate("../../shared/catalog"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(out).unwrap(),
        std::fs::read(in_crate("data/catalog.json.gz")).unwrap(),
        "byte for byte"
    );
}

#[test]
fn catalog_export_writes_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("csv");
    let (code, _, err) = run(&[
        "catalog",
        "export",
        "--format",
        "csv",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for f in ["offers.csv", "regions.csv", "rtt.csv"] {
        assert!(csv.join(f).is_file(), "{f}");
    }
    let head = std::fs::read_to_string(csv.join("offers.csv")).unwrap();
    assert!(head.starts_with("provider,region,spec,vcpu,memory_gib,arch,gpu_model,gpu_count,price_usd_per_hour,spot_usd_per_hour,performance\n"));
    let (code, out, _) = run(&["catalog", "export", "--format", "json", "--out", "-"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format"], "tumblebug-planner-catalog");
    assert!(v["rtt"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["estimated"] == true));
    // A user catalog in the planner's format plans like the embedded one.
    let json = dir.path().join("c.json");
    std::fs::write(&json, &out).unwrap();
    let (code, out, _) = run(&[
        "plan",
        &in_crate("benches/scenarios/seed-demo.json"),
        "--format",
        "json",
        "--catalog",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let (_, embedded, _) = run(&[
        "plan",
        &in_crate("benches/scenarios/seed-demo.json"),
        "--format",
        "json",
    ]);
    assert_eq!(out, embedded);
}

#[test]
fn help_and_unknown_arguments() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("tumblebug-planner plan <requirements.json>"));
    let (code, _, err) = run(&[
        "plan",
        &in_crate("benches/scenarios/seed-demo.json"),
        "--bogus",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("unexpected argument `--bogus`"), "{err}");
}
