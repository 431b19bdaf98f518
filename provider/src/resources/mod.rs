//! One file per Terraform resource, each in the same order: schema, validation, plan, create,
//! read, update, delete, import, then the state model.

pub mod mcis;
pub mod namespace;
