//! The engine that makes the clouds match an [`McisSpec`]: creates, adopts, scales, suspends,
//! resumes, reboots and terminates VMs, concurrently, recording every action in the journal before
//! it is sent and every status change after it is seen.
//!
//! One mechanism serves every action ([`Engine::act`]): record the action, send it (bounded per
//! cloud), then poll until the normaliser confirms the action's target or declares the VM
//! `Failed` (it does so once the deadline passes, so the wait always ends).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use clouds::{CloudErrorKind, Connection, ResourceKind, Tags, VmRequest};
use futures::stream::{self, StreamExt};
use lifecycle::{normalize_status, Action, NativeStatus, Observation, UnifiedStatus};

use super::{DesiredStatus, McisSpec, VmGroupSpec, VmPlace};
use crate::drivers::Drivers;
use crate::mcir::{auto_detail, auto_name, McirKind};
use crate::store::{McirRecord, Store, VmKey, VmRecord};

/// Tag naming the VM (`namespace/mcis/group/index`): how an interrupted create is adopted.
pub const TAG_VM: &str = "tumblebug-vm";
/// Tag naming the MCIS (`namespace/mcis`).
pub const TAG_MCIS: &str = "tumblebug-mcis";
/// Tag naming an MCIR (`namespace/kind/name`).
pub const TAG_MCIR: &str = "tumblebug-mcir";

/// In-flight requests across all clouds; each cloud is further bounded by its own limit.
const IN_FLIGHT: usize = 256;

/// A VM that did not reach its target, with the cloud's reason.
#[derive(Debug, Clone, PartialEq)]
pub struct VmFailure {
    /// Which VM.
    pub key: VmKey,
    /// Where it was (or was to be created).
    pub connection: Connection,
    /// Its place (provider, region, spec, spot).
    pub place: VmPlace,
    /// What was being done.
    pub action: Action,
    /// The cloud's message or the normaliser's reason.
    pub reason: String,
    /// How the cloud classified its refusal, when it refused the request outright (the MCIS
    /// fails over to other offers on `Capacity` and `Quota`).
    pub refusal: Option<CloudErrorKind>,
}

impl VmFailure {
    fn of(vm: &VmRecord, action: Action, reason: String) -> VmFailure {
        VmFailure {
            key: vm.key.clone(),
            connection: connection_of(vm),
            place: VmPlace::from(vm),
            action,
            reason,
            refusal: None,
        }
    }
}

impl std::fmt::Display for VmFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {} failed: {}",
            self.key.name(),
            self.connection,
            self.action,
            self.reason
        )
    }
}

/// The engine: the store, the drivers, and how often to poll.
pub struct Engine<'a> {
    /// The durable store.
    pub store: &'a Store,
    /// Cloud drivers.
    pub drivers: &'a Drivers,
    /// Pause between status polls.
    pub poll: Duration,
}

/// Cloud ids of the vNet, security group and key a VM group uses.
#[derive(Debug, Clone)]
struct GroupResources {
    vnet: String,
    security_group: String,
    key_pair: String,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn connection_of(vm: &VmRecord) -> Connection {
    Connection {
        provider: vm.provider.clone(),
        region: vm.region.clone(),
    }
}

impl Engine<'_> {
    /// Makes the MCIS `namespace/name` match `spec`: removes VMs no longer wanted (scale-in takes
    /// the highest indexes, which are the ones past the new count), replaces VMs whose group now
    /// asks for another place or shape, creates missing ones (adopting any an interrupted run
    /// created), then suspends or resumes to the desired status. Returns the VMs that failed.
    pub async fn converge(
        &self,
        namespace: &str,
        name: &str,
        spec: &McisSpec,
        deadline: Duration,
    ) -> Result<Vec<VmFailure>> {
        let groups: BTreeMap<&str, &VmGroupSpec> =
            spec.groups.iter().map(|g| (g.name.as_str(), g)).collect();
        let existing = self.store.vms(namespace, name)?;
        let mut failures = Vec::new();

        // 1. Remove what is not wanted, or is there in the wrong shape, or failed its create.
        let (unwanted, kept): (Vec<VmRecord>, Vec<VmRecord>) =
            existing.into_iter().partition(|vm| {
                let wanted = groups.get(vm.key.group.as_str()).is_some_and(|g| {
                    vm.key.index < g.count
                        && VmPlace::from(vm) == *g.place_of(vm.key.index)
                        && vm.image == g.image
                });
                let failed_create =
                    vm.status == UnifiedStatus::Failed && vm.action == Some(Action::Create);
                !wanted || failed_create || vm.status == UnifiedStatus::Terminated
            });
        failures.extend(self.terminate(unwanted, deadline).await?);

        // 2. Create what is missing; finish creates an interrupted run left behind.
        let present: BTreeSet<(String, u32)> = kept
            .iter()
            .map(|vm| (vm.key.group.clone(), vm.key.index))
            .collect();
        let mut to_create = Vec::new();
        let now = now_ms();
        for group in &spec.groups {
            for index in 0..group.count {
                if present.contains(&(group.name.clone(), index)) {
                    continue;
                }
                let key = VmKey {
                    namespace: namespace.into(),
                    mcis: name.into(),
                    group: group.name.clone(),
                    index,
                };
                to_create.push(new_vm(key, group, now));
            }
        }
        // VMs an interrupted run left mid-action: adopt what reached the cloud, create the rest.
        let mut waiting = Vec::new();
        for mut vm in kept
            .into_iter()
            .filter(|vm| vm.action.is_some() && vm.status != UnifiedStatus::Failed)
        {
            if vm.cloud_id.is_none() {
                vm.cloud_id = self.find_tagged_vm(&vm).await?;
                match &vm.cloud_id {
                    Some(id) => {
                        tracing::info!(vm = %vm.key.name(), %id, "adopted a VM an interrupted run created")
                    }
                    None => {
                        to_create.push(vm);
                        continue;
                    }
                }
            }
            waiting.push(vm);
        }
        let mut resources = BTreeMap::new();
        for vm in &to_create {
            let group = groups[vm.key.group.as_str()];
            if let std::collections::btree_map::Entry::Vacant(entry) =
                resources.entry(resource_key(vm))
            {
                let connection = &entry.key().1;
                let ids = self
                    .group_resources(namespace, name, group, connection)
                    .await
                    .map_err(|err| {
                        err.context(format!(
                            "cannot prepare the network and key for group \"{}\" in {connection}",
                            group.name
                        ))
                    })?;
                entry.insert(ids);
            }
        }
        let (created, refused) = self.send(to_create, Action::Create, &resources).await?;
        failures.extend(refused);
        waiting.extend(created);
        failures.extend(self.wait(waiting, deadline).await?);

        // 3. Power state.
        let vms = self.store.vms(namespace, name)?;
        let (action, from) = match spec.desired_status {
            DesiredStatus::Running => (Action::Resume, UnifiedStatus::Suspended),
            DesiredStatus::Suspended => (Action::Suspend, UnifiedStatus::Running),
        };
        let to_switch: Vec<VmRecord> = vms
            .into_iter()
            .filter(|vm| vm.status == from && vm.action.is_none())
            .collect();
        failures.extend(self.act(to_switch, action, deadline).await?);
        Ok(failures)
    }

    /// Reboots every VM of the MCIS that is running.
    pub async fn reboot(
        &self,
        namespace: &str,
        name: &str,
        deadline: Duration,
    ) -> Result<Vec<VmFailure>> {
        let vms = self.store.vms(namespace, name)?;
        let running = vms
            .into_iter()
            .filter(|vm| vm.status == UnifiedStatus::Running)
            .collect();
        self.act(running, Action::Reboot, deadline).await
    }

    /// Terminates every VM of the MCIS, waits until they are gone, removes the MCIR it created
    /// automatically and its record. Harmless when the MCIS is already gone.
    pub async fn destroy(
        &self,
        namespace: &str,
        name: &str,
        deadline: Duration,
    ) -> Result<Vec<VmFailure>> {
        let vms = self.store.vms(namespace, name)?;
        let failures = self.terminate(vms, deadline).await?;
        if !failures.is_empty() {
            return Ok(failures);
        }
        // Dependency order: security groups and keys before the vNet they live in.
        let mut owned = self.store.mcir_owned_by(namespace, name)?;
        owned.sort_by_key(|r| r.detail.kind() == McirKind::Vnet);
        for mcir in owned {
            self.delete_mcir(&mcir).await?;
        }
        self.store.delete_mcis(namespace, name)?;
        Ok(Vec::new())
    }

    /// Polls every VM of the MCIS once and records what the normaliser makes of it.
    pub async fn refresh(
        &self,
        namespace: &str,
        name: &str,
        deadline: Duration,
    ) -> Result<Vec<VmRecord>> {
        let vms = self.store.vms(namespace, name)?;
        let polled: Vec<Result<VmRecord>> = stream::iter(vms)
            .map(|vm| async move {
                if vm.cloud_id.is_none() {
                    return Ok(vm);
                }
                self.observe(vm, deadline).await
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut vms = polled.into_iter().collect::<Result<Vec<_>>>()?;
        vms.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(vms)
    }

    /// Terminates `vms`, waits until the clouds confirm, and removes their rows.
    async fn terminate(&self, vms: Vec<VmRecord>, deadline: Duration) -> Result<Vec<VmFailure>> {
        let mut gone = Vec::new();
        let mut present = Vec::new();
        for mut vm in vms {
            if vm.cloud_id.is_none() {
                // A create may have reached the cloud before the provider was interrupted.
                vm.cloud_id = self.find_tagged_vm(&vm).await?;
            }
            if vm.cloud_id.is_none()
                || vm.status == UnifiedStatus::Terminated && vm.action.is_none()
            {
                gone.push(vm);
            } else {
                present.push(vm);
            }
        }
        for vm in gone {
            self.store
                .delete_vm(&vm.key, now_ms(), "removed: nothing left in the cloud")?;
        }
        self.act(present, Action::Terminate, deadline).await
    }

    /// Records `action` for each VM, sends it, and waits for the outcome.
    async fn act(
        &self,
        vms: Vec<VmRecord>,
        action: Action,
        deadline: Duration,
    ) -> Result<Vec<VmFailure>> {
        let (sent, mut failures) = self.send(vms, action, &BTreeMap::new()).await?;
        failures.extend(self.wait(sent, deadline).await?);
        Ok(failures)
    }

    /// Records and sends `action` for every VM, bounded per cloud. Returns the VMs now waiting for
    /// the cloud, and the ones the cloud refused outright.
    async fn send(
        &self,
        vms: Vec<VmRecord>,
        action: Action,
        resources: &BTreeMap<(String, Connection), GroupResources>,
    ) -> Result<(Vec<VmRecord>, Vec<VmFailure>)> {
        let now = now_ms();
        let vms: Vec<VmRecord> = vms
            .into_iter()
            .map(|mut vm| {
                vm.action = Some(action);
                vm.action_at_ms = Some(now);
                vm.status = action.in_progress();
                vm.reason = format!("{action} requested");
                vm
            })
            .collect();
        // Every action is in the journal before the first request leaves (one transaction).
        self.store.record_actions(&vms)?;
        let results: Vec<Result<std::result::Result<VmRecord, VmFailure>>> = stream::iter(vms)
            .map(|mut vm| async move {
                let handle = self.drivers.get(&vm.provider)?;
                let _permit = handle.limit.acquire().await?;
                let connection = connection_of(&vm);
                let sent = match (action, vm.cloud_id.clone()) {
                    (Action::Create, None) => {
                        handle
                            .driver
                            .create_vm(&vm_request(&vm, &resources[&resource_key(&vm)]))
                            .await
                    }
                    (Action::Create, Some(id)) => Ok(id),
                    (_, None) => return Err(anyhow!("VM {} has no cloud id", vm.key.name())),
                    (Action::Suspend, Some(id)) => {
                        handle.driver.suspend_vm(&connection, &id).await.map(|_| id)
                    }
                    (Action::Resume, Some(id)) => {
                        handle.driver.resume_vm(&connection, &id).await.map(|_| id)
                    }
                    (Action::Reboot, Some(id)) => {
                        handle.driver.reboot_vm(&connection, &id).await.map(|_| id)
                    }
                    (Action::Terminate, Some(id)) => handle
                        .driver
                        .terminate_vm(&connection, &id)
                        .await
                        .map(|_| id),
                };
                match sent {
                    Ok(id) => {
                        vm.cloud_id = Some(id);
                        Ok(Ok(vm))
                    }
                    Err(err) => {
                        let failure = VmFailure {
                            refusal: Some(err.kind),
                            ..VmFailure::of(&vm, action, err.message.clone())
                        };
                        tracing::warn!(%failure, "the cloud refused");
                        if action == Action::Create {
                            // Nothing exists in the cloud: forget the VM so a later apply creates it.
                            self.store.delete_vm(
                                &vm.key,
                                now_ms(),
                                &format!("create refused: {}", err.message),
                            )?;
                        } else {
                            let previous = vm.status;
                            vm.status = UnifiedStatus::Failed;
                            vm.reason = format!("{action} refused by the cloud: {}", err.message);
                            self.store.record_status(&vm, previous, now_ms())?;
                        }
                        Ok(Err(failure))
                    }
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut sent = Vec::new();
        let mut refused = Vec::new();
        for result in results {
            match result? {
                Ok(vm) => sent.push(vm),
                Err(failure) => refused.push(failure),
            }
        }
        // The cloud ids, in one transaction. Should the provider die before this, the next run
        // finds the created VMs by their tag (see `converge`).
        self.store.put_vms(&sent)?;
        refused.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((sent, refused))
    }

    /// Polls until every VM's action is confirmed or has failed. The normaliser turns a transition
    /// that outlives `deadline` into `Failed`, so this ends; a status API that stays unreadable is
    /// cut off a little after the deadline as well.
    async fn wait(&self, mut pending: Vec<VmRecord>, deadline: Duration) -> Result<Vec<VmFailure>> {
        let started = std::time::Instant::now();
        let total = pending.len();
        let mut failures = Vec::new();
        let mut last_report = started;
        while !pending.is_empty() {
            let polled: Vec<Result<VmRecord>> = stream::iter(std::mem::take(&mut pending))
                .map(|vm| self.observe(vm, deadline))
                .buffer_unordered(IN_FLIGHT)
                .collect()
                .await;
            for vm in polled {
                let vm = vm?;
                let action = vm.action;
                match action {
                    None => {
                        if vm.status == UnifiedStatus::Terminated {
                            self.store.delete_vm(&vm.key, now_ms(), "terminated")?;
                        }
                    }
                    Some(action) if vm.status == UnifiedStatus::Failed => {
                        failures.push(VmFailure::of(&vm, action, vm.reason.clone()));
                    }
                    Some(action)
                        if started.elapsed()
                            > deadline + 3 * self.poll + Duration::from_secs(1) =>
                    {
                        let reason = format!(
                            "no confirmation from the cloud within {:?}: {}",
                            deadline, vm.reason
                        );
                        failures.push(VmFailure::of(&vm, action, reason));
                    }
                    Some(_) => pending.push(vm),
                }
            }
            if last_report.elapsed() >= Duration::from_secs(10) && !pending.is_empty() {
                tracing::info!(
                    done = total - pending.len(),
                    total,
                    "waiting for the clouds"
                );
                last_report = std::time::Instant::now();
            }
            if !pending.is_empty() {
                tokio::time::sleep(self.poll).await;
            }
        }
        failures.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(failures)
    }

    /// Reads one VM's status from its cloud, normalises it with the journal, records it.
    async fn observe(&self, mut vm: VmRecord, deadline: Duration) -> Result<VmRecord> {
        let before = vm.clone();
        let handle = self.drivers.get(&vm.provider)?;
        let id = vm.cloud_id.clone().expect("observe needs a cloud id");
        let observation = {
            let _permit = handle.limit.acquire().await?;
            handle.driver.vm_status(&connection_of(&vm), &id).await
        };
        let native = match observation {
            Ok(seen) => {
                vm.zone = seen.zone.or(vm.zone);
                vm.public_ip = seen.public_ip;
                vm.private_ip = seen.private_ip;
                vm.host_key = seen.host_key.or(vm.host_key);
                seen.native
            }
            Err(err) => NativeStatus::Unreadable(err.message),
        };
        vm.native = match &native {
            NativeStatus::Word(word) => Some(word.clone()),
            NativeStatus::Absent => Some("(absent)".into()),
            NativeStatus::Unreadable(_) => None,
        };
        let cloud = match vm.provider.parse() {
            Ok(cloud) => cloud,
            Err(err) => return Err(anyhow!("{err}")),
        };
        let now = now_ms();
        let since = vm
            .action_at_ms
            .map(|at| Duration::from_millis((now - at).max(0) as u64))
            .unwrap_or_default();
        let verdict = normalize_status(&Observation {
            cloud,
            native: &native,
            action: vm.action,
            since_action: since,
            deadline,
            previous: Some(vm.status),
        });
        let previous = vm.status;
        vm.status = verdict.status;
        vm.reason = verdict.reason;
        if verdict.action_confirmed {
            vm.action = None;
            vm.action_at_ms = None;
        }
        // Most polls see nothing new; writing only changes spares the disk a sync per VM.
        if vm != before {
            self.store.record_status(&vm, previous, now)?;
        }
        Ok(vm)
    }

    /// The cloud id of a VM carrying this VM's tag, if an earlier run created one.
    async fn find_tagged_vm(&self, vm: &VmRecord) -> Result<Option<String>> {
        let handle = self.drivers.get(&vm.provider)?;
        let found = handle
            .driver
            .list_tagged(&connection_of(vm), TAG_VM, &vm.key.tag())
            .await
            .map_err(|e| anyhow!("cannot list {}'s VMs: {e}", vm.provider))?;
        Ok(found
            .into_iter()
            .find(|r| r.kind == ResourceKind::Vm)
            .map(|r| r.id))
    }

    /// The vNet, security group and key for `group`'s VMs in `connection`: named ones from the
    /// store, or the ones this MCIS creates automatically for the connection (named
    /// `<mcis>-<provider>-<region>`).
    async fn group_resources(
        &self,
        namespace: &str,
        mcis: &str,
        group: &VmGroupSpec,
        connection: &Connection,
    ) -> Result<GroupResources> {
        let auto = auto_name(mcis, &connection.provider, &connection.region);
        let vnet = group.vnet.clone().unwrap_or_else(|| auto.clone());
        let mut ids = Vec::new();
        for (kind, chosen) in [
            (McirKind::Vnet, &group.vnet),
            (McirKind::SecurityGroup, &group.security_group),
            (McirKind::SshKey, &group.ssh_key),
        ] {
            let id = match chosen {
                Some(name) => {
                    let user = format!("group \"{}\"", group.name);
                    self.cloud_id_of(namespace, connection, &user, kind, name)?
                }
                None => {
                    let record = match self.store.mcir(namespace, kind, &auto)? {
                        Some(record) => record,
                        None => {
                            let (detail, secret) = auto_detail(kind, namespace, &auto, &vnet)?;
                            let record = McirRecord {
                                namespace: namespace.into(),
                                name: auto.clone(),
                                provider: connection.provider.clone(),
                                region: connection.region.clone(),
                                cloud_id: None,
                                owner_mcis: Some(mcis.into()),
                                detail,
                                secret,
                                created_at: crate::store::now_rfc3339(),
                            };
                            self.store.insert_mcir(&record)?;
                            record
                        }
                    };
                    self.ensure_mcir(&record).await?
                }
            };
            ids.push(id);
        }
        Ok(GroupResources {
            vnet: ids[0].clone(),
            security_group: ids[1].clone(),
            key_pair: ids[2].clone(),
        })
    }
}

/// VMs of one group in one connection share their vNet, security group and key.
fn resource_key(vm: &VmRecord) -> (String, Connection) {
    (vm.key.group.clone(), connection_of(vm))
}

fn new_vm(key: VmKey, group: &VmGroupSpec, now: i64) -> VmRecord {
    let place = group.place_of(key.index).clone();
    VmRecord {
        key,
        provider: place.provider,
        region: place.region,
        spec: place.spec,
        spot: place.spot,
        image: group.image.clone(),
        zone: None,
        cloud_id: None,
        status: UnifiedStatus::Creating,
        native: None,
        reason: "create requested".into(),
        public_ip: None,
        host_key: None,
        private_ip: None,
        action: Some(Action::Create),
        action_at_ms: Some(now),
    }
}

fn vm_request(vm: &VmRecord, ids: &GroupResources) -> VmRequest {
    let mut tags = Tags::new();
    tags.insert(TAG_VM.into(), vm.key.tag());
    tags.insert(
        TAG_MCIS.into(),
        format!("{}/{}", vm.key.namespace, vm.key.mcis),
    );
    VmRequest {
        connection: connection_of(vm),
        zone: None,
        name: vm.key.name(),
        spec: vm.spec.clone(),
        image: vm.image.clone(),
        spot: vm.spot,
        vnet_id: ids.vnet.clone(),
        security_group_id: ids.security_group.clone(),
        key_pair_id: ids.key_pair.clone(),
        tags,
    }
}
