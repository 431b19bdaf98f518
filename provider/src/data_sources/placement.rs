//! `tumblebug_placement`: runs the planner on requirements and returns the optimal placement,
//! its cost, its latency and why, without provisioning anything. For CI plan reviews, and to
//! feed fixed `vm_group`s of a `tumblebug_mcis`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, DataSource, Diagnostics};

use crate::mcis::plan::PlacedVm;
use crate::names::{check_name, NAME_RULE};
use crate::number::Number;
use crate::placement::{
    placed_vm_type, placement_block, report, report_infeasible, requirements, requirements_block,
    GroupRequirementFields, PlacedVmState, PlacementBlock,
};
use crate::provider::Shared;
use crate::schema::{attribute, computed_string, number, required_string};
use crate::{diag, placement};

/// The data source; holds the provider's shared context (for the catalog).
pub struct PlacementDataSource {
    shared: Shared,
}

impl PlacementDataSource {
    pub fn new(shared: Shared) -> Self {
        PlacementDataSource { shared }
    }
}

fn computed(attr_type: AttributeType, description: &str) -> tf_provider::schema::Attribute {
    attribute(attr_type, AttributeConstraint::Computed, description)
}

#[async_trait]
impl DataSource for PlacementDataSource {
    type State<'a> = PlacementState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let vm_group = Block {
            version: 1,
            description: Description::markdown("A group of VMs with the same requirements."),
            attributes: map! {
                "name" => required_string("Group name, unique in the request; same rule as namespace names."),
                "count" => number("Number of VMs.", AttributeConstraint::Required),
            },
            blocks: map! {
                "requirements" => requirements_block(),
            },
            ..Default::default()
        };
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(
                    "Places VM groups jointly and optimally over the catalog's clouds and regions \
                     (an integer program over price, spec, location, performance and \
                     inter-region latency) and explains the choice. Provisions nothing; an \
                     infeasible request fails with the conflicting constraints and the nearest \
                     feasible relaxation.",
                ),
                attributes: map! {
                    "vms" => computed(AttributeType::List(placed_vm_type().into()),
                        "One entry per VM, group by group then index: `group`, `index`, `provider`, `region`, `spec`, `price_usd_per_hour`, `spot`."),
                    "hourly_cost" => computed(AttributeType::Number, "Total USD/hour."),
                    "max_rtt_ms" => computed(AttributeType::Number, "Largest RTT between two distinct regions used; null with one region."),
                    "max_rtt_pair" => computed(AttributeType::List(AttributeType::String.into()), "The two regions (`<cloud>-<region>`) that set `max_rtt_ms`."),
                    "max_rtt_estimated" => computed(AttributeType::Bool, "True when `max_rtt_ms` is estimated from distance (no measurement for that pair)."),
                    "optimal" => computed(AttributeType::Bool, "True only when the objective was proven optimal."),
                    "gap" => computed(AttributeType::Number, "Relative optimality gap; 0 when proven."),
                    "explanation" => computed_string("Why this placement: totals, the pair of regions that sets the maximum RTT, and per offer used the alternatives it beat."),
                },
                blocks: map! {
                    "vm_group" => NestedBlock::List(vm_group),
                    "placement" => placement_block(),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        for (i, group) in config.vm_group.iter().flatten().enumerate() {
            if let Value::Value(name) = &group.name {
                if let Err(problem) = check_name(name) {
                    let path = AttributePath::new("vm_group")
                        .index(i as i64)
                        .attribute("name");
                    diag::invalid_at(diags, path, "name", problem, NAME_RULE);
                }
            }
        }
        if let Err(problems) = request(&config) {
            report(diags, AttributePath::new("vm_group"), &problems);
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        let ctx = self.shared.get(diags)?;
        let req = match request(&config) {
            Ok(Some(req)) => req,
            Ok(None) => return Some(config),
            Err(problems) => {
                report(diags, AttributePath::new("vm_group"), &problems);
                return None;
            }
        };
        match planner::plan(&req, ctx.catalog(), &planner::PlanOptions::default()) {
            Ok(found) => Some(PlacementState {
                vms: Value::Value(
                    found
                        .vms
                        .iter()
                        .map(|vm| PlacedVmState::from(&PlacedVm::from(vm)))
                        .collect(),
                ),
                hourly_cost: Value::Value(Number(found.hourly_cost)),
                max_rtt_ms: found.max_rtt_ms.map(Number).into(),
                max_rtt_pair: found
                    .max_rtt_pair
                    .as_ref()
                    .map(|(a, b)| vec![Value::Value(a.to_string()), Value::Value(b.to_string())])
                    .into(),
                max_rtt_estimated: Value::Value(found.max_rtt_estimated),
                optimal: Value::Value(found.optimal),
                gap: Value::Value(Number(found.gap)),
                explanation: Value::Value(found.explanation.to_string()),
                ..config
            }),
            Err(infeasible) => {
                report_infeasible(diags, &infeasible, false);
                None
            }
        }
    }
}

/// The planner's request from the configuration (`Ok(None)` while something is unknown).
fn request(config: &PlacementState) -> Result<Option<planner::Requirements>, Vec<String>> {
    let mut groups = Vec::new();
    for group in config.vm_group.iter().flatten() {
        let (Value::Value(name), Value::Value(count)) = (&group.name, group.count) else {
            return Ok(None);
        };
        let fields = group.requirements.clone().unwrap_or_default();
        match fields.to_json(name, count) {
            Ok(json) => groups.push(json),
            Err(placement::Unknown) => return Ok(None),
        }
    }
    requirements(groups, &config.placement)
}

/// The data source's configuration and results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlacementState {
    pub vm_group: Value<Vec<RequestGroupBlock>>,
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub placement: Value<PlacementBlock>,
    pub vms: Value<Vec<PlacedVmState>>,
    pub hourly_cost: Value<Number>,
    pub max_rtt_ms: Value<Number>,
    pub max_rtt_pair: Value<Vec<Value<String>>>,
    pub max_rtt_estimated: Value<bool>,
    pub optimal: Value<bool>,
    pub gap: Value<Number>,
    pub explanation: Value<String>,
}

/// One `vm_group` block of the data source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestGroupBlock {
    pub name: Value<String>,
    pub count: Value<i64>,
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub requirements: Value<GroupRequirementFields>,
}
