//! `terraform-provider-tumblebug`: the Terraform provider binary.
//!
//! Started by Terraform (no arguments, plugin handshake on stdout), it serves plugin protocol 6.
//! Started by a person with arguments, it is a small admin tool over the provider's store (see
//! [`cli`]).

mod cli;
mod data_sources;
mod diag;
mod docs;
mod drivers;
mod keys;
mod mcir;
mod mcis;
mod names;
mod number;
mod placement;
mod provider;
mod resources;
mod schema;
mod store;
mod timeouts;

use std::process::ExitCode;

fn main() -> ExitCode {
    // tf-provider attaches a captured backtrace to every diagnostic when backtraces are enabled.
    // Users must never see Rust frames in a Terraform error, so library backtraces are switched off
    // here, before any thread exists; panics still honour RUST_BACKTRACE.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");

    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() {
        return cli::run(&args);
    }
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tf_provider::serve(
        "tumblebug",
        provider::TumblebugProvider::default(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("provider stopped: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, which Terraform captures and shows when `TF_LOG` (or `TF_LOG_PROVIDER`) is
/// set. Our own events and the `remote` crate's follow that level; other crates (gRPC plumbing)
/// only report warnings. Each line starts with its level in brackets ([`TerraformLines`]).
fn init_logging() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;

    // tf-provider installs its own subscriber when PLUGIN_LOG_FILE is set; a second global
    // subscriber would make it panic, so leave the field to it.
    if std::env::var_os("PLUGIN_LOG_FILE").is_some() {
        return;
    }
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .map(|value| match value.to_ascii_uppercase().as_str() {
            "TRACE" | "JSON" => LevelFilter::TRACE,
            "DEBUG" => LevelFilter::DEBUG,
            "INFO" => LevelFilter::INFO,
            "ERROR" => LevelFilter::ERROR,
            "OFF" => LevelFilter::OFF,
            _ => LevelFilter::WARN,
        })
        .unwrap_or(LevelFilter::WARN);
    let filter = Targets::new()
        .with_default(LevelFilter::WARN.min(level))
        .with_target(env!("CARGO_CRATE_NAME"), level)
        // The SSH and transfer engine: its progress lines are how a long transfer shows it moves.
        .with_target("remote", level);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .event_format(TerraformLines),
        )
        .with(filter)
        .init();
}

/// One log line as Terraform's plugin client reads a plugin's stderr: `[INFO] target: message
/// fields`. It takes the level from that bracketed prefix and logs lines without one at DEBUG,
/// so without it `TF_LOG=INFO` would show none of the provider's INFO events.
struct TerraformLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for TerraformLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        write!(writer, "[{}] {}: ", meta.level(), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
