//! The MCIS planner: a typed catalog of cloud offers and an optimizer that places every VM group of
//! an MCIS jointly.
//!
//! **Architecture invariant:** the planner knows nothing about Terraform, clouds or the provider's
//! store. It is a function from requirements and a catalog to a placement; provisioning consumes that
//! value elsewhere.
//!
//! This crate is still empty: the catalog and the solver arrive with the planner issue.
#![deny(missing_docs)]
