//! Benchmark, not a test: how `terraform apply` and `terraform destroy` of one MCIS scale with its
//! number of VMs on the embedded simulator, and how much memory the provider needs for it.
//!
//! For each VM count (default 1, 100 and 1000) it prepares one workspace (`terraform init`, not
//! timed), then repeats `terraform apply` and `terraform destroy` (each timed, wall clock) and
//! prints a markdown table of medians, each count's ratio to the first count's time, and the peak
//! resident memory of the provider processes.
//!
//! ```sh
//! CARGO_TARGET_DIR=~/.cache/tumblebug/target-dev cargo build --release -p tumblebug-e2e --bins
//! TUMBLEBUG_PROVIDER_BIN=~/.cache/tumblebug/target-dev/release/terraform-provider-tumblebug \
//!   ~/.cache/tumblebug/target-dev/release/mcis-bench [--repeats 3] [--poll 500ms] [COUNT...]
//! ```
//!
//! Every cloud used takes 3 s per transition (`simulator { durations = ... }`), so the 1-VM time
//! is dominated by that wait; a larger MCIS should cost little more, since its VMs are created
//! concurrently.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tumblebug_e2e::Workspace;

/// Seconds every simulated transition (create, terminate, ...) takes.
const TRANSITION_SECONDS: u32 = 3;

/// The VM groups the VMs are spread over, round-robin: three clouds, two regions each, with
/// regions and specs from the simulator's built-in catalog (`clouds/src/sim/catalog.rs`).
const GROUPS: &[(&str, &str, &str, &str)] = &[
    ("aws-seoul", "aws", "ap-northeast-2", "t3.small"),
    ("gcp-seoul", "gcp", "asia-northeast3", "e2-medium"),
    ("azure-korea", "azure", "koreacentral", "Standard_B2s"),
    ("aws-virginia", "aws", "us-east-1", "t3.small"),
    ("gcp-iowa", "gcp", "us-central1", "e2-medium"),
    ("azure-us", "azure", "eastus", "Standard_B2s"),
];

/// How often the memory sampler looks at the provider processes. `VmHWM` is the kernel's own
/// peak, so a sample only has to come after the peak, before the process exits.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// Command-line settings.
struct Settings {
    counts: Vec<u32>,
    repeats: usize,
    poll: String,
}

/// What one timed terraform command cost.
struct Measurement {
    /// Wall-clock time of the whole command.
    wall: Duration,
    /// Highest `VmHWM` (peak resident set) of any provider process the command started, in KiB.
    provider_peak_kib: u64,
    /// CPU time (user + system) of the provider processes, as last sampled.
    provider_cpu: Duration,
    /// CPU time of terraform and everything it ran (provider included), from `getrusage`.
    total_cpu: Duration,
}

fn main() {
    let settings = parse_args();
    let mut results: BTreeMap<u32, (Vec<Measurement>, Vec<Measurement>)> = BTreeMap::new();
    for &count in &settings.counts {
        let ws = Workspace::new();
        ws.write_config(&config(count, &settings.poll));
        ws.init();
        let (applies, destroys) = results.entry(count).or_default();
        for round in 1..=settings.repeats {
            let apply = measure(
                &ws,
                &["apply", "-auto-approve", "-input=false", "-no-color"],
            );
            check_running(&ws, count);
            let destroy = measure(
                &ws,
                &["destroy", "-auto-approve", "-input=false", "-no-color"],
            );
            assert_eq!(ws.leftovers(), (0, 0, 0), "destroy left something behind");
            eprintln!(
                "{count} VMs, round {round}: apply {:.2} s ({} MiB), destroy {:.2} s",
                apply.wall.as_secs_f64(),
                apply.provider_peak_kib / 1024,
                destroy.wall.as_secs_f64()
            );
            applies.push(apply);
            destroys.push(destroy);
        }
    }
    print_table(&settings, &results);
}

/// `[--repeats R] [--poll DURATION] [COUNT...]`; defaults: 3 repeats, `500ms`, counts 1 100 1000.
fn parse_args() -> Settings {
    let mut settings = Settings {
        counts: Vec::new(),
        repeats: 3,
        poll: "500ms".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repeats" => {
                settings.repeats = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r > 0)
                    .expect("--repeats needs a positive number");
            }
            "--poll" => settings.poll = args.next().expect("--poll needs a duration, e.g. 500ms"),
            count => settings.counts.push(
                count
                    .parse()
                    .unwrap_or_else(|_| panic!("not a VM count or option: {count}")),
            ),
        }
    }
    if settings.counts.is_empty() {
        settings.counts = vec![1, 100, 1000];
    }
    settings
}

/// The configuration: one namespace and one MCIS of `count` VMs spread round-robin over
/// [`GROUPS`] (groups that get no VM are left out, so 1 VM means one group on one cloud).
fn config(count: u32, poll: &str) -> String {
    let mut groups = String::new();
    for (i, (name, provider, region, spec)) in GROUPS.iter().enumerate() {
        let n = GROUPS.len() as u32;
        let size = count / n + u32::from((i as u32) < count % n);
        if size > 0 {
            groups.push_str(&format!(
                "  vm_group {{\n    name     = \"{name}\"\n    count    = {size}\n    provider = \"{provider}\"\n    region   = \"{region}\"\n    spec     = \"{spec}\"\n    image    = \"ubuntu-22.04\"\n  }}\n"
            ));
        }
    }
    let s = TRANSITION_SECONDS;
    format!(
        r#"
provider "tumblebug" {{
  poll_interval = "{poll}"
  simulator {{
    durations = {{ aws = {s}, gcp = {s}, azure = {s} }}
  }}
}}

resource "tumblebug_namespace" "ns" {{
  name = "bench"
}}

resource "tumblebug_mcis" "bench" {{
  namespace = tumblebug_namespace.ns.id
  name      = "bench"
{groups}}}

output "status" {{
  value = tumblebug_mcis.bench.status
}}
"#
    )
}

/// Fails unless the apply left every VM running, so a fast but broken run cannot pass as a
/// result.
fn check_running(ws: &Workspace, count: u32) {
    let status = ws.output_json()["status"]["value"].clone();
    assert_eq!(
        status,
        format!("Running:{count} (R:{count}/{count})"),
        "the MCIS is not fully running after apply"
    );
}

/// Runs `terraform <args>` (which must succeed), timing it and sampling the provider processes.
fn measure(ws: &Workspace, args: &[&str]) -> Measurement {
    let done = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<BTreeMap<i32, ProcSample>>> = Arc::default();
    let sampler = {
        let (done, seen, dir) = (done.clone(), seen.clone(), ws.dir());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for (pid, sample) in provider_samples(&dir) {
                    seen.lock().unwrap().insert(pid, sample);
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };
    let cpu_before = children_cpu();
    let started = Instant::now();
    ws.ok(args);
    let wall = started.elapsed();
    let total_cpu = children_cpu() - cpu_before;
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        !seen.is_empty(),
        "no provider process was seen during terraform {args:?}"
    );
    Measurement {
        wall,
        provider_peak_kib: seen.values().map(|s| s.hwm_kib).max().unwrap_or(0),
        provider_cpu: seen.values().map(|s| s.cpu).sum(),
        total_cpu,
    }
}

/// One reading of a provider process.
struct ProcSample {
    /// `VmHWM`: the peak resident set so far, in KiB.
    hwm_kib: u64,
    /// User + system CPU time so far.
    cpu: Duration,
}

/// Every running provider process of this workspace: the ones whose executable lies under the
/// workspace's root (terraform links `.terraform/providers` to the workspace's own mirror, so the
/// executable resolves to `<root>/mirror/...`), so other workspaces' providers, and other builds
/// on the machine, are never counted.
fn provider_samples(work_dir: &Path) -> Vec<(i32, ProcSample)> {
    let root = work_dir
        .parent()
        .expect("the work directory is inside the workspace root");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let ours = std::fs::read_link(entry.path().join("exe")).is_ok_and(|exe| {
            exe.starts_with(root)
                && exe
                    .to_string_lossy()
                    .contains("terraform-provider-tumblebug")
        });
        if !ours {
            continue;
        }
        // The process may exit between the two reads; then this sample is skipped.
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let (Some(hwm_kib), Some(cpu)) = (vm_hwm_kib(&status), cpu_time(&stat)) {
            found.push((pid, ProcSample { hwm_kib, cpu }));
        }
    }
    found
}

/// The `VmHWM:   12345 kB` line of `/proc/<pid>/status`.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `utime + stime` of `/proc/<pid>/stat` (fields 14 and 15, counted after the parenthesised
/// command name, which may contain spaces).
fn cpu_time(stat: &str) -> Option<Duration> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis(ticks * 1000 / per_second))
}

/// CPU time (user + system) of every child this process has waited for, and their waited-for
/// descendants: terraform and the provider processes it reaped.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The middle value (the mean of the two middle ones for an even number of values).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Prints the markdown table: medians over the repeats, and ratios to the first count's medians.
fn print_table(settings: &Settings, results: &BTreeMap<u32, (Vec<Measurement>, Vec<Measurement>)>) {
    let secs = |ms: &[Measurement], f: fn(&Measurement) -> Duration| {
        median(ms.iter().map(|m| f(m).as_secs_f64()).collect())
    };
    let base = settings.counts[0];
    let (base_apply, base_destroy) = &results[&base];
    let base_apply = secs(base_apply, |m| m.wall);
    let base_destroy = secs(base_destroy, |m| m.wall);
    println!(
        "Medians of {} runs; {TRANSITION_SECONDS} s per simulated transition; poll_interval = \"{}\"; ratios are to {base} VM(s).\n",
        settings.repeats, settings.poll
    );
    println!("| VMs | apply (s) | apply ratio | destroy (s) | destroy ratio | provider peak RSS, apply (MiB) | provider CPU, apply (s) | terraform + provider CPU, apply (s) | all apply times (s) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for &count in &settings.counts {
        let (applies, destroys) = &results[&count];
        let apply = secs(applies, |m| m.wall);
        let destroy = secs(destroys, |m| m.wall);
        let peak_mib = applies
            .iter()
            .map(|m| m.provider_peak_kib)
            .max()
            .unwrap_or(0) as f64
            / 1024.0;
        let all: Vec<String> = applies
            .iter()
            .map(|m| format!("{:.2}", m.wall.as_secs_f64()))
            .collect();
        println!(
            "| {count} | {apply:.2} | {:.2} | {destroy:.2} | {:.2} | {peak_mib:.1} | {:.2} | {:.2} | {} |",
            apply / base_apply,
            destroy / base_destroy,
            secs(applies, |m| m.provider_cpu),
            secs(applies, |m| m.total_cpu),
            all.join(", ")
        );
    }
}
