//! The MCIS planner: a typed catalog of cloud offers and an optimizer that places every VM group
//! of an MCIS jointly, proves the placement optimal, and explains it.
//!
//! CB-Tumblebug ranks specs for each VM group on its own with one SQL `ORDER BY`, so nothing
//! bounds the latency between the VMs of one MCIS; SkyPilot optimises cost with an ILP but puts a
//! whole cluster in one region. This crate places all groups at once: an integer program over
//! (group, offer) counts with region and provider indicators, the inter-region latency bound in
//! clique form, spread and per-region limits, a cost cap and a distance limit, solved
//! lexicographically (the objective first, then the documented tie-breaks), deterministically.
//!
//! ```
//! use planner::{plan, Catalog, PlanOptions, Requirements};
//!
//! let catalog = Catalog::embedded_ref();
//! let req = Requirements::from_json(r#"{
//!     "groups": [
//!         { "name": "web", "count": 3, "vcpu": { "min": 2, "max": 4 } },
//!         { "name": "db",  "count": 1, "memory_gib": { "min": 16 } }
//!     ],
//!     "placement": { "objective": "cost", "max_latency_ms": 40, "min_providers": 2 }
//! }"#).unwrap();
//!
//! let placement = plan(&req, catalog, &PlanOptions::default()).unwrap();
//! assert!(placement.optimal);
//! assert!(placement.max_rtt_ms.unwrap() <= 40.0);
//! for vm in &placement.vms {
//!     println!("{}[{}] -> {}/{}/{} at ${}/h", vm.group, vm.index, vm.provider, vm.region, vm.spec,
//!              vm.price_usd_per_hour);
//! }
//!
//! // Failover: the cloud refused the first VM's offer. Keep the others, block that offer and
//! // re-plan: only the missing VMs move, and every constraint still holds.
//! let refused = &placement.vms[0];
//! let opts = PlanOptions {
//!     blocked: vec![planner::BlockedOffer::offer(&refused.provider, &refused.region, &refused.spec)],
//!     pinned: placement.vms.iter()
//!         .filter(|v| (&v.provider, &v.region, &v.spec) != (&refused.provider, &refused.region, &refused.spec))
//!         .map(|v| planner::PinnedVm {
//!             group: v.group.clone(), index: v.index, provider: v.provider.clone(),
//!             region: v.region.clone(), spec: v.spec.clone(), spot: v.spot,
//!             price_usd_per_hour: Some(v.price_usd_per_hour),
//!         })
//!         .collect(),
//!     ..PlanOptions::default()
//! };
//! let again = plan(&req, catalog, &opts).unwrap();
//! assert!(planner::check_placement(&req, catalog, &opts, &again.vms).is_empty());
//! ```
//!
//! # Code map
//!
//! - [`catalog`]: [`Catalog`] (offers, regions, RTT with measured/estimated flags), the importers
//!   of the public formats ([`catalog::import`]), the planner's own JSON/CSV format
//!   ([`catalog::format`]) and the embedded default catalog.
//! - [`requirements`]: the request, field for field the HCL of the provider's `vm_group` and
//!   `placement` blocks, with its JSON form.
//! - [`solver`]: [`plan`] and its options and result types. Inside: the reduced problem
//!   (candidates pruned to what can be optimal), the `good_lp` model, Bron-Kerbosch cliques on a
//!   `petgraph` graph, the greedy warm start and the lexicographic stages.
//! - [`diagnose`]: [`Infeasible`], which constraints conflict and the nearest feasible
//!   relaxation.
//! - [`explain`]: [`Explanation`], per offer the alternatives it beat and why.
//! - [`baseline`]: CB-Tumblebug's per-group greedy ranking, for comparison.
//! - [`check`]: an independent constraint checker used by tests and the baseline.
//!
//! **Architecture invariant:** the planner knows nothing about Terraform, clouds or the
//! provider's store. It is a function from requirements, a catalog and options (blocked offers,
//! pinned VMs, a time limit) to a placement value; it changes nothing. Provisioning consumes the
//! value elsewhere, and a provisioning failure comes back as `blocked` input to a new plan. Only
//! the catalog loaders read files.
#![deny(missing_docs)]

pub mod baseline;
pub mod catalog;
pub mod check;
pub mod diagnose;
pub mod explain;
pub mod requirements;
pub mod solver;

pub use baseline::{plan_greedy_baseline, BaselinePlan};
pub use catalog::{Arch, Catalog, CatalogError, Offer, Region, RegionKey, Rtt};
pub use check::check_placement;
pub use diagnose::{FailureKind, Infeasible};
pub use explain::Explanation;
pub use requirements::{GroupRequirements, Objective, PlacementPolicy, Requirements};
pub use solver::{
    plan, Backend, BlockedOffer, PinnedVm, PlacedVm, Placement, PlanOptions, Strategy,
};
