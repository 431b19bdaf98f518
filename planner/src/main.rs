//! `tumblebug-planner`: the planner on the command line, for CI plan reviews and debugging.
//!
//! Only argument parsing and printing live here; every decision is the library's.

use anyhow::{bail, Context, Result};
use planner::catalog::format;
use planner::{
    plan, plan_greedy_baseline, Backend, BlockedOffer, Catalog, Placement, PlanOptions,
    Requirements,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "\
tumblebug-planner: jointly optimal MCIS placement

USAGE:
  tumblebug-planner plan <requirements.json> [OPTIONS]
      Plans the MCIS; prints a table and the placement as JSON. Exits 2 with the
      diagnosis (conflicting constraints, nearest feasible relaxation) when infeasible.
      --catalog <path>        catalog directory (public formats) or planner JSON file
                              (default: the embedded catalog)
      --options <file.json>   plan options: {\"blocked\": [...], \"pinned\": [...],
                              \"time_limit\": seconds, \"backend\": \"microlp\"}
      --block <p[/region[/spec]]>  block offers (repeatable; failover)
      --time-limit <seconds>  wall-clock budget (default 10)
      --backend <name>        MILP backend (available: BACKENDS)
      --format <table|json|both>   what to print on stdout (default both)
      --json-out <file>       also write the JSON result to a file
      --baseline              also print CB-Tumblebug's per-group greedy choice

  tumblebug-planner catalog build --from <dir> --out <file.json.gz>
      Imports the public formats (the layout of shared/catalog/) into the planner's
      compressed JSON (how planner/data/catalog.json.gz is made).

  tumblebug-planner catalog export --format <csv|json> --out <dir|file|-> [--catalog <path>]
      Writes the catalog exactly as the planner sees it: offers with prices and shapes,
      regions with coordinates, and the full RTT matrix with measured/estimated flags
      (csv: offers.csv, regions.csv, rtt.csv in <dir>; json: one file, '-' for stdout).

  tumblebug-planner catalog info [--catalog <path>]
      Sources, import notes and counts.
";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

struct Args {
    rest: Vec<String>,
}

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }
    fn value(&mut self, name: &str) -> Result<Option<String>> {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                if i + 1 >= self.rest.len() {
                    bail!("{name} needs a value");
                }
                let v = self.rest.remove(i + 1);
                self.rest.remove(i);
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }
    fn values(&mut self, name: &str) -> Result<Vec<String>> {
        let mut v = Vec::new();
        while let Some(x) = self.value(name)? {
            v.push(x);
        }
        Ok(v)
    }
    fn done(&self) -> Result<()> {
        if let Some(a) = self.rest.first() {
            bail!("unexpected argument `{a}`\n\n{}", usage());
        }
        Ok(())
    }
}

fn usage() -> String {
    let names: Vec<&str> = Backend::available().iter().map(|b| b.name()).collect();
    USAGE.replace("BACKENDS", &names.join(", "))
}

fn load_catalog(path: Option<String>) -> Result<Catalog> {
    match path {
        Some(p) => Catalog::load(Path::new(&p)).with_context(|| format!("loading catalog {p}")),
        None => Ok(Catalog::embedded()),
    }
}

fn run() -> Result<ExitCode> {
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    if all.is_empty() || all.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", usage());
        return Ok(ExitCode::SUCCESS);
    }
    let cmd = all.remove(0);
    match cmd.as_str() {
        "plan" => {
            if all.is_empty() {
                bail!("plan needs a requirements file\n\n{}", usage());
            }
            let file = all.remove(0);
            cmd_plan(&file, Args { rest: all })
        }
        "catalog" => {
            let sub = if all.is_empty() {
                String::new()
            } else {
                all.remove(0)
            };
            let mut a = Args { rest: all };
            match sub.as_str() {
                "build" => {
                    let from = a.value("--from")?.context("--from <dir> is required")?;
                    let out = a.value("--out")?.context("--out <file> is required")?;
                    a.done()?;
                    let c = planner::catalog::import::import_dir(Path::new(&from))?;
                    let json = format::stored_json(&c);
                    std::fs::write(&out, format::gzip(json.as_bytes()))
                        .with_context(|| format!("writing {out}"))?;
                    eprintln!(
                        "{} offers, {} regions, {} measured RTTs -> {out}",
                        c.offers().len(),
                        c.regions().len(),
                        c.measured_rtts().len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                "export" => {
                    let fmt = a.value("--format")?.unwrap_or_else(|| "json".into());
                    let out = a
                        .value("--out")?
                        .context("--out <dir|file|-> is required")?;
                    let c = load_catalog(a.value("--catalog")?)?;
                    a.done()?;
                    match fmt.as_str() {
                        "json" => {
                            let s = format::export_json(&c);
                            if out == "-" {
                                std::io::stdout().write_all(s.as_bytes())?;
                            } else {
                                std::fs::write(&out, s)
                                    .with_context(|| format!("writing {out}"))?;
                            }
                        }
                        "csv" => {
                            let dir = PathBuf::from(&out);
                            std::fs::create_dir_all(&dir)
                                .with_context(|| format!("creating {out}"))?;
                            for (name, body) in format::export_csv(&c) {
                                std::fs::write(dir.join(name), body)
                                    .with_context(|| format!("writing {name}"))?;
                            }
                        }
                        other => bail!("unknown export format `{other}` (csv or json)"),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                "info" => {
                    let c = load_catalog(a.value("--catalog")?)?;
                    a.done()?;
                    println!(
                        "{} offers, {} regions, {} measured directed RTTs",
                        c.offers().len(),
                        c.regions().len(),
                        c.measured_rtts().len()
                    );
                    for (p, n) in c.offers_per_provider() {
                        println!("  {p}: {n} offers");
                    }
                    println!("sources:");
                    for s in &c.info().sources {
                        println!("  {s}");
                    }
                    println!("notes:");
                    for s in &c.info().notes {
                        println!("  {s}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                _ => bail!("unknown catalog command `{sub}`\n\n{}", usage()),
            }
        }
        other => bail!("unknown command `{other}`\n\n{}", usage()),
    }
}

fn cmd_plan(file: &str, mut a: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let req = Requirements::from_json(&text).with_context(|| format!("parsing {file}"))?;
    let mut opts = match a.value("--options")? {
        Some(f) => {
            let t = std::fs::read_to_string(&f).with_context(|| format!("reading {f}"))?;
            serde_json::from_str::<PlanOptions>(&t).with_context(|| format!("parsing {f}"))?
        }
        None => PlanOptions::default(),
    };
    for b in a.values("--block")? {
        let mut it = b.splitn(3, '/');
        opts.blocked.push(BlockedOffer {
            provider: it.next().unwrap_or_default().to_string(),
            region: it.next().map(str::to_string),
            spec: it.next().map(str::to_string),
        });
    }
    if let Some(t) = a.value("--time-limit")? {
        let s: f64 = t.parse().context("--time-limit takes seconds")?;
        opts.time_limit = Duration::try_from_secs_f64(s).context("--time-limit takes seconds")?;
    }
    if let Some(b) = a.value("--backend")? {
        opts.backend =
            Backend::parse(&b).with_context(|| format!("backend `{b}` is not in this build"))?;
    }
    let fmt = a.value("--format")?.unwrap_or_else(|| "both".into());
    if !["table", "json", "both"].contains(&fmt.as_str()) {
        bail!("--format takes table, json or both");
    }
    let json_out = a.value("--json-out")?;
    let baseline = a.flag("--baseline");
    let catalog = load_catalog(a.value("--catalog")?)?;
    a.done()?;

    let t0 = Instant::now();
    let result = plan(&req, &catalog, &opts);
    let elapsed = t0.elapsed();
    let (json, code) = match &result {
        Ok(p) => (serde_json::to_string_pretty(p)?, ExitCode::SUCCESS),
        Err(e) => (serde_json::to_string_pretty(e)?, ExitCode::from(2)),
    };
    if fmt != "json" {
        match &result {
            Ok(p) => print_table(p),
            Err(e) => eprint!("{e}"),
        }
        if baseline {
            print_baseline(&req, &catalog);
        }
    }
    if fmt != "table" {
        println!("{json}");
    }
    if let Some(f) = json_out {
        std::fs::write(&f, format!("{json}\n")).with_context(|| format!("writing {f}"))?;
    }
    eprintln!("planned in {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    Ok(code)
}

fn print_table(p: &Placement) {
    let rows: Vec<[String; 7]> = p
        .vms
        .iter()
        .map(|v| {
            [
                v.group.clone(),
                v.index.to_string(),
                v.provider.clone(),
                v.region.clone(),
                v.spec.clone(),
                format!("{:.4}", v.price_usd_per_hour),
                match (v.spot, v.pinned) {
                    (true, true) => "spot, pinned".into(),
                    (true, false) => "spot".into(),
                    (false, true) => "pinned".into(),
                    _ => String::new(),
                },
            ]
        })
        .collect();
    let head = ["GROUP", "#", "PROVIDER", "REGION", "SPEC", "USD/H", ""];
    let mut w = [0usize; 7];
    for r in rows
        .iter()
        .map(|r| r.each_ref().map(|s| s.len()))
        .chain([head.map(str::len)])
    {
        for i in 0..7 {
            w[i] = w[i].max(r[i]);
        }
    }
    let line = |c: [&str; 7]| {
        let s: Vec<String> = (0..7)
            .map(|i| format!("{:<width$}", c[i], width = w[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(head);
    for r in &rows {
        line(r.each_ref().map(String::as_str));
    }
    println!();
    println!(
        "objective value {:.6}, bound {:.6}, gap {:.4} %{}",
        p.objective_value,
        p.lower_bound,
        p.gap * 100.0,
        if p.optimal { " (optimal)" } else { "" }
    );
    print!("{}", p.explanation);
    let s = &p.explanation.solver;
    println!(
        "solver: {} ILPs, {} candidates in {} regions; {}",
        s.ilp_solves,
        s.candidates,
        s.regions,
        s.stages.join("; ")
    );
    println!();
}

fn print_baseline(req: &Requirements, cat: &Catalog) {
    match plan_greedy_baseline(req, cat) {
        Ok(b) => {
            println!(
                "CB-Tumblebug-style per-group greedy baseline: ${:.4}/h",
                b.hourly_cost
            );
            if let (Some(ms), Some((x, y))) = (b.max_rtt_ms, &b.max_rtt_pair) {
                println!("  maximum RTT {ms:.1} ms between {x} and {y}");
            }
            if b.violations.is_empty() {
                println!("  satisfies every constraint");
            }
            for v in &b.violations {
                println!("  violates: {v}");
            }
        }
        Err(e) => print!("baseline: {e}"),
    }
    println!();
}
