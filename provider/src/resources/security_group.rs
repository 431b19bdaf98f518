//! `tumblebug_security_group`: firewall rules for the VMs of a vNet.

use std::collections::HashMap;

use clouds::FirewallRule;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{Attribute, AttributeConstraint, Block, Description, NestedBlock};
use tf_provider::value::Value;
use tf_provider::{map, AttributePath, Diagnostics};

use super::differing;
use super::mcir::{Identity, McirShape};
use super::vnet::parse_cidr;
use crate::diag;
use crate::mcir::{McirDetail, McirKind};
use crate::schema::{number, required_string};
use crate::store::McirRecord;

/// The security group kind of [`super::mcir::McirResource`].
pub struct SecurityGroup;

const PROTOCOLS: [&str; 4] = ["tcp", "udp", "icmp", "all"];

fn rule_block(direction: &str, peer: &str) -> NestedBlock {
    NestedBlock::List(Block {
        version: 1,
        description: Description::markdown(format!("One {direction} rule.")),
        attributes: map! {
            "protocol" => required_string("`tcp`, `udp`, `icmp` or `all`."),
            "from_port" => number("First port, 0 to 65535 (0 with `icmp` and `all`).", AttributeConstraint::Required),
            "to_port" => number("Last port, at least `from_port` (0 with `icmp` and `all`).", AttributeConstraint::Required),
            "cidr" => required_string(&format!("{peer} as an IPv4 range, e.g. `0.0.0.0/0` for anywhere.")),
        },
        ..Default::default()
    })
}

impl McirShape for SecurityGroup {
    type State = SecurityGroupState;
    const KIND: McirKind = McirKind::SecurityGroup;
    const DESCRIPTION: &'static str =
        "Firewall rules for VMs in a vNet (CB-Tumblebug's security group). Rules are given as \
         `ingress` and `egress` blocks; a group without `egress` blocks lets everything out, \
         like a cloud's default group. MCIS VM groups use the group through their \
         `security_group` attribute. Any change replaces the group.";

    fn attributes() -> HashMap<String, Attribute> {
        map! {
            "vnet_id" => required_string(
                "The `id` of the `tumblebug_vnet` the group belongs to (`<namespace>/<name>`, same \
                 namespace and connection). Reference it as `tumblebug_vnet.<x>.id`, so that a \
                 replaced vNet replaces the group too. Changing it replaces the group."),
        }
    }

    fn blocks() -> HashMap<String, NestedBlock> {
        map! {
            "ingress" => rule_block("inbound", "Source"),
            "egress" => rule_block("outbound", "Destination"),
        }
    }

    fn identity(state: &SecurityGroupState) -> Identity {
        Identity {
            namespace: state.namespace.clone(),
            name: state.name.clone(),
            cloud: state.cloud.clone(),
            region: state.region.clone(),
        }
    }

    fn validate(state: &SecurityGroupState, diags: &mut Diagnostics) {
        if let Value::Value(vnet_id) = &state.vnet_id {
            let namespace = state.namespace.as_deref_option();
            let problem = match vnet_id.split_once('/') {
                None => Some(format!("\"{vnet_id}\" is not a vNet id.")),
                Some((ns, _)) if namespace.is_some_and(|n| n != ns) => Some(format!(
                    "The vNet \"{vnet_id}\" is in namespace \"{ns}\", not in this group's."
                )),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                diag::invalid_attribute(
                    diags,
                    "vnet_id",
                    problem,
                    "Use the `id` of a `tumblebug_vnet` in the same namespace, e.g. `tumblebug_vnet.net.id` (`<namespace>/<name>`).",
                );
            }
        }
        for (direction, rules) in [("ingress", &state.ingress), ("egress", &state.egress)] {
            for (index, rule) in rules.iter().flatten().enumerate() {
                let at = |field: &str| {
                    AttributePath::new(direction)
                        .index(index as i64)
                        .attribute(field.to_owned())
                };
                if let Value::Value(protocol) = &rule.protocol {
                    if !PROTOCOLS.contains(&protocol.as_str()) {
                        diag::invalid_at(
                            diags,
                            at("protocol"),
                            &format!("{direction}.protocol"),
                            format!("\"{protocol}\" is not a protocol this provider knows."),
                            "Use one of `tcp`, `udp`, `icmp` or `all`.",
                        );
                    }
                }
                for field in ["from_port", "to_port"] {
                    let port = if field == "from_port" {
                        &rule.from_port
                    } else {
                        &rule.to_port
                    };
                    if let Value::Value(port) = port {
                        if !(0..=65535).contains(port) {
                            diag::invalid_at(
                                diags,
                                at(field),
                                &format!("{direction}.{field}"),
                                format!("{port} is not a port number."),
                                "Ports are 0 to 65535.",
                            );
                        }
                    }
                }
                if let (Value::Value(from), Value::Value(to)) = (&rule.from_port, &rule.to_port) {
                    if to < from {
                        diag::invalid_at(
                            diags,
                            at("to_port"),
                            &format!("{direction}.to_port"),
                            format!("to_port {to} is below from_port {from}."),
                            "Give a range with from_port <= to_port.",
                        );
                    }
                }
                if let Value::Value(cidr) = &rule.cidr {
                    if parse_cidr(cidr).is_none() {
                        diag::invalid_at(
                            diags,
                            at("cidr"),
                            &format!("{direction}.cidr"),
                            format!("\"{cidr}\" is not an IPv4 range."),
                            "Write an IPv4 address, a slash and a prefix length, e.g. \"203.0.113.0/24\".",
                        );
                    }
                }
            }
        }
    }

    fn plan_new(state: &mut SecurityGroupState) {
        state.id = Value::Unknown;
        state.cloud_id = Value::Unknown;
        state.created_at = Value::Unknown;
    }

    fn changed(prior: &SecurityGroupState, proposed: &SecurityGroupState) -> Vec<&'static str> {
        differing(&[
            ("vnet_id", prior.vnet_id != proposed.vnet_id),
            ("ingress", prior.ingress != proposed.ingress),
            ("egress", prior.egress != proposed.egress),
        ])
    }

    fn detail(state: &SecurityGroupState) -> anyhow::Result<(McirDetail, Option<String>)> {
        let rules = |blocks: &Value<Vec<RuleBlock>>| -> Vec<FirewallRule> {
            blocks.iter().flatten().map(RuleBlock::to_rule).collect()
        };
        Ok((
            McirDetail::SecurityGroup {
                vnet: state
                    .vnet_id
                    .as_deref_option()
                    .and_then(|id| id.split_once('/'))
                    .map(|(_, name)| name.to_owned())
                    .unwrap_or_default(),
                ingress: rules(&state.ingress),
                egress: rules(&state.egress),
            },
            None,
        ))
    }

    fn state_of(record: &McirRecord) -> SecurityGroupState {
        let (vnet, ingress, egress) = match &record.detail {
            McirDetail::SecurityGroup {
                vnet,
                ingress,
                egress,
            } => (vnet.clone(), ingress.clone(), egress.clone()),
            _ => Default::default(),
        };
        let blocks = |rules: Vec<FirewallRule>| -> Value<Vec<RuleBlock>> {
            Value::Value(rules.iter().map(RuleBlock::from).collect())
        };
        SecurityGroupState {
            id: Value::Value(format!("{}/{}", record.namespace, record.name)),
            namespace: Value::Value(record.namespace.clone()),
            name: Value::Value(record.name.clone()),
            cloud: Value::Value(record.provider.clone()),
            region: Value::Value(record.region.clone()),
            vnet_id: Value::Value(format!("{}/{vnet}", record.namespace)),
            ingress: blocks(ingress),
            egress: blocks(egress),
            cloud_id: record.cloud_id.clone().into(),
            created_at: Value::Value(record.created_at.clone()),
        }
    }
}

/// The security group as Terraform state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupState {
    pub id: Value<String>,
    pub namespace: Value<String>,
    pub name: Value<String>,
    pub cloud: Value<String>,
    pub region: Value<String>,
    pub vnet_id: Value<String>,
    pub ingress: Value<Vec<RuleBlock>>,
    pub egress: Value<Vec<RuleBlock>>,
    pub cloud_id: Value<String>,
    pub created_at: Value<String>,
}

/// One `ingress` or `egress` block. Every field is required, so the stored rule reads back
/// exactly as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleBlock {
    pub protocol: Value<String>,
    pub from_port: Value<i64>,
    pub to_port: Value<i64>,
    pub cidr: Value<String>,
}

impl RuleBlock {
    fn to_rule(&self) -> FirewallRule {
        let port = |p: &Value<i64>| p.as_ref_option().copied().unwrap_or_default() as u16;
        FirewallRule {
            protocol: self.protocol.as_ref_option().cloned().unwrap_or_default(),
            from_port: port(&self.from_port),
            to_port: port(&self.to_port),
            cidr: self.cidr.as_ref_option().cloned().unwrap_or_default(),
        }
    }
}

impl From<&FirewallRule> for RuleBlock {
    fn from(rule: &FirewallRule) -> Self {
        RuleBlock {
            protocol: Value::Value(rule.protocol.clone()),
            from_port: Value::Value(rule.from_port.into()),
            to_port: Value::Value(rule.to_port.into()),
            cidr: Value::Value(rule.cidr.clone()),
        }
    }
}
