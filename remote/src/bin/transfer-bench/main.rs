//! `transfer-bench`: times unicast, chain, tree and auto against the physical limit S/B on hosts
//! in network namespaces with `tc tbf` links (root only).
//!
//! ```text
//! transfer-bench [--size-mib 256] [--hosts 1,4,8] [--mbit 100] [--repeats 3] [--out FILE]
//! ```
//!
//! Every host is a real sshd in its own namespace; the front-end (this process) sits behind a
//! link as slow as a host's. Results (medians over the repeats) are printed as a Markdown table,
//! and written to `--out` when given.

mod netlab;
#[path = "../../../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use remote::{transfer, ModelParams, Strategy, TransferOptions};

struct Args {
    size_mib: u64,
    hosts: Vec<usize>,
    mbit: u32,
    repeats: usize,
    out: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        size_mib: 256,
        hosts: vec![1, 4, 8],
        mbit: 100,
        repeats: 3,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--size-mib" => args.size_mib = value.parse()?,
            "--hosts" => args.hosts = value.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--mbit" => args.mbit = value.parse()?,
            "--repeats" => args.repeats = value.parse::<usize>()?.max(1),
            "--out" => args.out = Some(value),
            _ => bail!("unknown flag {flag}; see the doc comment of transfer-bench"),
        }
    }
    if args.hosts.is_empty() || args.hosts.contains(&0) {
        bail!("--hosts needs positive counts");
    }
    Ok(args)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .init();
    let args = parse_args()?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        bail!("transfer-bench needs root (network namespaces, tc)");
    }
    let max_hosts = *args.hosts.iter().max().expect("checked non-empty");
    // Declared first, dropped last: the sshds go before their namespaces.
    let lab = netlab::Lab::build(max_hosts, args.mbit)?;
    let fleet = support::Fleet::start((0..lab.hosts()).map(|i| {
        (
            format!("h{i}"),
            lab.address(i),
            22,
            vec![
                "ip".to_string(),
                "netns".into(),
                "exec".into(),
                lab.namespace(i),
            ],
        )
    }));
    let size = args.size_mib << 20;
    let source = support::random_file(fleet.root.path(), "image.raw", size as usize, 42);
    let sha = support::sha256_of(&source);
    let link = args.mbit as f64 * 1e6 / 8.0;
    let limit = size as f64 / link;
    eprintln!(
        "lab ready: {max_hosts} hosts, {} Mbit/s links, {} MiB file, S/B = {limit:.1} s",
        args.mbit, args.size_mib
    );

    let mut model = ModelParams {
        host_bandwidth: link,
        frontend_bandwidth: link,
        shared_cores: Some(2.0),
        ..ModelParams::default()
    };
    // Calibrate the model on this rig: a small and a large plain stream give the fixed
    // overhead and the goodput (tbf plus TCP and SSH framing make it less than nominal); a chain
    // over every host on the small file gives the set-up time of one relay hop.
    let small_size = 4u64 << 20;
    let small = support::random_file(fleet.root.path(), "calib.raw", small_size as usize, 7);
    let small_sha = support::sha256_of(&small);
    let unicast_one = Strategy::Unicast { parallel: 1 };
    let (t_small, ..) = run_once(&fleet, &small, &small_sha, 1, unicast_one, &model)?;
    let (t_large, ..) = run_once(&fleet, &source, &sha, 1, unicast_one, &model)?;
    let goodput = (size - small_size) as f64 / (t_large - t_small).max(0.1);
    model.host_bandwidth = goodput;
    model.frontend_bandwidth = goodput;
    let overhead = (t_small - small_size as f64 / goodput).max(0.0);
    model.connect_seconds = (overhead - 3.0 * model.command_seconds).max(0.01);
    if max_hosts > 1 {
        let (t_chain, ..) = run_once(
            &fleet,
            &small,
            &small_sha,
            max_hosts,
            Strategy::Chain,
            &model,
        )?;
        model.hop_seconds = ((t_chain - t_small) / (max_hosts - 1) as f64).max(0.0);
    }
    eprintln!(
        "calibrated: goodput {:.1} Mbit/s, fixed overhead {overhead:.2} s, relay hop {:.2} s",
        goodput * 8.0 / 1e6,
        model.hop_seconds
    );
    let calibration = format!(
        "Calibrated model: goodput {:.1} Mbit/s per link, fixed overhead {overhead:.2} s, relay hop \
         set-up {:.2} s, 2 shared cores.",
        goodput * 8.0 / 1e6,
        model.hop_seconds
    );

    let strategies = [
        ("unicast", Strategy::Unicast { parallel: 8 }),
        ("chain", Strategy::Chain),
        ("tree (k=2)", Strategy::Tree { fanout: 2 }),
        ("auto", Strategy::Auto),
    ];
    let mut table = String::new();
    writeln!(
        table,
        "| N | S/B (s) | {} | auto chose | chain / (S/B) | unicast / chain | auto / best |",
        strategies
            .iter()
            .map(|(name, _)| format!("{name} (s, pred.)"))
            .collect::<Vec<_>>()
            .join(" | ")
    )?;
    writeln!(table, "|{}", "---|".repeat(strategies.len() + 5))?;
    for &n in &args.hosts {
        let mut medians = Vec::new();
        let mut chosen = String::new();
        for (name, strategy) in strategies {
            let mut times = Vec::new();
            let mut predicted = 0.0;
            for repeat in 0..args.repeats {
                let (elapsed, pred, used) = run_once(&fleet, &source, &sha, n, strategy, &model)?;
                eprintln!(
                    "N={n} {name} run {repeat}: {elapsed:.1} s (predicted {pred:.1} s, {used:?})"
                );
                times.push(elapsed);
                predicted = pred;
                if strategy == Strategy::Auto {
                    chosen = format!("{used:?}");
                }
            }
            medians.push((median(&mut times), predicted));
        }
        let best = medians[..3]
            .iter()
            .map(|m| m.0)
            .fold(f64::INFINITY, f64::min);
        writeln!(
            table,
            "| {n} | {limit:.1} | {} | {chosen} | {:.2} | {:.1} | {:.2} |",
            medians
                .iter()
                .map(|(t, p)| format!("{t:.1} ({p:.1})"))
                .collect::<Vec<_>>()
                .join(" | "),
            medians[1].0 / limit,
            medians[0].0 / medians[1].0,
            medians[3].0 / best,
        )?;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let text = format!(
        "{table}\n{calibration}\nLoad average after the run: {}\n",
        load.trim()
    );
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("write {out}"))?;
    }
    drop(fleet);
    drop(lab);
    Ok(())
}

/// One transfer to the first `n` hosts from scratch; returns (elapsed, predicted, strategy used)
/// after checking every copy independently.
fn run_once(
    fleet: &support::Fleet,
    source: &Path,
    sha: &str,
    n: usize,
    strategy: Strategy,
    model: &ModelParams,
) -> Result<(f64, f64, Strategy)> {
    let targets = &fleet.targets("image.raw")[..n];
    for i in 0..n {
        let dest = fleet.dest(i, "image.raw");
        let _ = std::fs::remove_file(&dest);
        let _ = std::fs::remove_file(dest.with_extension("raw.part"));
    }
    let options = TransferOptions {
        strategy,
        model: model.clone(),
        work_dir: fleet.work_dir(),
        ..TransferOptions::default()
    };
    let started = Instant::now();
    let report = transfer(source, targets, &fleet.key(), &options)?;
    let elapsed = started.elapsed().as_secs_f64();
    if !report.all_succeeded() {
        bail!("{strategy:?} to {n} hosts failed: {report:#?}");
    }
    for i in 0..n {
        let got = support::sha256_of(&fleet.dest(i, "image.raw"));
        if got != sha {
            bail!("host h{i} holds a bad copy after {strategy:?}");
        }
    }
    Ok((elapsed, report.predicted_seconds, report.strategy_used))
}
