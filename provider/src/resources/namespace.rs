//! `tumblebug_namespace`: CB-Tumblebug's namespace, the top-level grouping of everything else.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::diag;
use crate::names::{check_name, NAME_RULE};
use crate::provider::Shared;
use crate::schema::{computed_string, optional_string, required_string};
use crate::store::Namespace;

/// The resource; holds the provider's shared context.
pub struct NamespaceResource {
    shared: Shared,
}

impl NamespaceResource {
    pub fn new(shared: Shared) -> Self {
        NamespaceResource { shared }
    }
}

#[async_trait]
impl Resource for NamespaceResource {
    /// `Value::Null` is how `read` tells Terraform the namespace is gone.
    type State<'a> = Value<NamespaceState>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(
                    "A namespace groups MCIS, networks, security groups and keys, as in \
                     CB-Tumblebug. Its name is its id.",
                ),
                attributes: map! {
                    "id" => computed_string("The namespace's id (equal to its name)."),
                    "name" => required_string(
                        "Unique name: 1 to 63 lower-case letters, digits and hyphens, not starting \
                         with a hyphen. Changing it replaces the namespace."),
                    "description" => optional_string("Free text about the namespace. Updated in place."),
                    "created_at" => computed_string("When the namespace was created (RFC 3339, UTC)."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        if let Value::Value(NamespaceState {
            name: Value::Value(name),
            ..
        }) = &config
        {
            if let Err(problem) = check_name(name) {
                diag::invalid_attribute(diags, "name", problem, NAME_RULE);
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
        planned.id = Value::Unknown;
        planned.created_at = Value::Unknown;
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
        if planned.name != prior.name {
            replace.push(AttributePath::new("name"));
            planned.id = Value::Unknown;
            planned.created_at = Value::Unknown;
        } else {
            planned.id = prior.id;
            planned.created_at = prior.created_at;
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
        let store = &self.shared.get(diags)?.store;
        let planned = planned.as_option()?;
        let namespace = Namespace {
            name: planned.name.as_option()?,
            description: planned.description.as_option(),
            created_at: crate::store::now_rfc3339(),
        };
        match store.insert_namespace(&namespace) {
            Ok(true) => {
                tracing::info!(namespace = %namespace.name, "namespace created");
                Some((
                    Value::Value(NamespaceState::from(namespace)),
                    ValueEmpty::default(),
                ))
            }
            Ok(false) => {
                diag::failed_at(
                    diags,
                    "name",
                    format!("Namespace \"{}\" already exists", namespace.name),
                    format!(
                        "Bring it under this configuration with `terraform import <address> {}`, \
                         or choose another name.",
                        namespace.name
                    ),
                    format!(
                        "the store {} already holds that name",
                        store.path().display()
                    ),
                );
                None
            }
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot create the namespace",
                    "Retry the apply.",
                    format!("{err:#}"),
                );
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
        let store = &self.shared.get(diags)?.store;
        let name = state.as_option()?.name.as_option()?;
        match store.namespace(&name) {
            Ok(Some(namespace)) => Some((Value::Value(namespace.into()), ValueEmpty::default())),
            Ok(None) => {
                // Deleted outside Terraform: a null state makes Terraform plan a re-creation.
                tracing::warn!(namespace = %name, "namespace is gone from the store; it will be planned for creation");
                Some((Value::Null, ValueEmpty::default()))
            }
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot read the namespace",
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
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let store = &self.shared.get(diags)?.store;
        let planned = planned.as_option()?;
        let name = planned.name.clone().as_option()?;
        match store.set_namespace_description(&name, planned.description.as_deref_option()) {
            Ok(true) => Some((Value::Value(planned), ValueEmpty::default())),
            Ok(false) => {
                diag::failed(
                    diags,
                    format!("Namespace \"{name}\" no longer exists"),
                    "Run `terraform apply` again: the refresh will plan its re-creation.",
                    "it was deleted outside Terraform after the plan",
                );
                None
            }
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot update the namespace",
                    "Retry the apply.",
                    format!("{err:#}"),
                );
                None
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let store = &self.shared.get(diags)?.store;
        let name = state.as_option()?.name.as_option()?;
        // Already gone is fine: destroy's goal is reached either way.
        if let Err(err) = store.delete_namespace(&name) {
            diag::failed(
                diags,
                "Cannot delete the namespace",
                "Retry the destroy.",
                format!("{err:#}"),
            );
            return None;
        }
        tracing::info!(namespace = %name, "namespace deleted");
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let store = &self.shared.get(diags)?.store;
        match store.namespace(&id) {
            Ok(Some(namespace)) => Some((Value::Value(namespace.into()), ValueEmpty::default())),
            Ok(None) => {
                diag::failed(
                    diags,
                    format!("Cannot import namespace \"{id}\""),
                    "The import id is the namespace's name; check the spelling and the provider's `store`.",
                    format!("no namespace of that name in {}", store.path().display()),
                );
                None
            }
            Err(err) => {
                diag::failed(
                    diags,
                    "Cannot import the namespace",
                    "Retry the import.",
                    format!("{err:#}"),
                );
                None
            }
        }
    }
}

/// The namespace as Terraform state holds it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NamespaceState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub description: Value<String>,
    pub created_at: Value<String>,
}

impl From<Namespace> for NamespaceState {
    fn from(ns: Namespace) -> Self {
        NamespaceState {
            id: Value::Value(ns.name.clone()),
            name: Value::Value(ns.name),
            description: ns.description.into(),
            created_at: Value::Value(ns.created_at),
        }
    }
}
