//! CloudWatch metrics in the Embedded Metric Format: one JSON line per schedule that
//! had something happen in a run, written to the function's own log, which
//! CloudWatch turns into metrics. No API call, and no permission beyond writing the
//! log.
//!
//! Namespace `InstanceScheduler`, per schedule (dimension `Schedule`):
//!
//! | metric | unit | what |
//! | --- | --- | --- |
//! | `Actions` | Count | resources asked to start or stop |
//! | `Starts` / `Stops` | Count | of those, starts and stops |
//! | `Failures` | Count | groups that did not start or stop |
//! | `ChainUpSeconds` | Seconds | a whole start, from its first group asked to the last ready |
//! | `ChainDownSeconds` | Seconds | a whole stop, likewise |
//! | `Warnings` | Count | stop warnings sent |
//! | `HoursSaved` | None | resource-hours stopped, counted when the stopped span ends (a history is kept) |
//! | `MoneySaved` | None | the same in dollars at list or tagged prices, where known |
//! | `ReadyByLateSeconds` | Seconds | how long after its ready-by time a `ready-by` start was fully up (negative: early), the report's rule |
//! | `RunningResources` | Count | the schedule's resources observed running at the end of the run |
//!
//! A schedule's line comes only with something that happened to it, so
//! `RunningResources` rides on a line that is written anyway: an idle run still
//! writes nothing.
//!
//! and for the whole run (no dimension), `Errors`: every error reported, failures
//! included. Errors are not per schedule because many name something that is not
//! one (a tag value no schedule has, the run itself), and each name would be a new
//! metric.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::plan::{Event, What};

/// The metrics' namespace.
pub const NAMESPACE: &str = "InstanceScheduler";

/// One schedule's figures: each metric's sum and unit.
type Figures = BTreeMap<&'static str, (f64, &'static str)>;

fn add(f: &mut Figures, name: &'static str, unit: &'static str, v: f64) {
    f.entry(name).or_insert((0.0, unit)).0 += v;
}

/// The metric lines of one run, stamped `at`: one per schedule with figures and
/// one for the run's errors, none for an idle run.
pub fn lines(at: DateTime<Utc>, events: &[Event]) -> Vec<String> {
    lines_with_savings(at, events, &BTreeMap::new())
}

/// What a run measured beyond its events (the history's record of it).
pub use crate::history::Measures;

/// [`lines`], with what each schedule saved in stopped spans this run closed
/// ([`crate::history::Recorder::saved`]).
pub fn lines_with_savings(
    at: DateTime<Utc>,
    events: &[Event],
    savings: &BTreeMap<String, crate::history::Saving>,
) -> Vec<String> {
    lines_measured(
        at,
        events,
        &Measures {
            savings: savings.clone(),
            ..Measures::default()
        },
    )
}

/// [`lines`], with what the run measured: savings, ready-by lateness, and the
/// resources running at its end (on the line of a schedule that has one anyway).
pub fn lines_measured(at: DateTime<Utc>, events: &[Event], measures: &Measures) -> Vec<String> {
    let mut by: BTreeMap<&str, Figures> = BTreeMap::new();
    for (schedule, late) in &measures.ready_by_late {
        add(
            by.entry(schedule.as_str()).or_default(),
            "ReadyByLateSeconds",
            "Seconds",
            *late as f64,
        );
    }
    for (schedule, saving) in &measures.savings {
        let f = by.entry(schedule.as_str()).or_default();
        add(f, "HoursSaved", "None", saving.hours);
        if let Some(dollars) = saving.dollars {
            add(f, "MoneySaved", "None", dollars);
        }
    }
    let mut run = Figures::new();
    for e in events {
        if matches!(e.what, What::Error { .. }) {
            add(&mut run, "Errors", "Count", 1.0);
        }
        if matches!(e.what, What::Error { .. } | What::Notice { .. }) && e.failed_group().is_none()
        {
            continue;
        }
        let f = by.entry(e.schedule.as_str()).or_default();
        match &e.what {
            What::Start { instances, .. } => {
                add(f, "Actions", "Count", instances.len() as f64);
                add(f, "Starts", "Count", instances.len() as f64);
            }
            What::Stop { instances, .. } => {
                add(f, "Actions", "Count", instances.len() as f64);
                add(f, "Stops", "Count", instances.len() as f64);
            }
            What::ScheduleReady { seconds } => add(f, "ChainUpSeconds", "Seconds", *seconds as f64),
            What::ScheduleStopped { seconds } => {
                add(f, "ChainDownSeconds", "Seconds", *seconds as f64)
            }
            What::Warn { .. } => add(f, "Warnings", "Count", 1.0),
            What::Error { .. } => add(f, "Failures", "Count", 1.0),
            What::Ready { .. } | What::Stopped { .. } | What::Notice { .. } => {}
        }
    }
    for (schedule, f) in by.iter_mut().filter(|(_, f)| !f.is_empty()) {
        if let Some(n) = measures.running.get(*schedule) {
            add(f, "RunningResources", "Count", *n as f64);
        }
    }
    let mut out: Vec<String> = by
        .into_iter()
        .filter(|(_, f)| !f.is_empty())
        .map(|(schedule, f)| line(at, Some(schedule), &f))
        .collect();
    if !run.is_empty() {
        out.push(line(at, None, &run));
    }
    out
}

fn line(at: DateTime<Utc>, schedule: Option<&str>, f: &Figures) -> String {
    let metrics: Vec<Value> = f
        .iter()
        .map(|(name, (_, unit))| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut out = Map::new();
    out.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [if schedule.is_some() { vec!["Schedule"] } else { vec![] }],
                "Metrics": metrics,
            }],
        }),
    );
    if let Some(schedule) = schedule {
        out.insert("Schedule".into(), json!(schedule));
    }
    for (name, (v, _)) in f {
        out.insert((*name).into(), json!(v));
    }
    Value::Object(out).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(schedule: &str, what: What) -> Event {
        Event {
            at: DateTime::parse_from_rfc3339("2026-11-30T09:00:00+09:00").unwrap(),
            schedule: schedule.into(),
            what,
        }
    }

    /// The rules of the format (CloudWatch's specification of EMF): `_aws` with an
    /// integer `Timestamp` in milliseconds and one directive naming a namespace,
    /// dimension sets of keys present at the root, and metrics whose names are root
    /// keys holding numbers, with a unit from CloudWatch's list; at most 100 metrics.
    fn assert_valid_emf(line: &str) {
        let v: Value = serde_json::from_str(line).expect("one JSON object per line");
        let aws = &v["_aws"];
        assert!(aws["Timestamp"].is_i64(), "{line}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 1);
        let d = &directives[0];
        let ns = d["Namespace"].as_str().expect("namespace");
        assert!(!ns.is_empty() && ns.len() <= 256);
        for set in d["Dimensions"].as_array().expect("dimension sets") {
            for key in set.as_array().expect("a dimension set") {
                let key = key.as_str().unwrap();
                assert!(
                    v[key].is_string(),
                    "dimension {key} is a string at the root"
                );
            }
        }
        let metrics = d["Metrics"].as_array().expect("metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().expect("a name");
            assert!(v[name].is_number(), "metric {name} is a number at the root");
            assert!(
                ["Count", "Seconds", "None"].contains(&m["Unit"].as_str().unwrap()),
                "{m}"
            );
        }
    }

    #[test]
    fn a_run_that_acted_gives_one_valid_line_per_schedule_and_an_idle_run_none() {
        let events = vec![
                event(
                    "Dev",
                    What::Start {
                        group: "DB".into(),
                        instances: vec!["db-1".into()],
                    },
                ),
                event(
                    "Dev",
                    What::Start {
                        group: "APP".into(),
                        instances: vec!["i-1".into(), "i-2".into()],
                    },
                ),
                event("Dev", What::ScheduleReady { seconds: 615 }),
                event(
                    "Batch",
                    What::Error {
                        message: "group ALL: i-9 (InsufficientInstanceCapacity) did not start; no other group waits for it".into(),
                    },
                ),
                event(
                    "(run)",
                    What::Error {
                        message: "the run stopped early".into(),
                    },
                ),
        ];
        let at = DateTime::parse_from_rfc3339("2026-11-30T00:10:15Z")
            .unwrap()
            .to_utc();
        let lines = lines(at, &events);
        assert_eq!(lines.len(), 3, "{lines:?}");
        for l in &lines {
            assert_valid_emf(l);
        }
        let batch: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(batch["Schedule"], "Batch");
        assert_eq!(batch["Failures"], 1.0);
        let dev: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(dev["Actions"], 3.0);
        assert_eq!(dev["ChainUpSeconds"], 615.0);
        assert_eq!(dev["_aws"]["Timestamp"], at.timestamp_millis());
        // The run's errors, the failure and the early stop, without a dimension.
        let run: Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(run["Errors"], 2.0);
        assert!(run.get("Schedule").is_none());
        assert_eq!(
            run["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );

        assert!(super::lines(at, &[]).is_empty());
    }

    #[test]
    fn savings_join_their_schedules_line_and_stay_valid() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T00:30:00Z")
            .unwrap()
            .to_utc();
        let events = vec![event(
            "Dev",
            What::Start {
                group: "APP".into(),
                instances: vec!["i-1".into()],
            },
        )];
        let savings = BTreeMap::from([
            (
                "Dev".to_string(),
                crate::history::Saving {
                    hours: 11.5,
                    dollars: Some(1.104),
                },
            ),
            (
                "Unpriced".to_string(),
                crate::history::Saving {
                    hours: 2.0,
                    dollars: None,
                },
            ),
        ]);
        let lines = lines_with_savings(at, &events, &savings);
        assert_eq!(lines.len(), 2, "{lines:?}");
        for l in &lines {
            assert_valid_emf(l);
        }
        let dev: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            (
                dev["HoursSaved"].clone(),
                dev["MoneySaved"].clone(),
                dev["Actions"].clone()
            ),
            (json!(11.5), json!(1.104), json!(1.0))
        );
        let unpriced: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(unpriced["HoursSaved"], 2.0);
        assert!(unpriced.get("MoneySaved").is_none());
    }

    #[test]
    fn ready_by_lateness_and_running_resources_join_lines_that_are_written_anyway() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T00:10:15Z")
            .unwrap()
            .to_utc();
        let events = vec![event("Dev", What::ScheduleReady { seconds: 615 })];
        let measures = Measures {
            ready_by_late: BTreeMap::from([("Dev".to_string(), -45)]),
            // Idle schedules are counted too, but get no line of their own.
            running: BTreeMap::from([("Dev".to_string(), 3), ("Idle".to_string(), 2)]),
            ..Measures::default()
        };
        let lines = lines_measured(at, &events, &measures);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_valid_emf(&lines[0]);
        let dev: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(dev["Schedule"], "Dev");
        assert_eq!(dev["ReadyByLateSeconds"], -45.0);
        assert_eq!(dev["RunningResources"], 3.0);
        let units: BTreeMap<String, String> = dev["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().to_string(),
                    m["Unit"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(units["ReadyByLateSeconds"], "Seconds");
        assert_eq!(units["RunningResources"], "Count");

        // An idle run: resources running, nothing happened, no line.
        let idle = Measures {
            running: BTreeMap::from([("Dev".to_string(), 3)]),
            ..Measures::default()
        };
        assert!(lines_measured(at, &[], &idle).is_empty());
    }
}
