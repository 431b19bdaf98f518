//! `tumblebug_command`: runs a list of shell commands on every VM of an MCIS (or one group) over
//! SSH, with each VM's pinned host key, and records each VM's exit code and output tail. Like
//! `null_resource` with a provisioner, it runs again only when it is replaced: every attribute
//! the user sets (the commands and `triggers` included) forces replacement.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::diag;
use crate::mcis::access::ssh_targets;
use crate::provider::Shared;
use crate::resources::differing;
use crate::resources::vm_access::{
    check_duration, check_mcis_id, group_attribute, mcis_id_attribute, split_mcis_id, unreachable,
    user_attribute, user_or_default,
};
use crate::schema::{attribute, computed_string, optional_string};
use crate::timeouts::parse_duration;

/// Lines of stdout/stderr kept per VM in state and shown in diagnostics.
const TAIL_LINES: usize = 20;
/// How long the commands may run on each VM unless `timeout` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The resource; holds the provider's shared context.
pub struct CommandResource {
    shared: Shared,
}

impl CommandResource {
    pub fn new(shared: Shared) -> Self {
        CommandResource { shared }
    }
}

#[async_trait]
impl Resource for CommandResource {
    type State<'a> = Value<CommandState>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let result = AttributeType::Object(map! {
            "vm" => AttributeType::String,
            "exit_code" => AttributeType::Number,
            "stdout" => AttributeType::String,
            "stderr" => AttributeType::String,
        });
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::markdown(
                    "Runs shell commands on every VM of an MCIS (or of one `vm_group`), in \
                     parallel, over SSH with the MCIS's key and each VM's pinned host key, e.g. \
                     to install and start a web server everywhere in one step. Any VM that \
                     fails fails the apply, named with the tail of its stderr. Changing \
                     `commands` or `triggers` runs them again.",
                ),
                attributes: map! {
                    "id" => computed_string("`<mcis_id>/<group or *>`, with the time of the run."),
                    "mcis_id" => mcis_id_attribute(),
                    "group" => group_attribute(),
                    "commands" => attribute(AttributeType::List(AttributeType::String.into()), AttributeConstraint::Required,
                        "Shell commands, run in order by `sh` on each VM; the first failing command stops that VM's run."),
                    "triggers" => attribute(AttributeType::Map(AttributeType::String.into()), AttributeConstraint::Optional,
                        "Any values; changing one runs the commands again."),
                    "user" => user_attribute(),
                    "timeout" => optional_string("Time limit per VM, e.g. `5m`. Default `10m`."),
                    "results" => attribute(AttributeType::List(result.into()), AttributeConstraint::Computed,
                        "Per VM: `vm` (its name), `exit_code`, and the last 20 lines of `stdout` and `stderr`."),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let Value::Value(config) = config else {
            return Some(());
        };
        check_mcis_id(diags, &config.mcis_id);
        if let Value::Value(commands) = &config.commands {
            if commands.is_empty() {
                diag::invalid_attribute(
                    diags,
                    "commands",
                    "The list is empty.",
                    "Give at least one command, e.g. [\"uname -a\"].",
                );
            }
        }
        check_duration(diags, "timeout", &config.timeout);
        Some(())
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut planned = proposed.as_option()?;
        planned.id = Value::Unknown;
        planned.results = Value::Unknown;
        Some((Value::Value(planned), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let prior = prior.as_option()?;
        let mut planned = proposed.as_option()?;
        let changed = differing(&[
            ("mcis_id", planned.mcis_id != prior.mcis_id),
            ("group", planned.group != prior.group),
            ("commands", planned.commands != prior.commands),
            ("triggers", planned.triggers != prior.triggers),
            ("user", planned.user != prior.user),
            ("timeout", planned.timeout != prior.timeout),
        ]);
        if changed.is_empty() {
            return Some((Value::Value(prior), ValueEmpty::default(), Vec::new()));
        }
        planned.id = Value::Unknown;
        planned.results = Value::Unknown;
        let replace = changed.into_iter().map(AttributePath::new).collect();
        Some((Value::Value(planned), ValueEmpty::default(), replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        _prior_private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(ValueEmpty::default())
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let ctx = self.shared.get(diags)?;
        let mut state = planned.as_option()?;
        let mcis_id = state.mcis_id.clone().as_option()?;
        let (namespace, mcis) = split_mcis_id(&mcis_id)?;
        let group = state.group.as_ref_option().cloned();
        let user = user_or_default(&state.user);
        let script = std::iter::once("set -e".to_owned())
            .chain(
                state
                    .commands
                    .iter()
                    .flatten()
                    .filter_map(|c| c.as_ref_option().cloned()),
            )
            .collect::<Vec<_>>()
            .join("\n");
        let timeout = state
            .timeout
            .as_deref_option()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(DEFAULT_TIMEOUT);
        let targets = match ssh_targets(&ctx.store, namespace, mcis, group.as_deref(), &user) {
            Ok(targets) => targets,
            Err(err) => {
                unreachable(diags, "run commands", &mcis_id, &err);
                return None;
            }
        };
        let config = remote::SshConfig {
            command_timeout: timeout,
            ..remote::SshConfig::default()
        };
        tracing::info!(mcis = %mcis_id, vms = targets.iter().map(|t| t.hosts.len()).sum::<usize>(), "running commands");
        let runs = tokio::task::spawn_blocking(move || {
            let mut runs = Vec::new();
            for target in &targets {
                let outputs = remote::run_on_all(&target.hosts, &target.key, &config, &script);
                runs.extend(target.hosts.iter().map(|h| h.name.clone()).zip(outputs));
            }
            runs
        })
        .await
        .ok()?;
        let mut results = Vec::new();
        let mut failed = Vec::new();
        for (vm, run) in runs {
            match run {
                Ok(output) => {
                    let stderr = tail(&output.stderr);
                    if output.exit_status != 0 {
                        failed.push(format!("{vm}: exit code {}\n{stderr}", output.exit_status));
                    }
                    results.push(CommandResult {
                        vm: Value::Value(vm),
                        exit_code: Value::Value(output.exit_status.into()),
                        stdout: Value::Value(tail(&output.stdout)),
                        stderr: Value::Value(stderr),
                    });
                }
                Err(err) => failed.push(format!("{vm}: {err}")),
            }
        }
        results.sort_by(|a, b| a.vm.as_ref_option().cmp(&b.vm.as_ref_option()));
        failed.sort();
        if !failed.is_empty() {
            diag::failed(
                diags,
                format!("{} VM(s) of MCIS \"{mcis_id}\" failed the commands", failed.len()),
                "Fix the commands or the VMs and run `terraform apply` again: the resource is replaced and runs everywhere again.",
                failed.join("\n\n"),
            );
        }
        state.id = Value::Value(format!(
            "{mcis_id}/{}@{}",
            group.as_deref().unwrap_or("*"),
            crate::store::now_rfc3339()
        ));
        state.results = Value::Value(results);
        Some((Value::Value(state), ValueEmpty::default()))
    }

    async fn read<'a>(
        &self,
        _diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        // A run is a past event: there is nothing in the clouds to refresh.
        Some((state, ValueEmpty::default()))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        _planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        diag::failed(
            diags,
            "A command cannot be updated in place",
            "Report this as a bug: the plan should have replaced it.",
            "update called",
        );
        None
    }

    async fn destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        // Nothing to undo: commands already ran.
        Some(())
    }
}

/// The last [`TAIL_LINES`] lines of an output, as text.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// The command resource as Terraform state holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandState {
    pub id: Value<String>,
    pub mcis_id: Value<String>,
    pub group: Value<String>,
    pub commands: Value<Vec<Value<String>>>,
    pub triggers: Value<BTreeMap<String, Value<String>>>,
    pub user: Value<String>,
    pub timeout: Value<String>,
    pub results: Value<Vec<CommandResult>>,
}

/// One VM's run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    pub vm: Value<String>,
    pub exit_code: Value<i64>,
    pub stdout: Value<String>,
    pub stderr: Value<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn tail_keeps_the_last_lines() {
        let text: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let kept = super::tail(text.as_bytes());
        assert!(
            kept.starts_with("line 10\n") && kept.ends_with("line 29"),
            "{kept}"
        );
        assert_eq!(super::tail(b"one"), "one");
    }
}
