//! Arbitrary schedule JSON, however malformed, never panics: it is either a valid
//! schedule or a named error, and the planner runs on whatever was valid.

use chrono::{DateTime, Duration};
use instance_scheduler::plan::{RunState, Settings, plan};
use instance_scheduler::schedule::Catalog;
use instance_scheduler::store::Items;
use instance_scheduler::store::files::parse_into;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "09:30",
            "24:00",
            "9:5",
            "None",
            "none",
            "",
            "weekdays",
            "mon-fri",
            "sun-sat",
            "mon,,fri",
            "-",
            "Asia/Seoul",
            "Etc/GMT+14",
            "UTC",
            "2026-02-29",
            "2028-02-29",
            "start",
            "stop",
            "EC2",
            "rds",
            "aurora",
            "true",
            "FALSE",
            "GROUP1",
            "GROUP1,GROUP2",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A document with the real field names and arbitrary values.
fn schedule_like() -> impl Strategy<Value = Value> {
    let fields = [
        "ScheduleName",
        "TagValue",
        "DaysActive",
        "Enabled",
        "StartTime",
        "StopTime",
        "ForceStart",
        "TimeZone",
    ];
    let group = prop::collection::btree_map(
        prop::sample::select(vec!["GroupName", "InstanceType", "Dependency"]),
        any_json(),
        0..4,
    );
    let exception = prop::collection::btree_map(
        prop::sample::select(vec!["ExceptionDate", "ExceptionType", "ExceptionValue"]),
        any_json(),
        0..4,
    );
    (
        prop::collection::btree_map(prop::sample::select(fields.to_vec()), any_json(), 0..9),
        prop::collection::vec(group, 0..4),
        prop::collection::vec(exception, 0..4),
        prop::sample::select(vec!["A", "B", ""]),
    )
        .prop_map(|(fields, groups, exceptions, name)| {
            let mut doc: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            doc.entry("ScheduleName").or_insert(json!(name));
            let g = |m: std::collections::BTreeMap<&str, Value>| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            };
            doc.insert(
                "Groups".into(),
                Value::Array(groups.into_iter().map(g).collect()),
            );
            doc.insert(
                "Exceptions".into(),
                Value::Array(exceptions.into_iter().map(g).collect()),
            );
            Value::Object(doc)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_schedule_json_never_panics(
        docs in prop::collection::vec(prop_oneof![any_json(), schedule_like()], 1..4),
        raw in ".{0,64}",
    ) {
        let mut items = Items::default();
        let mut accepted = 0;
        for doc in &docs {
            if parse_into(&doc.to_string(), &mut items).is_ok() {
                accepted += 1;
            }
        }
        let _ = parse_into(&raw, &mut items);
        prop_assert!(items.schedules.len() >= accepted);
        let catalog = Catalog::build(&items.schedules, &items.groups, &items.exceptions, chrono_tz::UTC);
        // Every schedule item is either valid or named in an error.
        for s in &items.schedules {
            prop_assert!(
                catalog.get(&s.schedule_name).is_some()
                    || catalog.errors.iter().any(|e| e.schedule == s.schedule_name || e.schedule.is_empty()),
                "{} vanished", s.schedule_name
            );
        }
        let mut state = RunState::default();
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        for k in 0..6 {
            let p = plan(start + Duration::hours(5 * k), &catalog, &[], &state, &[], &Settings::default());
            state = p.state;
        }
    }
}
