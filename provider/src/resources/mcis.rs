//! `tumblebug_mcis`: a group of VMs over several clouds, created, controlled and reported as one
//! thing with one status. The cloud work is done by [`crate::mcis::engine`]; this file maps it to
//! Terraform: schema, validation, plans that show exactly which VMs change, and state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use clouds::CloudErrorKind;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::diag;
use crate::mcis::engine::{Engine, VmFailure};
use crate::mcis::plan::{
    self, block_refused, GroupRequest, GroupSource, McisPlacement, PlaceError,
};
use crate::mcis::{DesiredStatus, McisSpec, VmGroupSpec};
use crate::mcis::{GroupPlace, VmPlace};
use crate::names::{check_cloud, check_name, NAME_RULE};
use crate::number::Number;
use crate::placement::{
    placed_vm_type, placement_block, policy_json, report, report_infeasible, requirements_block,
    GroupRequirementFields, PlacedVmState, PlacementBlock,
};
use crate::provider::{Context, Shared};
use crate::schema::{attribute, computed_string, number, optional_string, required_string};
use crate::store::{McisRecord, VmRecord};
use crate::timeouts::parse_duration;

/// Default for each of `timeouts.create`, `.update`, `.delete`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Most VMs one group may ask for.
const MAX_GROUP_COUNT: i64 = 10_000;

/// The resource; holds the provider's shared context.
pub struct McisResource {
    shared: Shared,
}

impl McisResource {
    pub fn new(shared: Shared) -> Self {
        McisResource { shared }
    }
}

/// The fields of each `vms` entry. tf-provider cannot declare nested attributes (Terraform rejects
/// its schema), so `vms` is a list of objects and the field descriptions live in `VMS_DESCRIPTION`.
fn vm_attributes() -> std::collections::HashMap<String, AttributeType> {
    let number = ["index"];
    let boolean = ["spot"];
    [
        "id",
        "name",
        "group",
        "index",
        "provider",
        "region",
        "zone",
        "spec",
        "image",
        "native_status",
        "status",
        "reason",
        "public_ip",
        "private_ip",
        "host_key",
        "spot",
    ]
    .into_iter()
    .map(|name| {
        (
            name.to_owned(),
            if number.contains(&name) {
                AttributeType::Number
            } else if boolean.contains(&name) {
                AttributeType::Bool
            } else {
                AttributeType::String
            },
        )
    })
    .collect()
}

const VMS_DESCRIPTION: &str = "One entry per VM, in configuration order (group by group, then index). \
Fields: `id` (the cloud's id), `name` (`<mcis>-<group>-<index>`), `group`, `index` (from 0), `provider`, \
`region`, `zone`, `spec`, `spot` (requested as spot/preemptible), `image`, `native_status` (the cloud's own word, e.g. GCP's `TERMINATED` for a \
stopped VM), `status` (unified: Creating, Running, Suspending, Suspended, Resuming, Rebooting, Terminating, \
Terminated, Failed or Undefined), `reason` (why: the cloud's word read with the action in flight, or the \
cloud's error), `public_ip`, `private_ip`, `host_key` (the VM's SSH host key as the cloud reported it, \
for a `known_hosts` line; null where the cloud does not say).";

#[async_trait]
impl Resource for McisResource {
    type State<'a> = Value<McisState>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let vm_group = Block {
            version: 1,
            description: Description::markdown("A group of identical VMs in one cloud region."),
            attributes: map! {
                "name" => required_string("Group name, unique in the MCIS; same rule as namespace names."),
                "count" => number("Number of VMs in the group (0 to 10000). Changing it scales the group out or in; scale-in removes the highest indexes first.", AttributeConstraint::Required),
                "provider" => optional_string("Cloud: `aws`, `azure`, `gcp`, `alibaba`, `openstack`, `cloudit` or `local`. Required unless the group gives `requirements`. Changing it replaces the group's VMs."),
                "region" => optional_string("Region in the cloud's own spelling, e.g. `ap-northeast-2`. Required unless the group gives `requirements`. Changing it replaces the group's VMs."),
                "spec" => optional_string("Spec (instance type / size) in the cloud's own name, e.g. `t3.small`. Required unless the group gives `requirements`. Changing it replaces the group's VMs."),
                "image" => required_string("Image name. Changing it replaces the group's VMs."),
                "vnet" => optional_string("Name of a `tumblebug_vnet` in the same namespace and connection (not with `requirements`: the planner chooses the connection). Default: one created automatically per connection and removed with the MCIS."),
                "security_group" => optional_string("Name of a `tumblebug_security_group` (not with `requirements`). Default: created automatically per connection (SSH in, everything out)."),
                "ssh_key" => optional_string("Name of a `tumblebug_ssh_key` (not with `requirements`). Default: created automatically per connection."),
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
                    "An MCIS (multi-cloud infrastructure service): VMs over several clouds, provisioned \
                     concurrently and reported with one status in CB-Tumblebug's format, e.g. \
                     `Running:18 (R:18/18)` or `Partial-Running:3 (R:3/5)`.",
                ),
                attributes: map! {
                    "id" => computed_string("`<namespace>/<name>`; also the import id."),
                    "namespace" => required_string("Namespace the MCIS belongs to (it must exist). Changing it replaces the MCIS."),
                    "name" => required_string("MCIS name, same rule as namespace names. Changing it replaces the MCIS."),
                    "desired_status" => optional_string("`running` (default) or `suspended`. Changing it suspends or resumes every VM in place."),
                    "reboot_trigger" => optional_string("Any string; changing it reboots every running VM."),
                    "replan_trigger" => optional_string("Any string; changing it lets the planner move VMs of groups with `requirements` to a better placement. Otherwise a placement, once planned, stays: only new VMs (scale-out) are placed, and a group is re-placed only when its `requirements` or the `placement` block change."),
                    "timeouts" => Attribute {
                        attr_type: AttributeType::Map(AttributeType::String.into()),
                        description: Description::markdown(
                            "Time limits per operation: `create`, `update`, `delete`, each a duration \
                             such as `20m` (the default) or `90s`. Also the deadline after which a VM \
                             stuck in a transition is declared Failed."),
                        constraint: AttributeConstraint::Optional,
                        ..Default::default()
                    },
                    "vms" => Attribute {
                        attr_type: AttributeType::List(AttributeType::Object(vm_attributes()).into()),
                        description: Description::markdown(VMS_DESCRIPTION),
                        constraint: AttributeConstraint::Computed,
                        ..Default::default()
                    },
                    "planned_vms" => attribute(AttributeType::List(placed_vm_type().into()), AttributeConstraint::Computed,
                        "Where each VM goes, known at plan time: `group`, `index`, `provider`, `region`, `spec`, `price_usd_per_hour` (null when the catalog does not price the offer) and `spot`. For groups with `requirements` this is the planner's choice; should a cloud refuse a VM for capacity or quota, the apply places it elsewhere within every constraint (failover) and the next refresh shows where it went. `vms` shows the clouds' view."),
                    "hourly_cost" => attribute(AttributeType::Number, AttributeConstraint::Computed,
                        "Total USD/hour of `planned_vms`; null when some VM's offer is not in the catalog."),
                    "max_rtt_ms" => attribute(AttributeType::Number, AttributeConstraint::Computed,
                        "Largest RTT between two distinct regions of `planned_vms` (measured, or estimated from distance when the catalog has no measurement); null with one region."),
                    "placement_explanation" => computed_string("The planner's explanation of its choice for groups with `requirements` (totals, the region pair that sets the maximum RTT, and the alternatives each offer beat); null when every group is fixed."),
                    "status" => computed_string("The MCIS status line: `<Status>:<n> (R:<running>/<total>)`, `Partial-` when the VMs disagree."),
                    "status_counts" => Attribute {
                        attr_type: AttributeType::Map(AttributeType::Number.into()),
                        description: Description::markdown("Number of VMs per unified status."),
                        constraint: AttributeConstraint::Computed,
                        ..Default::default()
                    },
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
        let Value::Value(config) = config else {
            return Some(());
        };
        for (attribute, value) in [("namespace", &config.namespace), ("name", &config.name)] {
            if let Value::Value(name) = value {
                if let Err(problem) = check_name(name) {
                    diag::invalid_attribute(diags, attribute, problem, NAME_RULE);
                }
            }
        }
        if let Value::Value(status) = &config.desired_status {
            if DesiredStatus::parse(status).is_none() {
                diag::invalid_attribute(
                    diags,
                    "desired_status",
                    format!("\"{status}\" is not a status."),
                    "Use \"running\" or \"suspended\".",
                );
            }
        }
        if let Value::Value(timeouts) = &config.timeouts {
            for (field, value) in timeouts {
                let problem = match value {
                    _ if !["create", "update", "delete"].contains(&field.as_str()) => Some(
                        format!("\"{field}\" is not an operation: use create, update and delete."),
                    ),
                    Value::Value(text) => parse_duration(text).err(),
                    _ => None,
                };
                if let Some(problem) = problem {
                    let path = AttributePath::new("timeouts").key(field.clone());
                    diag::invalid_at(
                        diags,
                        path,
                        "timeouts",
                        problem,
                        "For example { create = \"20m\", delete = \"90s\" }.",
                    );
                }
            }
        }
        let groups = config
            .vm_group
            .as_ref_option()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if groups.is_empty() && !config.vm_group.is_unknown() {
            diags.error(
                "Missing vm_group",
                "An MCIS needs at least one `vm_group` block.",
                AttributePath::new("vm_group"),
            );
        }
        if let Some((groups, policy)) = placement_request(&config) {
            let planned: Vec<Json> = groups
                .into_iter()
                .filter_map(|g| match g.source {
                    GroupSource::Requirements(json) => Some(json),
                    GroupSource::Fixed(_) => None,
                })
                .collect();
            if !planned.is_empty() {
                if let Err(problems) = crate::placement::request(planned, policy) {
                    report(diags, AttributePath::new("vm_group"), &problems);
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, group) in groups.iter().enumerate() {
            let at = |attr: &'static str| {
                AttributePath::new("vm_group")
                    .index(i as i64)
                    .attribute(attr)
            };
            if let Value::Value(name) = &group.name {
                if let Err(problem) = check_name(name) {
                    diag::invalid_at(diags, at("name"), "name", problem, NAME_RULE);
                }
                if !seen.insert(name.clone()) {
                    diags.error("Duplicate vm_group name", format!("Another vm_group is already called \"{name}\"; group names must be unique."), at("name"));
                }
            }
            if let Value::Value(count) = group.count {
                if !(0..=MAX_GROUP_COUNT).contains(&count) {
                    let valid = format!("A group holds 0 to {MAX_GROUP_COUNT} VMs.");
                    diag::invalid_at(
                        diags,
                        at("count"),
                        "count",
                        format!("{count} is out of range."),
                        valid,
                    );
                }
            }
            if let Value::Value(provider) = &group.provider {
                if let Err((problem, valid)) = check_cloud(provider) {
                    diag::invalid_at(diags, at("provider"), "provider", problem, valid);
                }
            }
            match &group.requirements {
                Value::Value(_) => {
                    for (attr, value) in [
                        ("provider", &group.provider),
                        ("region", &group.region),
                        ("spec", &group.spec),
                        ("vnet", &group.vnet),
                        ("security_group", &group.security_group),
                        ("ssh_key", &group.ssh_key),
                    ] {
                        if !value.is_null() {
                            diag::invalid_at(
                                diags,
                                at(attr),
                                attr,
                                format!("`{attr}` cannot be combined with `requirements`."),
                                "The planner chooses provider, region and spec, and so the connection whose automatic vNet, security group and key each VM uses. Remove this attribute or the `requirements` block.",
                            );
                        }
                    }
                }
                Value::Null => {
                    for (attr, value) in [
                        ("provider", &group.provider),
                        ("region", &group.region),
                        ("spec", &group.spec),
                    ] {
                        if value.is_null() {
                            diag::invalid_at(
                                diags,
                                at(attr),
                                attr,
                                format!("The group gives neither `{attr}` nor `requirements`."),
                                "Give `provider`, `region` and `spec`, or a `requirements` block and let the planner choose them.",
                            );
                        }
                    }
                }
                Value::Unknown => {}
            }
            for (attr, value) in [
                ("region", &group.region),
                ("spec", &group.spec),
                ("image", &group.image),
            ] {
                if let Value::Value(text) = value {
                    if text.trim().is_empty() {
                        let valid = format!("Give the {attr} in the cloud's own spelling.");
                        diag::invalid_at(
                            diags,
                            at(attr),
                            attr,
                            format!("The {attr} is empty."),
                            valid,
                        );
                    }
                }
            }
        }
        Some(())
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let mut planned = proposed.as_option()?;
        planned.id = match (&planned.namespace, &planned.name) {
            (Value::Value(ns), Value::Value(name)) => Value::Value(format!("{ns}/{name}")),
            _ => Value::Unknown,
        };
        plan_placement(ctx, diags, &mut planned, None)?;
        planned.vms = plan_vms(&planned, &[], false);
        planned.status = Value::Unknown;
        planned.status_counts = Value::Unknown;
        Some((Value::Value(planned), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let ctx = self.shared.get(diags)?;
        let prior = prior.as_option()?;
        let mut planned = proposed.as_option()?;
        let mut replace = Vec::new();
        for (attr, changed) in [
            ("namespace", planned.namespace != prior.namespace),
            ("name", planned.name != prior.name),
        ] {
            if changed {
                replace.push(AttributePath::new(attr));
            }
        }
        if !replace.is_empty() {
            plan_placement(ctx, diags, &mut planned, None)?;
            planned.id = Value::Unknown;
            planned.vms = plan_vms(&planned, &[], false);
            planned.status = Value::Unknown;
            planned.status_counts = Value::Unknown;
            return Some((Value::Value(planned), ValueEmpty::default(), replace));
        }
        planned.id = prior.id.clone();
        plan_placement(ctx, diags, &mut planned, Some(&prior))?;
        let power_change =
            desired(&planned) != desired(&prior) || planned.reboot_trigger != prior.reboot_trigger;
        let prior_vms = prior.vms.as_ref_option().cloned().unwrap_or_default();
        planned.vms = plan_vms(&planned, &prior_vms, power_change);
        if planned.vms == prior.vms && !power_change {
            planned.status = prior.status;
            planned.status_counts = prior.status_counts;
        } else {
            planned.status = Value::Unknown;
            planned.status_counts = Value::Unknown;
        }
        Some((Value::Value(planned), ValueEmpty::default(), replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(ValueEmpty::default())
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let mut planned = planned.as_option()?;
        let (namespace, name) = (
            planned.namespace.clone().as_option()?,
            planned.name.clone().as_option()?,
        );
        if planned.planned_vms.is_unknown() {
            plan_placement(ctx, diags, &mut planned, None)?;
        }
        let mut spec = spec_of(&planned)?;
        let store_err = |diags: &mut Diagnostics, err: anyhow::Error| {
            diag::failed(
                diags,
                "Cannot create the MCIS",
                "Retry the apply.",
                format!("{err:#}"),
            );
        };
        match ctx.store.namespace(&namespace) {
            Ok(Some(_)) => {}
            Ok(None) => {
                diag::failed_at(
                    diags,
                    "namespace",
                    format!("Namespace \"{namespace}\" does not exist"),
                    "Create it first, e.g. with a `tumblebug_namespace` resource referenced here as `tumblebug_namespace.<name>.id`.",
                    format!("no such namespace in {}", ctx.store.path().display()),
                );
                return None;
            }
            Err(err) => {
                store_err(diags, err);
                return None;
            }
        }
        let record = McisRecord {
            namespace: namespace.clone(),
            name: name.clone(),
            spec: serde_json::to_value(&spec).ok()?,
            complete: false,
            created_at: crate::store::now_rfc3339(),
        };
        match ctx.store.insert_mcis(&record) {
            Ok(true) => {}
            Ok(false) => match ctx.store.mcis(&namespace, &name) {
                // An earlier create was interrupted (crash, SIGKILL): carry on where it stopped.
                Ok(Some(existing)) if !existing.complete => {
                    tracing::info!(mcis = %name, "resuming an interrupted create");
                    if let Err(err) = ctx
                        .store
                        .update_mcis(&namespace, &name, &record.spec, false)
                    {
                        {
                            store_err(diags, err);
                            return None;
                        }
                    }
                }
                Ok(_) => {
                    diag::failed_at(
                        diags,
                        "name",
                        format!("MCIS \"{namespace}/{name}\" already exists"),
                        format!("Bring it under this configuration with `terraform import <address> {namespace}/{name}`, or choose another name."),
                        format!("the store {} already holds it", ctx.store.path().display()),
                    );
                    return None;
                }
                Err(err) => {
                    store_err(diags, err);
                    return None;
                }
            },
            Err(err) => {
                store_err(diags, err);
                return None;
            }
        }
        let deadline = timeout(&planned, "create");
        tracing::info!(mcis = %name, vms = spec.groups.iter().map(|g| g.count).sum::<u32>(), "creating MCIS");
        let converged =
            converge_with_failover(ctx, diags, &planned, &mut spec, &namespace, &name, deadline)
                .await;
        let failures = match converged {
            Ok(failures) => failures,
            Err(err) => {
                diag::failed(diags, format!("Cannot create MCIS \"{name}\""), "Fix the cause and run `terraform apply` again; VMs already created are kept and adopted.", format!("{err:#}"));
                Vec::new()
            }
        };
        report_failures(diags, "create", &failures);
        let spec = serde_json::to_value(&spec).ok()?;
        if let Err(err) = ctx.store.update_mcis(&namespace, &name, &spec, true) {
            store_err(diags, err);
        }
        Some((
            Value::Value(with_vms(planned, &stored_vms(ctx, &namespace, &name), None)),
            ValueEmpty::default(),
        ))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let state = state.as_option()?;
        let (namespace, name) = (
            state.namespace.clone().as_option()?,
            state.name.clone().as_option()?,
        );
        match ctx.store.mcis(&namespace, &name) {
            Ok(Some(_)) => {}
            Ok(None) => return Some((Value::Null, ValueEmpty::default())),
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot read the MCIS",
                    "Retry the command.",
                    format!("{err:#}"),
                );
                return None;
            }
        }
        let deadline = timeout(&state, "update");
        let records = match engine(ctx).refresh(&namespace, &name, deadline).await {
            Ok(records) => records,
            Err(err) => {
                diag::failed(
                    diags,
                    format!("Cannot refresh MCIS \"{name}\""),
                    "Retry the command.",
                    format!("{err:#}"),
                );
                return None;
            }
        };
        let mut state = with_vms(state, &records, None);
        resync_planned(ctx.catalog(), &mut state, &records);
        Some((Value::Value(state), ValueEmpty::default()))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let prior = prior.as_option()?;
        let mut planned = planned.as_option()?;
        let (namespace, name) = (
            planned.namespace.clone().as_option()?,
            planned.name.clone().as_option()?,
        );
        if planned.planned_vms.is_unknown() {
            plan_placement(ctx, diags, &mut planned, Some(&prior))?;
        }
        let mut spec = spec_of(&planned)?;
        let deadline = timeout(&planned, "update");
        let mut failures = Vec::new();
        let converged =
            converge_with_failover(ctx, diags, &planned, &mut spec, &namespace, &name, deadline)
                .await;
        let engine = engine(ctx);
        match converged {
            Ok(found) => failures.extend(found),
            Err(err) => diag::failed(
                diags,
                format!("Cannot update MCIS \"{name}\""),
                "Fix the cause and run `terraform apply` again.",
                format!("{err:#}"),
            ),
        }
        if planned.reboot_trigger != prior.reboot_trigger {
            match engine.reboot(&namespace, &name, deadline).await {
                Ok(found) => failures.extend(found),
                Err(err) => diag::failed(
                    diags,
                    format!("Cannot reboot MCIS \"{name}\""),
                    "Retry the apply.",
                    format!("{err:#}"),
                ),
            }
        }
        report_failures(diags, "update", &failures);
        if let Ok(value) = serde_json::to_value(&spec) {
            if let Err(err) = ctx.store.update_mcis(&namespace, &name, &value, true) {
                diag::failed(
                    diags,
                    "Cannot record the MCIS",
                    "Retry the apply.",
                    format!("{err:#}"),
                );
            }
        }
        let keep = planned.vms.as_ref_option().cloned();
        Some((
            Value::Value(with_vms(
                planned,
                &stored_vms(ctx, &namespace, &name),
                keep.as_deref(),
            )),
            ValueEmpty::default(),
        ))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let ctx = self.shared.get(diags)?;
        let state = state.as_option()?;
        let (namespace, name) = (
            state.namespace.clone().as_option()?,
            state.name.clone().as_option()?,
        );
        let deadline = timeout(&state, "delete");
        tracing::info!(mcis = %name, "destroying MCIS");
        match engine(ctx).destroy(&namespace, &name, deadline).await {
            Ok(failures) if failures.is_empty() => Some(()),
            Ok(failures) => {
                report_failures(diags, "destroy", &failures);
                None
            }
            Err(err) => {
                diag::failed(
                    diags,
                    format!("Cannot destroy MCIS \"{name}\""),
                    "Run `terraform destroy` again; it resumes where this one stopped.",
                    format!("{err:#}"),
                );
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let Some((namespace, name)) = id.split_once('/') else {
            diag::failed(
                diags,
                format!("Cannot import MCIS \"{id}\""),
                "The import id is `<namespace>/<mcis name>`.",
                "the id has no '/'",
            );
            return None;
        };
        let record = match ctx.store.mcis(namespace, name) {
            Ok(Some(record)) => record,
            Ok(None) => {
                diag::failed(
                    diags,
                    format!("Cannot import MCIS \"{id}\""),
                    "Check the namespace and name, and the provider's `store`.",
                    format!("no such MCIS in {}", ctx.store.path().display()),
                );
                return None;
            }
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot import the MCIS",
                    "Retry the import.",
                    format!("{err:#}"),
                );
                return None;
            }
        };
        let spec: McisSpec = match serde_json::from_value(record.spec) {
            Ok(spec) => spec,
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot import the MCIS",
                    "The stored MCIS was written by another provider version.",
                    err,
                );
                return None;
            }
        };
        let state = McisState {
            id: Value::Value(id.clone()),
            namespace: Value::Value(namespace.into()),
            name: Value::Value(name.into()),
            desired_status: match spec.desired_status {
                DesiredStatus::Running => Value::Null,
                DesiredStatus::Suspended => Value::Value("suspended".into()),
            },
            vm_group: Value::Value(spec.groups.iter().map(VmGroupBlock::from).collect()),
            placement: spec
                .placement
                .and_then(|block| serde_json::from_value(block).ok())
                .map_or(Value::Null, Value::Value),
            planned_vms: Value::Null,
            ..Default::default()
        };
        let records = stored_vms(ctx, namespace, name);
        let mut state = with_vms(state, &records, None);
        resync_planned(ctx.catalog(), &mut state, &records);
        Some((Value::Value(state), ValueEmpty::default()))
    }
}

fn engine(ctx: &Context) -> Engine<'_> {
    Engine {
        store: &ctx.store,
        drivers: &ctx.drivers,
        poll: ctx.poll_interval,
    }
}

fn desired(state: &McisState) -> DesiredStatus {
    state
        .desired_status
        .as_deref_option()
        .and_then(DesiredStatus::parse)
        .unwrap_or(DesiredStatus::Running)
}

fn timeout(state: &McisState, operation: &str) -> Duration {
    state
        .timeouts
        .as_ref_option()
        .and_then(|t| t.get(operation))
        .and_then(|text| {
            text.as_deref_option()
                .and_then(|text| parse_duration(text).ok())
        })
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// The engine's view of a fully known state; groups with `requirements` take their places from
/// `planned_vms`.
fn spec_of(state: &McisState) -> Option<McisSpec> {
    let groups = state.vm_group.as_ref_option()?;
    let placed: BTreeMap<(String, u32), VmPlace> = listing(state)
        .unwrap_or_default()
        .into_iter()
        .map(|vm| ((vm.group, vm.index), vm.place))
        .collect();
    let groups = groups
        .iter()
        .map(|g| {
            let name = g.name.clone().as_option()?;
            let count = u32::try_from(g.count.as_option()?).ok()?;
            let place = match &g.requirements {
                Value::Value(fields) => GroupPlace::Planned {
                    requirements: serde_json::to_value(fields).ok()?,
                    vms: (0..count)
                        .map(|index| placed.get(&(name.clone(), index)).cloned())
                        .collect::<Option<Vec<_>>>()?,
                },
                _ => GroupPlace::Fixed(VmPlace {
                    provider: g.provider.clone().as_option()?,
                    region: g.region.clone().as_option()?,
                    spec: g.spec.clone().as_option()?,
                    spot: false,
                }),
            };
            Some(VmGroupSpec {
                name,
                count,
                place,
                image: g.image.clone().as_option()?,
                vnet: g.vnet.clone().as_option(),
                security_group: g.security_group.clone().as_option(),
                ssh_key: g.ssh_key.clone().as_option(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(McisSpec {
        groups,
        desired_status: desired(state),
        placement: state
            .placement
            .as_ref_option()
            .and_then(|block| serde_json::to_value(block).ok()),
    })
}

/// A catalog placement cheaper by more than this fraction than the kept one is worth a warning.
const CHEAPER_WARNING: f64 = 0.10;
/// Re-plans per apply when clouds refuse VMs of planned groups for capacity or quota.
const FAILOVER_ROUNDS: usize = 4;

/// The planner's view of the groups and the `placement` block (its JSON); `None` while a value
/// is unknown.
fn placement_request(state: &McisState) -> Option<(Vec<GroupRequest>, Json)> {
    let mut groups = Vec::new();
    for g in state.vm_group.as_ref_option()? {
        let name = g.name.as_ref_option()?.clone();
        let count = u32::try_from(*g.count.as_ref_option()?).ok()?;
        let source = match &g.requirements {
            Value::Value(fields) => {
                GroupSource::Requirements(fields.to_json(&name, count.into()).ok()?)
            }
            Value::Null => GroupSource::Fixed(VmPlace {
                provider: g.provider.as_ref_option()?.clone(),
                region: g.region.as_ref_option()?.clone(),
                spec: g.spec.as_ref_option()?.clone(),
                spot: false,
            }),
            Value::Unknown => return None,
        };
        groups.push(GroupRequest {
            name,
            count,
            source,
        });
    }
    Some((groups, policy_json(&state.placement).ok()?))
}

/// Sets `planned_vms`, `hourly_cost`, `max_rtt_ms` and `placement_explanation`: the prior's
/// when nothing that decides the placement changed; otherwise a new plan that keeps the prior's
/// VMs where the user did not ask to move them (see [`kept_places`]).
fn plan_placement(
    ctx: &Context,
    diags: &mut Diagnostics,
    state: &mut McisState,
    prior: Option<&McisState>,
) -> Option<()> {
    let unchanged = prior.filter(|p| {
        p.vm_group == state.vm_group
            && p.placement == state.placement
            && p.replan_trigger == state.replan_trigger
            && p.planned_vms.is_value()
    });
    if let Some(prior) = unchanged {
        state.planned_vms = prior.planned_vms.clone();
        state.hourly_cost = prior.hourly_cost;
        state.max_rtt_ms = prior.max_rtt_ms;
        state.placement_explanation = prior.placement_explanation.clone();
        warn_if_cheaper(ctx, diags, state);
        return Some(());
    }
    let Some((groups, policy)) = placement_request(state) else {
        state.planned_vms = Value::Unknown;
        state.hourly_cost = Value::Unknown;
        state.max_rtt_ms = Value::Unknown;
        state.placement_explanation = Value::Unknown;
        return Some(());
    };
    let keep = prior.map(|p| kept_places(p, state)).unwrap_or_default();
    match plan::place(ctx.catalog(), &groups, &policy, &keep, &[]) {
        Ok(placement) => {
            set_placement(state, &placement);
            Some(())
        }
        Err(err) => {
            report_place_error(diags, err, !keep.is_empty());
            None
        }
    }
}

/// The VMs of planned groups that stay where they are: all of a group's VMs (up to its new
/// count), unless its `requirements`, the `placement` block or `replan_trigger` changed.
fn kept_places(prior: &McisState, state: &McisState) -> BTreeMap<(String, u32), VmPlace> {
    let mut keep = BTreeMap::new();
    if prior.placement != state.placement || prior.replan_trigger != state.replan_trigger {
        return keep;
    }
    let prior_groups = prior.vm_group.as_ref_option().cloned().unwrap_or_default();
    let same_requirements = |group: &VmGroupBlock| {
        prior_groups
            .iter()
            .any(|p| p.name == group.name && p.requirements == group.requirements)
    };
    let Some(places) = listing(prior) else {
        return keep;
    };
    for group in state.vm_group.iter().flatten() {
        if group.requirements.is_null() || !same_requirements(group) {
            continue;
        }
        for vm in places
            .iter()
            .filter(|vm| group.name.as_ref_option() == Some(&vm.group))
        {
            keep.insert((vm.group.clone(), vm.index), vm.place.clone());
        }
    }
    keep
}

/// Warns when the catalog now offers a placement cheaper by more than [`CHEAPER_WARNING`] than
/// the kept one: the user decides (with `replan_trigger`) whether moving VMs is worth it.
fn warn_if_cheaper(ctx: &Context, diags: &mut Diagnostics, state: &McisState) {
    let (Some((groups, policy)), Value::Value(kept)) =
        (placement_request(state), state.hourly_cost.map(|n| n.0))
    else {
        return;
    };
    if !groups
        .iter()
        .any(|g| matches!(g.source, GroupSource::Requirements(_)))
    {
        return;
    }
    let Ok(fresh) = plan::place(ctx.catalog(), &groups, &policy, &BTreeMap::new(), &[]) else {
        return;
    };
    if let Some(cost) = fresh
        .hourly_cost
        .filter(|c| *c < kept * (1.0 - CHEAPER_WARNING))
    {
        diags.root_warning(
            "A cheaper placement is available",
            format!(
                "The catalog now places this MCIS for {cost:.4} USD/hour instead of the kept {kept:.4} \
                 USD/hour ({:.0}% less). Running VMs are not moved by surprise: change \
                 `replan_trigger` to let the planner move them.",
                (1.0 - cost / kept) * 100.0
            ),
        );
    }
}

fn set_placement(state: &mut McisState, placement: &McisPlacement) {
    state.planned_vms = Value::Value(placement.vms.iter().map(PlacedVmState::from).collect());
    state.hourly_cost = placement.hourly_cost.map(Number).into();
    state.max_rtt_ms = placement.max_rtt_ms.map(Number).into();
    state.placement_explanation = placement.explanation.clone().into();
}

fn report_place_error(diags: &mut Diagnostics, err: PlaceError, kept: bool) {
    match err {
        PlaceError::Invalid(problems) => report(diags, AttributePath::new("vm_group"), &problems),
        PlaceError::Infeasible(infeasible) => report_infeasible(diags, &infeasible, kept),
    }
}

/// `planned_vms` of a state as the planner's listing; `None` while unknown.
fn listing(state: &McisState) -> Option<Vec<plan::PlacedVm>> {
    state
        .planned_vms
        .as_ref_option()?
        .iter()
        .map(|vm| {
            Some(plan::PlacedVm {
                group: vm.group.as_ref_option()?.clone(),
                index: u32::try_from(*vm.index.as_ref_option()?).ok()?,
                place: VmPlace {
                    provider: vm.provider.as_ref_option()?.clone(),
                    region: vm.region.as_ref_option()?.clone(),
                    spec: vm.spec.as_ref_option()?.clone(),
                    spot: vm.spot.as_ref_option().copied().unwrap_or_default(),
                },
                price_usd_per_hour: vm.price_usd_per_hour.as_ref_option().map(|n| n.0),
            })
        })
        .collect()
}

/// Converges, and while clouds refuse VMs of planned groups for capacity or quota, re-plans
/// those VMs with what was refused ruled out and every other VM kept, and converges again. The
/// moves are reported as a warning; `spec` ends up with the places the VMs really have.
#[allow(clippy::too_many_arguments)]
async fn converge_with_failover(
    ctx: &Context,
    diags: &mut Diagnostics,
    state: &McisState,
    spec: &mut McisSpec,
    namespace: &str,
    name: &str,
    deadline: Duration,
) -> anyhow::Result<Vec<VmFailure>> {
    let engine = engine(ctx);
    let mut failures = engine.converge(namespace, name, spec, deadline).await?;
    let mut blocked = Vec::new();
    for _ in 0..FAILOVER_ROUNDS {
        let planned_group = |group: &str| {
            spec.groups
                .iter()
                .any(|g| g.name == group && matches!(g.place, GroupPlace::Planned { .. }))
        };
        let refused: Vec<VmFailure> = failures
            .iter()
            .filter(|f| {
                f.action == lifecycle::Action::Create
                    && matches!(
                        f.refusal,
                        Some(CloudErrorKind::Capacity | CloudErrorKind::Quota)
                    )
                    && planned_group(&f.key.group)
            })
            .cloned()
            .collect();
        if refused.is_empty() {
            break;
        }
        let Some((groups, policy)) = placement_request(state) else {
            break;
        };
        let mut refused_keys = BTreeSet::new();
        for f in &refused {
            block_refused(
                &mut blocked,
                &f.place,
                f.refusal.unwrap_or(CloudErrorKind::Capacity),
            );
            refused_keys.insert((f.key.group.clone(), f.key.index));
        }
        let keep: BTreeMap<(String, u32), VmPlace> = spec
            .groups
            .iter()
            .flat_map(|g| (0..g.count).map(move |i| ((g.name.clone(), i), g.place_of(i).clone())))
            .filter(|(key, _)| !refused_keys.contains(key))
            .collect();
        let placement = match plan::place(ctx.catalog(), &groups, &policy, &keep, &blocked) {
            Ok(placement) => placement,
            Err(err) => {
                diag::failed(
                    diags,
                    "Failover found no other place for the refused VMs",
                    "See the next error for why; the refused VMs are listed after it.",
                    "every constraint still holds for the VMs that exist",
                );
                report_place_error(diags, err, true);
                break;
            }
        };
        let mut moves = Vec::new();
        for vm in placement.vms {
            let key = (vm.group.clone(), vm.index);
            let Some(group) = spec.groups.iter_mut().find(|g| g.name == vm.group) else {
                continue;
            };
            if let (true, GroupPlace::Planned { vms, .. }) =
                (refused_keys.contains(&key), &mut group.place)
            {
                let from = &vms[vm.index as usize];
                moves.push(format!(
                    "  - {name}-{}-{}: {}/{}/{} -> {}/{}/{}",
                    vm.group,
                    vm.index,
                    from.provider,
                    from.region,
                    from.spec,
                    vm.place.provider,
                    vm.place.region,
                    vm.place.spec
                ));
                vms[vm.index as usize] = vm.place;
            }
        }
        tracing::warn!(
            moves = moves.len(),
            "failover: re-placing VMs the clouds refused"
        );
        diags.root_warning(
            "Failover: VMs placed elsewhere",
            format!(
                "The clouds refused these VMs for capacity or quota; the planner placed them \
                 elsewhere within every constraint (refused: {}):\n{}",
                refused
                    .iter()
                    .map(|f| format!("{} ({})", f.key.name(), f.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
                moves.join("\n")
            ),
        );
        let again = engine.converge(namespace, name, spec, deadline).await?;
        failures.retain(|f| {
            !refused_keys.contains(&(f.key.group.clone(), f.key.index))
                && !again.iter().any(|a| a.key == f.key)
        });
        failures.extend(again);
    }
    Ok(failures)
}

/// Brings `planned_vms` in line with where the VMs really are (after a failover, or when
/// imported), with the catalog's prices, and the totals with it.
fn resync_planned(catalog: &planner::Catalog, state: &mut McisState, records: &[VmRecord]) {
    let mut vms = listing(state).unwrap_or_default();
    let mut changed = false;
    for record in records
        .iter()
        .filter(|vm| vm.status != lifecycle::UnifiedStatus::Terminated)
    {
        let place = VmPlace::from(record);
        let at = vms
            .iter()
            .position(|vm| vm.group == record.key.group && vm.index == record.key.index);
        match at {
            Some(i) if vms[i].place == place => {}
            Some(i) => {
                vms[i].price_usd_per_hour = plan::price_of(catalog, &place);
                vms[i].place = place;
                changed = true;
            }
            None => {
                vms.push(plan::PlacedVm {
                    group: record.key.group.clone(),
                    index: record.key.index,
                    price_usd_per_hour: plan::price_of(catalog, &place),
                    place,
                });
                changed = true;
            }
        }
    }
    if changed {
        let order: Vec<String> = state
            .vm_group
            .iter()
            .flatten()
            .filter_map(|g| g.name.as_ref_option().cloned())
            .collect();
        vms.sort_by_key(|vm| {
            let position = order.iter().position(|g| *g == vm.group);
            (position.unwrap_or(usize::MAX), vm.group.clone(), vm.index)
        });
        let explanation = state.placement_explanation.clone().as_option();
        set_placement(state, &plan::summarise(catalog, vms, explanation));
    }
}

/// The planned `vms`: VMs that stay keep their values (unless a power change will alter their
/// status, which then becomes unknown); new and replaced VMs have unknown cloud-given values.
fn plan_vms(state: &McisState, prior: &[VmState], power_change: bool) -> Value<Vec<VmState>> {
    let Value::Value(groups) = &state.vm_group else {
        return Value::Unknown;
    };
    let mut planned = Vec::new();
    let planned_vms = state.planned_vms.as_ref_option();
    for group in groups {
        let (Value::Value(name), Value::Value(count)) = (&group.name, group.count) else {
            return Value::Unknown;
        };
        let by_planner = !group.requirements.is_null();
        for index in 0..count.max(0) {
            let place = if by_planner {
                planned_vms
                    .and_then(|vms| {
                        vms.iter().find(|vm| {
                            vm.group.as_deref_option() == Some(name)
                                && vm.index == Value::Value(index)
                        })
                    })
                    .map(|vm| {
                        let spot = vm.spot;
                        (
                            vm.provider.clone(),
                            vm.region.clone(),
                            vm.spec.clone(),
                            spot,
                        )
                    })
                    .unwrap_or((
                        Value::Unknown,
                        Value::Unknown,
                        Value::Unknown,
                        Value::Unknown,
                    ))
            } else {
                (
                    group.provider.clone(),
                    group.region.clone(),
                    group.spec.clone(),
                    Value::Value(false),
                )
            };
            let same = prior.iter().find(|vm| {
                vm.group.as_deref_option() == Some(name)
                    && vm.index == Value::Value(index)
                    && (&vm.provider, &vm.region, &vm.spec, &vm.spot, &vm.image)
                        == (&place.0, &place.1, &place.2, &place.3, &group.image)
                    && !matches!(vm.status.as_deref_option(), Some("Failed" | "Terminated"))
            });
            // A new VM of a planned group may still move at apply (failover), so the clouds'
            // view of its place is unknown until then; `planned_vms` shows the plan.
            let new_place = if by_planner {
                (
                    Value::Unknown,
                    Value::Unknown,
                    Value::Unknown,
                    Value::Unknown,
                )
            } else {
                place
            };
            let vm = match same {
                Some(vm) if !power_change => vm.clone(),
                Some(vm) => VmState {
                    zone: vm.zone.clone(),
                    native_status: Value::Unknown,
                    status: Value::Unknown,
                    reason: Value::Unknown,
                    public_ip: Value::Unknown,
                    private_ip: vm.private_ip.clone(),
                    ..vm.clone()
                },
                None => VmState {
                    id: Value::Unknown,
                    name: match &state.name {
                        Value::Value(mcis) => Value::Value(format!("{mcis}-{name}-{index}")),
                        _ => Value::Unknown,
                    },
                    group: Value::Value(name.clone()),
                    index: Value::Value(index),
                    provider: new_place.0.clone(),
                    region: new_place.1.clone(),
                    zone: Value::Unknown,
                    spec: new_place.2.clone(),
                    spot: new_place.3,
                    image: group.image.clone(),
                    native_status: Value::Unknown,
                    status: Value::Unknown,
                    reason: Value::Unknown,
                    public_ip: Value::Unknown,
                    private_ip: Value::Unknown,
                    host_key: Value::Unknown,
                },
            };
            planned.push(vm);
        }
    }
    Value::Value(planned)
}

/// The MCIS's VM rows as the store holds them (none when it cannot be read).
fn stored_vms(ctx: &Context, namespace: &str, name: &str) -> Vec<VmRecord> {
    ctx.store.vms(namespace, name).unwrap_or_default()
}

/// `state` with `vms`, `status` and `status_counts` from the VM rows. VMs that vanished outside
/// Terraform are left out, so the next plan shows their re-creation. Entries of `keep` that are
/// fully known were promised by the plan unchanged and are returned as planned.
fn with_vms(mut state: McisState, records: &[VmRecord], keep: Option<&[VmState]>) -> McisState {
    let mut records: Vec<&VmRecord> = records
        .iter()
        .filter(|vm| vm.status != lifecycle::UnifiedStatus::Terminated)
        .collect();
    // The plan lists VMs in configuration order (group by group, then index); so must the state.
    let group_order: Vec<&str> = state
        .vm_group
        .as_ref_option()
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g.name.as_deref_option())
                .collect()
        })
        .unwrap_or_default();
    let position = |group: &str| {
        group_order
            .iter()
            .position(|g| *g == group)
            .unwrap_or(usize::MAX)
    };
    records.sort_by_key(|vm| (position(&vm.key.group), vm.key.group.clone(), vm.key.index));
    let aggregate = lifecycle::aggregate(records.iter().map(|vm| vm.status));
    let vms = records
        .iter()
        .map(|vm| {
            let fresh = VmState::from(*vm);
            keep.and_then(|planned| {
                planned.iter().find(|p| {
                    p.group == fresh.group
                        && p.index == fresh.index
                        && p.id == fresh.id
                        && p.status.is_value()
                })
            })
            .cloned()
            .unwrap_or(fresh)
        })
        .collect();
    state.vms = Value::Value(vms);
    state.status = Value::Value(aggregate.text);
    state.status_counts = Value::Value(
        aggregate
            .counts
            .iter()
            .map(|(s, n)| (s.to_string(), Value::Value(*n as i64)))
            .collect(),
    );
    state
}

/// One error naming every VM that failed, with the cloud's reason.
fn report_failures(diags: &mut Diagnostics, operation: &str, failures: &[VmFailure]) {
    if failures.is_empty() {
        return;
    }
    let lines: Vec<String> = failures.iter().map(|f| format!("  - {f}")).collect();
    diag::failed(
        diags,
        format!("{} of the MCIS's VMs failed to {operation}", failures.len()),
        "The state records every VM that exists. Fix the cause (or change the group's region or spec) \
         and run `terraform apply` again: only the missing or failed VMs are retried. \
         `terraform destroy` removes everything.",
        format!("\n{}", lines.join("\n")),
    );
}

/// The MCIS as Terraform state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McisState {
    pub id: Value<String>,
    pub namespace: Value<String>,
    pub name: Value<String>,
    pub desired_status: Value<String>,
    pub reboot_trigger: Value<String>,
    pub replan_trigger: Value<String>,
    pub timeouts: Value<BTreeMap<String, Value<String>>>,
    pub vm_group: Value<Vec<VmGroupBlock>>,
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub placement: Value<PlacementBlock>,
    pub planned_vms: Value<Vec<PlacedVmState>>,
    pub hourly_cost: Value<Number>,
    pub max_rtt_ms: Value<Number>,
    pub placement_explanation: Value<String>,
    pub vms: Value<Vec<VmState>>,
    pub status: Value<String>,
    pub status_counts: Value<BTreeMap<String, Value<i64>>>,
}

/// One `vm_group` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VmGroupBlock {
    pub name: Value<String>,
    pub count: Value<i64>,
    pub provider: Value<String>,
    pub region: Value<String>,
    pub spec: Value<String>,
    pub image: Value<String>,
    pub vnet: Value<String>,
    pub security_group: Value<String>,
    pub ssh_key: Value<String>,
    #[serde(with = "tf_provider::value::serde_as_vec")]
    pub requirements: Value<GroupRequirementFields>,
}

impl From<&VmGroupSpec> for VmGroupBlock {
    fn from(g: &VmGroupSpec) -> Self {
        let (place, requirements) = match &g.place {
            GroupPlace::Fixed(place) => (Some(place.clone()), Value::Null),
            GroupPlace::Planned { requirements, .. } => (
                None,
                serde_json::from_value(requirements.clone()).map_or(Value::Null, Value::Value),
            ),
        };
        VmGroupBlock {
            name: Value::Value(g.name.clone()),
            count: Value::Value(g.count.into()),
            provider: place.as_ref().map(|p| p.provider.clone()).into(),
            region: place.as_ref().map(|p| p.region.clone()).into(),
            spec: place.map(|p| p.spec).into(),
            image: Value::Value(g.image.clone()),
            vnet: g.vnet.clone().into(),
            security_group: g.security_group.clone().into(),
            ssh_key: g.ssh_key.clone().into(),
            requirements,
        }
    }
}

/// One entry of `vms`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VmState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub group: Value<String>,
    pub index: Value<i64>,
    pub provider: Value<String>,
    pub region: Value<String>,
    pub zone: Value<String>,
    pub spec: Value<String>,
    pub image: Value<String>,
    pub native_status: Value<String>,
    pub status: Value<String>,
    pub reason: Value<String>,
    pub public_ip: Value<String>,
    pub private_ip: Value<String>,
    pub host_key: Value<String>,
    pub spot: Value<bool>,
}

impl From<&VmRecord> for VmState {
    fn from(vm: &VmRecord) -> Self {
        VmState {
            id: vm.cloud_id.clone().into(),
            name: Value::Value(vm.key.name()),
            group: Value::Value(vm.key.group.clone()),
            index: Value::Value(vm.key.index.into()),
            provider: Value::Value(vm.provider.clone()),
            region: Value::Value(vm.region.clone()),
            zone: vm.zone.clone().into(),
            spec: Value::Value(vm.spec.clone()),
            image: Value::Value(vm.image.clone()),
            native_status: vm.native.clone().into(),
            status: Value::Value(vm.status.to_string()),
            reason: Value::Value(vm.reason.clone()),
            public_ip: vm.public_ip.clone().into(),
            private_ip: vm.private_ip.clone().into(),
            host_key: vm.host_key.clone().into(),
            spot: Value::Value(vm.spot),
        }
    }
}
