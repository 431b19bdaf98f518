//! Name rules shared by every resource that CB-Tumblebug identifies by name (namespaces first),
//! and the check of cloud names.

/// Longest name accepted: a DNS label, so names can reach host names and cloud tags unchanged.
pub const MAX_NAME_LEN: usize = 63;

/// What a valid name looks like, for diagnostics.
pub const NAME_RULE: &str =
    "A valid name is 1 to 63 characters of lower-case letters (a-z), digits \
(0-9) and hyphens (-), and does not start with a hyphen, for example \"team-a\" or \"prod-01\".";

/// Checks a name and says precisely what is wrong with it.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("The name is empty.".into());
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return Err(format!(
            "The name is {len} characters long, more than {MAX_NAME_LEN}."
        ));
    }
    let mut bad: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        .collect();
    bad.dedup();
    if !bad.is_empty() {
        let shown: Vec<String> = bad.iter().map(|c| format!("{c:?}")).collect();
        return Err(format!(
            "\"{name}\" contains characters that are not allowed: {}.",
            shown.join(", ")
        ));
    }
    if name.starts_with('-') {
        return Err(format!("\"{name}\" starts with a hyphen."));
    }
    Ok(())
}

/// Checks a cloud name (a VM group's or an MCIR's `provider`); on error, says what is wrong and
/// which names are valid.
pub fn check_cloud(name: &str) -> Result<(), (String, String)> {
    if name.parse::<lifecycle::Cloud>().is_ok() {
        return Ok(());
    }
    let valid: Vec<&str> = lifecycle::Cloud::ALL.iter().map(|c| c.as_str()).collect();
    Err((
        format!("\"{name}\" is not a supported cloud."),
        format!("Valid clouds: {}.", valid.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expect: Result<(), &str>) {
        let got = check_name(name);
        match (got, expect) {
            (Ok(()), Ok(())) => {}
            (Err(msg), Err(fragment)) => {
                assert!(
                    msg.contains(fragment),
                    "{name:?}: {msg:?} lacks {fragment:?}"
                )
            }
            (got, expect) => panic!("{name:?}: got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn names() {
        check("a", Ok(()));
        check("team-a", Ok(()));
        check("0-start-with-digit", Ok(()));
        check("trailing-", Ok(()));
        check(&"x".repeat(63), Ok(()));
        check("", Err("empty"));
        check(&"x".repeat(64), Err("64 characters long"));
        check("Team", Err("'T'"));
        check("a_b", Err("'_'"));
        check("a b", Err("' '"));
        check("ns.1", Err("'.'"));
        check("café", Err("'é'"));
        check("-lead", Err("starts with a hyphen"));
    }
}
