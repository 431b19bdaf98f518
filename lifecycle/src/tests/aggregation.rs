//! The MCIS status line, checked against CB-Tumblebug's examples and its tie order.

use crate::UnifiedStatus::{self, *};
use crate::{aggregate, TIE_ORDER};

fn check(label: &str, statuses: &[UnifiedStatus], text: &str) {
    let got = aggregate(statuses.iter().copied());
    assert_eq!(got.text, text, "{label}: {statuses:?}");
    assert_eq!(got.total, statuses.len(), "{label}");
}

fn many(status: UnifiedStatus, n: usize) -> Vec<UnifiedStatus> {
    vec![status; n]
}

#[test]
fn status_lines() {
    let rows: Vec<(&str, Vec<UnifiedStatus>, &str)> = vec![
        ("all running", many(Running, 5), "Running:5 (R:5/5)"),
        (
            "partial running",
            [many(Running, 3), vec![Suspended, Creating]].concat(),
            "Partial-Running:3 (R:3/5)",
        ),
        (
            "all suspended",
            many(Suspended, 18),
            "Suspended:18 (R:0/18)",
        ),
        ("empty", vec![], "Empty:0 (R:0/0)"),
        ("one undefined", vec![Undefined], "Undefined:1 (R:0/1)"),
        (
            "most common wins over the tie order",
            [many(Terminating, 3), vec![Failed, Running]].concat(),
            "Partial-Terminating:3 (R:1/5)",
        ),
        (
            "tie: failed first",
            vec![Running, Failed],
            "Partial-Failed:1 (R:1/2)",
        ),
        (
            "tie: suspended before running",
            vec![Running, Running, Suspended, Suspended],
            "Partial-Suspended:2 (R:2/4)",
        ),
        (
            "tie: running before terminated",
            vec![Terminated, Running],
            "Partial-Running:1 (R:1/2)",
        ),
        (
            "tie: terminating before undefined",
            vec![Undefined, Terminating],
            "Partial-Terminating:1 (R:0/2)",
        ),
    ];
    for (label, statuses, text) in rows {
        check(label, &statuses, text);
    }
}

/// Each status wins a tie against every status after it in the tie order, and only those.
#[test]
fn tie_order_is_complete_and_followed() {
    let mut sorted = TIE_ORDER;
    sorted.sort();
    assert_eq!(sorted, UnifiedStatus::ALL);
    for (i, &first) in TIE_ORDER.iter().enumerate() {
        for &later in &TIE_ORDER[i + 1..] {
            let got = aggregate([later, first]);
            assert_eq!(got.winner, Some(first), "{first} vs {later}");
        }
    }
}

#[test]
fn counts_leave_out_missing_statuses_and_serialise() {
    let got = aggregate([Running, Failed, Running]);
    assert_eq!(got.counts.get(&Running), Some(&2));
    assert_eq!(got.counts.get(&Failed), Some(&1));
    assert_eq!(got.counts.get(&Suspended), None);
    assert_eq!(got.running, 2);
    assert_eq!(aggregate([]).winner, None);
    let json = serde_json::to_string(&got).unwrap();
    assert!(
        json.contains(r#""counts":{"Running":2,"Failed":1}"#),
        "{json}"
    );
}
