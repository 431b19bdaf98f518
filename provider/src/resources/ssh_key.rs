//! `tumblebug_ssh_key`: an SSH key pair registered with one cloud region. The pair is generated
//! by the provider, so the private key never travels through a cloud API.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Description};
use tf_provider::value::Value;
use tf_provider::{map, Diagnostics};

use super::mcir::{Identity, McirShape};
use crate::mcir::{new_key, McirDetail, McirKind};
use crate::schema::computed_string;
use crate::store::McirRecord;

/// The SSH key kind of [`super::mcir::McirResource`].
pub struct SshKey;

impl McirShape for SshKey {
    type State = SshKeyState;
    const KIND: McirKind = McirKind::SshKey;
    const DESCRIPTION: &'static str =
        "An SSH key pair for the VMs of one connection (CB-Tumblebug's SSH key). The provider \
         generates an Ed25519 pair, registers the public key with the cloud and keeps the private \
         key in its store and in Terraform state, marked sensitive: protect the state accordingly. \
         MCIS VM groups use it through their `ssh_key` attribute.";

    fn attributes() -> HashMap<String, Attribute> {
        map! {
            "public_key" => computed_string("The public key, one OpenSSH line (`ssh-ed25519 AAAA... <namespace>/<name>`)."),
            "private_key" => Attribute {
                attr_type: AttributeType::String,
                description: Description::markdown(
                    "The private key in OpenSSH format. Sensitive: never shown in plans or logs."),
                constraint: AttributeConstraint::Computed,
                sensitive: true,
                ..Default::default()
            },
        }
    }

    fn identity(state: &SshKeyState) -> Identity {
        Identity {
            namespace: state.namespace.clone(),
            name: state.name.clone(),
            cloud: state.cloud.clone(),
            region: state.region.clone(),
        }
    }

    fn validate(_state: &SshKeyState, _diags: &mut Diagnostics) {}

    fn plan_new(state: &mut SshKeyState) {
        state.id = Value::Unknown;
        state.cloud_id = Value::Unknown;
        state.created_at = Value::Unknown;
        state.public_key = Value::Unknown;
        state.private_key = Value::Unknown;
    }

    fn changed(_prior: &SshKeyState, _proposed: &SshKeyState) -> Vec<&'static str> {
        Vec::new()
    }

    fn detail(state: &SshKeyState) -> anyhow::Result<(McirDetail, Option<String>)> {
        let namespace = state.namespace.as_ref_option().cloned().unwrap_or_default();
        let name = state.name.as_ref_option().cloned().unwrap_or_default();
        let (detail, private_key) = new_key(&namespace, &name)?;
        Ok((detail, Some(private_key)))
    }

    fn state_of(record: &McirRecord) -> SshKeyState {
        let public_key = match &record.detail {
            McirDetail::SshKey { public_key } => public_key.clone(),
            _ => String::new(),
        };
        SshKeyState {
            id: Value::Value(format!("{}/{}", record.namespace, record.name)),
            namespace: Value::Value(record.namespace.clone()),
            name: Value::Value(record.name.clone()),
            cloud: Value::Value(record.provider.clone()),
            region: Value::Value(record.region.clone()),
            public_key: Value::Value(public_key),
            private_key: record.secret.clone().into(),
            cloud_id: record.cloud_id.clone().into(),
            created_at: Value::Value(record.created_at.clone()),
        }
    }
}

/// The key as Terraform state holds it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SshKeyState {
    pub id: Value<String>,
    pub namespace: Value<String>,
    pub name: Value<String>,
    pub cloud: Value<String>,
    pub region: Value<String>,
    pub public_key: Value<String>,
    pub private_key: Value<String>,
    pub cloud_id: Value<String>,
    pub created_at: Value<String>,
}
