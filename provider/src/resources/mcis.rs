//! `tumblebug_mcis`: a group of VMs over several clouds, created, controlled and reported as one
//! thing with one status. The cloud work is done by [`crate::mcis::engine`]; this file maps it to
//! Terraform: schema, validation, plans that show exactly which VMs change, and state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::diag;
use crate::mcis::engine::{Engine, VmFailure};
use crate::mcis::{DesiredStatus, McisSpec, VmGroupSpec};
use crate::names::{check_cloud, check_name, NAME_RULE};
use crate::provider::{Context, Shared};
use crate::schema::{computed_string, number, optional_string, required_string};
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
    ]
    .into_iter()
    .map(|name| {
        (
            name.to_owned(),
            if number.contains(&name) {
                AttributeType::Number
            } else {
                AttributeType::String
            },
        )
    })
    .collect()
}

const VMS_DESCRIPTION: &str = "One entry per VM, in configuration order (group by group, then index). \
Fields: `id` (the cloud's id), `name` (`<mcis>-<group>-<index>`), `group`, `index` (from 0), `provider`, \
`region`, `zone`, `spec`, `image`, `native_status` (the cloud's own word, e.g. GCP's `TERMINATED` for a \
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
                "provider" => required_string("Cloud: `aws`, `azure`, `gcp`, `alibaba`, `openstack` or `cloudit`. Changing it replaces the group's VMs."),
                "region" => required_string("Region in the cloud's own spelling, e.g. `ap-northeast-2`. Changing it replaces the group's VMs."),
                "spec" => required_string("Spec (instance type / size) in the cloud's own name, e.g. `t3.small`. Changing it replaces the group's VMs."),
                "image" => required_string("Image name. Changing it replaces the group's VMs."),
                "vnet" => optional_string("Name of a `tumblebug_vnet` in the same namespace and connection. Default: one created automatically per connection and removed with the MCIS."),
                "security_group" => optional_string("Name of a `tumblebug_security_group`. Default: created automatically (SSH in, everything out)."),
                "ssh_key" => optional_string("Name of a `tumblebug_ssh_key`. Default: created automatically."),
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
        _diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = proposed.as_option()?;
        planned.id = match (&planned.namespace, &planned.name) {
            (Value::Value(ns), Value::Value(name)) => Value::Value(format!("{ns}/{name}")),
            _ => Value::Unknown,
        };
        planned.vms = plan_vms(&planned, &[], false);
        planned.status = Value::Unknown;
        planned.status_counts = Value::Unknown;
        Some((Value::Value(planned), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
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
            planned.id = Value::Unknown;
            planned.vms = plan_vms(&planned, &[], false);
            planned.status = Value::Unknown;
            planned.status_counts = Value::Unknown;
            return Some((Value::Value(planned), ValueEmpty::default(), replace));
        }
        planned.id = prior.id.clone();
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
        let planned = planned.as_option()?;
        let (namespace, name) = (
            planned.namespace.clone().as_option()?,
            planned.name.clone().as_option()?,
        );
        let spec = spec_of(&planned)?;
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
        let engine = engine(ctx);
        tracing::info!(mcis = %name, vms = spec.groups.iter().map(|g| g.count).sum::<u32>(), "creating MCIS");
        let failures = match engine.converge(&namespace, &name, &spec, deadline).await {
            Ok(failures) => failures,
            Err(err) => {
                diag::failed(diags, format!("Cannot create MCIS \"{name}\""), "Fix the cause and run `terraform apply` again; VMs already created are kept and adopted.", format!("{err:#}"));
                Vec::new()
            }
        };
        report_failures(diags, "create", &failures);
        if let Err(err) = ctx.store.update_mcis(&namespace, &name, &record.spec, true) {
            store_err(diags, err);
        }
        Some((
            Value::Value(with_vms(planned, ctx, &namespace, &name, None)),
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
        if let Err(err) = engine(ctx).refresh(&namespace, &name, deadline).await {
            diag::failed(
                diags,
                format!("Cannot refresh MCIS \"{name}\""),
                "Retry the command.",
                format!("{err:#}"),
            );
            return None;
        }
        Some((
            Value::Value(with_vms(state, ctx, &namespace, &name, None)),
            ValueEmpty::default(),
        ))
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
        let planned = planned.as_option()?;
        let (namespace, name) = (
            planned.namespace.clone().as_option()?,
            planned.name.clone().as_option()?,
        );
        let spec = spec_of(&planned)?;
        let deadline = timeout(&planned, "update");
        let engine = engine(ctx);
        let mut failures = Vec::new();
        match engine.converge(&namespace, &name, &spec, deadline).await {
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
            Value::Value(with_vms(planned, ctx, &namespace, &name, keep.as_deref())),
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
            ..Default::default()
        };
        Some((
            Value::Value(with_vms(state, ctx, namespace, name, None)),
            ValueEmpty::default(),
        ))
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

fn spec_of(state: &McisState) -> Option<McisSpec> {
    let groups = state.vm_group.as_ref_option()?;
    let groups = groups
        .iter()
        .map(|g| {
            Some(VmGroupSpec {
                name: g.name.clone().as_option()?,
                count: u32::try_from(g.count.as_option()?).ok()?,
                provider: g.provider.clone().as_option()?,
                region: g.region.clone().as_option()?,
                spec: g.spec.clone().as_option()?,
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
    })
}

/// The planned `vms`: VMs that stay keep their values (unless a power change will alter their
/// status, which then becomes unknown); new and replaced VMs have unknown cloud-given values.
fn plan_vms(state: &McisState, prior: &[VmState], power_change: bool) -> Value<Vec<VmState>> {
    let Value::Value(groups) = &state.vm_group else {
        return Value::Unknown;
    };
    let mut planned = Vec::new();
    for group in groups {
        let (Value::Value(name), Value::Value(count)) = (&group.name, group.count) else {
            return Value::Unknown;
        };
        for index in 0..count.max(0) {
            let same = prior.iter().find(|vm| {
                vm.group.as_deref_option() == Some(name)
                    && vm.index == Value::Value(index)
                    && (&vm.provider, &vm.region, &vm.spec, &vm.image)
                        == (&group.provider, &group.region, &group.spec, &group.image)
                    && !matches!(vm.status.as_deref_option(), Some("Failed" | "Terminated"))
            });
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
                    provider: group.provider.clone(),
                    region: group.region.clone(),
                    zone: Value::Unknown,
                    spec: group.spec.clone(),
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

/// `state` with `vms`, `status` and `status_counts` from the store. VMs that vanished outside
/// Terraform are left out, so the next plan shows their re-creation. Entries of `keep` that are
/// fully known were promised by the plan unchanged and are returned as planned.
fn with_vms(
    mut state: McisState,
    ctx: &Context,
    namespace: &str,
    name: &str,
    keep: Option<&[VmState]>,
) -> McisState {
    let records = ctx.store.vms(namespace, name).unwrap_or_default();
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
    pub timeouts: Value<BTreeMap<String, Value<String>>>,
    pub vm_group: Value<Vec<VmGroupBlock>>,
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
}

impl From<&VmGroupSpec> for VmGroupBlock {
    fn from(g: &VmGroupSpec) -> Self {
        VmGroupBlock {
            name: Value::Value(g.name.clone()),
            count: Value::Value(g.count.into()),
            provider: Value::Value(g.provider.clone()),
            region: Value::Value(g.region.clone()),
            spec: Value::Value(g.spec.clone()),
            image: Value::Value(g.image.clone()),
            vnet: g.vnet.clone().into(),
            security_group: g.security_group.clone().into(),
            ssh_key: g.ssh_key.clone().into(),
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
        }
    }
}
