//! `tumblebug_namespace` end to end, through the real terraform binary.

use tumblebug_e2e::{planned_actions, state_values, Workspace};

const ADDRESS: &str = "tumblebug_namespace.this";

fn config(name: &str, description: &str) -> String {
    format!(
        r#"
provider "tumblebug" {{}}

resource "tumblebug_namespace" "this" {{
  name        = "{name}"
  description = "{description}"
}}

output "id" {{
  value = tumblebug_namespace.this.id
}}
"#
    )
}

fn stored_names(ws: &Workspace) -> Vec<String> {
    ws.inventory()["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ns| ns["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn namespace_lifecycle_plan_apply_update_replace_import_destroy() {
    let ws = Workspace::new();
    ws.write_config(&config("team-a", "first"));
    let init = ws.init();
    assert!(
        init.stdout.contains("tumblebug/tumblebug"),
        "{}",
        init.stdout
    );

    // The plan shows a creation with the computed id and created_at known only after apply.
    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, ADDRESS), ["create"]);
    let change = &plan["resource_changes"][0]["change"];
    assert_eq!(change["after_unknown"]["id"], true, "{change:#}");
    assert_eq!(change["after_unknown"]["created_at"], true, "{change:#}");

    ws.apply();
    let state = ws.show_json();
    let values = state_values(&state, ADDRESS).clone();
    assert_eq!(values["id"], "team-a");
    assert_eq!(values["description"], "first");
    assert!(
        values["created_at"].as_str().unwrap().contains('T'),
        "{values}"
    );
    assert_eq!(ws.output_json()["id"]["value"], "team-a");
    assert_eq!(stored_names(&ws), ["team-a"]);
    assert!(ws.plan_is_empty(), "a second plan should show no changes");

    // A description change is an in-place update that keeps id and created_at.
    ws.write_config(&config("team-a", "second"));
    let plan = ws.plan_json();
    assert_eq!(planned_actions(&plan, ADDRESS), ["update"]);
    ws.apply();
    let updated = ws.show_json();
    assert_eq!(state_values(&updated, ADDRESS)["description"], "second");
    assert_eq!(
        state_values(&updated, ADDRESS)["created_at"],
        values["created_at"]
    );
    assert_eq!(ws.inventory()["namespaces"][0]["description"], "second");

    // A name change replaces the namespace.
    ws.write_config(&config("team-b", "second"));
    let plan = ws.plan_json();
    let mut actions = planned_actions(&plan, ADDRESS);
    actions.sort();
    assert_eq!(
        actions,
        ["create", "delete"],
        "name change must force replacement"
    );
    ws.apply();
    assert_eq!(stored_names(&ws), ["team-b"]);
    let before_import = ws.show_json();

    // Import into an empty state gives the same state.
    ws.ok(&["state", "rm", ADDRESS]);
    ws.ok(&["import", "-input=false", "-no-color", ADDRESS, "team-b"]);
    let after_import = ws.show_json();
    assert_eq!(
        state_values(&after_import, ADDRESS),
        state_values(&before_import, ADDRESS)
    );
    assert!(
        ws.plan_is_empty(),
        "the imported state should match the configuration"
    );

    ws.destroy();
    assert!(
        stored_names(&ws).is_empty(),
        "destroy left namespaces in the store"
    );
}

#[test]
fn namespace_deleted_outside_terraform_is_planned_for_recreation() {
    let ws = Workspace::new();
    ws.write_config(&config("drifty", "x"));
    ws.init();
    ws.apply();

    let conn = rusqlite::Connection::open(ws.default_store()).unwrap();
    assert_eq!(
        conn.execute("DELETE FROM namespace WHERE name = 'drifty'", [])
            .unwrap(),
        1
    );
    drop(conn);

    let plan = ws.plan_json();
    assert_eq!(
        planned_actions(&plan, ADDRESS),
        ["create"],
        "{:#}",
        plan["resource_changes"]
    );
    ws.apply();
    assert_eq!(stored_names(&ws), ["drifty"]);
    ws.destroy();
}

#[test]
fn invalid_names_are_rejected_at_validate_time_naming_the_attribute() {
    let ws = Workspace::new();
    ws.write_config(&config("ok", "x"));
    ws.init();
    let long = "a".repeat(64);
    let cases = [
        ("", "is empty"),
        (
            "Team_A",
            "contains characters that are not allowed: 'T', '_', 'A'",
        ),
        ("-lead", "starts with a hyphen"),
        (long.as_str(), "64 characters long"),
    ];
    for (name, problem) in cases {
        ws.write_config(&config(name, "x"));
        // RUST_BACKTRACE=1 must not leak Rust frames into the diagnostic.
        let run = ws.run_with_env(&["validate", "-no-color"], &[("RUST_BACKTRACE", "1")]);
        assert_ne!(run.code, Some(0), "{name:?} was accepted");
        let out = run.all();
        assert!(
            out.contains("Invalid value for \"name\""),
            "{name:?}: {out}"
        );
        assert!(out.contains(problem), "{name:?}: {out}");
        assert!(
            out.contains("lower-case letters"),
            "{name:?}: no hint of what is valid: {out}"
        );
        // Terraform points at the attribute's line in the configuration.
        assert!(
            out.contains(&format!("name        = \"{name}\"")),
            "{name:?}: {out}"
        );
        assert!(
            !out.contains("backtrace")
                && !out.contains("rust_begin_unwind")
                && !out.contains(".rs:"),
            "{out}"
        );
    }
}

#[test]
fn provider_store_setting_creates_the_path_and_bad_settings_are_diagnosed() {
    let ws = Workspace::new();
    let body = r#"
provider "tumblebug" {
  store = "state/nested/tb.db"
}

resource "tumblebug_namespace" "this" {
  name = "custom-store"
}
"#;
    ws.write_config(body);
    ws.init();
    ws.apply();
    let store = ws.dir().join("state/nested/tb.db");
    assert_eq!(
        tumblebug_e2e::inventory(&store)["namespaces"][0]["name"],
        "custom-store"
    );
    assert!(
        !ws.default_store().exists(),
        "the default store should not be used"
    );
    ws.destroy();

    ws.write_config(&body.replace(
        "store = \"state/nested/tb.db\"",
        "catalog = \"missing.json\"",
    ));
    let out = ws.fails(&["plan", "-no-color", "-input=false"]);
    assert!(out.contains("Invalid value for \"catalog\""), "{out}");
    assert!(out.contains("missing.json cannot be read"), "{out}");

    ws.write_config(&body.replace("state/nested/tb.db", ""));
    let out = ws.fails(&["validate", "-no-color"]);
    assert!(out.contains("Invalid value for \"store\""), "{out}");
}
