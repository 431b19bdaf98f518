//! SSH sessions to VMs and the transfer engine that ships a large file (a VM image) to every VM
//! of an MCIS.
//!
//! - [`ssh`]: [`Host`] (address plus pinned host key), [`SecretKey`], [`Connection`] (commands
//!   with deadlines and output limits, bulk data streamed into a command's stdin).
//! - [`plan`]: the pure part of transfers: strategies, the time model that `auto` uses, relay
//!   topologies and resume decisions. No I/O.
//! - [`transfer`]: the engine that executes a plan over SSH: unicast, a pipelined chain, a k-ary
//!   tree, with per-host SHA-256 verification, resume and relaying around dead hosts.
//!
//! ```no_run
//! use remote::{transfer, Host, SecretKey, Strategy, Target, TransferOptions};
//! # fn main() -> Result<(), remote::Error> {
//! let key = SecretKey::from_openssh(std::fs::read_to_string("id_ed25519").unwrap());
//! let host = Host::new("vm-1", "203.0.113.7", 22, "cb-user", "ssh-ed25519 AAAA...");
//! let targets = vec![Target { host, dest: "/var/lib/images/ubuntu.qcow2".into() }];
//! let options = TransferOptions { strategy: Strategy::Auto, ..TransferOptions::default() };
//! let report = transfer(std::path::Path::new("ubuntu.qcow2"), &targets, &key, &options)?;
//! println!("{} via {:?} in {:.1} s", report.sha256, report.strategy_used, report.elapsed_seconds);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
pub mod plan;
mod pool;
mod script;
pub mod ssh;
pub mod transfer;

pub use error::Error;
pub use plan::{ModelParams, Strategy};
pub use ssh::{run_on_all, Connection, Host, Output, SecretKey, SshConfig};
pub use transfer::{
    hash_file, remove, transfer, HostReport, HostStatus, Target, TransferOptions, TransferReport,
};
