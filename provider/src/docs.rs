//! Generates `docs/` (Terraform registry layout) from the schemas and `examples/`.
//!
//! The schema descriptions are the single source of the docs: `terraform-provider-tumblebug docs
//! <repo root>` rewrites the pages, and a unit test fails when the committed pages differ from what
//! the current schemas produce, so docs cannot drift from the code.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Block, NestedBlock};
use tf_provider::{Diagnostics, Provider};

use crate::provider::TumblebugProvider;

/// Every generated page: path relative to the repository root, and its content.
pub fn pages(repo: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let provider = TumblebugProvider::default();
    let mut diags = Diagnostics::default();
    let mut pages = BTreeMap::new();

    let schema = provider.schema(&mut diags).expect("provider schema");
    let mut index = front_matter("tumblebug Provider", &schema.block.description.content);
    writeln!(
        index,
        "# tumblebug Provider\n\n{}\n",
        schema.block.description.content
    )?;
    writeln!(
        index,
        "## Example Usage\n\n{}",
        example(repo, "examples/provider/provider.tf")?
    )?;
    writeln!(
        index,
        "## Quickstart\n\n{}",
        example(repo, "examples/quickstart/main.tf")?
    )?;
    index.push_str("## Schema\n\n");
    render_block(&mut index, &schema.block, None);
    pages.insert("docs/index.md".to_owned(), index);

    let resources = provider.get_resources(&mut diags).expect("resources");
    for (name, resource) in resources {
        let full = format!("tumblebug_{name}");
        let schema = resource.schema(&mut diags).expect("resource schema");
        let description = &schema.block.description.content;
        let mut page = front_matter(&format!("{full} Resource - tumblebug"), description);
        writeln!(page, "# {full} (Resource)\n\n{description}\n")?;
        let dir = format!("examples/resources/{full}");
        writeln!(
            page,
            "## Example Usage\n\n{}",
            example(repo, &format!("{dir}/resource.tf"))?
        )?;
        page.push_str("## Schema\n\n");
        render_block(&mut page, &schema.block, None);
        let import = repo.join(&dir).join("import.sh");
        if import.exists() {
            let text = std::fs::read_to_string(&import)?;
            writeln!(page, "## Import\n\n```shell\n{}```", text)?;
        }
        pages.insert(format!("docs/resources/{name}.md"), page);
    }

    for (name, data_source) in provider.get_data_sources(&mut diags).expect("data sources") {
        let full = format!("tumblebug_{name}");
        let schema = data_source.schema(&mut diags).expect("data source schema");
        let description = &schema.block.description.content;
        let mut page = front_matter(&format!("{full} Data Source - tumblebug"), description);
        writeln!(page, "# {full} (Data Source)\n\n{description}\n")?;
        writeln!(
            page,
            "## Example Usage\n\n{}",
            example(
                repo,
                &format!("examples/data-sources/{full}/data-source.tf")
            )?
        )?;
        page.push_str("## Schema\n\n");
        render_block(&mut page, &schema.block, None);
        pages.insert(format!("docs/data-sources/{name}.md"), page);
    }
    Ok(pages)
}

/// Writes every page under `repo`.
pub fn write(repo: &Path) -> anyhow::Result<()> {
    for (path, content) in pages(repo)? {
        let path = repo.join(path);
        std::fs::create_dir_all(path.parent().expect("page path has a parent"))?;
        std::fs::write(&path, content)?;
    }
    Ok(())
}

fn front_matter(title: &str, description: &str) -> String {
    let first_sentence = description
        .split(". ")
        .next()
        .unwrap_or(description)
        .trim_end_matches('.');
    format!("---\npage_title: \"{title}\"\ndescription: |-\n  {first_sentence}.\n---\n\n")
}

fn example(repo: &Path, relative: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(repo.join(relative))
        .map_err(|err| anyhow::anyhow!("cannot read {relative}: {err}"))?;
    Ok(format!("```terraform\n{text}```\n\nFrom `{relative}`.\n"))
}

/// Renders a block's attributes grouped as Required / Optional / Read-Only, then its nested blocks.
fn render_block(out: &mut String, block: &Block, path: Option<&str>) {
    if let Some(path) = path {
        let _ = writeln!(
            out,
            "<a id=\"nestedblock--{}\"></a>\n### Nested Schema for `{path}`\n",
            path.replace('.', "--")
        );
    }
    let sorted: BTreeMap<&String, &Attribute> = block.attributes.iter().collect();
    let blocks: BTreeMap<&String, &NestedBlock> = block.blocks.iter().collect();
    let groups = [
        ("Required", AttributeConstraint::Required),
        ("Optional", AttributeConstraint::Optional),
        ("Read-Only", AttributeConstraint::Computed),
    ];
    for (title, constraint) in groups {
        let mut lines = Vec::new();
        for (name, attr) in &sorted {
            let group = match attr.constraint {
                AttributeConstraint::OptionalComputed => AttributeConstraint::Optional,
                ref other => other.clone(),
            };
            if group == constraint {
                let sensitive = if attr.sensitive { ", Sensitive" } else { "" };
                lines.push(format!(
                    "- `{name}` ({}{sensitive}) {}",
                    type_name(&attr.attr_type),
                    attr.description.content
                ));
            }
        }
        // Nested blocks are configuration: list them with the optional attributes.
        if constraint == AttributeConstraint::Optional {
            for (name, nested) in &blocks {
                let inner = nested_inner(nested);
                let nested_path = path.map_or_else(|| name.to_string(), |p| format!("{p}.{name}"));
                lines.push(format!(
                    "- `{name}` (Block{}) {} (see [below for nested schema](#nestedblock--{}))",
                    nested_kind(nested),
                    inner.description.content,
                    nested_path.replace('.', "--")
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(out, "### {title}\n\n{}\n", lines.join("\n"));
        }
    }
    for (name, nested) in blocks {
        let nested_path = path.map_or_else(|| name.to_string(), |p| format!("{p}.{name}"));
        render_block(out, nested_inner(nested), Some(&nested_path));
    }
}

fn nested_inner(nested: &NestedBlock) -> &Block {
    match nested {
        NestedBlock::Single(b)
        | NestedBlock::List(b)
        | NestedBlock::Set(b)
        | NestedBlock::Map(b)
        | NestedBlock::Group(b)
        | NestedBlock::Optional(b) => b,
    }
}

fn nested_kind(nested: &NestedBlock) -> &'static str {
    match nested {
        NestedBlock::Single(_) | NestedBlock::Group(_) | NestedBlock::Optional(_) => "",
        NestedBlock::List(_) => " List",
        NestedBlock::Set(_) => " Set",
        NestedBlock::Map(_) => " Map",
    }
}

fn type_name(attr_type: &AttributeType) -> String {
    match attr_type {
        AttributeType::String => "String".into(),
        AttributeType::Number => "Number".into(),
        AttributeType::Bool => "Boolean".into(),
        AttributeType::List(inner) => format!("List of {}", type_name(inner)),
        AttributeType::Set(inner) => format!("Set of {}", type_name(inner)),
        AttributeType::Map(inner) => format!("Map of {}", type_name(inner)),
        AttributeType::Object(_) | AttributeType::AttributeSingle(_) => "Object".into(),
        AttributeType::Tuple(_) => "Tuple".into(),
        AttributeType::AttributeList(_) => "List of Object".into(),
        AttributeType::AttributeSet(_) => "Set of Object".into(),
        AttributeType::AttributeMap(_) => "Map of Object".into(),
        AttributeType::Any => "Dynamic".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when docs/ is stale; fix with `terraform-provider-tumblebug docs .` at the repo root.
    #[test]
    fn committed_docs_match_the_schemas() {
        // Read at run time: a path compiled in goes stale when cargo reuses this test binary
        // for a checkout at another place with the same target directory.
        let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("tests run under cargo");
        let repo = Path::new(&crate_dir).join("..");
        for (path, expected) in pages(&repo).unwrap() {
            let committed = std::fs::read_to_string(repo.join(&path)).unwrap_or_default();
            assert!(
                committed == expected,
                "{path} is stale: run `terraform-provider-tumblebug docs .` at the repository root"
            );
        }
    }

    #[test]
    fn every_attribute_has_a_real_description() {
        fn check(block: &Block, at: &str) {
            assert!(
                block.description.content.len() > 10,
                "{at}: block description"
            );
            for (name, attr) in &block.attributes {
                let text = &attr.description.content;
                assert!(
                    text != "empty" && text.len() > 10,
                    "{at}.{name}: description {text:?}"
                );
            }
            for (name, nested) in &block.blocks {
                check(nested_inner(nested), &format!("{at}.{name}"));
            }
        }
        let provider = TumblebugProvider::default();
        let mut diags = Diagnostics::default();
        check(&provider.schema(&mut diags).unwrap().block, "provider");
        for (name, resource) in provider.get_resources(&mut diags).unwrap() {
            check(&resource.schema(&mut diags).unwrap().block, &name);
        }
        for (name, data_source) in provider.get_data_sources(&mut diags).unwrap() {
            check(&data_source.schema(&mut diags).unwrap().block, &name);
        }
    }
}
