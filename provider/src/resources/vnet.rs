//! `tumblebug_vnet`: a virtual network with one subnet in one cloud region.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Description};
use tf_provider::value::Value;
use tf_provider::{map, Diagnostics};

use super::differing;
use super::mcir::{Identity, McirShape};
use crate::diag;
use crate::mcir::{McirDetail, McirKind, DEFAULT_CIDR, DEFAULT_SUBNET};
use crate::store::McirRecord;

/// The vNet kind of [`super::mcir::McirResource`].
pub struct Vnet;

/// An optional attribute that the plan fills with its default when unset.
fn defaulted_string(description: &str) -> Attribute {
    Attribute {
        attr_type: AttributeType::String,
        description: Description::markdown(description),
        constraint: AttributeConstraint::OptionalComputed,
        ..Default::default()
    }
}

impl McirShape for Vnet {
    type State = VnetState;
    const KIND: McirKind = McirKind::Vnet;
    const DESCRIPTION: &'static str =
        "A virtual network with one subnet in one cloud region (CB-Tumblebug's vNet). MCIS VM \
         groups in the same connection use it through their `vnet` attribute.";

    fn attributes() -> HashMap<String, Attribute> {
        map! {
            "cidr" => defaulted_string(&format!(
                "The network's IPv4 range, e.g. `10.1.0.0/16`. Default `{DEFAULT_CIDR}`. Changing \
                 it replaces the vNet.")),
            "subnet_cidr" => defaulted_string(&format!(
                "The subnet's range, inside `cidr`. Default `{DEFAULT_SUBNET}`. Changing it \
                 replaces the vNet.")),
        }
    }

    fn identity(state: &VnetState) -> Identity {
        Identity {
            namespace: state.namespace.clone(),
            name: state.name.clone(),
            cloud: state.cloud.clone(),
            region: state.region.clone(),
        }
    }

    fn validate(state: &VnetState, diags: &mut Diagnostics) {
        let cidr = match &state.cidr {
            Value::Value(text) => check_cidr(diags, "cidr", text),
            _ => parse_cidr(DEFAULT_CIDR),
        };
        let subnet = match &state.subnet_cidr {
            Value::Value(text) => check_cidr(diags, "subnet_cidr", text),
            _ => parse_cidr(DEFAULT_SUBNET),
        };
        if let (Some(net), Some(sub)) = (cidr, subnet) {
            if !contains(net, sub) {
                diag::invalid_attribute(
                    diags,
                    "subnet_cidr",
                    format!(
                        "The subnet {} is not inside the network {}.",
                        show(sub),
                        show(net)
                    ),
                    "Choose a subnet range within `cidr`, e.g. the first /24 of it.",
                );
            }
        }
    }

    fn plan_new(state: &mut VnetState) {
        if !state.cidr.is_value() {
            state.cidr = Value::Value(DEFAULT_CIDR.into());
        }
        if !state.subnet_cidr.is_value() {
            state.subnet_cidr = Value::Value(DEFAULT_SUBNET.into());
        }
        state.id = Value::Unknown;
        state.cloud_id = Value::Unknown;
        state.created_at = Value::Unknown;
    }

    fn changed(prior: &VnetState, proposed: &VnetState) -> Vec<&'static str> {
        // An unset optional attribute keeps the value the plan chose for it.
        let differs = |was: &Value<String>, is: &Value<String>| !is.is_null() && was != is;
        differing(&[
            ("cidr", differs(&prior.cidr, &proposed.cidr)),
            (
                "subnet_cidr",
                differs(&prior.subnet_cidr, &proposed.subnet_cidr),
            ),
        ])
    }

    fn detail(state: &VnetState) -> anyhow::Result<(McirDetail, Option<String>)> {
        let text = |v: &Value<String>, default: &str| {
            v.as_ref_option().map_or(default.into(), Clone::clone)
        };
        Ok((
            McirDetail::Vnet {
                cidr: text(&state.cidr, DEFAULT_CIDR),
                subnet_cidr: text(&state.subnet_cidr, DEFAULT_SUBNET),
            },
            None,
        ))
    }

    fn state_of(record: &McirRecord) -> VnetState {
        let (cidr, subnet_cidr) = match &record.detail {
            McirDetail::Vnet { cidr, subnet_cidr } => (cidr.clone(), subnet_cidr.clone()),
            _ => Default::default(),
        };
        VnetState {
            id: Value::Value(format!("{}/{}", record.namespace, record.name)),
            namespace: Value::Value(record.namespace.clone()),
            name: Value::Value(record.name.clone()),
            cloud: Value::Value(record.provider.clone()),
            region: Value::Value(record.region.clone()),
            cidr: Value::Value(cidr),
            subnet_cidr: Value::Value(subnet_cidr),
            cloud_id: record.cloud_id.clone().into(),
            created_at: Value::Value(record.created_at.clone()),
        }
    }
}

/// An IPv4 network: address and prefix length.
type Cidr = (Ipv4Addr, u8);

pub(super) fn parse_cidr(text: &str) -> Option<Cidr> {
    let (addr, len) = text.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr, len))
}

fn check_cidr(diags: &mut Diagnostics, attribute: &str, text: &str) -> Option<Cidr> {
    let parsed = parse_cidr(text);
    if parsed.is_none() {
        diag::invalid_attribute(
            diags,
            attribute,
            format!("\"{text}\" is not an IPv4 range."),
            "Write an IPv4 address, a slash and a prefix length from 0 to 32, e.g. \"10.1.0.0/16\".",
        );
    }
    parsed
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len)
    }
}

/// Whether `inner` lies entirely inside `outer`.
fn contains(outer: Cidr, inner: Cidr) -> bool {
    inner.1 >= outer.1
        && (u32::from(inner.0) & mask(outer.1)) == (u32::from(outer.0) & mask(outer.1))
}

fn show((addr, len): Cidr) -> String {
    format!("{addr}/{len}")
}

/// The vNet as Terraform state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VnetState {
    pub id: Value<String>,
    pub namespace: Value<String>,
    pub name: Value<String>,
    pub cloud: Value<String>,
    pub region: Value<String>,
    pub cidr: Value<String>,
    pub subnet_cidr: Value<String>,
    pub cloud_id: Value<String>,
    pub created_at: Value<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_containment() {
        let c = |t| parse_cidr(t).unwrap();
        assert!(contains(c("10.0.0.0/16"), c("10.0.1.0/24")));
        assert!(contains(c("10.0.0.0/16"), c("10.0.0.0/16")));
        assert!(!contains(c("10.0.0.0/16"), c("10.1.1.0/24")));
        assert!(!contains(c("10.0.0.0/24"), c("10.0.0.0/16")));
        assert!(contains(c("0.0.0.0/0"), c("192.168.1.0/24")));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("10.0.0/16"), None);
        assert_eq!(parse_cidr("10.0.0.0"), None);
    }
}
