//! One file per Terraform data source.

pub mod placement;
