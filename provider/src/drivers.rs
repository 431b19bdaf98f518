//! Which driver serves each cloud name, as the provider block chose; and per-cloud limits on
//! concurrent API calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use clouds::CloudDriver;
use tokio::sync::Semaphore;

/// Driver kinds a cloud can be served by. Real cloud APIs come later; `sim` is the embedded
/// simulator.
pub const DRIVER_KINDS: &[&str] = &["sim"];

/// Concurrent API calls per cloud: enough to create hundreds of VMs quickly, few enough to stay
/// under real clouds' request-rate limits.
pub const CALLS_PER_CLOUD: usize = 32;

/// One cloud's driver and its call limiter.
#[derive(Clone)]
pub struct CloudHandle {
    /// The driver.
    pub driver: Arc<dyn CloudDriver>,
    /// Bounds concurrent calls to this cloud.
    pub limit: Arc<Semaphore>,
}

/// The drivers of every cloud the configuration can use.
#[derive(Clone, Default)]
pub struct Drivers {
    clouds: BTreeMap<String, CloudHandle>,
}

impl Drivers {
    /// Serves each of `names` with `driver`.
    pub fn insert(&mut self, names: &[&str], driver: Arc<dyn CloudDriver>) {
        for name in names {
            let limit = Arc::new(Semaphore::new(CALLS_PER_CLOUD));
            self.clouds.insert(
                (*name).to_owned(),
                CloudHandle {
                    driver: driver.clone(),
                    limit,
                },
            );
        }
    }

    /// The handle for cloud `name`, or an error listing the clouds that are served.
    pub fn get(&self, name: &str) -> anyhow::Result<&CloudHandle> {
        self.clouds.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.clouds.keys().map(String::as_str).collect();
            anyhow::anyhow!(
                "no driver serves the cloud \"{name}\"; the configured clouds are: {}",
                known.join(", ")
            )
        })
    }
}
