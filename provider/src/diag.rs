//! Diagnostics in one shape: a short summary, then what went wrong, what to do, and the original
//! cause. Every user-facing error of the provider is built here so they all read alike.

use std::fmt::Display;

use tf_provider::{AttributePath, Diagnostics};

/// An invalid value of a top-level attribute: names it and says what would be valid.
pub fn invalid_attribute(
    diags: &mut Diagnostics,
    attribute: &str,
    problem: impl Display,
    valid: impl Display,
) {
    invalid_at(
        diags,
        AttributePath::new(attribute.to_owned()),
        attribute,
        problem,
        valid,
    );
}

/// An invalid value at `path` (inside a block or a map), where `attribute` is the name the user
/// sees in the summary.
pub fn invalid_at(
    diags: &mut Diagnostics,
    path: AttributePath,
    attribute: &str,
    problem: impl Display,
    valid: impl Display,
) {
    diags.error(
        format!("Invalid value for \"{attribute}\""),
        format!("{problem}\n\n{valid}"),
        path,
    );
}

/// An operation that failed: what failed, what the user can do, and the underlying cause.
pub fn failed(
    diags: &mut Diagnostics,
    summary: impl Display,
    remedy: impl Display,
    cause: impl Display,
) {
    diags.root_error(summary.to_string(), format!("{remedy}\n\nCause: {cause}"));
}

/// The same as [`failed`], attached to one attribute.
pub fn failed_at(
    diags: &mut Diagnostics,
    attribute: &str,
    summary: impl Display,
    remedy: impl Display,
    cause: impl Display,
) {
    diags.error(
        summary.to_string(),
        format!("{remedy}\n\nCause: {cause}"),
        AttributePath::new(attribute.to_owned()),
    );
}

/// A warning: something did not happen as it should, but the operation went on. Says what was
/// left undone and what the user can do about it.
pub fn warned(diags: &mut Diagnostics, summary: impl Display, detail: impl Display) {
    diags.root_warning(summary.to_string(), detail.to_string());
}
