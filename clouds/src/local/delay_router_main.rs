//! The `local` cloud's delay router as a program of its own: `tumblebug-delay-router STATE_DIR`
//! (see `clouds::local::run_delay_router`). The driver's tests name it in
//! `LocalConfig::router_command`; the provider offers the same as
//! `terraform-provider-tumblebug local delay-router STATE_DIR`, so that it ships one binary.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<_> = std::env::args_os().skip(1).collect();
    let [state_dir] = arguments.as_slice() else {
        eprintln!("usage: tumblebug-delay-router STATE_DIR");
        return ExitCode::from(2);
    };
    let Err(why) = clouds::local::run_delay_router(Path::new(state_dir));
    eprintln!("delay router: {why}");
    ExitCode::FAILURE
}
