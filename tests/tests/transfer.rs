//! `tumblebug_transfer` on the `local` cloud, driven by the real terraform binary: every strategy
//! delivers verified copies, a changed source or a new VM plans an update, a VM killed
//! mid-transfer fails the apply by name without a half-written file, the next apply resumes it,
//! and destroy removes the copies and leaves nothing. Needs root (as CI runs); each test has its own state
//! directory, name prefix and address range, and a guard cleans up even when an assertion
//! fails.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tumblebug_e2e::local::{assert_nothing_left, ssh, write_private_key, LocalGuard, LocalLab};
use tumblebug_e2e::{planned_actions, state_values, Workspace};

const STRATEGIES: [&str; 4] = ["unicast", "chain", "tree", "auto"];

/// Writes `size` random bytes to `path` (random, so that equal hashes mean equal copies).
fn random_file(path: &Path, size: u64) {
    let mut bytes = Vec::new();
    File::open("/dev/urandom")
        .unwrap()
        .take(size)
        .read_to_end(&mut bytes)
        .unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// One VM of the lab as the MCIS state shows it.
struct Vm {
    name: String,
    id: String,
    address: String,
    host_key: String,
}

fn lab_vms(ws: &Workspace) -> Vec<Vm> {
    let show = ws.show_json();
    state_values(&show, "tumblebug_mcis.lab")["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|vm| Vm {
            name: vm["name"].as_str().unwrap().to_owned(),
            id: vm["id"].as_str().unwrap().to_owned(),
            address: vm["public_ip"].as_str().unwrap().to_owned(),
            host_key: vm["host_key"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// `sha256sum` of `paths` inside the VM, in order.
fn hashes_on(ws: &Workspace, key: &Path, vm: &Vm, paths: &[String]) -> Vec<String> {
    let out = ssh(
        ws,
        key,
        &vm.address,
        &vm.host_key,
        &format!("sha256sum {}", paths.join(" ")),
    );
    out.lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

fn transfer_block(strategy: &str) -> String {
    let tuning = match strategy {
        "unicast" => "parallelism = 2",
        "tree" => "fanout = 2",
        _ => "",
    };
    format!(
        r#"
resource "tumblebug_transfer" "{strategy}" {{
  mcis_id     = tumblebug_mcis.lab.id
  source      = "image.bin"
  destination = "/srv/{strategy}/image.bin"
  strategy    = "{strategy}"
  {tuning}
}}
"#
    )
}

/// Every transfer in state carries the source's hash and size, and every VM holds its copy.
fn check_transfers(ws: &Workspace, strategies: &[&str], sha: &str, size: u64, vms: &[Vm]) {
    let show = ws.show_json();
    for strategy in strategies {
        let state = state_values(&show, &format!("tumblebug_transfer.{strategy}"));
        assert_eq!(state["sha256"], sha, "{strategy}: {state:#}");
        assert_eq!(state["size_bytes"], size, "{strategy}");
        let used = state["strategy_used"].as_str().unwrap();
        if *strategy == "auto" {
            assert!(["unicast", "chain", "tree"].contains(&used), "{used}");
        } else {
            assert_eq!(used, *strategy);
        }
        let hosts = state["hosts"].as_array().unwrap();
        let seen: Vec<(&str, &str, &str)> = hosts
            .iter()
            .map(|h| {
                (
                    h["vm"].as_str().unwrap(),
                    h["vm_id"].as_str().unwrap(),
                    h["status"].as_str().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(&str, &str, &str)> = vms
            .iter()
            .map(|vm| (vm.name.as_str(), vm.id.as_str(), "ok"))
            .collect();
        assert_eq!(seen, expected, "{strategy}: {state:#}");
        assert!(state["elapsed_seconds"].is_u64(), "{state:#}");
        assert!(state["predicted_seconds"].is_u64(), "{state:#}");
    }
}

#[test]
fn every_strategy_delivers_verified_copies_that_follow_the_source_and_the_vms() {
    let ws = Workspace::new();
    let guard = LocalGuard::new(&ws);
    let lab = LocalLab {
        state_dir: &guard.state_dir,
        prefix: "tbt1",
        pool: "10.251.0.0/16",
        bandwidth_mbit: 100,
        count: 4,
        status: "running",
    };
    let transfers: String = STRATEGIES.iter().map(|s| transfer_block(s)).collect();
    ws.write_config(&lab.config(&transfers));
    ws.init();

    // Without the source file the plan fails on `source`, before anything is created.
    let out = ws.fails(&["plan", "-input=false", "-no-color"]);
    assert!(
        out.contains("Cannot read the file named by \"source\""),
        "{out}"
    );
    assert!(out.contains("image.bin"), "{out}");

    let image = ws.dir().join("image.bin");
    let size = (3 << 20) + 4321;
    random_file(&image, size);
    let sha = sha256_of(&image);
    ws.apply();
    let vms = lab_vms(&ws);
    assert_eq!(vms.len(), 4);
    let key = write_private_key(&ws);
    check_transfers(&ws, &STRATEGIES, &sha, size, &vms);
    let paths: Vec<String> = STRATEGIES
        .iter()
        .map(|s| format!("/srv/{s}/image.bin"))
        .collect();
    for vm in &vms {
        assert_eq!(
            hashes_on(&ws, &key, vm, &paths),
            vec![sha.clone(); 4],
            "{}",
            vm.name
        );
        // Nothing but the copies: no part files, no work directories, no relay keys.
        let leftovers = ssh(
            &ws,
            &key,
            &vm.address,
            &vm.host_key,
            "find /srv -name '*.part'; ls -A /root/.tumblebug-transfer 2>/dev/null; \
             grep -c tumblebug-transfer /root/.ssh/authorized_keys || true",
        );
        assert_eq!(leftovers.trim(), "0", "{}", vm.name);
    }
    // An unchanged file plans nothing.
    assert!(ws.plan_is_empty());

    // New content plans an in-place update of every transfer, which puts it on every VM.
    random_file(&image, size);
    let new_sha = sha256_of(&image);
    assert_ne!(new_sha, sha);
    let plan = ws.plan_json();
    for strategy in STRATEGIES {
        assert_eq!(
            planned_actions(&plan, &format!("tumblebug_transfer.{strategy}")),
            vec!["update"],
            "{strategy}"
        );
    }
    ws.apply();
    check_transfers(&ws, &STRATEGIES, &new_sha, size, &vms);
    for vm in &vms {
        assert_eq!(
            hashes_on(&ws, &key, vm, &paths),
            vec![new_sha.clone(); 4],
            "{}",
            vm.name
        );
    }
    assert!(ws.plan_is_empty());

    // A VM that joins the MCIS reads as `missing`, which plans an update of every transfer that
    // sends the file to that VM alone.
    let lab = LocalLab { count: 5, ..lab };
    ws.write_config(&lab.config(&transfers));
    ws.apply();
    let plan = ws.plan_json();
    for strategy in STRATEGIES {
        assert_eq!(
            planned_actions(&plan, &format!("tumblebug_transfer.{strategy}")),
            vec!["update"],
            "{strategy}"
        );
    }
    ws.apply();
    let vms = lab_vms(&ws);
    assert_eq!(vms.len(), 5);
    check_transfers(&ws, &STRATEGIES, &new_sha, size, &vms);
    let show = ws.show_json();
    for strategy in STRATEGIES {
        let state = state_values(&show, &format!("tumblebug_transfer.{strategy}"));
        let sent: Vec<u64> = state["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["bytes"].as_u64().unwrap())
            .collect();
        assert_eq!(sent, vec![0, 0, 0, 0, size], "{strategy}: {state:#}");
    }
    assert_eq!(
        hashes_on(&ws, &key, &vms[4], &paths),
        vec![new_sha.clone(); 4]
    );
    assert!(ws.plan_is_empty());

    // Destroying a transfer removes its copies, and only its copies.
    let kept: String = STRATEGIES[1..].iter().map(|s| transfer_block(s)).collect();
    ws.write_config(&lab.config(&kept));
    ws.apply();
    let mut remaining = paths[1..].to_vec();
    remaining.sort();
    for vm in &vms {
        let listing = ssh(&ws, &key, &vm.address, &vm.host_key, "ls /srv/*/image.bin*");
        assert_eq!(listing, remaining.join("\n") + "\n", "{}", vm.name);
    }

    ws.destroy();
    assert_nothing_left(&ws, &guard.state_dir, "tbt1");
}

/// The path of `dest` in VM `id`'s private filesystem, seen from this machine (the `local`
/// driver keeps it under `<state_dir>/vms/<id>/fs/`).
fn in_vm(state_dir: &Path, id: &str, dest: &str) -> PathBuf {
    state_dir
        .join("vms")
        .join(id)
        .join("fs")
        .join(dest.trim_start_matches('/'))
}

/// Kills every process of the VM's network namespace (its sshd, its sessions, its relays): the
/// VM crashed.
fn crash(netns: &str) {
    // Twice: a session may fork while the first pass runs.
    for _ in 0..2 {
        let out = Command::new("ip")
            .args(["netns", "pids", netns])
            .output()
            .unwrap();
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let pid: i32 = pid.parse().unwrap();
            // SAFETY: kill(2) with a pid read from `ip netns pids`; no memory is involved. A
            // process that ended meanwhile gives ESRCH, which is fine.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn a_vm_killed_mid_transfer_fails_the_apply_by_name_and_the_next_apply_resumes_it() {
    let ws = Workspace::new();
    let guard = LocalGuard::new(&ws);
    let lab = LocalLab {
        state_dir: &guard.state_dir,
        prefix: "tbt2",
        pool: "10.252.0.0/16",
        bandwidth_mbit: 32,
        count: 4,
        status: "running",
    };
    ws.write_config(&lab.config(""));
    ws.init();
    ws.apply();
    let vms = lab_vms(&ws);
    let key = write_private_key(&ws);

    // 32 MiB at 32 Mbit/s: about 8 s along the chain, long enough to kill a relay in the middle.
    let image = ws.dir().join("image.bin");
    let size: u64 = 32 << 20;
    random_file(&image, size);
    let sha = sha256_of(&image);
    let dest = "/srv/images/image.bin";
    let transfer = format!(
        r#"
resource "tumblebug_transfer" "image" {{
  mcis_id     = tumblebug_mcis.lab.id
  source      = "image.bin"
  destination = "{dest}"
  strategy    = "chain"
}}
"#
    );
    ws.write_config(&lab.config(&transfer));
    let victim = &vms[1];
    let victim_dest = in_vm(&guard.state_dir, &victim.id, dest);
    let victim_part = PathBuf::from(format!("{}.part", victim_dest.display()));
    let log = ws.dir().join("provider.log");
    let log_path = log.to_string_lossy().into_owned();
    let failed = std::thread::scope(|scope| {
        let apply = scope.spawn(|| {
            ws.run_with_env(
                &["apply", "-auto-approve", "-input=false", "-no-color"],
                &[("TF_LOG_PROVIDER", "INFO"), ("TF_LOG_PATH", &log_path)],
            )
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(&victim_part).map_or(0, |m| m.len()) < 3 << 20 {
            assert!(Instant::now() < deadline, "the victim never received data");
            assert!(
                !apply.is_finished(),
                "the apply ended before the victim got data"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        crash(&victim.id);
        apply.join().unwrap()
    });
    assert_ne!(failed.code, Some(0), "{}", failed.all());
    let out = failed
        .all()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        out.contains("1 of 4 VM(s) of MCIS \"hosts/lab\" did not get image.bin"),
        "{out}"
    );
    assert!(out.contains(&format!("{}: ", victim.name)), "{out}");
    for other in vms.iter().filter(|vm| vm.name != victim.name) {
        assert!(!out.contains(&format!("{}:", other.name)), "{out}");
        assert_eq!(
            hashes_on(&ws, &key, other, &[dest.to_owned()]),
            vec![sha.clone()]
        );
    }
    // Nothing half-written under the final name; the partial copy waits for a resume.
    assert!(!victim_dest.exists());
    let partial = std::fs::metadata(&victim_part).unwrap().len();
    assert!(partial >= 3 << 20 && partial < size, "{partial}");
    // Progress showed per VM while it ran.
    let logged = std::fs::read_to_string(&log).unwrap();
    let progress = logged
        .lines()
        .find(|l| l.contains("transfer progress"))
        .unwrap_or_else(|| {
            let transfer: Vec<&str> = logged.lines().filter(|l| l.contains("transfer")).collect();
            panic!(
                "no progress line in the provider log:\n{}",
                transfer.join("\n")
            )
        });
    assert!(
        progress.contains(&format!("{} ", victim.name)),
        "{progress}"
    );

    // The crashed VM reads Suspended; power-cycling the MCIS brings it back. The failed create
    // left no state, so the next apply creates the transfer again: it keeps the verified copies
    // and sends the victim only what it lacks.
    let suspended = LocalLab {
        status: "suspended",
        ..lab
    };
    ws.write_config(&suspended.config(&transfer));
    ws.ok(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-target=tumblebug_mcis.lab",
    ]);
    ws.write_config(&lab.config(&transfer));
    ws.apply();
    let show = ws.show_json();
    let state = state_values(&show, "tumblebug_transfer.image");
    assert_eq!(state["sha256"], sha.as_str());
    for (vm, host) in vms.iter().zip(state["hosts"].as_array().unwrap()) {
        assert_eq!(host["vm"], vm.name.as_str());
        assert_eq!(host["status"], "ok", "{host:#}");
        let bytes = host["bytes"].as_u64().unwrap();
        if vm.name == victim.name {
            assert_eq!(bytes, size - partial, "{host:#}");
        } else {
            assert_eq!(bytes, 0, "{host:#}");
        }
    }
    assert_eq!(
        hashes_on(&ws, &key, victim, &[dest.to_owned()]),
        vec![sha.clone()]
    );
    assert!(!victim_part.exists());
    assert!(ws.plan_is_empty());

    // A VM that cannot be reached when the transfer is destroyed is skipped with a warning that
    // names it; the destroy goes on.
    let unreachable = &vms[2];
    crash(&unreachable.id);
    let out = ws.destroy().all();
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        out.contains(&format!("{dest} was not removed from 1 VM(s)")),
        "{out}"
    );
    assert!(out.contains(&format!("{} ", unreachable.name)), "{out}");
    assert_nothing_left(&ws, &guard.state_dir, "tbt2");
}

#[test]
fn configuration_errors_name_the_attribute_and_what_is_valid() {
    let ws = Workspace::new();
    ws.write_config(
        r#"
resource "tumblebug_transfer" "bad" {
  mcis_id     = "lab"
  source      = "image.bin"
  destination = "images/image.bin"
  strategy    = "multicast"
  fanout      = 1
  parallelism = 0
  timeout     = "soon"
}
"#,
    );
    ws.init();
    let out = ws.fails(&["validate", "-no-color"]);
    for expected in [
        "Invalid value for \"mcis_id\"",
        "Invalid value for \"destination\"",
        "is not an absolute path",
        "Invalid value for \"strategy\"",
        "Use one of unicast, chain, tree, auto.",
        "Invalid value for \"fanout\"",
        "at least 2",
        "Invalid value for \"parallelism\"",
        "Invalid value for \"timeout\"",
    ] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
}
