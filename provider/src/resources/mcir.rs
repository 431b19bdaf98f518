//! What `tumblebug_vnet`, `tumblebug_security_group` and `tumblebug_ssh_key` share: one generic
//! resource, [`McirResource`], that creates, reads, deletes and imports any MCIR through the
//! engine. Each kind's own file says only what differs: its extra attributes, how its state maps
//! to an [`McirDetail`] and back, and its validation.
//!
//! An MCIR cannot change in place in most clouds, so every attribute the user sets forces a
//! replacement; that keeps the plan honest about what an apply will do.

use std::collections::HashMap;
use std::marker::PhantomData;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tf_provider::schema::{Attribute, Block, Description, NestedBlock, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use super::differing;
use crate::diag;
use crate::mcir::{McirDetail, McirKind};
use crate::mcis::engine::Engine;
use crate::names::{check_cloud, check_name, NAME_RULE};
use crate::provider::{Context, Shared};
use crate::schema::{computed_string, required_string};
use crate::store::McirRecord;

/// The attributes every MCIR has, as one kind's state holds them.
pub struct Identity {
    pub namespace: Value<String>,
    pub name: Value<String>,
    pub cloud: Value<String>,
    pub region: Value<String>,
}

/// What one kind of MCIR adds to the shared resource.
pub trait McirShape: Send + Sync + 'static {
    /// The state as Terraform holds it: the shared attributes (`id`, `namespace`, `name`,
    /// `cloud`, `region`, `cloud_id`, `created_at`) plus the kind's own.
    type State: Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync;
    const KIND: McirKind;
    /// The resource's description for the docs.
    const DESCRIPTION: &'static str;

    /// The kind's own attributes.
    fn attributes() -> HashMap<String, Attribute>;
    /// The kind's own blocks.
    fn blocks() -> HashMap<String, NestedBlock> {
        HashMap::new()
    }
    /// The shared attributes of a state.
    fn identity(state: &Self::State) -> Identity;
    /// Reports invalid values of the kind's own attributes.
    fn validate(state: &Self::State, diags: &mut Diagnostics);
    /// Fills in defaults and marks what only the apply can know as unknown.
    fn plan_new(state: &mut Self::State);
    /// The kind's own attributes that differ between `prior` and `proposed`.
    fn changed(prior: &Self::State, proposed: &Self::State) -> Vec<&'static str>;
    /// What to create for a planned state, and its secret (a private key), if any.
    fn detail(state: &Self::State) -> anyhow::Result<(McirDetail, Option<String>)>;
    /// The state of a stored MCIR.
    fn state_of(record: &McirRecord) -> Self::State;
}

/// The attributes every MCIR has.
fn shared_attributes(kind: McirKind) -> HashMap<String, Attribute> {
    map! {
        "id" => computed_string("`<namespace>/<name>`; also the import id."),
        "namespace" => required_string("Namespace (it must exist). Changing it replaces the resource."),
        "name" => required_string(&format!(
            "Name, unique among the namespace's {kind}s; same rule as namespace names. Changing \
             it replaces the resource.")),
        "cloud" => required_string(
            "Cloud: `aws`, `azure`, `gcp`, `alibaba`, `openstack` or `cloudit` (a `vm_group`'s \
             `provider`; Terraform reserves that word for resources). Changing it replaces the \
             resource."),
        "region" => required_string(
            "Region in the cloud's own spelling, e.g. `ap-northeast-2`. Changing it replaces the \
             resource."),
        "cloud_id" => computed_string("The cloud's id for it."),
        "created_at" => computed_string("When it was created (RFC 3339, UTC)."),
    }
}

/// One MCIR resource, generic over its kind.
pub struct McirResource<S> {
    shared: Shared,
    shape: PhantomData<S>,
}

impl<S> McirResource<S> {
    pub fn new(shared: Shared) -> Self {
        McirResource {
            shared,
            shape: PhantomData,
        }
    }
}

fn engine(ctx: &Context) -> Engine<'_> {
    Engine {
        store: &ctx.store,
        drivers: &ctx.drivers,
        poll: ctx.poll_interval,
    }
}

#[async_trait]
impl<S: McirShape> Resource for McirResource<S> {
    /// `Value::Null` is how `read` tells Terraform the MCIR is gone.
    type State<'a> = Value<S::State>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let mut attributes = shared_attributes(S::KIND);
        attributes.extend(S::attributes());
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(S::DESCRIPTION),
                attributes,
                blocks: S::blocks(),
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let Value::Value(config) = &config else {
            return Some(());
        };
        let identity = S::identity(config);
        for (attribute, value) in [("namespace", &identity.namespace), ("name", &identity.name)] {
            if let Value::Value(name) = value {
                if let Err(problem) = check_name(name) {
                    diag::invalid_attribute(diags, attribute, problem, NAME_RULE);
                }
            }
        }
        if let Value::Value(cloud) = &identity.cloud {
            if let Err((problem, valid)) = check_cloud(cloud) {
                diag::invalid_attribute(diags, "cloud", problem, valid);
            }
        }
        if let Value::Value(region) = &identity.region {
            if region.trim().is_empty() {
                diag::invalid_attribute(
                    diags,
                    "region",
                    "The region is empty.",
                    "Give the region in the cloud's own spelling, e.g. `ap-northeast-2`.",
                );
            }
        }
        S::validate(config, diags);
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
        S::plan_new(&mut planned);
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
        let mut proposed = proposed.as_option()?;
        let (was, is) = (S::identity(&prior), S::identity(&proposed));
        let mut changed = differing(&[
            ("namespace", was.namespace != is.namespace),
            ("name", was.name != is.name),
            ("cloud", was.cloud != is.cloud),
            ("region", was.region != is.region),
        ]);
        changed.extend(S::changed(&prior, &proposed));
        if changed.is_empty() {
            return Some((Value::Value(prior), ValueEmpty::default(), Vec::new()));
        }
        S::plan_new(&mut proposed);
        let replace = changed.into_iter().map(AttributePath::new).collect();
        Some((Value::Value(proposed), ValueEmpty::default(), replace))
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
        let identity = S::identity(&planned);
        let namespace = identity.namespace.as_option()?;
        let name = identity.name.as_option()?;
        let kind = S::KIND;
        let failed = |diags: &mut Diagnostics, err: anyhow::Error| {
            diag::failed(
                diags,
                format!("Cannot create {kind} \"{namespace}/{name}\""),
                "Fix the cause and run the apply again; nothing was left behind.",
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
                failed(diags, err);
                return None;
            }
        }
        let (detail, secret) = match S::detail(&planned) {
            Ok(made) => made,
            Err(err) => {
                failed(diags, err);
                return None;
            }
        };
        let record = McirRecord {
            namespace: namespace.clone(),
            name: name.clone(),
            provider: identity.cloud.as_option()?,
            region: identity.region.as_option()?,
            cloud_id: None,
            owner_mcis: None,
            detail,
            secret,
            created_at: crate::store::now_rfc3339(),
        };
        match ctx.store.insert_mcir(&record) {
            Ok(true) => {}
            Ok(false) => {
                diag::failed_at(
                    diags,
                    "name",
                    format!("{kind} \"{namespace}/{name}\" already exists"),
                    format!(
                        "Bring it under this configuration with `terraform import <address> \
                         {namespace}/{name}`, or choose another name."
                    ),
                    format!("the store {} already holds it", ctx.store.path().display()),
                );
                return None;
            }
            Err(err) => {
                failed(diags, err);
                return None;
            }
        }
        let engine = engine(ctx);
        let created = match engine.ensure_mcir(&record).await {
            Ok(_) => ctx.store.mcir(&namespace, kind, &name),
            Err(err) => {
                // Roll back so that neither the cloud nor the store keeps a half-made MCIR.
                if let Err(cleanup) = engine.delete_mcir(&record).await {
                    tracing::error!(%kind, %namespace, %name, "rollback failed: {cleanup:#}");
                }
                Err(err)
            }
        };
        match created {
            Ok(Some(record)) => {
                tracing::info!(%kind, %namespace, %name, "created");
                Some((Value::Value(S::state_of(&record)), ValueEmpty::default()))
            }
            Ok(None) => {
                failed(diags, anyhow::anyhow!("it vanished from the store"));
                None
            }
            Err(err) => {
                failed(diags, err);
                None
            }
        }
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let identity = S::identity(&state.as_option()?);
        let namespace = identity.namespace.as_option()?;
        let name = identity.name.as_option()?;
        match ctx.store.mcir(&namespace, S::KIND, &name) {
            Ok(Some(record)) => Some((Value::Value(S::state_of(&record)), ValueEmpty::default())),
            Ok(None) => {
                tracing::warn!(kind = %S::KIND, %namespace, %name, "gone from the store; it will be planned for creation");
                Some((Value::Null, ValueEmpty::default()))
            }
            Err(err) => {
                diag::failed(
                    diags,
                    format!("Cannot read {} \"{namespace}/{name}\"", S::KIND),
                    "Retry the command.",
                    format!("{err:#}"),
                );
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        _planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // plan_update replaces on every change, so Terraform never asks for an update.
        diag::failed(
            diags,
            format!("A {} cannot be updated in place", S::KIND),
            "Report this as a bug: the plan should have replaced it.",
            "update called",
        );
        None
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let ctx = self.shared.get(diags)?;
        let identity = S::identity(&state.as_option()?);
        let namespace = identity.namespace.as_option()?;
        let name = identity.name.as_option()?;
        let deleted = match ctx.store.mcir(&namespace, S::KIND, &name) {
            // Already gone is fine: destroy's goal is reached either way.
            Ok(None) => Ok(()),
            Ok(Some(record)) => engine(ctx).delete_mcir(&record).await,
            Err(err) => Err(err),
        };
        if let Err(err) = deleted {
            diag::failed(
                diags,
                format!("Cannot delete {} \"{namespace}/{name}\"", S::KIND),
                "Remove what still uses it (an MCIS, or a security group in a vNet), then retry the destroy.",
                format!("{err:#}"),
            );
            return None;
        }
        tracing::info!(kind = %S::KIND, %namespace, %name, "deleted");
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let found = match id.split_once('/') {
            Some((namespace, name)) => ctx.store.mcir(namespace, S::KIND, name),
            None => Ok(None),
        };
        match found {
            Ok(Some(record)) => Some((Value::Value(S::state_of(&record)), ValueEmpty::default())),
            Ok(None) => {
                diag::failed(
                    diags,
                    format!("Cannot import {} \"{id}\"", S::KIND),
                    "The import id is `<namespace>/<name>`; check both and the provider's `store`.",
                    format!("no such {} in {}", S::KIND, ctx.store.path().display()),
                );
                None
            }
            Err(err) => {
                diag::failed(
                    diags,
                    format!("Cannot import {} \"{id}\"", S::KIND),
                    "Retry the import.",
                    format!("{err:#}"),
                );
                None
            }
        }
    }
}
