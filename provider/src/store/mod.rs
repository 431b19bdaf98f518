//! The provider's durable store: one SQLite file that outlives every `terraform` run.
//!
//! Terraform state says what the user asked for; the store says what exists. Keeping the store
//! outside Terraform state is what lets the provider notice drift (something deleted behind
//! Terraform's back) and, later, adopt resources after a crash.
//!
//! The schema is versioned with `PRAGMA user_version`; [`Store::open`] migrates an older file in
//! place. The connection sits behind a mutex: every statement is short, and Terraform calls the
//! provider from several tasks at once.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

mod mcis;

pub use mcis::{McirRecord, McisRecord, VmKey, VmRecord};

/// Migrations, in order: entry `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE namespace (
        name        TEXT PRIMARY KEY,
        description TEXT,
        created_at  TEXT NOT NULL
    );",
    // MCIR (vNet, security group, SSH key), MCIS, their VMs, and the action journal.
    "CREATE TABLE mcir (
        namespace   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        name        TEXT NOT NULL,
        provider    TEXT NOT NULL,
        region      TEXT NOT NULL,
        cloud_id    TEXT,
        owner_mcis  TEXT,
        detail      TEXT NOT NULL,
        secret      TEXT,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (namespace, kind, name)
    );
    CREATE TABLE mcis (
        namespace   TEXT NOT NULL,
        name        TEXT NOT NULL,
        spec        TEXT NOT NULL,
        complete    INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (namespace, name)
    );
    CREATE TABLE vm (
        namespace   TEXT NOT NULL,
        mcis        TEXT NOT NULL,
        grp         TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        provider    TEXT NOT NULL,
        region      TEXT NOT NULL,
        spec        TEXT NOT NULL,
        image       TEXT NOT NULL,
        zone        TEXT,
        cloud_id    TEXT,
        status      TEXT NOT NULL,
        native      TEXT,
        reason      TEXT NOT NULL,
        public_ip   TEXT,
        private_ip  TEXT,
        action      TEXT,
        action_at   INTEGER,
        PRIMARY KEY (namespace, mcis, grp, idx)
    );
    CREATE TABLE journal (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms       INTEGER NOT NULL,
        namespace   TEXT NOT NULL,
        mcis        TEXT NOT NULL,
        grp         TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        event       TEXT NOT NULL,
        action      TEXT,
        status      TEXT,
        detail      TEXT NOT NULL
    );
    CREATE INDEX journal_vm ON journal (namespace, mcis, grp, idx);",
    // The VM's SSH host key as its cloud reported it at creation, for pinning.
    "ALTER TABLE vm ADD COLUMN host_key TEXT;",
    // Whether the VM was requested as spot/preemptible (the planner chose its spot price).
    "ALTER TABLE vm ADD COLUMN spot INTEGER NOT NULL DEFAULT 0;",
];

/// A namespace as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Namespace {
    /// Unique name, also the namespace's id.
    pub name: String,
    /// Free text, `None` when the user gave none.
    pub description: Option<String>,
    /// RFC 3339 time of creation.
    pub created_at: String,
}

/// Everything the store holds, for the `inventory` command and for tests that check nothing leaked.
#[derive(Debug, Serialize)]
pub struct Inventory {
    /// All namespaces, by name.
    pub namespaces: Vec<Namespace>,
    /// All MCIR (vNets, security groups, SSH keys), by namespace, kind and name.
    pub mcir: Vec<McirRecord>,
    /// All MCIS with their VMs and aggregate status.
    pub mcis: Vec<mcis::McisInventory>,
}

/// Handle on the SQLite file.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating it and its parent directories if missing) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open the SQLite file {}", path.display()))?;
        // Several provider processes may use one store (terraform runs validate, plan and apply
        // in separate processes): WAL lets readers proceed while a writer commits, and the busy
        // timeout makes a writer wait for the lock instead of failing.
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)
            .with_context(|| format!("cannot migrate the store {}", path.display()))?;
        Ok(Store {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (each statement is its
        // own transaction), so a poisoned lock is safe to take over.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a namespace. Returns `false`, changing nothing, when the name is taken.
    pub fn insert_namespace(&self, ns: &Namespace) -> Result<bool> {
        let inserted = self.conn().execute(
            "INSERT INTO namespace (name, description, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
            params![ns.name, ns.description, ns.created_at],
        )?;
        Ok(inserted == 1)
    }

    /// The namespace called `name`, if it exists.
    pub fn namespace(&self, name: &str) -> Result<Option<Namespace>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, description, created_at FROM namespace WHERE name = ?1",
                params![name],
                |row| {
                    Ok(Namespace {
                        name: row.get(0)?,
                        description: row.get(1)?,
                        created_at: row.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Changes a namespace's description. Returns `false` when the namespace does not exist.
    pub fn set_namespace_description(&self, name: &str, description: Option<&str>) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE namespace SET description = ?2 WHERE name = ?1",
            params![name, description],
        )?;
        Ok(changed == 1)
    }

    /// Removes a namespace. Returns `false` when it was already gone.
    pub fn delete_namespace(&self, name: &str) -> Result<bool> {
        let deleted = self
            .conn()
            .execute("DELETE FROM namespace WHERE name = ?1", params![name])?;
        Ok(deleted == 1)
    }

    /// Everything in the store.
    pub fn inventory(&self) -> Result<Inventory> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, description, created_at FROM namespace ORDER BY name")?;
        let namespaces = stmt
            .query_map([], |row| {
                Ok(Namespace {
                    name: row.get(0)?,
                    description: row.get(1)?,
                    created_at: row.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(stmt);
        drop(conn);
        Ok(Inventory {
            namespaces,
            mcir: self.all_mcir()?,
            mcis: self.mcis_inventory()?,
        })
    }
}

/// The current time as RFC 3339 (UTC), the format of every `created_at`.
pub fn now_rfc3339() -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("the current time formats as RFC 3339")
}

/// Brings the schema up to date. The whole check-and-migrate runs in one IMMEDIATE transaction, so
/// two processes opening a new store at once (terraform and the `inventory` command, or two
/// provider processes) cannot both try to create the tables.
fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    anyhow::ensure!(
        version <= MIGRATIONS.len(),
        "the store has schema version {version}, newer than this provider knows ({}); use a newer provider",
        MIGRATIONS.len()
    );
    for sql in &MIGRATIONS[version..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(name: &str) -> Namespace {
        Namespace {
            name: name.into(),
            description: Some("d".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn creates_missing_directories_and_persists_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/store.db");
        let store = Store::open(&path).unwrap();
        assert!(store.insert_namespace(&namespace("ns1")).unwrap());
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.namespace("ns1").unwrap(), Some(namespace("ns1")));
    }

    #[test]
    fn namespace_crud() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        assert!(store.insert_namespace(&namespace("ns1")).unwrap());
        assert!(
            !store.insert_namespace(&namespace("ns1")).unwrap(),
            "duplicate name accepted"
        );
        assert!(store.set_namespace_description("ns1", None).unwrap());
        assert_eq!(store.namespace("ns1").unwrap().unwrap().description, None);
        assert!(!store
            .set_namespace_description("missing", Some("x"))
            .unwrap());
        assert_eq!(store.inventory().unwrap().namespaces.len(), 1);
        assert!(store.delete_namespace("ns1").unwrap());
        assert!(!store.delete_namespace("ns1").unwrap());
        assert_eq!(store.namespace("ns1").unwrap(), None);
        assert!(store.inventory().unwrap().namespaces.is_empty());
    }

    #[test]
    fn refuses_a_store_from_a_newer_provider() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(
            format!("{err:#}").contains("newer than this provider"),
            "{err:#}"
        );
    }
}
