//! Which driver serves each cloud name, as the provider block chose; and per-cloud limits on
//! concurrent API calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use clouds::CloudDriver;
use tokio::sync::Semaphore;

/// Driver kinds a cloud can be served by: `sim` is the embedded simulator, `local` real hosts on
/// this machine (network namespaces with sshd). Real cloud APIs come later.
pub const DRIVER_KINDS: &[&str] = &["sim", "local"];

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

/// The drivers of every cloud the configuration can use. A cloud whose driver could not start
/// (the `local` driver without root, say) keeps the reason, which every use of it reports.
#[derive(Clone, Default)]
pub struct Drivers {
    clouds: BTreeMap<String, Result<CloudHandle, String>>,
}

impl Drivers {
    /// Serves each of `names` with `driver`.
    pub fn insert(&mut self, names: &[&str], driver: Arc<dyn CloudDriver>) {
        for name in names {
            let limit = Arc::new(Semaphore::new(CALLS_PER_CLOUD));
            self.clouds.insert(
                (*name).to_owned(),
                Ok(CloudHandle {
                    driver: driver.clone(),
                    limit,
                }),
            );
        }
    }

    /// Marks each of `names` as served by a driver that could not start, for `reason`.
    pub fn insert_unavailable(&mut self, names: &[&str], reason: &str) {
        for name in names {
            self.clouds
                .insert((*name).to_owned(), Err(reason.to_owned()));
        }
    }

    /// The handle for cloud `name`, or an error listing the clouds that are served.
    pub fn get(&self, name: &str) -> anyhow::Result<&CloudHandle> {
        match self.clouds.get(name) {
            Some(Ok(handle)) => Ok(handle),
            Some(Err(reason)) => Err(anyhow::anyhow!(
                "the driver of the cloud \"{name}\" is not available: {reason}"
            )),
            None => {
                let known: Vec<&str> = self.clouds.keys().map(String::as_str).collect();
                Err(anyhow::anyhow!(
                    "no driver serves the cloud \"{name}\"; the configured clouds are: {}",
                    known.join(", ")
                ))
            }
        }
    }
}
