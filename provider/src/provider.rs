//! The provider itself: its configuration block, and the list of resources and data sources.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::diag;
use crate::resources::namespace::NamespaceResource;
use crate::schema::optional_string;
use crate::store::Store;

/// Where the store lives when the configuration does not say: beside the configuration (Terraform
/// runs providers in the root module's directory), like `.terraform/` itself.
pub const DEFAULT_STORE: &str = ".tumblebug/store.db";

/// What `configure` sets up once, and every resource uses afterwards.
pub struct Context {
    /// The durable store.
    pub store: Store,
}

/// The provider's [`Context`], shared with every resource. Terraform asks for the resource list
/// before it configures the provider, so resources hold this handle and look the context up per
/// call.
#[derive(Clone, Default)]
pub struct Shared(Arc<OnceLock<Context>>);

impl Shared {
    /// The configured context, or an error diagnostic when the provider is not configured yet.
    pub fn get(&self, diags: &mut Diagnostics) -> Option<&Context> {
        let context = self.0.get();
        if context.is_none() {
            diags.root_error_short("The tumblebug provider is used before it was configured.");
        }
        context
    }
}

/// The provider configuration block.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Path of the SQLite store.
    pub store: Value<String>,
    /// Path of a user catalog.
    pub catalog: Value<String>,
}

/// `terraform-provider-tumblebug`.
#[derive(Default)]
pub struct TumblebugProvider {
    shared: Shared,
}

#[async_trait]
impl Provider for TumblebugProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(
                    "The tumblebug provider manages multi-cloud infrastructure in the manner of \
                     CB-Tumblebug: namespaces, and groups of VMs spread over several clouds. It \
                     needs no credentials for its embedded default cloud. Logs follow `TF_LOG`.",
                ),
                attributes: map! {
                    "store" => optional_string(
                        "Path of the SQLite file where the provider keeps what exists (its durable \
                         store), relative to the directory where Terraform runs. Created with its \
                         parent directories if missing. Default: `.tumblebug/store.db`."),
                    "catalog" => optional_string(
                        "Path of a user catalog of cloud offers for the planner. Default: the \
                         catalog embedded in the provider."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        if let Value::Value(store) = &config.store {
            if store.trim().is_empty() {
                diag::invalid_attribute(
                    diags,
                    "store",
                    "The store path is empty.",
                    format!("Give a file path such as \"{DEFAULT_STORE}\", or leave `store` out."),
                );
            }
        }
        if let Value::Value(catalog) = &config.catalog {
            if catalog.trim().is_empty() {
                diag::invalid_attribute(
                    diags,
                    "catalog",
                    "The catalog path is empty.",
                    "Give the path of a catalog file, or leave `catalog` out to use the embedded one.",
                );
            }
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let store_path = PathBuf::from(config.store.as_option().unwrap_or_else(|| DEFAULT_STORE.into()));
        let store = match Store::open(&store_path) {
            Ok(store) => store,
            Err(err) => {
                diag::failed_at(
                    diags,
                    "store",
                    "Cannot open the tumblebug store",
                    format!(
                        "Check that {} is a writable file path, or set `store` to another path.",
                        store_path.display()
                    ),
                    format!("{err:#}"),
                );
                return None;
            }
        };
        // The planner that reads the catalog arrives with the planner work; until then the setting
        // is checked so that a wrong path fails now rather than later.
        if let Some(path) = config.catalog.as_option().map(PathBuf::from) {
            if !path.is_file() {
                diag::invalid_attribute(
                    diags,
                    "catalog",
                    format!("The catalog file {} does not exist.", path.display()),
                    "Give the path of an existing catalog file, or leave `catalog` out to use the embedded one.",
                );
                return None;
            }
        }
        tracing::info!(store = %store.path().display(), "provider configured");
        // Terraform configures a provider instance once; a second call keeps the first context.
        let _ = self.shared.0.set(Context { store });
        Some(())
    }

    fn get_resources(&self, _diags: &mut Diagnostics) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "namespace" => NamespaceResource::new(self.shared.clone()),
        })
    }

    fn get_data_sources(&self, _diags: &mut Diagnostics) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(HashMap::new())
    }
}
