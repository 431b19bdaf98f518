//! Which driver serves each cloud name, as the provider block chose; and per-cloud limits on
//! concurrent API calls.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

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

/// Opens a driver: the first use of a cloud calls it, once.
type Opener = Box<dyn Fn() -> Result<Arc<dyn CloudDriver>, String> + Send + Sync>;

/// A driver opened on first use, shared by the cloud names it serves.
struct Slot {
    open: Opener,
    opened: OnceLock<Result<Arc<dyn CloudDriver>, String>>,
}

/// The drivers of every cloud the configuration can use. A driver is opened when a cloud it
/// serves is first used, so a configuration that never touches the `local` cloud neither needs
/// root nor creates its state directory. A driver that could not open keeps the reason, which
/// every use of its clouds reports.
#[derive(Clone, Default)]
pub struct Drivers {
    clouds: BTreeMap<String, (Arc<Slot>, Arc<Semaphore>)>,
}

impl Drivers {
    /// Serves each of `names` with `driver`.
    pub fn insert(&mut self, names: &[&str], driver: Arc<dyn CloudDriver>) {
        self.insert_lazy(names, move || Ok(driver.clone()));
    }

    /// Serves each of `names` with the driver `open` returns when one of them is first used.
    pub fn insert_lazy(
        &mut self,
        names: &[&str],
        open: impl Fn() -> Result<Arc<dyn CloudDriver>, String> + Send + Sync + 'static,
    ) {
        let slot = Arc::new(Slot {
            open: Box::new(open),
            opened: OnceLock::new(),
        });
        for name in names {
            let limit = Arc::new(Semaphore::new(CALLS_PER_CLOUD));
            self.clouds
                .insert((*name).to_owned(), (slot.clone(), limit));
        }
    }

    /// Marks each of `names` as served by a driver that cannot start, for `reason`.
    pub fn insert_unavailable(&mut self, names: &[&str], reason: &str) {
        let reason = reason.to_owned();
        self.insert_lazy(names, move || Err(reason.clone()));
    }

    /// The handle for cloud `name` (opening its driver on first use), or an error saying why
    /// there is none.
    pub fn get(&self, name: &str) -> anyhow::Result<CloudHandle> {
        let Some((slot, limit)) = self.clouds.get(name) else {
            let known: Vec<&str> = self.clouds.keys().map(String::as_str).collect();
            return Err(anyhow::anyhow!(
                "no driver serves the cloud \"{name}\"; the configured clouds are: {}",
                known.join(", ")
            ));
        };
        match slot.opened.get_or_init(|| (slot.open)()) {
            Ok(driver) => Ok(CloudHandle {
                driver: driver.clone(),
                limit: limit.clone(),
            }),
            Err(reason) => Err(anyhow::anyhow!(
                "the driver of the cloud \"{name}\" is not available: {reason}"
            )),
        }
    }
}
