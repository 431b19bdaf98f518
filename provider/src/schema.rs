//! Small builders for schema attributes, so each resource's schema reads as a list of
//! "name: kind, description" lines. Every attribute gets a real description: tf-provider's default
//! is the word "empty", which would end up in the generated docs.

use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Description};

/// An attribute of any type.
pub fn attribute(
    attr_type: AttributeType,
    constraint: AttributeConstraint,
    description: &str,
) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(description),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

/// A string the user must set.
pub fn required_string(description: &str) -> Attribute {
    attribute(
        AttributeType::String,
        AttributeConstraint::Required,
        description,
    )
}

/// A string the user may set.
pub fn optional_string(description: &str) -> Attribute {
    attribute(
        AttributeType::String,
        AttributeConstraint::Optional,
        description,
    )
}

/// A string only the provider sets.
pub fn computed_string(description: &str) -> Attribute {
    attribute(
        AttributeType::String,
        AttributeConstraint::Computed,
        description,
    )
}

/// A number with the given constraint.
pub fn number(description: &str, constraint: AttributeConstraint) -> Attribute {
    attribute(AttributeType::Number, constraint, description)
}
