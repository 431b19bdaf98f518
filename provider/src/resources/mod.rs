//! One file per Terraform resource, each in the same order: schema, validation, plan, create,
//! read, update, delete, import, then the state model. The three MCIR resources share their CRUD
//! in `mcir.rs`; their own files hold what differs. `vm_access.rs` holds what the resources that
//! work on VMs over SSH (command, transfer) share.

pub mod command;
pub mod mcir;
pub mod mcis;
pub mod namespace;
pub mod security_group;
pub mod ssh_key;
pub mod transfer;
pub mod vm_access;
pub mod vnet;

/// The names of the attributes that differ between a prior state and a plan, from a list of
/// `(name, prior != proposed)` pairs.
pub fn differing(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| *name)
        .collect()
}
