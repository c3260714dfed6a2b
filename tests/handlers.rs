//! The function's handler in process, on the in-memory store and the simulated fleet
//! (no emulator): the rules that used to be written in several places now have one
//! answer, whichever door a request comes through.

use chrono::{DateTime, Utc};
use instance_scheduler::clock::VirtualClock;
use instance_scheduler::cloud::sim::{FleetFile, SimCloud, SimFleet};
use instance_scheduler::lambda::handle;
use instance_scheduler::plan::What;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::simulate::{Span, Wakes, simulate};
use instance_scheduler::store::memory::MemoryStore;
use instance_scheduler::store::{Items, files::parse_into};
use serde_json::{Value, json};

const DEV: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","TimeZone":"Asia/Seoul",
  "Groups":[{"GroupName":"A"},{"GroupName":"B","Dependency":["A"]},{"GroupName":"C","Dependency":["B"]}]}"#;
const BROKEN: &str = r#"{"ScheduleName":"Broken","StartTime":"9am"}"#;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn items(files: &[&str]) -> Items {
    let mut items = Items::default();
    for f in files {
        parse_into(f, &mut items).unwrap();
    }
    items
}

fn fleet() -> FleetFile {
    serde_json::from_str(
        r#"{"instances":[
        {"id":"a","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"A"},"state":"stopped","boot_seconds":60},
        {"id":"b","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"B"},"state":"stopped","boot_seconds":60},
        {"id":"c","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"C"},"state":"stopped","boot_seconds":60}]}"#,
    )
    .unwrap()
}

fn runner(now: &str) -> Runner<SimFleet, MemoryStore, VirtualClock> {
    let clock = VirtualClock::at(at(now));
    Runner {
        cloud: SimFleet::new(SimCloud::new(fleet(), at(now)), clock.clone()),
        store: MemoryStore::new(items(&[DEV, BROKEN])),
        clock,
        config: RunConfig::default(),
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    }
}

#[tokio::test]
async fn an_unknown_or_broken_schedule_is_one_error_everywhere() {
    let r = runner("2026-11-30T03:00:00Z");
    for payload in [
        json!({"action":"force-start","schedule":"Nope"}),
        json!({"action":"force-stop","schedule":"Nope"}),
        json!({"action":"status","schedule":"Nope"}),
        json!({"action":"extend","schedule":"Nope","until":"23:00"}),
    ] {
        let e = handle(&r, payload.clone()).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "schedule \"Nope\" does not exist",
            "{payload}"
        );
    }
    let e = handle(&r, json!({"action":"force-start","schedule":"Broken"}))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "schedule \"Broken\": StartTime \"9am\" is not a time of day (HH:MM, 00:00 to 23:59, or None); it is skipped until it is fixed"
    );
    // A force-start of an unknown schedule never answers success, nor starts anything.
    assert!(r.store.items().exceptions.is_empty());
}

#[tokio::test]
async fn today_is_the_schedules_date_not_utcs() {
    // 2026-11-30 20:00 UTC is already Tuesday 1 December in Seoul.
    let r = runner("2026-11-30T20:00:00Z");
    let status: Value = handle(&r, json!({"action":"status","schedule":"Dev"}))
        .await
        .unwrap();
    assert_eq!(status["today"], "2026-12-01");
    let extended = handle(
        &r,
        json!({"action":"extend","schedule":"Dev","until":"23:00"}),
    )
    .await
    .unwrap();
    assert_eq!(extended["date"], "2026-12-01");
}

#[tokio::test]
async fn extend_refuses_a_time_already_past_or_inside_the_warning() {
    // 05:00 UTC is 14:00 in Seoul.
    let r = runner("2026-11-30T05:00:00Z");
    for until in ["13:59", "00:01", "14:09"] {
        let e = handle(
            &r,
            json!({"action":"extend","schedule":"Dev","until":until}),
        )
        .await
        .unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "cannot extend Dev to {until}: it is 14:00 in Asia/Seoul now"
            )),
            "{e}"
        );
    }
    assert!(r.store.items().exceptions.is_empty(), "nothing was written");
    handle(
        &r,
        json!({"action":"extend","schedule":"Dev","until":"14:11"}),
    )
    .await
    .unwrap();
    assert_eq!(r.store.items().exceptions.len(), 1);
}

#[test]
fn the_simulator_follows_a_chain_within_an_invocation_as_the_function_does() {
    let report = simulate(
        items(&[DEV]),
        fleet(),
        Span {
            from: at("2026-11-30T08:55:00+09:00"),
            to: at("2026-11-30T09:20:00+09:00"),
            tick: chrono::Duration::minutes(5),
        },
        RunConfig {
            default_tz: chrono_tz::UTC,
            ..RunConfig::default()
        },
        Wakes {
            events: false,
            wakeups: false,
            ..Wakes::default()
        },
    );
    let starts: Vec<String> = report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Start { group, .. } => Some(format!("{} {group}", e.at.format("%H:%M:%S"))),
            _ => None,
        })
        .collect();
    // One invocation at 09:00 follows the chain for its budget (120 s less 20 s for
    // the chat, looking every 15 s): B starts as soon as A is seen up, not at 09:05.
    assert_eq!(starts[..2], ["09:00:00 A", "09:01:00 B"]);
}
