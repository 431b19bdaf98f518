//! MCIR, CB-Tumblebug's multi-cloud infrastructure resources: vNets, security groups and SSH keys.
//! One type says what each kind holds ([`McirDetail`]); one pair of engine operations creates
//! ([`Engine::ensure_mcir`]) and deletes ([`Engine::delete_mcir`]) any of them, for the standalone
//! resources and for the ones an MCIS creates automatically alike.

use anyhow::{anyhow, Result};
use clouds::{
    Connection, FirewallRule, KeyPairRequest, ResourceKind, SecurityGroupRequest, Tags, VnetRequest,
};
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::mcis::engine::{Engine, TAG_MCIR, TAG_MCIS};
use crate::store::McirRecord;

/// The three kinds of MCIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McirKind {
    Vnet,
    SecurityGroup,
    SshKey,
}

impl McirKind {
    /// The name used in the store, in tags and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            McirKind::Vnet => "vnet",
            McirKind::SecurityGroup => "security_group",
            McirKind::SshKey => "ssh_key",
        }
    }

    /// The driver's kind for the same thing.
    fn resource_kind(self) -> ResourceKind {
        match self {
            McirKind::Vnet => ResourceKind::Vnet,
            McirKind::SecurityGroup => ResourceKind::SecurityGroup,
            McirKind::SshKey => ResourceKind::KeyPair,
        }
    }
}

impl std::fmt::Display for McirKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an MCIR is made of; the field names are the Terraform attribute names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum McirDetail {
    Vnet {
        cidr: String,
        subnet_cidr: String,
    },
    SecurityGroup {
        /// Name of the vNet (an MCIR in the same namespace) the group belongs to.
        vnet: String,
        ingress: Vec<FirewallRule>,
        egress: Vec<FirewallRule>,
    },
    SshKey {
        /// OpenSSH public key line; the private key is the record's secret.
        public_key: String,
    },
}

impl McirDetail {
    pub fn kind(&self) -> McirKind {
        match self {
            McirDetail::Vnet { .. } => McirKind::Vnet,
            McirDetail::SecurityGroup { .. } => McirKind::SecurityGroup,
            McirDetail::SshKey { .. } => McirKind::SshKey,
        }
    }
}

/// Address space of a vNet when none is given (each connection gets its own network).
pub const DEFAULT_CIDR: &str = "10.0.0.0/16";
/// Its subnet.
pub const DEFAULT_SUBNET: &str = "10.0.1.0/24";

/// The name of the MCIR of each kind an MCIS creates for itself in one connection.
pub fn auto_name(mcis: &str, provider: &str, region: &str) -> String {
    format!("{mcis}-{provider}-{region}")
}

/// What an MCIS creates for itself when a group names no MCIR of `kind`: the default network,
/// a security group in `vnet` that lets SSH in and everything out, or a new key. Returns the
/// detail and the secret (the private key).
pub fn auto_detail(
    kind: McirKind,
    namespace: &str,
    name: &str,
    vnet: &str,
) -> Result<(McirDetail, Option<String>)> {
    let rule = |protocol: &str, from_port, to_port| FirewallRule {
        protocol: protocol.into(),
        from_port,
        to_port,
        cidr: "0.0.0.0/0".into(),
    };
    Ok(match kind {
        McirKind::Vnet => (
            McirDetail::Vnet {
                cidr: DEFAULT_CIDR.into(),
                subnet_cidr: DEFAULT_SUBNET.into(),
            },
            None,
        ),
        McirKind::SecurityGroup => (
            McirDetail::SecurityGroup {
                vnet: vnet.into(),
                ingress: vec![rule("tcp", 22, 22)],
                egress: vec![rule("all", 0, 0)],
            },
            None,
        ),
        McirKind::SshKey => {
            let (detail, private_key) = new_key(namespace, name)?;
            (detail, Some(private_key))
        }
    })
}

/// A freshly generated Ed25519 key for the SSH key MCIR `namespace/name`: the private key is born
/// here, and only the public key (in the detail) ever reaches a cloud.
pub fn new_key(namespace: &str, name: &str) -> Result<(McirDetail, String)> {
    let pair = keys::generate(&format!("{namespace}/{name}"))?;
    Ok((
        McirDetail::SshKey {
            public_key: pair.public_key,
        },
        pair.private_key,
    ))
}

/// The tag value that names an MCIR in its cloud.
fn tag_of(record: &McirRecord) -> String {
    format!(
        "{}/{}/{}",
        record.namespace,
        record.detail.kind(),
        record.name
    )
}

fn connection_of(record: &McirRecord) -> Connection {
    Connection {
        provider: record.provider.clone(),
        region: record.region.clone(),
    }
}

impl Engine<'_> {
    /// Makes sure the MCIR stored as `record` exists in its cloud and returns its cloud id. An
    /// earlier, interrupted attempt is found through the MCIR's tag instead of creating a twin.
    pub async fn ensure_mcir(&self, record: &McirRecord) -> Result<String> {
        if let Some(id) = &record.cloud_id {
            return Ok(id.clone());
        }
        let connection = connection_of(record);
        let handle = self.drivers.get(&record.provider)?;
        let kind = record.detail.kind();
        let found = handle
            .driver
            .list_tagged(&connection, TAG_MCIR, &tag_of(record))
            .await?
            .into_iter()
            .find(|r| r.kind == kind.resource_kind());
        let id = match found {
            Some(resource) => resource.id,
            None => {
                let mut tags = Tags::new();
                tags.insert(TAG_MCIR.into(), tag_of(record));
                if let Some(mcis) = &record.owner_mcis {
                    tags.insert(TAG_MCIS.into(), format!("{}/{mcis}", record.namespace));
                }
                let name = record.name.clone();
                match &record.detail {
                    McirDetail::Vnet { cidr, subnet_cidr } => {
                        handle
                            .driver
                            .create_vnet(&VnetRequest {
                                connection,
                                name,
                                cidr: cidr.clone(),
                                subnet_cidr: subnet_cidr.clone(),
                                tags,
                            })
                            .await?
                    }
                    McirDetail::SecurityGroup {
                        vnet,
                        ingress,
                        egress,
                    } => {
                        let vnet_id = self.cloud_id_of(
                            &record.namespace,
                            &connection,
                            &format!("security group \"{name}\""),
                            McirKind::Vnet,
                            vnet,
                        )?;
                        handle
                            .driver
                            .create_security_group(&SecurityGroupRequest {
                                connection,
                                name,
                                vnet_id,
                                ingress: ingress.clone(),
                                egress: egress.clone(),
                                tags,
                            })
                            .await?
                    }
                    McirDetail::SshKey { public_key } => {
                        handle
                            .driver
                            .create_key_pair(&KeyPairRequest {
                                connection,
                                name,
                                public_key: public_key.clone(),
                                tags,
                            })
                            .await?
                    }
                }
            }
        };
        self.store
            .set_mcir_cloud_id(&record.namespace, kind, &record.name, &id)?;
        Ok(id)
    }

    /// The cloud id of the MCIR `namespace`/`kind`/`name`, which `user` (in `connection`) refers
    /// to: it must exist, be created, and live in the same connection.
    pub fn cloud_id_of(
        &self,
        namespace: &str,
        connection: &Connection,
        user: &str,
        kind: McirKind,
        name: &str,
    ) -> Result<String> {
        let record = self
            .store
            .mcir(namespace, kind, name)?
            .ok_or_else(|| anyhow!("there is no {kind} \"{name}\" in namespace \"{namespace}\""))?;
        if &connection_of(&record) != connection {
            return Err(anyhow!(
                "{kind} \"{name}\" is in {}, but {user} is in {connection}",
                connection_of(&record)
            ));
        }
        record
            .cloud_id
            .ok_or_else(|| anyhow!("{kind} \"{name}\" was never created in the cloud"))
    }

    /// Deletes an MCIR in its cloud (including a copy an interrupted create left behind, found by
    /// its tag) and then from the store. Deleting one that is already gone is not an error.
    pub async fn delete_mcir(&self, record: &McirRecord) -> Result<()> {
        let connection = connection_of(record);
        let handle = self.drivers.get(&record.provider)?;
        let kind = record.detail.kind();
        let mut ids: Vec<String> = record.cloud_id.iter().cloned().collect();
        if ids.is_empty() {
            let found = handle
                .driver
                .list_tagged(&connection, TAG_MCIR, &tag_of(record))
                .await?;
            ids.extend(
                found
                    .into_iter()
                    .filter(|r| r.kind == kind.resource_kind())
                    .map(|r| r.id),
            );
        }
        for id in ids {
            let deleted = match kind {
                McirKind::Vnet => handle.driver.delete_vnet(&connection, &id).await,
                McirKind::SecurityGroup => {
                    handle.driver.delete_security_group(&connection, &id).await
                }
                McirKind::SshKey => handle.driver.delete_key_pair(&connection, &id).await,
            };
            deleted.map_err(|e| {
                anyhow!(
                    "cannot delete {kind} \"{}\" in {connection}: {e}",
                    record.name
                )
            })?;
        }
        self.store
            .delete_mcir(&record.namespace, kind, &record.name)?;
        Ok(())
    }
}
