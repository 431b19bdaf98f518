//! The store's MCIS tables: MCIS records, their VMs, the action journal, and MCIR.
//!
//! The journal is the seed's rule 2 and 3 made durable: every control action is written, with
//! the time, *before* it is sent to the cloud, and every observed status change is appended. The
//! `vm` row holds the latest of both (the action in flight and the last status), so a restarted
//! provider knows at once where each VM stands; the `journal` table keeps the history.

use anyhow::Result;
use lifecycle::{Action, UnifiedStatus};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::Store;
use crate::mcir::{McirDetail, McirKind};

/// Identifies one VM of one MCIS: the MCIS, the VM group and the index inside the group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VmKey {
    /// Namespace of the MCIS.
    pub namespace: String,
    /// MCIS name.
    pub mcis: String,
    /// VM group name.
    pub group: String,
    /// Index inside the group, from 0.
    pub index: u32,
}

impl VmKey {
    /// The VM's name: `<mcis>-<group>-<index>`, also its name in the cloud.
    pub fn name(&self) -> String {
        format!("{}-{}-{}", self.mcis, self.group, self.index)
    }

    /// The value of the `tumblebug-vm` tag: unique per VM across namespaces.
    pub fn tag(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.namespace, self.mcis, self.group, self.index
        )
    }
}

/// One VM as the store knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmRecord {
    /// Which VM.
    #[serde(flatten)]
    pub key: VmKey,
    /// Cloud name.
    pub provider: String,
    /// Region.
    pub region: String,
    /// Spec name.
    pub spec: String,
    /// Requested as spot/preemptible.
    pub spot: bool,
    /// Image name.
    pub image: String,
    /// Zone, once the cloud said.
    pub zone: Option<String>,
    /// The cloud's id; `None` until the cloud answered the create request.
    pub cloud_id: Option<String>,
    /// Last normalised status.
    pub status: UnifiedStatus,
    /// Last native status word, as the cloud said it.
    pub native: Option<String>,
    /// Why the status is what it is (from the normaliser), or the cloud's error.
    pub reason: String,
    /// Public IP address.
    pub public_ip: Option<String>,
    /// SSH host key (an OpenSSH public key line), when the cloud reports it: pinned, never
    /// learnt on first use.
    pub host_key: Option<String>,
    /// Private IP address.
    pub private_ip: Option<String>,
    /// The control action in flight, not yet confirmed.
    pub action: Option<Action>,
    /// When `action` was recorded (Unix milliseconds).
    pub action_at_ms: Option<i64>,
}

/// An MCIS as the store knows it (its VMs are separate rows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McisRecord {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What was asked for (groups, desired status, ...), as JSON: lets import rebuild the config.
    pub spec: serde_json::Value,
    /// False while the first create has not finished: a later create may then adopt it (crash
    /// recovery); true afterwards, when a second create with the same name is a conflict.
    pub complete: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// A vNet, security group or SSH key as the store knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McirRecord {
    /// Namespace.
    pub namespace: String,
    /// Name, unique per namespace and kind.
    pub name: String,
    /// Cloud name.
    pub provider: String,
    /// Region.
    pub region: String,
    /// The cloud's id, once created.
    pub cloud_id: Option<String>,
    /// The MCIS that created it automatically (and removes it on destroy), if any.
    pub owner_mcis: Option<String>,
    /// What it is made of (and so its kind).
    pub detail: McirDetail,
    /// Secret material (an SSH private key), never printed by the inventory.
    #[serde(skip)]
    pub secret: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// One MCIS in the inventory: its record, its VMs and the aggregate status line.
#[derive(Debug, Serialize)]
pub struct McisInventory {
    /// The MCIS.
    #[serde(flatten)]
    pub mcis: McisRecord,
    /// CB-Tumblebug's status line, e.g. `Running:5 (R:5/5)`.
    pub status: String,
    /// Its VMs.
    pub vms: Vec<VmRecord>,
}

const VM_COLUMNS: &str =
    "namespace, mcis, grp, idx, provider, region, spec, image, zone, cloud_id, \
     status, native, reason, public_ip, private_ip, action, action_at, host_key, spot";

fn vm_from_row(row: &Row) -> rusqlite::Result<VmRecord> {
    let parse_err = |i: usize, e: lifecycle::ParseError| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let status: String = row.get(10)?;
    let action: Option<String> = row.get(15)?;
    Ok(VmRecord {
        key: VmKey {
            namespace: row.get(0)?,
            mcis: row.get(1)?,
            group: row.get(2)?,
            index: row.get(3)?,
        },
        provider: row.get(4)?,
        region: row.get(5)?,
        spec: row.get(6)?,
        image: row.get(7)?,
        zone: row.get(8)?,
        cloud_id: row.get(9)?,
        status: status.parse().map_err(|e| parse_err(10, e))?,
        native: row.get(11)?,
        reason: row.get(12)?,
        public_ip: row.get(13)?,
        private_ip: row.get(14)?,
        host_key: row.get(17)?,
        spot: row.get(18)?,
        action: action
            .map(|a| a.parse())
            .transpose()
            .map_err(|e| parse_err(15, e))?,
        action_at_ms: row.get(16)?,
    })
}

fn mcis_from_row(row: &Row) -> rusqlite::Result<McisRecord> {
    let spec: String = row.get(2)?;
    Ok(McisRecord {
        namespace: row.get(0)?,
        name: row.get(1)?,
        spec: serde_json::from_str(&spec).unwrap_or(serde_json::Value::Null),
        complete: row.get(3)?,
        created_at: row.get(4)?,
    })
}

fn mcir_from_row(row: &Row) -> rusqlite::Result<McirRecord> {
    let detail: String = row.get(7)?;
    let detail = serde_json::from_str(&detail).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(McirRecord {
        namespace: row.get(0)?,
        name: row.get(2)?,
        provider: row.get(3)?,
        region: row.get(4)?,
        cloud_id: row.get(5)?,
        owner_mcis: row.get(6)?,
        detail,
        secret: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// Writes a VM row on `conn` (the store's connection, or a transaction on it).
fn put_vm_on(conn: &rusqlite::Connection, vm: &VmRecord) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO vm ({VM_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    ))?;
    stmt.execute(params![
        vm.key.namespace,
        vm.key.mcis,
        vm.key.group,
        vm.key.index,
        vm.provider,
        vm.region,
        vm.spec,
        vm.image,
        vm.zone,
        vm.cloud_id,
        vm.status.as_str(),
        vm.native,
        vm.reason,
        vm.public_ip,
        vm.private_ip,
        vm.action.map(Action::as_str),
        vm.action_at_ms,
        vm.host_key,
        vm.spot,
    ])?;
    Ok(())
}

/// Appends a journal entry on `conn` (the store's connection, or a transaction on it).
fn journal_on(
    conn: &rusqlite::Connection,
    key: &VmKey,
    at_ms: i64,
    event: &str,
    action: Option<Action>,
    status: Option<UnifiedStatus>,
    detail: &str,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO journal (at_ms, namespace, mcis, grp, idx, event, action, status, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    stmt.execute(params![
        at_ms,
        key.namespace,
        key.mcis,
        key.group,
        key.index,
        event,
        action.map(Action::as_str),
        status.map(UnifiedStatus::as_str),
        detail
    ])?;
    Ok(())
}

impl Store {
    /// Adds an MCIS record. Returns `false`, changing nothing, when the name is taken.
    pub fn insert_mcis(&self, mcis: &McisRecord) -> Result<bool> {
        let inserted = self.conn().execute(
            "INSERT INTO mcis (namespace, name, spec, complete, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (namespace, name) DO NOTHING",
            params![mcis.namespace, mcis.name, mcis.spec.to_string(), mcis.complete, mcis.created_at],
        )?;
        Ok(inserted == 1)
    }

    /// The MCIS `namespace/name`, if it exists.
    pub fn mcis(&self, namespace: &str, name: &str) -> Result<Option<McisRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT namespace, name, spec, complete, created_at FROM mcis WHERE namespace = ?1 AND name = ?2",
                params![namespace, name],
                mcis_from_row,
            )
            .optional()?)
    }

    /// Replaces an MCIS's spec and completeness.
    pub fn update_mcis(
        &self,
        namespace: &str,
        name: &str,
        spec: &serde_json::Value,
        complete: bool,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE mcis SET spec = ?3, complete = ?4 WHERE namespace = ?1 AND name = ?2",
            params![namespace, name, spec.to_string(), complete],
        )?;
        Ok(())
    }

    /// Removes an MCIS record and its VM rows (the journal keeps their history).
    pub fn delete_mcis(&self, namespace: &str, name: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM vm WHERE namespace = ?1 AND mcis = ?2",
            params![namespace, name],
        )?;
        tx.execute(
            "DELETE FROM mcis WHERE namespace = ?1 AND name = ?2",
            params![namespace, name],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The VMs of an MCIS, ordered by group and index.
    pub fn vms(&self, namespace: &str, mcis: &str) -> Result<Vec<VmRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {VM_COLUMNS} FROM vm WHERE namespace = ?1 AND mcis = ?2 ORDER BY grp, idx"
        ))?;
        let vms = stmt
            .query_map(params![namespace, mcis], vm_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(vms)
    }

    /// Writes VM rows in one transaction: one disk sync for all of them, which is what keeps a
    /// 1000-VM apply from waiting on 1000 syncs in a row.
    pub fn put_vms(&self, vms: &[VmRecord]) -> Result<()> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        for vm in vms {
            put_vm_on(&tx, vm)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records control actions *before* they are sent: each VM row (with the action in flight
    /// and its in-progress status) and a journal entry, all in one transaction.
    pub fn record_actions(&self, vms: &[VmRecord]) -> Result<()> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        for vm in vms {
            let action = vm.action.expect("record_actions needs an action in flight");
            put_vm_on(&tx, vm)?;
            journal_on(
                &tx,
                &vm.key,
                vm.action_at_ms.unwrap_or_default(),
                "action",
                Some(action),
                Some(vm.status),
                &vm.reason,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records an observation: the VM row, and a journal entry when the status changed.
    pub fn record_status(&self, vm: &VmRecord, previous: UnifiedStatus, at_ms: i64) -> Result<()> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        put_vm_on(&tx, vm)?;
        if vm.status != previous {
            journal_on(
                &tx,
                &vm.key,
                at_ms,
                "status",
                vm.action,
                Some(vm.status),
                &vm.reason,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes a VM row (the journal keeps its history), with a journal entry saying why.
    pub fn delete_vm(&self, key: &VmKey, at_ms: i64, why: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM vm WHERE namespace = ?1 AND mcis = ?2 AND grp = ?3 AND idx = ?4",
            params![key.namespace, key.mcis, key.group, key.index],
        )?;
        self.journal(key, at_ms, "removed", None, None, why)
    }

    fn journal(
        &self,
        key: &VmKey,
        at_ms: i64,
        event: &str,
        action: Option<Action>,
        status: Option<UnifiedStatus>,
        detail: &str,
    ) -> Result<()> {
        journal_on(&self.conn(), key, at_ms, event, action, status, detail)
    }

    /// Adds an MCIR record. Returns `false`, changing nothing, when the name is taken.
    pub fn insert_mcir(&self, mcir: &McirRecord) -> Result<bool> {
        let inserted = self.conn().execute(
            "INSERT INTO mcir (namespace, kind, name, provider, region, cloud_id, owner_mcis, detail, secret, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (namespace, kind, name) DO NOTHING",
            params![
                mcir.namespace,
                mcir.detail.kind().as_str(),
                mcir.name,
                mcir.provider,
                mcir.region,
                mcir.cloud_id,
                mcir.owner_mcis,
                serde_json::to_string(&mcir.detail)?,
                mcir.secret,
                mcir.created_at
            ],
        )?;
        Ok(inserted == 1)
    }

    /// Sets the cloud id of an MCIR once the cloud created it.
    pub fn set_mcir_cloud_id(
        &self,
        namespace: &str,
        kind: McirKind,
        name: &str,
        cloud_id: &str,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE mcir SET cloud_id = ?4 WHERE namespace = ?1 AND kind = ?2 AND name = ?3",
            params![namespace, kind.as_str(), name, cloud_id],
        )?;
        Ok(())
    }

    /// The MCIR `namespace/kind/name`, if it exists.
    pub fn mcir(&self, namespace: &str, kind: McirKind, name: &str) -> Result<Option<McirRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT namespace, kind, name, provider, region, cloud_id, owner_mcis, detail, secret, created_at
                 FROM mcir WHERE namespace = ?1 AND kind = ?2 AND name = ?3",
                params![namespace, kind.as_str(), name],
                mcir_from_row,
            )
            .optional()?)
    }

    /// Removes an MCIR record; `false` when it was already gone.
    pub fn delete_mcir(&self, namespace: &str, kind: McirKind, name: &str) -> Result<bool> {
        let deleted = self.conn().execute(
            "DELETE FROM mcir WHERE namespace = ?1 AND kind = ?2 AND name = ?3",
            params![namespace, kind.as_str(), name],
        )?;
        Ok(deleted == 1)
    }

    /// The MCIR an MCIS created automatically.
    pub fn mcir_owned_by(&self, namespace: &str, mcis: &str) -> Result<Vec<McirRecord>> {
        self.query_mcir(
            "WHERE namespace = ?1 AND owner_mcis = ?2",
            params![namespace, mcis],
        )
    }

    /// Every MCIR.
    pub fn all_mcir(&self) -> Result<Vec<McirRecord>> {
        self.query_mcir("", params![])
    }

    fn query_mcir(&self, filter: &str, params: &[&dyn rusqlite::ToSql]) -> Result<Vec<McirRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT namespace, kind, name, provider, region, cloud_id, owner_mcis, detail, secret, created_at
             FROM mcir {filter} ORDER BY namespace, kind, name"
        ))?;
        let rows = stmt
            .query_map(params, mcir_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every MCIS with its VMs and status line.
    pub fn mcis_inventory(&self) -> Result<Vec<McisInventory>> {
        let records: Vec<McisRecord> = {
            let conn = self.conn();
            let mut stmt =
                conn.prepare("SELECT namespace, name, spec, complete, created_at FROM mcis ORDER BY namespace, name")?;
            let rows = stmt
                .query_map([], mcis_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            rows
        };
        records
            .into_iter()
            .map(|mcis| {
                let vms = self.vms(&mcis.namespace, &mcis.name)?;
                let status = lifecycle::aggregate(vms.iter().map(|vm| vm.status)).text;
                Ok(McisInventory { mcis, status, vms })
            })
            .collect()
    }
}
