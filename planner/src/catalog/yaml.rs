//! A small parser for the YAML subset of CB-Tumblebug's `cloudinfo.yaml`: block mappings, block
//! sequences (also the compact form where `- item` sits at the parent key's indentation), plain,
//! single- and double-quoted scalars, `[]`/`{}` empty flow collections and `#` comments.
//!
//! It exists so that one YAML file does not pull a general YAML library into the provider
//! binary. Anything outside the subset is an error with a line number, never a silent misread.

use std::collections::BTreeMap;

/// A parsed node.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A scalar, unquoted.
    Scalar(String),
    /// A mapping, keys in file order.
    Map(Vec<(String, Node)>),
    /// A sequence.
    Seq(Vec<Node>),
    /// An empty value (`key:` with nothing nested).
    Null,
}

impl Node {
    /// The value of a key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The scalar text, if a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }
    /// Mapping entries (empty for other nodes).
    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(m) => m,
            _ => &[],
        }
    }
}

struct Line<'a> {
    no: usize,
    indent: usize,
    text: &'a str,
}

/// Parses a document. Errors name the 1-based line.
pub fn parse(src: &str) -> Result<Node, String> {
    let mut lines = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let t = strip_comment(raw);
        let trimmed = t.trim_end();
        if trimmed.trim().is_empty() || trimmed.trim() == "---" {
            continue;
        }
        if trimmed.contains('\t') && trimmed.trim_start().len() != trimmed.len() {
            let lead = &trimmed[..trimmed.len() - trimmed.trim_start().len()];
            if lead.contains('\t') {
                return Err(format!("line {}: tab in indentation", i + 1));
            }
        }
        let indent = trimmed.len() - trimmed.trim_start().len();
        lines.push(Line {
            no: i + 1,
            indent,
            text: trimmed.trim_start(),
        });
    }
    if lines.is_empty() {
        return Ok(Node::Null);
    }
    let mut pos = 0;
    let indent = lines[0].indent;
    let node = block(&lines, &mut pos, indent)?;
    if pos < lines.len() {
        return Err(format!("line {}: unexpected indentation", lines[pos].no));
    }
    Ok(node)
}

fn strip_comment(s: &str) -> &str {
    let (mut sq, mut dq) = (false, false);
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\'' if !dq => sq = !sq,
            b'"' if !sq => dq = !dq,
            b'#' if !sq && !dq && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') => {
                return &s[..i]
            }
            _ => {}
        }
    }
    s
}

fn block(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Node, String> {
    if lines[*pos].text.starts_with("- ") || lines[*pos].text == "-" {
        seq(lines, pos, indent)
    } else {
        map(lines, pos, indent)
    }
}

fn seq(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Node, String> {
    let mut items = Vec::new();
    while *pos < lines.len() && lines[*pos].indent == indent {
        let l = &lines[*pos];
        let rest = if l.text == "-" {
            ""
        } else if let Some(r) = l.text.strip_prefix("- ") {
            r.trim()
        } else {
            break;
        };
        *pos += 1;
        if rest.is_empty() {
            items.push(nested(lines, pos, indent)?);
        } else if split_key(rest).is_some() {
            return Err(format!(
                "line {}: mappings inside sequences are outside the supported subset",
                l.no
            ));
        } else {
            items.push(scalar(rest, l.no)?);
        }
    }
    Ok(Node::Seq(items))
}

fn map(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Node, String> {
    let mut entries: Vec<(String, Node)> = Vec::new();
    let mut seen = BTreeMap::new();
    while *pos < lines.len() && lines[*pos].indent == indent {
        let l = &lines[*pos];
        if l.text.starts_with("- ") {
            break;
        }
        let (k, v) = split_key(l.text).ok_or_else(|| format!("line {}: expected `key:`", l.no))?;
        *pos += 1;
        let key = unquote(k, l.no)?;
        let value = if v.is_empty() {
            // A compact sequence may sit at the key's own indentation.
            if *pos < lines.len()
                && lines[*pos].indent == indent
                && lines[*pos].text.starts_with("- ")
            {
                seq(lines, pos, indent)?
            } else {
                nested(lines, pos, indent)?
            }
        } else {
            scalar(v, l.no)?
        };
        if seen.insert(key.clone(), l.no).is_some() {
            return Err(format!("line {}: duplicate key `{key}`", l.no));
        }
        entries.push((key, value));
    }
    Ok(Node::Map(entries))
}

fn nested(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Node, String> {
    if *pos < lines.len() && lines[*pos].indent > indent {
        let i = lines[*pos].indent;
        block(lines, pos, i)
    } else {
        Ok(Node::Null)
    }
}

/// Splits `key: value` (or `key:`) outside quotes.
fn split_key(s: &str) -> Option<(&str, &str)> {
    let (mut sq, mut dq) = (false, false);
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\'' if !dq => sq = !sq,
            b'"' if !sq => dq = !dq,
            b':' if !sq && !dq && (i + 1 == b.len() || b[i + 1] == b' ') => {
                return Some((s[..i].trim(), s[i + 1..].trim()));
            }
            _ => {}
        }
    }
    None
}

fn scalar(s: &str, no: usize) -> Result<Node, String> {
    match s {
        "[]" => Ok(Node::Seq(Vec::new())),
        "{}" => Ok(Node::Map(Vec::new())),
        "~" | "null" => Ok(Node::Null),
        _ if s.starts_with('[')
            || s.starts_with('{')
            || s.starts_with('&')
            || s.starts_with('*') =>
        {
            Err(format!(
                "line {no}: flow collections and anchors are outside the supported subset"
            ))
        }
        _ if s.starts_with('|') || s.starts_with('>') => Err(format!(
            "line {no}: block scalars are outside the supported subset"
        )),
        _ => Ok(Node::Scalar(unquote(s, no)?)),
    }
}

fn unquote(s: &str, no: usize) -> Result<String, String> {
    if let Some(inner) = s.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or_else(|| format!("line {no}: unterminated quote"))?;
        Ok(inner.replace("''", "'"))
    } else if let Some(inner) = s.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("line {no}: unterminated quote"))?;
        if inner.contains('\\') {
            return Err(format!(
                "line {no}: escapes in double quotes are not supported"
            ));
        }
        Ok(inner.to_string())
    } else {
        Ok(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cloudinfo_shape() {
        let src = "\
# comment
cloud:
  aws:
    description: Amazon # trailing
    link:
    - https://example.com/a#b
    region:
      # us-east-9:
      #   description: disabled
      us-east-1:
        location:
          display: 'US East (N. Virginia)'
          latitude: 38.13
        zone:
        - us-east-1a
        - '1'
      empty:
        zone: []
";
        let n = parse(src).unwrap();
        let aws = n.get("cloud").unwrap().get("aws").unwrap();
        assert_eq!(aws.get("description").unwrap().as_str(), Some("Amazon"));
        assert_eq!(
            aws.get("link").unwrap(),
            &Node::Seq(vec![Node::Scalar("https://example.com/a#b".into())])
        );
        let regions = aws.get("region").unwrap().entries();
        assert_eq!(regions.len(), 2, "the commented region is disabled");
        let r = &regions[0].1;
        assert_eq!(
            r.get("location").unwrap().get("display").unwrap().as_str(),
            Some("US East (N. Virginia)")
        );
        assert_eq!(
            r.get("zone").unwrap(),
            &Node::Seq(vec![
                Node::Scalar("us-east-1a".into()),
                Node::Scalar("1".into())
            ])
        );
        assert_eq!(regions[1].1.get("zone").unwrap(), &Node::Seq(vec![]));
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        assert!(parse("a: [1, 2]\n").is_err());
        assert!(parse("a: |\n  text\n").is_err());
        assert!(parse("a: 1\na: 2\n").is_err());
        assert!(parse("a:\n  b: 1\n c: 2\n").is_err());
    }
}
