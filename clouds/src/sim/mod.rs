//! The embedded multi-cloud simulator: seven clouds (`aws`, `azure`, `gcp`, `alibaba`,
//! `openstack`, `cloudit`, and `local`, which stands in for [`crate::local`] where it cannot run)
//! behind one [`CloudDriver`], each speaking its own status words.
//!
//! Each cloud is a *personality*: the native words it reports while an operation runs and once it
//! is done, its ids and its error texts. The traps of `docs/lifecycle.md` are reproduced on
//! purpose: GCP says `TERMINATED` for a stopped VM, Alibaba says `Stopping` while it deletes a VM,
//! GCP, Azure and Alibaba reboot by stopping and starting, and a deleted VM is simply absent (AWS
//! and Alibaba first keep listing it as `terminated` / `Deleted` for
//! [`SimConfig::deleted_linger`] seconds).
//!
//! The words per operation (each operation lasts the personality's duration, shared among its
//! words in the proportions shown; a terminate's words depend on whether the VM was stopped):
//!
//! | cloud | create | suspend | resume | reboot | terminate (running / stopped) | then |
//! |-------|--------|---------|--------|--------|-------------------------------|------|
//! | aws | `pending` -> `running` | `stopping` -> `stopped` | `pending` | `rebooting` | `shutting-down` | `terminated`, then absent |
//! | azure | `-/creating` .5, `starting/-` .5 -> `running/succeeded` | `stopping/-` -> `stopped/succeeded` | `starting/-` | `stopping/-` .5, `starting/-` .5 | `deallocating/-` / `-/deleting` | absent |
//! | gcp | `PROVISIONING` .5, `STAGING` .5 -> `RUNNING` | `STOPPING` -> `TERMINATED` | `PROVISIONING` .3, `STAGING` .7 | `STOPPING` .4, `TERMINATED` .2, `STAGING` .4 | `STOPPING` / `TERMINATED` | absent |
//! | alibaba | `Pending` -> `Running` | `Stopping` -> `Stopped` | `Starting` | `Stopping` .5, `Starting` .5 | `Stopping` / `Stopped` | `Deleted`, then absent |
//! | openstack | `BUILD` -> `ACTIVE` | `ACTIVE` -> `SHUTOFF` | `SHUTOFF` | `REBOOT` | `ACTIVE` / `SHUTOFF` | absent |
//! | cloudit | `CREATING` -> `RUNNING` | `STOPPING` -> `STOPPED` | `STARTING` | `REBOOTING` | `DESTROYING` | absent |
//! | local | `creating` -> `running` | `stopping` -> `stopped` | `starting` | `rebooting` | `terminating` | absent |
//!
//! AWS reboots with the seed's `rebooting`; real EC2 keeps saying `running`, which the
//! normaliser also handles.
//!
//! **State lives in SQLite, progress is arithmetic.** The simulator keeps its tables (all named
//! `sim_*`) in the provider's own store file, through its own connection, so what it simulates
//! survives across Terraform runs and across the separate processes of `plan` and `apply`. A VM
//! row records its current operation, when it started and how long it takes; [`CloudDriver::vm_status`]
//! derives the word from the clock. There is no background task: a simulator nobody calls costs
//! nothing, and time can be injected ([`SimCloud::open_with_clock`]) so tests are exact.
//!
//! **Actions.** Suspend, resume and reboot are accepted from the states a real cloud accepts them
//! in (suspend and reboot from running, resume from stopped); asking for the state the VM is
//! already in or already heading to is a no-op, as on AWS; anything else is refused in the cloud's
//! words (AWS `IncorrectInstanceState`, ...). Terminate is always accepted, and a VM already gone
//! is `Ok`.
//!
//! **Faults** ([`Fault`]) come from the configuration given at open, which the provider takes from
//! the current HCL at every run. See [`Fault::Stuck`] for how a stuck VM gets unstuck.
//!
//! **Concurrency.** One SQLite connection behind a mutex; each call is one short transaction of
//! cached statements (writers take the lock at once, `BEGIN IMMEDIATE`, so two processes never
//! hand out the same address). The calls are synchronous inside the async methods: they last
//! microseconds, except when another process holds the write lock, which the 30 s busy timeout
//! bounds.
//!
//! # Example
//!
//! ```
//! use clouds::sim::{SimCloud, SimConfig};
//! use clouds::{CloudDriver, Connection, KeyPairRequest, SecurityGroupRequest, VmRequest, VnetRequest};
//! use lifecycle::NativeStatus;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = SimConfig { default_duration: Some(0.0), ..SimConfig::default() };
//! let sim = SimCloud::open(&dir.path().join("store.db"), config).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! rt.block_on(async {
//!     let connection = Connection { provider: "gcp".into(), region: "us-central1".into() };
//!     let vnet_id = sim.create_vnet(&VnetRequest {
//!         connection: connection.clone(), name: "net".into(), cidr: "10.0.0.0/16".into(),
//!         subnet_cidr: "10.0.1.0/24".into(), tags: Default::default(),
//!     }).await.unwrap();
//!     let security_group_id = sim.create_security_group(&SecurityGroupRequest {
//!         connection: connection.clone(), name: "sg".into(), vnet_id: vnet_id.clone(),
//!         ingress: vec![], egress: vec![], tags: Default::default(),
//!     }).await.unwrap();
//!     let key_pair_id = sim.create_key_pair(&KeyPairRequest {
//!         connection: connection.clone(), name: "key".into(),
//!         public_key: "ssh-ed25519 AAAAC3Nz user".into(), tags: Default::default(),
//!     }).await.unwrap();
//!     let vm = sim.create_vm(&VmRequest {
//!         connection: connection.clone(), zone: None, name: "vm-1".into(),
//!         spec: "e2-medium".into(), image: "ubuntu-2204".into(), spot: false, vnet_id,
//!         security_group_id, key_pair_id, tags: Default::default(),
//!     }).await.unwrap();
//!     sim.suspend_vm(&connection, &vm).await.unwrap();
//!     // GCP's word for a stopped VM.
//!     let seen = sim.vm_status(&connection, &vm).await.unwrap();
//!     assert_eq!(seen.native, NativeStatus::word("TERMINATED"));
//!     assert_eq!(seen.private_ip.as_deref(), Some("10.0.1.2"));
//! });
//! ```

use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::{fmt, fs};

use async_trait::async_trait;
use lifecycle::{Action, Cloud, NativeStatus};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::{
    CloudDriver, CloudError, CloudErrorKind, Connection, KeyPairRequest, ResourceKind,
    SecurityGroupRequest, TaggedResource, Tags, VmObservation, VmRequest, VnetRequest,
};

mod catalog;
mod config;
mod personality;

#[cfg(test)]
mod tests;

pub use catalog::{SimCatalog, SimRegion};
pub use config::{
    Fault, FaultKind, SimConfig, DEFAULT_DELETED_LINGER_SECS, DEFAULT_DURATION_SECS, STUCK_PHASES,
};

use crate::net::{self, Cidr};
use config::Resolved;
use personality::Origin;

/// The simulator's clock: the time now. [`SimCloud::open`] uses [`SystemTime::now`].
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Why the simulator could not start, or could not read its store outside a cloud call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// The configuration is wrong; the message says what is valid.
    Config(String),
    /// The SQLite store could not be opened or read.
    Store {
        /// The store file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Config(message) => write!(f, "invalid simulator configuration: {message}"),
            SimError::Store { path, message } => {
                write!(f, "simulator store {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for SimError {}

/// Everything the simulator holds, for tests and the provider's `inventory` command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimInventory {
    /// vNets, security groups and key pairs, by id.
    pub resources: Vec<SimResource>,
    /// VMs that are not deleted yet (a VM listed as `terminated` / `Deleted` is deleted), by id.
    pub vms: Vec<SimVm>,
}

impl SimInventory {
    /// True if and only if nothing exists.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.vms.is_empty()
    }
}

/// A vNet, security group or key pair in the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimResource {
    /// What it is (never [`ResourceKind::Vm`]).
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it is.
    pub connection: Connection,
    /// Its tags.
    pub tags: Tags,
}

/// A VM in the inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimVm {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where it is.
    pub connection: Connection,
    /// Its zone.
    pub zone: String,
    /// Its spec.
    pub spec: String,
    /// Its image.
    pub image: String,
    /// The id of its vNet.
    pub vnet_id: String,
    /// Its tags.
    pub tags: Tags,
    /// The native word the cloud reports now.
    pub native: String,
    /// Its private address.
    pub private_ip: String,
    /// Its public address, once created.
    pub public_ip: Option<String>,
}

/// The simulated multi-cloud. See the [module documentation](self).
pub struct SimCloud {
    conn: Mutex<rusqlite::Connection>,
    config: SimConfig,
    settings: Resolved,
    clock: Clock,
    path: PathBuf,
    more: Option<MoreRegions>,
}

/// Regions and specs accepted beyond the configured catalog, built on first need: the provider
/// derives them from the planner's catalog, which it would rather not parse on every start when
/// every request names a region of the configured catalog anyway.
struct MoreRegions {
    build: Box<dyn Fn() -> SimCatalog + Send + Sync>,
    built: std::sync::OnceLock<SimCatalog>,
}

impl fmt::Debug for SimCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimCloud")
            .field("path", &self.path)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sim_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO sim_meta (key, value) VALUES ('schema', 1), ('seq', 0), ('public_ip', 0);
CREATE TABLE IF NOT EXISTS sim_resource (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    vnet_id     TEXT,
    subnet_cidr TEXT,
    detail      TEXT NOT NULL,
    tags        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sim_resource_by_vnet ON sim_resource (vnet_id);
CREATE INDEX IF NOT EXISTS sim_resource_by_name ON sim_resource (provider, region, kind, name);
CREATE TABLE IF NOT EXISTS sim_vm (
    id                TEXT PRIMARY KEY,
    provider          TEXT NOT NULL,
    region            TEXT NOT NULL,
    zone              TEXT NOT NULL,
    name              TEXT NOT NULL,
    spec              TEXT NOT NULL,
    image             TEXT NOT NULL,
    vnet_id           TEXT NOT NULL,
    security_group_id TEXT NOT NULL,
    key_pair_id       TEXT NOT NULL,
    tags              TEXT NOT NULL,
    private_host      INTEGER NOT NULL,
    private_ip        TEXT NOT NULL,
    public_ip         TEXT NOT NULL,
    created_ms        INTEGER NOT NULL,
    op                TEXT NOT NULL,
    origin            TEXT NOT NULL,
    op_started_ms     INTEGER NOT NULL,
    op_duration_ms    INTEGER NOT NULL,
    stuck             INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sim_vm_by_vnet ON sim_vm (vnet_id, private_host);
CREATE INDEX IF NOT EXISTS sim_vm_by_group ON sim_vm (security_group_id);
CREATE INDEX IF NOT EXISTS sim_vm_by_op ON sim_vm (op, op_started_ms);
";

/// The columns [`VmRow::read`] expects, in order.
macro_rules! vm_columns {
    () => {
        "id, provider, region, zone, name, spec, image, vnet_id, security_group_id, key_pair_id, \
         tags, private_ip, public_ip, op, origin, op_started_ms, op_duration_ms, stuck"
    };
}

/// A VM as stored.
#[derive(Debug, Clone)]
struct VmRow {
    id: String,
    cloud: Cloud,
    region: String,
    zone: String,
    name: String,
    spec: String,
    image: String,
    vnet_id: String,
    tags: Tags,
    private_ip: String,
    public_ip: String,
    op: Action,
    origin: Origin,
    started_ms: i64,
    duration_ms: i64,
    stuck: bool,
}

impl VmRow {
    fn read(row: &rusqlite::Row) -> rusqlite::Result<VmRow> {
        let text = |i: usize| row.get::<_, String>(i);
        let bad = |i: usize, what: String| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
        };
        let provider = text(1)?;
        let cloud = Cloud::from_str(&provider).map_err(|e| bad(1, e.to_string()))?;
        let op = text(13)?;
        let op = Action::from_str(&op).map_err(|e| bad(13, e.to_string()))?;
        let tags = serde_json::from_str(&text(10)?).map_err(|e| bad(10, e.to_string()))?;
        Ok(VmRow {
            id: text(0)?,
            cloud,
            region: text(2)?,
            zone: text(3)?,
            name: text(4)?,
            spec: text(5)?,
            image: text(6)?,
            vnet_id: text(7)?,
            tags,
            private_ip: text(11)?,
            public_ip: text(12)?,
            op,
            origin: Origin::parse(&text(14)?),
            started_ms: row.get(15)?,
            duration_ms: row.get(16)?,
            stuck: row.get(17)?,
        })
    }

    fn connection(&self) -> Connection {
        Connection {
            provider: self.cloud.as_str().to_string(),
            region: self.region.clone(),
        }
    }
}

/// A vNet, security group or key pair as stored.
#[derive(Debug, Clone)]
struct ResourceRow {
    id: String,
    kind: ResourceKind,
    provider: String,
    region: String,
    name: String,
    vnet_id: Option<String>,
    subnet_cidr: Option<String>,
    tags: Tags,
}

macro_rules! resource_columns {
    () => {
        "id, kind, provider, region, name, vnet_id, subnet_cidr, tags"
    };
}

impl ResourceRow {
    fn read(row: &rusqlite::Row) -> rusqlite::Result<ResourceRow> {
        let bad = |i: usize, what: String| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, what.into())
        };
        let kind: String = row.get(1)?;
        let kind = kind_from_str(&kind).ok_or_else(|| bad(1, format!("unknown kind {kind}")))?;
        let tags: String = row.get(7)?;
        Ok(ResourceRow {
            id: row.get(0)?,
            kind,
            provider: row.get(2)?,
            region: row.get(3)?,
            name: row.get(4)?,
            vnet_id: row.get(5)?,
            subnet_cidr: row.get(6)?,
            tags: serde_json::from_str(&tags).map_err(|e| bad(7, e.to_string()))?,
        })
    }

    fn connection(&self) -> Connection {
        Connection {
            provider: self.provider.clone(),
            region: self.region.clone(),
        }
    }
}

fn kind_str(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Vnet => "vnet",
        ResourceKind::SecurityGroup => "security_group",
        ResourceKind::KeyPair => "key_pair",
        ResourceKind::Vm => "vm",
    }
}

fn kind_from_str(s: &str) -> Option<ResourceKind> {
    [
        ResourceKind::Vnet,
        ResourceKind::SecurityGroup,
        ResourceKind::KeyPair,
        ResourceKind::Vm,
    ]
    .into_iter()
    .find(|k| kind_str(*k) == s)
}

/// Where a VM stands at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VmState {
    /// An operation runs; the cloud says this word.
    Busy(&'static str),
    /// Settled, running.
    Running,
    /// Settled, stopped.
    Stopped,
    /// Deleted but still listed with this word (AWS, Alibaba).
    Deleted(&'static str),
    /// Deleted and no longer listed.
    Gone,
}

impl VmState {
    /// True if and only if the VM is not deleted.
    fn exists(self) -> bool {
        !matches!(self, VmState::Deleted(_) | VmState::Gone)
    }

    /// What the cloud says; `None` when the VM is absent.
    fn word(self, cloud: Cloud) -> Option<&'static str> {
        let p = personality::of(cloud);
        match self {
            VmState::Busy(word) | VmState::Deleted(word) => Some(word),
            VmState::Running => Some(p.running),
            VmState::Stopped => Some(p.stopped),
            VmState::Gone => None,
        }
    }
}

/// Turns a SQLite failure during a cloud call into an error the provider may retry.
fn db(e: rusqlite::Error) -> CloudError {
    CloudError {
        kind: CloudErrorKind::Unavailable,
        message: format!("simulator store error: {e}"),
    }
}

fn tags_json(tags: &Tags) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".to_string())
}

/// FNV-1a: a stable hash (unlike `DefaultHasher`, it is the same in every build), used to choose
/// a zone.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn stable_hash(text: &str) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(text.as_bytes());
    h.finish()
}

impl SimCloud {
    /// Opens the simulator on the SQLite file at `path` (created, with its parent directory, if
    /// missing), using the system clock. Other processes may have the same file open.
    pub fn open(path: &Path, config: SimConfig) -> Result<SimCloud, SimError> {
        SimCloud::open_with_clock(path, config, Arc::new(SystemTime::now))
    }

    /// [`SimCloud::open`] with an injected clock, so tests decide what time it is.
    pub fn open_with_clock(
        path: &Path,
        config: SimConfig,
        clock: Clock,
    ) -> Result<SimCloud, SimError> {
        let settings = config.resolve()?;
        let store_error = |e: &dyn fmt::Display| SimError::Store {
            path: path.to_owned(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| store_error(&e))?;
        }
        let conn = rusqlite::Connection::open(path).map_err(|e| store_error(&e))?;
        // Terraform runs plan and apply in separate processes, and the provider has its own
        // connection: WAL lets readers proceed while one writes, the busy timeout makes a writer
        // wait instead of failing.
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| store_error(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| store_error(&e))?;
        // A simulated cloud need not survive a power cut, so its commits skip the disk sync
        // (WAL stays consistent). Only this connection: the provider's own records keep full
        // durability, so a recorded create is never forgotten.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| store_error(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| store_error(&e))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SimCloud {
            conn: Mutex::new(conn),
            config,
            settings,
            clock,
            path: path.to_owned(),
            more: None,
        })
    }

    /// Also accepts the regions and specs of the catalog `build` returns, calling it only when a
    /// request names a region, or a spec in a region, that the configured catalog lacks.
    pub fn with_more_regions(
        mut self,
        build: impl Fn() -> SimCatalog + Send + Sync + 'static,
    ) -> SimCloud {
        self.more = Some(MoreRegions {
            build: Box::new(build),
            built: std::sync::OnceLock::new(),
        });
        self
    }

    /// The configuration the simulator was opened with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The catalog in use (the configured one, or [`SimCatalog::builtin`]).
    pub fn catalog(&self) -> &SimCatalog {
        &self.settings.catalog
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything that exists now: every vNet, security group and key pair, and every VM not yet
    /// deleted, with the word its cloud reports now.
    pub fn inventory(&self) -> Result<SimInventory, SimError> {
        let now = self.now_ms();
        let store_error = |e: rusqlite::Error| SimError::Store {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT ",
                resource_columns!(),
                " FROM sim_resource ORDER BY id"
            ))
            .map_err(store_error)?;
        let resources = stmt
            .query_map([], ResourceRow::read)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(store_error)?
            .into_iter()
            .map(|r| SimResource {
                kind: r.kind,
                connection: r.connection(),
                id: r.id,
                name: r.name,
                tags: r.tags,
            })
            .collect();
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT ",
                vm_columns!(),
                " FROM sim_vm ORDER BY id"
            ))
            .map_err(store_error)?;
        let rows = stmt
            .query_map([], VmRow::read)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(store_error)?;
        let vms = rows
            .into_iter()
            .filter_map(|row| {
                let state = self.state(&row, now);
                let native = state.word(row.cloud)?;
                state.exists().then(|| SimVm {
                    public_ip: self.public_ip(&row, state),
                    connection: row.connection(),
                    native: native.to_string(),
                    id: row.id,
                    name: row.name,
                    zone: row.zone,
                    spec: row.spec,
                    image: row.image,
                    vnet_id: row.vnet_id,
                    tags: row.tags,
                    private_ip: row.private_ip,
                })
            })
            .collect();
        Ok(SimInventory { resources, vms })
    }

    fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        // Every write is one transaction, so a panic while holding the lock cannot leave the
        // store half-written: a poisoned lock is safe to take over.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now_ms(&self) -> i64 {
        (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// The personality and catalog region of a connection, or the cloud's error listing what is
    /// valid.
    fn locate(&self, connection: &Connection) -> Result<(Cloud, &SimRegion), CloudError> {
        self.locate_offering(connection, None)
    }

    /// [`SimCloud::locate`] for a request that needs `spec`: a region of the configured catalog
    /// that lacks the spec gives way to the same region of the extra regions, if they offer it.
    fn locate_offering(
        &self,
        connection: &Connection,
        spec: Option<&str>,
    ) -> Result<(Cloud, &SimRegion), CloudError> {
        let cloud = Cloud::from_str(&connection.provider)
            .map_err(|_| personality::unknown_provider(&connection.provider))?;
        let catalog = &self.settings.catalog;
        let fits = |r: &&SimRegion| spec.is_none_or(|spec| r.offers(spec));
        let base = catalog.region(cloud.as_str(), &connection.region);
        let more = || {
            let more = self.more.as_ref()?;
            more.built
                .get_or_init(|| (more.build)())
                .region(cloud.as_str(), &connection.region)
                .filter(fits)
        };
        let region = base.filter(fits).or_else(more).or(base).ok_or_else(|| {
            personality::unknown_region(cloud, &connection.region, &catalog.regions(cloud.as_str()))
        })?;
        Ok((cloud, region))
    }

    /// Where `row` stands at `now`, with the faults configured now.
    fn state(&self, row: &VmRow, now: i64) -> VmState {
        let p = personality::of(row.cloud);
        let elapsed = (now - row.started_ms).max(0);
        let stuck = row.stuck && self.settings.stuck(row.cloud, &row.region, row.op);
        if stuck || elapsed < row.duration_ms {
            let fraction = if row.duration_ms == 0 {
                1.0
            } else {
                elapsed as f64 / row.duration_ms as f64
            };
            return VmState::Busy(p.word_at(row.op, row.origin, fraction));
        }
        match row.op {
            Action::Create | Action::Resume | Action::Reboot => VmState::Running,
            Action::Suspend => VmState::Stopped,
            Action::Terminate => match p.deleted {
                Some(word) if elapsed - row.duration_ms < self.settings.linger_ms => {
                    VmState::Deleted(word)
                }
                _ => VmState::Gone,
            },
        }
    }

    /// The public address shows once the VM was created, until it is deleted.
    fn public_ip(&self, row: &VmRow, state: VmState) -> Option<String> {
        let never_booted = match state {
            VmState::Busy(_) => {
                row.op == Action::Create
                    || (row.op == Action::Terminate && row.origin == Origin::Busy)
            }
            VmState::Deleted(_) | VmState::Gone => true,
            VmState::Running | VmState::Stopped => false,
        };
        (!never_booted).then(|| row.public_ip.clone())
    }

    fn vm_row(
        conn: &rusqlite::Connection,
        cloud: Cloud,
        region: &str,
        id: &str,
    ) -> Result<Option<VmRow>, CloudError> {
        conn.prepare_cached(concat!(
            "SELECT ",
            vm_columns!(),
            " FROM sim_vm WHERE id = ?1 AND provider = ?2 AND region = ?3"
        ))
        .and_then(|mut s| {
            s.query_row(params![id, cloud.as_str(), region], VmRow::read)
                .optional()
        })
        .map_err(db)
    }

    fn resource_row(
        conn: &rusqlite::Connection,
        kind: ResourceKind,
        cloud: Cloud,
        region: &str,
        id: &str,
    ) -> Result<Option<ResourceRow>, CloudError> {
        conn.prepare_cached(concat!(
            "SELECT ",
            resource_columns!(),
            " FROM sim_resource WHERE id = ?1 AND kind = ?2 AND provider = ?3 AND region = ?4"
        ))
        .and_then(|mut s| {
            s.query_row(
                params![id, kind_str(kind), cloud.as_str(), region],
                ResourceRow::read,
            )
            .optional()
        })
        .map_err(db)
    }

    /// The VMs `column` (`vnet_id` or `security_group_id`) ties to `id`.
    fn vms_using(
        conn: &rusqlite::Connection,
        column: &str,
        id: &str,
    ) -> Result<Vec<VmRow>, CloudError> {
        let sql = if column == "vnet_id" {
            concat!("SELECT ", vm_columns!(), " FROM sim_vm WHERE vnet_id = ?1")
        } else {
            concat!(
                "SELECT ",
                vm_columns!(),
                " FROM sim_vm WHERE security_group_id = ?1"
            )
        };
        conn.prepare_cached(sql)
            .and_then(|mut s| {
                s.query_map([id], VmRow::read)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db)
    }

    /// Bumps the counter `key` and returns its new value (from 1).
    fn next(conn: &rusqlite::Connection, key: &str) -> Result<u64, CloudError> {
        conn.prepare_cached("UPDATE sim_meta SET value = value + 1 WHERE key = ?1 RETURNING value")
            .and_then(|mut s| s.query_row([key], |r| r.get::<_, i64>(0)))
            .map(|v| v as u64)
            .map_err(db)
    }

    fn immediate<'c>(
        conn: &'c mut rusqlite::Connection,
    ) -> Result<rusqlite::Transaction<'c>, CloudError> {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)
    }

    /// Forgets the rows of VMs that are gone, so their addresses and names can be used again.
    /// Only rows whose terminate ended a linger time ago are looked at (the others cannot be gone
    /// yet, or will be forgotten a little later, which is harmless).
    fn collect_garbage(&self, conn: &rusqlite::Connection, now: i64) -> Result<(), CloudError> {
        let rows = conn
            .prepare_cached(concat!(
                "SELECT ",
                vm_columns!(),
                " FROM sim_vm WHERE op = 'terminate' \
                 AND op_started_ms + op_duration_ms + ?2 <= ?1"
            ))
            .and_then(|mut s| {
                s.query_map([now, self.settings.linger_ms], VmRow::read)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db)?;
        for row in rows {
            if self.state(&row, now) == VmState::Gone {
                conn.prepare_cached("DELETE FROM sim_vm WHERE id = ?1")
                    .and_then(|mut s| s.execute([&row.id]))
                    .map_err(db)?;
            }
        }
        Ok(())
    }

    /// Inserts a vNet, security group or key pair after the checks common to all three.
    #[allow(clippy::too_many_arguments)]
    fn insert_resource(
        &self,
        conn: &rusqlite::Connection,
        cloud: Cloud,
        region: &str,
        kind: ResourceKind,
        name: &str,
        vnet_id: Option<&str>,
        subnet_cidr: Option<&str>,
        detail: &serde_json::Value,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        if name.trim().is_empty() {
            return Err(personality::invalid_parameter(
                cloud,
                "name",
                name,
                "A name is required.",
            ));
        }
        if kind == ResourceKind::KeyPair {
            let taken: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sim_resource WHERE provider = ?1 AND region = ?2 \
                     AND kind = 'key_pair' AND name = ?3)",
                )
                .and_then(|mut s| s.query_row(params![cloud.as_str(), region, name], |r| r.get(0)))
                .map_err(db)?;
            if taken {
                return Err(personality::already_exists(cloud, name));
            }
        }
        let seq = SimCloud::next(conn, "seq")?;
        let id = personality::make_id(cloud, kind, region, "", name, seq);
        let taken: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM sim_resource WHERE id = ?1)")
            .and_then(|mut s| s.query_row([&id], |r| r.get(0)))
            .map_err(db)?;
        if taken {
            return Err(personality::already_exists(cloud, &id));
        }
        conn.prepare_cached(
            "INSERT INTO sim_resource (id, kind, provider, region, name, vnet_id, subnet_cidr, \
             detail, tags, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                kind_str(kind),
                cloud.as_str(),
                region,
                name,
                vnet_id,
                subnet_cidr,
                detail.to_string(),
                tags_json(tags),
                self.now_ms()
            ])
        })
        .map_err(db)?;
        Ok(id)
    }

    fn create_vnet_now(&self, request: &VnetRequest) -> Result<String, CloudError> {
        let (cloud, region) = self.locate(&request.connection)?;
        let p = personality::of(cloud);
        let parse = |field: &str, text: &str| {
            Cidr::parse(text).map_err(|why| {
                personality::invalid_parameter(cloud, field, text, &format!("{why}."))
            })
        };
        let cidr = parse("cidr", &request.cidr)?;
        let subnet = parse("subnet_cidr", &request.subnet_cidr)?;
        if !cidr.contains(subnet) {
            return Err(personality::invalid_parameter(
                cloud,
                "subnet_cidr",
                &request.subnet_cidr,
                &format!("The subnet is not inside the network {}.", request.cidr),
            ));
        }
        if subnet.size() < u64::from(p.first_host) + 2 {
            return Err(personality::invalid_parameter(
                cloud,
                "subnet_cidr",
                &request.subnet_cidr,
                "The subnet is too small to hold any VM.",
            ));
        }
        let detail =
            serde_json::json!({ "cidr": request.cidr, "subnet_cidr": request.subnet_cidr });
        let mut conn = self.lock();
        let tx = SimCloud::immediate(&mut conn)?;
        let id = self.insert_resource(
            &tx,
            cloud,
            &region.region,
            ResourceKind::Vnet,
            &request.name,
            None,
            Some(&request.subnet_cidr),
            &detail,
            &request.tags,
        )?;
        tx.commit().map_err(db)?;
        Ok(id)
    }

    fn create_security_group_now(
        &self,
        request: &SecurityGroupRequest,
    ) -> Result<String, CloudError> {
        let (cloud, region) = self.locate(&request.connection)?;
        for rule in request.ingress.iter().chain(&request.egress) {
            let protocol = rule.protocol.to_ascii_lowercase();
            if !["tcp", "udp", "icmp", "all"].contains(&protocol.as_str()) {
                return Err(personality::invalid_parameter(
                    cloud,
                    "protocol",
                    &rule.protocol,
                    "Valid protocols: tcp, udp, icmp, all.",
                ));
            }
            if rule.from_port > rule.to_port {
                return Err(personality::invalid_parameter(
                    cloud,
                    "port range",
                    &format!("{}-{}", rule.from_port, rule.to_port),
                    "The first port is after the last one.",
                ));
            }
            Cidr::parse(&rule.cidr).map_err(|why| {
                personality::invalid_parameter(cloud, "cidr", &rule.cidr, &format!("{why}."))
            })?;
        }
        let detail = serde_json::json!({ "ingress": request.ingress, "egress": request.egress });
        let mut conn = self.lock();
        let tx = SimCloud::immediate(&mut conn)?;
        if SimCloud::resource_row(
            &tx,
            ResourceKind::Vnet,
            cloud,
            &region.region,
            &request.vnet_id,
        )?
        .is_none()
        {
            return Err(personality::missing(
                cloud,
                ResourceKind::Vnet,
                &request.vnet_id,
            ));
        }
        let id = self.insert_resource(
            &tx,
            cloud,
            &region.region,
            ResourceKind::SecurityGroup,
            &request.name,
            Some(&request.vnet_id),
            None,
            &detail,
            &request.tags,
        )?;
        tx.commit().map_err(db)?;
        Ok(id)
    }

    fn create_key_pair_now(&self, request: &KeyPairRequest) -> Result<String, CloudError> {
        let (cloud, region) = self.locate(&request.connection)?;
        let key = request.public_key.trim();
        let known = ["ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-nistp"];
        if !known.iter().any(|k| key.starts_with(k)) {
            let shown: String = key.chars().take(24).collect();
            return Err(personality::invalid_parameter(
                cloud,
                "publicKey",
                &shown,
                "Key is not in valid OpenSSH public key format.",
            ));
        }
        let detail = serde_json::json!({ "public_key": key });
        let mut conn = self.lock();
        let tx = SimCloud::immediate(&mut conn)?;
        let id = self.insert_resource(
            &tx,
            cloud,
            &region.region,
            ResourceKind::KeyPair,
            &request.name,
            None,
            None,
            &detail,
            &request.tags,
        )?;
        tx.commit().map_err(db)?;
        Ok(id)
    }

    fn delete_resource_now(
        &self,
        connection: &Connection,
        kind: ResourceKind,
        id: &str,
    ) -> Result<(), CloudError> {
        let (cloud, region) = self.locate(connection)?;
        let now = self.now_ms();
        let mut conn = self.lock();
        let tx = SimCloud::immediate(&mut conn)?;
        if SimCloud::resource_row(&tx, kind, cloud, &region.region, id)?.is_none() {
            return Ok(());
        }
        let mut users = Vec::new();
        if kind == ResourceKind::Vnet {
            let groups = tx
                .prepare_cached("SELECT id FROM sim_resource WHERE vnet_id = ?1 ORDER BY id")
                .and_then(|mut s| {
                    s.query_map([id], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db)?;
            users.extend(groups);
        }
        let column = match kind {
            ResourceKind::Vnet => Some("vnet_id"),
            ResourceKind::SecurityGroup => Some("security_group_id"),
            ResourceKind::KeyPair | ResourceKind::Vm => None,
        };
        if let Some(column) = column {
            let mut vms: Vec<String> = SimCloud::vms_using(&tx, column, id)?
                .into_iter()
                .filter(|row| self.state(row, now).exists())
                .map(|row| row.id)
                .collect();
            vms.sort();
            users.extend(vms);
        }
        if !users.is_empty() {
            return Err(personality::dependency(cloud, kind, id, &users));
        }
        tx.prepare_cached("DELETE FROM sim_resource WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn create_vm_now(&self, request: &VmRequest) -> Result<String, CloudError> {
        let (cloud, region) = self.locate_offering(&request.connection, Some(&request.spec))?;
        let p = personality::of(cloud);
        let zones = region.zones_or_default(cloud);
        let zone = match &request.zone {
            Some(zone) if zones.contains(zone) => zone.clone(),
            Some(zone) => {
                return Err(personality::invalid_parameter(
                    cloud,
                    "zone",
                    zone,
                    &format!("Zones of {}: {}.", region.region, zones.join(", ")),
                ))
            }
            None => zones[(stable_hash(&request.name) % zones.len() as u64) as usize].clone(),
        };
        if !region.offers(&request.spec) {
            let specs: Vec<&str> = region.specs.iter().map(String::as_str).collect();
            return Err(personality::unknown_spec(
                cloud,
                &request.spec,
                &zone,
                &specs,
            ));
        }
        if request.image.trim().is_empty() {
            return Err(personality::invalid_parameter(
                cloud,
                "image",
                &request.image,
                "An image is required.",
            ));
        }
        if request.name.trim().is_empty() {
            return Err(personality::invalid_parameter(
                cloud,
                "name",
                &request.name,
                "A name is required.",
            ));
        }
        let region_name = region.region.as_str();
        let now = self.now_ms();
        let mut conn = self.lock();
        let tx = SimCloud::immediate(&mut conn)?;
        let vnet = SimCloud::resource_row(
            &tx,
            ResourceKind::Vnet,
            cloud,
            region_name,
            &request.vnet_id,
        )?
        .ok_or_else(|| personality::missing(cloud, ResourceKind::Vnet, &request.vnet_id))?;
        let group = SimCloud::resource_row(
            &tx,
            ResourceKind::SecurityGroup,
            cloud,
            region_name,
            &request.security_group_id,
        )?
        .ok_or_else(|| {
            personality::missing(
                cloud,
                ResourceKind::SecurityGroup,
                &request.security_group_id,
            )
        })?;
        if group.vnet_id.as_deref() != Some(vnet.id.as_str()) {
            return Err(personality::group_not_in_vnet(cloud, &group.id, &vnet.id));
        }
        SimCloud::resource_row(
            &tx,
            ResourceKind::KeyPair,
            cloud,
            region_name,
            &request.key_pair_id,
        )?
        .ok_or_else(|| personality::missing(cloud, ResourceKind::KeyPair, &request.key_pair_id))?;
        if let Some((kind, message)) = self.settings.create_failure(cloud, region_name) {
            let others: Vec<String> = zones.iter().filter(|z| **z != zone).cloned().collect();
            let quota = kind == FaultKind::Quota;
            return Err(CloudError {
                kind: if quota {
                    CloudErrorKind::Quota
                } else {
                    CloudErrorKind::Capacity
                },
                message: message.map(str::to_string).unwrap_or_else(|| {
                    personality::create_failure(
                        cloud,
                        quota,
                        &request.spec,
                        region_name,
                        &zone,
                        &others,
                    )
                }),
            });
        }
        self.collect_garbage(&tx, now)?;
        let seq = SimCloud::next(&tx, "seq")?;
        let id = personality::make_id(
            cloud,
            ResourceKind::Vm,
            region_name,
            &zone,
            &request.name,
            seq,
        );
        if personality::ids_from_names(cloud) {
            let same_name = tx
                .prepare_cached(concat!(
                    "SELECT ",
                    vm_columns!(),
                    " FROM sim_vm WHERE id = ?1"
                ))
                .and_then(|mut s| s.query_row([&id], VmRow::read).optional())
                .map_err(db)?;
            if let Some(row) = same_name {
                if self.state(&row, now) != VmState::Gone {
                    return Err(personality::already_exists(cloud, &id));
                }
                tx.prepare_cached("DELETE FROM sim_vm WHERE id = ?1")
                    .and_then(|mut s| s.execute([&id]))
                    .map_err(db)?;
            }
        }
        let subnet_text = vnet.subnet_cidr.unwrap_or_default();
        let subnet = Cidr::parse(&subnet_text).map_err(|why| CloudError {
            kind: CloudErrorKind::Unavailable,
            message: format!("simulator store error: vNet {} has subnet {why}", vnet.id),
        })?;
        let used = tx
            .prepare_cached(
                "SELECT private_host FROM sim_vm WHERE vnet_id = ?1 ORDER BY private_host",
            )
            .and_then(|mut s| {
                s.query_map([&vnet.id], |r| r.get::<_, u32>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db)?;
        let host = net::lowest_free(subnet, p.first_host, &used)
            .ok_or_else(|| personality::subnet_full(cloud, &subnet_text))?;
        let public = net::public_address(SimCloud::next(&tx, "public_ip")? - 1);
        let stuck = self.settings.stuck(cloud, region_name, Action::Create);
        let duration = self.settings.durations[&cloud];
        tx.prepare_cached(
            "INSERT INTO sim_vm (id, provider, region, zone, name, spec, image, vnet_id, \
             security_group_id, key_pair_id, tags, private_host, private_ip, public_ip, \
             created_ms, op, origin, op_started_ms, op_duration_ms, stuck) VALUES (?1, ?2, ?3, \
             ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'create', 'busy', ?15, ?16, ?17)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                cloud.as_str(),
                region_name,
                zone,
                request.name,
                request.spec,
                request.image,
                vnet.id,
                group.id,
                request.key_pair_id,
                tags_json(&request.tags),
                host,
                net::address(subnet, host),
                public,
                now,
                duration,
                stuck
            ])
        })
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(id)
    }

    fn vm_status_now(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<VmObservation, CloudError> {
        let (cloud, region) = self.locate(connection)?;
        if let Some(message) = self.settings.status_error(cloud, &region.region) {
            return Err(CloudError {
                kind: CloudErrorKind::Unavailable,
                message: message
                    .unwrap_or(personality::status_failure(cloud))
                    .to_string(),
            });
        }
        let now = self.now_ms();
        let conn = self.lock();
        let absent = VmObservation {
            native: NativeStatus::Absent,
            zone: None,
            public_ip: None,
            private_ip: None,
            message: None,
            host_key: None,
        };
        let Some(row) = SimCloud::vm_row(&conn, cloud, &region.region, id)? else {
            return Ok(absent);
        };
        let state = self.state(&row, now);
        if row.stuck
            && !self.settings.stuck(cloud, &row.region, row.op)
            && now - row.started_ms >= row.duration_ms
        {
            // The fault is gone and the transition is over: forget the mark, so that adding the
            // fault again does not bring back a finished transition.
            conn.prepare_cached("UPDATE sim_vm SET stuck = 0 WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(db)?;
        }
        let Some(word) = state.word(cloud) else {
            return Ok(absent);
        };
        let deleted = matches!(state, VmState::Deleted(_));
        Ok(VmObservation {
            native: NativeStatus::word(word),
            zone: Some(row.zone.clone()),
            public_ip: self.public_ip(&row, state),
            private_ip: (!deleted).then(|| row.private_ip.clone()),
            message: if deleted {
                personality::deleted_message(cloud).map(str::to_string)
            } else {
                None
            },
            // Simulated VMs run no SSH server.
            host_key: None,
        })
    }

    fn act_now(&self, connection: &Connection, id: &str, action: Action) -> Result<(), CloudError> {
        let (cloud, region) = self.locate(connection)?;
        let now = self.now_ms();
        let mut conn = self.lock();
        let tx = SimCloud::immediate(&mut conn)?;
        let terminate = action == Action::Terminate;
        let gone = || {
            if terminate {
                Ok(())
            } else {
                Err(personality::missing(cloud, ResourceKind::Vm, id))
            }
        };
        let Some(row) = SimCloud::vm_row(&tx, cloud, &region.region, id)? else {
            return gone();
        };
        let state = self.state(&row, now);
        let refuse = |state: VmState| {
            Err(personality::incorrect_state(
                cloud,
                action,
                id,
                &row.name,
                state.word(cloud).unwrap_or("-"),
            ))
        };
        use VmState::*;
        let origin = match (action, state) {
            (_, Gone) => return gone(),
            (Action::Terminate, Deleted(_)) => return Ok(()),
            (_, Deleted(_)) => return refuse(state),
            (_, Busy(_)) if row.op == action => return Ok(()),
            (Action::Terminate, Busy(_)) => Origin::Busy,
            (Action::Terminate | Action::Suspend | Action::Reboot, Running) => Origin::Running,
            (Action::Terminate | Action::Resume, Stopped) => Origin::Stopped,
            (Action::Suspend, Stopped) | (Action::Resume, Running) => return Ok(()),
            _ => return refuse(state),
        };
        let stuck = self.settings.stuck(cloud, &row.region, action);
        tx.prepare_cached(
            "UPDATE sim_vm SET op = ?2, origin = ?3, op_started_ms = ?4, op_duration_ms = ?5, \
             stuck = ?6 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                action.as_str(),
                origin.as_str(),
                now,
                self.settings.durations[&cloud],
                stuck
            ])
        })
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn list_tagged_now(
        &self,
        connection: &Connection,
        key: &str,
        value: &str,
    ) -> Result<Vec<TaggedResource>, CloudError> {
        let (cloud, region) = self.locate(connection)?;
        let now = self.now_ms();
        let conn = self.lock();
        let resources = conn
            .prepare_cached(concat!(
                "SELECT ",
                resource_columns!(),
                " FROM sim_resource WHERE provider = ?1 AND region = ?2 AND EXISTS \
                 (SELECT 1 FROM json_each(sim_resource.tags) AS t WHERE t.key = ?3 AND \
                 t.value = ?4)"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![cloud.as_str(), region.region, key, value],
                    ResourceRow::read,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db)?;
        let vms = conn
            .prepare_cached(concat!(
                "SELECT ",
                vm_columns!(),
                " FROM sim_vm WHERE provider = ?1 AND region = ?2 AND EXISTS \
                 (SELECT 1 FROM json_each(sim_vm.tags) AS t WHERE t.key = ?3 AND t.value = ?4)"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![cloud.as_str(), region.region, key, value],
                    VmRow::read,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db)?;
        let mut found: Vec<TaggedResource> = resources
            .into_iter()
            .map(|r| TaggedResource {
                kind: r.kind,
                id: r.id,
                connection: connection.clone(),
                tags: r.tags,
            })
            .chain(
                vms.into_iter()
                    .filter(|row| self.state(row, now).exists())
                    .map(|row| TaggedResource {
                        kind: ResourceKind::Vm,
                        id: row.id,
                        connection: connection.clone(),
                        tags: row.tags,
                    }),
            )
            .collect();
        found.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        Ok(found)
    }
}

#[async_trait]
impl CloudDriver for SimCloud {
    async fn create_vnet(&self, request: &VnetRequest) -> Result<String, CloudError> {
        self.create_vnet_now(request)
    }

    async fn delete_vnet(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        self.delete_resource_now(connection, ResourceKind::Vnet, id)
    }

    async fn create_security_group(
        &self,
        request: &SecurityGroupRequest,
    ) -> Result<String, CloudError> {
        self.create_security_group_now(request)
    }

    async fn delete_security_group(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<(), CloudError> {
        self.delete_resource_now(connection, ResourceKind::SecurityGroup, id)
    }

    async fn create_key_pair(&self, request: &KeyPairRequest) -> Result<String, CloudError> {
        self.create_key_pair_now(request)
    }

    async fn delete_key_pair(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        self.delete_resource_now(connection, ResourceKind::KeyPair, id)
    }

    async fn create_vm(&self, request: &VmRequest) -> Result<String, CloudError> {
        self.create_vm_now(request)
    }

    async fn vm_status(
        &self,
        connection: &Connection,
        id: &str,
    ) -> Result<VmObservation, CloudError> {
        self.vm_status_now(connection, id)
    }

    async fn suspend_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        self.act_now(connection, id, Action::Suspend)
    }

    async fn resume_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        self.act_now(connection, id, Action::Resume)
    }

    async fn reboot_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        self.act_now(connection, id, Action::Reboot)
    }

    async fn terminate_vm(&self, connection: &Connection, id: &str) -> Result<(), CloudError> {
        self.act_now(connection, id, Action::Terminate)
    }

    async fn list_tagged(
        &self,
        connection: &Connection,
        key: &str,
        value: &str,
    ) -> Result<Vec<TaggedResource>, CloudError> {
        self.list_tagged_now(connection, key, value)
    }
}
