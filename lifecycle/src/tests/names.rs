//! Names in and out: `FromStr`, `Display` and serde agree, and unknown names list the valid ones.

use crate::{Action, Cloud, NativeStatus, UnifiedStatus};

#[test]
fn names_round_trip() {
    for cloud in Cloud::ALL {
        assert_eq!(cloud.to_string().parse::<Cloud>(), Ok(cloud));
        assert_eq!(
            serde_json::to_string(&cloud).unwrap(),
            format!("\"{cloud}\"")
        );
    }
    for status in UnifiedStatus::ALL {
        assert_eq!(status.to_string().parse::<UnifiedStatus>(), Ok(status));
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            format!("\"{status}\"")
        );
    }
    for action in Action::ALL {
        assert_eq!(action.to_string().parse::<Action>(), Ok(action));
        assert_eq!(
            serde_json::to_string(&action).unwrap(),
            format!("\"{action}\"")
        );
    }
}

#[test]
fn names_are_lenient_and_errors_helpful() {
    let rows: [(&str, Result<Cloud, &str>); 5] = [
        ("aws", Ok(Cloud::Aws)),
        (" OpenStack ", Ok(Cloud::OpenStack)),
        ("GCP", Ok(Cloud::Gcp)),
        (
            "ncp",
            Err(
                "unknown cloud 'ncp': expected one of alibaba, aws, gcp, azure, openstack, cloudit, local",
            ),
        ),
        (
            "",
            Err("unknown cloud '': expected one of alibaba, aws, gcp, azure, openstack, cloudit, local"),
        ),
    ];
    for (given, expected) in rows {
        let got = given.parse::<Cloud>().map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_string), "{given:?}");
    }
    assert_eq!(
        "running".parse::<UnifiedStatus>(),
        Ok(UnifiedStatus::Running)
    );
    assert!("Empty"
        .parse::<UnifiedStatus>()
        .unwrap_err()
        .to_string()
        .contains("Creating, Running"));
    assert_eq!("Reboot".parse::<Action>(), Ok(Action::Reboot));
    assert!("restart".parse::<Action>().is_err());
}

#[test]
fn native_status_serde_shape() {
    let rows = [
        (
            NativeStatus::word("running"),
            r#"{"kind":"word","value":"running"}"#,
        ),
        (NativeStatus::Absent, r#"{"kind":"absent"}"#),
        (
            NativeStatus::Unreadable("timeout".to_string()),
            r#"{"kind":"unreadable","value":"timeout"}"#,
        ),
    ];
    for (native, json) in rows {
        assert_eq!(serde_json::to_string(&native).unwrap(), json);
        assert_eq!(serde_json::from_str::<NativeStatus>(json).unwrap(), native);
    }
}
