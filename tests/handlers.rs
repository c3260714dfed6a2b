//! The function's handler in process, on the in-memory store and the simulated fleet
//! (no emulator): the rules that used to be written in several places now have one
//! answer, whichever door a request comes through.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use instance_scheduler::clock::{Clock, VirtualClock};
use instance_scheduler::cloud::sim::{FleetFile, SimCloud, SimFleet};
use instance_scheduler::fleet::Power;
use instance_scheduler::lambda::{HandlerError, handle};
use instance_scheduler::plan::What;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::simulate::{Span, Wakes, simulate};
use instance_scheduler::store::memory::MemoryStore;
use instance_scheduler::store::{Items, Store, files::parse_into};
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

type SimRunner = Runner<SimFleet, MemoryStore, VirtualClock>;

fn runner(now: &str) -> SimRunner {
    runner_of(&[DEV, BROKEN], fleet(), now, RunConfig::default())
}

fn runner_of(files: &[&str], fleet: FleetFile, now: &str, config: RunConfig) -> SimRunner {
    let clock = VirtualClock::at(at(now));
    Runner {
        cloud: SimFleet::new(SimCloud::new(fleet, at(now)), clock.clone()),
        store: MemoryStore::new(items(files)),
        clock,
        config,
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    }
}

/// Every simulated resource's power state, now.
fn powers(r: &SimRunner) -> BTreeMap<String, Power> {
    let now = r.clock.now();
    r.cloud.with(|c| {
        c.observe(now)
            .iter()
            .map(|i| (i.id.clone(), i.power))
            .collect()
    })
}

/// Whether any run left anything in the state: a run that never happened leaves none.
async fn ran(r: &SimRunner) -> bool {
    let state = r.store.load_state().await.unwrap().state;
    !state.schedules.is_empty() || state.run != Default::default()
}

#[tokio::test]
async fn an_unknown_or_broken_schedule_is_one_error_everywhere() {
    // 09:00 in Seoul, Dev's start: a run now would start A.
    let r = runner("2026-11-30T00:00:00Z");
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
    // A force-start of an unknown or broken schedule never answers success, nor runs
    // at all: no state written, nothing started, though Dev's start is due.
    assert!(!ran(&r).await, "a refused force-start ran");
    assert!(
        powers(&r).values().all(|p| *p == Power::Stopped),
        "{:?}",
        powers(&r)
    );
    // The same instant, a run starts A: what the refusal kept from happening.
    handle(&r, json!({"action":"run"})).await.unwrap();
    assert!(powers(&r)["a"].is_live(), "{:?}", powers(&r));
}

#[tokio::test]
async fn a_shard_that_does_not_exist_is_refused_and_runs_nothing() {
    // Dev's start is due: a run of every schedule would start A.
    let r = runner("2026-11-30T00:00:00Z");
    for shard in [json!({"index":5,"count":2}), json!({"index":0,"count":0})] {
        let e = handle(&r, json!({"action":"run","shard":shard}))
            .await
            .unwrap_err();
        assert!(matches!(e, HandlerError::BadPayload(_)), "{e:?}");
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
    assert!(!ran(&r).await);
    assert!(powers(&r).values().all(|p| *p == Power::Stopped));
    // A shard that exists runs.
    handle(&r, json!({"action":"run","shard":{"index":0,"count":1}}))
        .await
        .unwrap();
    assert!(powers(&r)["a"].is_live(), "{:?}", powers(&r));
}

/// DB (RDS) before APP (EC2), in UTC.
const CHAIN: &str = r#"{"ScheduleName":"Chain","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;

#[tokio::test]
async fn an_rds_event_in_awss_documented_shape_wakes_the_chain_at_once() {
    let fleet: FleetFile = serde_json::from_value(json!({"instances": [
        {"id": "db-1", "kind": "rds", "state": "stopped", "boot_seconds": 300,
         "tags": {"ScheduleName": "Chain", "ScheduleGroupName": "DB"}},
        {"id": "app-1", "kind": "ec2", "state": "stopped", "boot_seconds": 60,
         "tags": {"ScheduleName": "Chain", "ScheduleGroupName": "APP"}}
    ]}))
    .unwrap();
    // A run that looks once and leaves the chain to events, wake-ups and the tick.
    let config = RunConfig {
        budget: std::time::Duration::from_secs(21),
        chat_deadline: std::time::Duration::from_secs(20),
        ..RunConfig::default()
    };
    let r = runner_of(&[CHAIN], fleet, "2026-11-30T09:00:00Z", config);
    handle(&r, json!({"action":"run"})).await.unwrap();
    assert_eq!(powers(&r)["db-1"], Power::Starting);
    // The database is up at 09:05; its event arrives 30 s later, as AWS documents
    // it: SourceIdentifier "rds:db-1".
    r.clock.set(at("2026-11-30T09:05:30Z"));
    let event = json!({
        "version": "0", "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
        "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2026-11-30T09:05:30Z", "region": "us-east-1",
        "resources": ["arn:aws:rds:us-east-1:123456789012:db:db-1"],
        "detail": {
            "EventCategories": ["notification"], "SourceType": "DB_INSTANCE",
            "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:db-1",
            "Date": "2026-11-30T09:05:30.292Z", "Message": "DB instance started",
            "SourceIdentifier": "rds:db-1", "EventID": "RDS-EVENT-0088"
        }
    });
    let answer = handle(&r, event).await.unwrap();
    assert!(answer.get("ignored").is_none(), "{answer}");
    assert_eq!(
        powers(&r)["app-1"],
        Power::Starting,
        "APP waits for the tick: {answer}"
    );
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

/// A `ready-by` start that comes up within one run: its line of metrics says how
/// late it was against its ready-by time (as the report would) and how many of its
/// resources run at the end of the run; a run that then does nothing writes nothing.
#[tokio::test]
async fn a_ready_by_start_writes_its_lateness_and_running_resources_as_metrics() {
    use instance_scheduler::outlets::MetricSink;

    let ready_by = DEV.replace(r#""Groups""#, r#""StartMode":"ready-by","Groups""#);
    let mut r = runner_of(
        &[&ready_by],
        fleet(),
        "2026-11-30T09:00:00+09:00",
        RunConfig {
            budget: std::time::Duration::from_secs(600),
            ..RunConfig::default()
        },
    );
    let (sink, lines) = MetricSink::recorder();
    r.notifier.outlets.metrics = sink;
    let report = r.run(&[]).await.unwrap();
    let ready = report
        .events
        .iter()
        .find(|e| matches!(e.what, What::ScheduleReady { .. }))
        .expect("the chain came up within the run");
    let late = (ready.at.to_utc() - at("2026-11-30T09:00:00+09:00")).num_seconds();
    assert!(late > 0, "{late}");
    let written = lines.lock().unwrap().clone();
    let dev: Value = written
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["Schedule"] == "Dev")
        .expect("Dev's line");
    assert_eq!(dev["ReadyByLateSeconds"], late as f64, "{dev}");
    assert_eq!(dev["RunningResources"], 3.0, "{dev}");

    r.clock.set(at("2026-11-30T12:00:00+09:00"));
    r.run(&[]).await.unwrap();
    assert_eq!(lines.lock().unwrap().len(), written.len());
}
