//! What the resources that work on the VMs of an MCIS over SSH (`tumblebug_command`,
//! `tumblebug_transfer`) share: the attributes that choose the VMs and the login, their checks,
//! and the diagnostic when the VMs cannot be reached. One definition, so both resources describe
//! and check them alike.

use tf_provider::schema::Attribute;
use tf_provider::value::Value;
use tf_provider::Diagnostics;

use crate::diag;
use crate::schema::{optional_string, required_string};
use crate::timeouts::parse_duration;

/// The login user when `user` is left out.
pub const DEFAULT_USER: &str = "root";

/// The `mcis_id` attribute.
pub fn mcis_id_attribute() -> Attribute {
    required_string("The MCIS's `id` (`<namespace>/<name>`): reference `tumblebug_mcis.<x>.id`.")
}

/// The `group` attribute.
pub fn group_attribute() -> Attribute {
    optional_string("Only the VMs of this `vm_group`; all VMs when left out.")
}

/// The `user` attribute.
pub fn user_attribute() -> Attribute {
    optional_string("Login user. Default `root`.")
}

/// `(namespace, mcis name)` of an MCIS id, `None` when it is not one.
pub fn split_mcis_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('/')
}

/// The configured login user, or [`DEFAULT_USER`].
pub fn user_or_default(user: &Value<String>) -> String {
    user.as_ref_option()
        .cloned()
        .unwrap_or_else(|| DEFAULT_USER.into())
}

/// Checks `mcis_id`, when known.
pub fn check_mcis_id(diags: &mut Diagnostics, mcis_id: &Value<String>) {
    if let Value::Value(id) = mcis_id {
        if split_mcis_id(id).is_none() {
            diag::invalid_attribute(
                diags,
                "mcis_id",
                format!("\"{id}\" is not an MCIS id."),
                "Use `tumblebug_mcis.<name>.id` (`<namespace>/<mcis name>`).",
            );
        }
    }
}

/// Checks a duration attribute such as `timeout`, when set and known.
pub fn check_duration(diags: &mut Diagnostics, attribute: &str, value: &Value<String>) {
    if let Value::Value(text) = value {
        if let Err(problem) = parse_duration(text) {
            diag::invalid_attribute(diags, attribute, problem, "For example \"5m\" or \"90s\".");
        }
    }
}

/// The VMs of `mcis_id` cannot be reached over SSH (for `what`, e.g. "run commands").
pub fn unreachable(diags: &mut Diagnostics, what: &str, mcis_id: &str, cause: &anyhow::Error) {
    diag::failed(
        diags,
        format!("Cannot {what} on MCIS \"{mcis_id}\""),
        "Make sure every VM is running on a cloud that reports its SSH host key (the `local` \
         cloud does; the simulator's VMs have no SSH server).",
        format!("{cause:#}"),
    );
}
