//! Calendars people keep, through the whole scheduler: the worked examples of
//! `examples/calendar/` validated and simulated, the pinned cases through
//! `simulate`, a property test that what `simulate` acts on is what the calendar
//! says, named validation errors, and `Periods` stored in DynamoDB (a list of maps)
//! driving a real run on the emulator.

mod common;

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use chrono_tz::Tz;
use instance_scheduler::calendar::{self, Transition};
use instance_scheduler::cloud::sim::FleetFile;
use instance_scheduler::fleet::Direction;
use instance_scheduler::plan::{Settings, What};
use instance_scheduler::run::RunConfig;
use instance_scheduler::schedule::{DEFAULT_GROUP, Schedule, ScheduleItem};
use instance_scheduler::simulate::{Report, Span, Wakes, simulate};
use instance_scheduler::store::Items;
use instance_scheduler::store::files::{load_dir, parse_into};
use proptest::prelude::*;
use serde_json::json;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schedctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_schedctl"))
        .args(args)
        .current_dir(root())
        .env_remove("DEFAULT_TIME_ZONE")
        .output()
        .expect("schedctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

/// One simulated resource per group of every schedule (an RDS database for a group
/// that takes RDS, an EC2 instance otherwise), all stopped.
fn fleet_for(items: &Items) -> FleetFile {
    let mut instances = Vec::new();
    for s in &items.schedules {
        let groups: Vec<(String, bool)> = items
            .groups
            .iter()
            .filter(|g| g.schedule_name == s.schedule_name)
            .map(|g| {
                let rds = g
                    .instance_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("rds"));
                (g.group_name.clone(), rds)
            })
            .collect();
        let groups = if groups.is_empty() {
            vec![(DEFAULT_GROUP.to_string(), false)]
        } else {
            groups
        };
        for (group, rds) in groups {
            let id = format!("{}-{}", s.schedule_name, group).to_lowercase();
            instances.push(json!({
                "id": if rds { id } else { format!("i-{id}") },
                "kind": if rds { "rds" } else { "ec2" },
                "tags": {
                    "ScheduleName": s.tag_value.clone().unwrap_or(s.schedule_name.clone()),
                    "ScheduleGroupName": group,
                },
                "state": "stopped",
                "boot_seconds": if rds { 300 } else { 60 },
                "stop_seconds": if rds { 120 } else { 30 },
            }));
        }
    }
    serde_json::from_value(json!({ "instances": instances })).unwrap()
}

/// Hourly ticks, with wake-ups asked for up to two hours ahead so each transition
/// is acted on at its instant.
fn settings() -> RunConfig {
    RunConfig {
        settings: Settings {
            look_ahead: Duration::hours(2),
            ..Settings::default()
        },
        ..RunConfig::default()
    }
}

const TICK: i64 = 3600;

fn run(items: Items, from: DateTime<Utc>, to: DateTime<Utc>) -> Report {
    let fleet = fleet_for(&items);
    simulate(
        items,
        fleet,
        Span {
            from,
            to,
            tick: Duration::seconds(TICK),
        },
        settings(),
        Wakes::default(),
    )
}

/// When the simulation began each start and each stop of `schedule`: the first
/// action of every run of starts (or stops), in order.
fn acted(r: &Report, schedule: &str) -> Vec<(DateTime<Utc>, Direction)> {
    let mut out: Vec<(DateTime<Utc>, Direction)> = Vec::new();
    for e in r.events.iter().filter(|e| e.schedule == schedule) {
        let direction = match &e.what {
            What::Start { .. } => Direction::Start,
            What::Stop { .. } => Direction::Stop,
            What::Error { message } => panic!("{schedule}: {message}"),
            _ => continue,
        };
        if out.last().is_none_or(|(_, d)| *d != direction) {
            out.push((e.at.to_utc(), direction));
        }
    }
    out
}

/// What a fleet that starts stopped should see from the calendar alone: the first
/// run acts on the last transition of its look-back (one tick), every later one at
/// its instant, the last at one instant wins (a start over a stop), and only a
/// change acts (a start when down, a stop when up).
fn expected(
    s: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Direction)> {
    let mut due: Vec<Transition> = Vec::new();
    if let Some(t) = calendar::transitions(s, from - Duration::seconds(TICK), from).last() {
        due.push(Transition { at: from, ..*t });
    }
    due.extend(calendar::transitions(s, from, to));
    let mut last_each: Vec<Transition> = Vec::new();
    for t in due {
        match last_each.last_mut() {
            Some(last) if last.at == t.at => *last = t,
            _ => last_each.push(t),
        }
    }
    let mut up = false;
    let mut out = Vec::new();
    for t in last_each {
        let changes = (t.direction == Direction::Start) != up;
        if changes {
            up = !up;
            out.push((t.at, t.direction));
        }
    }
    out
}

fn local(list: &[(DateTime<Utc>, Direction)], tz: Tz) -> Vec<String> {
    list.iter()
        .map(|(at, d)| format!("{d} {}", at.with_timezone(&tz).format("%a %Y-%m-%d %H:%M")))
        .collect()
}

fn examples() -> Items {
    load_dir(&root().join("examples/calendar")).unwrap()
}

/// The worked example `name` simulated from `from` to `to`: what it did, in its
/// zone, after checking that it is exactly what its calendar says.
fn example(name: &str, from: &str, to: &str) -> Vec<String> {
    let items = examples();
    let catalog = items.catalog(Tz::UTC);
    let s = catalog.get(name).unwrap().clone();
    let mut items = items;
    items.schedules.retain(|i| i.schedule_name == name);
    items.groups.retain(|g| g.schedule_name == name);
    items.exceptions.retain(|e| e.schedule_name == name);
    let (from, to) = (utc(from), utc(to));
    let report = run(items, from, to);
    let did = acted(&report, name);
    assert_eq!(
        local(&did, s.tz),
        local(&expected(&s, from, to), s.tz),
        "{name}: simulate acts on the calendar's transitions"
    );
    local(&did, s.tz)
}

#[test]
fn the_worked_examples_are_valid() {
    let (code, out, err) = schedctl(&["validate", "examples/calendar"]);
    assert_eq!((code, out.trim()), (0, "4 schedules valid"), "{err}");
    let catalog = examples().catalog(Tz::UTC);
    assert!(catalog.errors.is_empty() && catalog.warnings.is_empty());
}

/// The README's command: two weeks of all four examples on `calendar-fleet.json`.
#[test]
fn the_readme_simulation_of_the_examples_acts_on_each_calendar() {
    let (code, out, err) = schedctl(&[
        "simulate",
        "--schedules",
        "examples/calendar",
        "--fleet",
        "examples/calendar-fleet.json",
        "--from",
        "2026-12-05T00:00:00+09:00",
        "--to",
        "2026-12-19T00:00:00+09:00",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut began: Vec<String> = Vec::new();
    for line in out.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_ne!(e["event"], "error", "{line}");
        let first_group = matches!(
            (e["event"].as_str(), e["group"].as_str()),
            (Some("start"), Some("DB")) | (Some("stop"), Some("APP"))
        );
        if first_group {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            began.push(format!(
                "{} {} {}",
                text("schedule"),
                text("event"),
                text("at")
            ));
        }
    }
    for expected in [
        "WeekendDowntime start 2026-12-07T08:00:00+09:00",
        "SummerHours start 2026-12-07T08:00:00+01:00",
        "PatchTuesday start 2026-12-08T20:00:00-05:00",
        "PatchTuesday stop 2026-12-09T04:00:00-05:00",
        "SummerHours stop 2026-12-11T18:00:00+01:00",
        "WeekendDowntime stop 2026-12-11T20:00:00+09:00",
        "WeekendDowntime start 2026-12-14T08:00:00+09:00",
        "WeekendDowntime stop 2026-12-18T20:00:00+09:00",
    ] {
        assert!(
            began.contains(&expected.to_string()),
            "{expected} in {began:#?}"
        );
    }
    let weekend: Vec<&String> = began
        .iter()
        .filter(|b| b.contains("WeekendDowntime"))
        .collect();
    assert_eq!(weekend.len(), 4, "{weekend:?}");
}

#[test]
fn second_tuesday_patching_runs_overnight_on_the_second_tuesday() {
    assert_eq!(
        example(
            "PatchTuesday",
            "2026-11-01T04:00:00Z",
            "2027-01-01T05:00:00Z"
        ),
        [
            "start Tue 2026-11-10 20:00",
            "stop Wed 2026-11-11 04:00",
            "start Tue 2026-12-08 20:00",
            "stop Wed 2026-12-09 04:00",
        ]
    );
}

#[test]
fn month_end_batch_runs_from_the_last_day_into_the_first() {
    assert_eq!(
        example(
            "MonthEndBatch",
            "2027-01-01T00:00:00Z",
            "2027-04-02T00:00:00Z"
        ),
        [
            "start Sun 2027-01-31 18:00",
            "stop Mon 2027-02-01 06:00",
            "start Sun 2027-02-28 18:00",
            "stop Mon 2027-03-01 06:00",
            "start Wed 2027-03-31 18:00",
            "stop Thu 2027-04-01 06:00",
        ]
    );
}

#[test]
fn summer_hours_change_with_the_month() {
    let did = example(
        "SummerHours",
        "2026-08-27T00:00:00Z",
        "2026-09-03T00:00:00Z",
    );
    assert_eq!(
        did,
        [
            "start Thu 2026-08-27 07:00",
            "stop Thu 2026-08-27 15:00",
            "start Fri 2026-08-28 07:00",
            "stop Fri 2026-08-28 15:00",
            "start Mon 2026-08-31 07:00",
            "stop Mon 2026-08-31 15:00",
            "start Tue 2026-09-01 08:00",
            "stop Tue 2026-09-01 18:00",
            "start Wed 2026-09-02 08:00",
            "stop Wed 2026-09-02 18:00",
        ]
    );
    // Christmas Eve's start is cancelled by its exception; the 23rd and 28th run.
    let did = example(
        "SummerHours",
        "2026-12-23T00:00:00Z",
        "2026-12-29T00:00:00Z",
    );
    assert_eq!(did.len(), 6, "{did:?}");
    assert!(did.iter().all(|d| !d.contains("12-24")), "{did:?}");
}

#[test]
fn weekend_downtime_through_the_simulator_starts_monday_and_stops_friday_only() {
    let did = example(
        "WeekendDowntime",
        "2026-12-04T15:00:00Z",
        "2026-12-19T15:00:00Z",
    );
    assert_eq!(
        did,
        [
            "start Mon 2026-12-07 08:00",
            "stop Fri 2026-12-11 20:00",
            "start Mon 2026-12-14 08:00",
            "stop Fri 2026-12-18 20:00",
        ]
    );
    // Nothing is stopped, nor announced as stopping, on Monday to Thursday.
    let mut items = examples();
    items
        .schedules
        .retain(|s| s.schedule_name == "WeekendDowntime");
    let report = run(
        items,
        utc("2026-12-04T15:00:00Z"),
        utc("2026-12-19T15:00:00Z"),
    );
    let seoul: Tz = "Asia/Seoul".parse().unwrap();
    for e in &report.events {
        if let What::Stop { .. } | What::Warn { .. } = e.what {
            let day = e.at.with_timezone(&seoul).weekday();
            assert_eq!(day, Weekday::Fri, "{e:?}");
        }
    }
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e.what, What::Warn { .. })),
        "the Friday stop is announced"
    );
}

#[test]
fn second_monday_through_the_simulator_acts_on_december_14_2026_only() {
    let mut items = Items::default();
    parse_into(
        r#"{"ScheduleName":"Patch","DaysActive":"mon#2","StartTime":"09:00","StopTime":"17:00","TimeZone":"Asia/Seoul"}"#,
        &mut items,
    )
    .unwrap();
    let catalog = items.catalog(Tz::UTC);
    let s = catalog.get("Patch").unwrap().clone();
    let (from, to) = (utc("2026-11-30T15:00:00Z"), utc("2026-12-31T15:00:00Z"));
    let did = acted(&run(items, from, to), "Patch");
    assert_eq!(did, expected(&s, from, to));
    assert_eq!(
        local(&did, s.tz),
        ["start Mon 2026-12-14 09:00", "stop Mon 2026-12-14 17:00"]
    );
}

#[test]
fn validate_names_the_field_and_the_bad_token() {
    let (code, out, _) = schedctl(&["validate", "tests/fixtures/broken-calendar"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    let expect = [
        "schedule \"Both\": DaysActive, StartTime and StopTime are given beside Periods",
        "schedule \"MonthEnd\": MonthDays \"32\": a month has at most 31 days",
        "schedule \"Patching\": DaysActive \"mon#6\": a month has at most 5 of a weekday",
        "schedule \"Shifts\": Periods[1].StartTime \"25:00\" is not a time of day",
        "schedule \"Summer\": Months \"foo\": not a month (jan to dec, or 1 to 12)",
        "schedule \"Typo\": period-typo.json: Periods[1]: unknown field `StartTme`",
    ];
    assert_eq!(lines.len(), expect.len(), "{out}");
    for (line, start) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(start),
            "{line:?} should start with {start:?}"
        );
    }
}

// ---- what simulate acts on is the calendar's, for random calendars ----

fn random_period() -> impl Strategy<Value = serde_json::Value> {
    let days = prop::sample::select(vec![
        "mon#2",
        "friL",
        "tue-thu",
        "weekends",
        "sat#1,sun#3",
        "all",
        "wed",
        "mon-fri,sat#1",
        "thu#4,monL",
    ]);
    let month_days = prop::sample::select(vec!["L", "1-7", "15W", "1/10", "28-31", "1,15"]);
    let months = prop::sample::select(vec!["dec", "jan-mar", "1/2", "nov-feb", "jun", "2-4,8"]);
    // Quarter hours: every transition is far from the next (the fleet boots in a minute).
    let time = prop_oneof![
        1 => Just("None".to_string()),
        5 => (0u32..96).prop_map(|q| format!("{:02}:{:02}", q / 4, q % 4 * 15)),
    ];
    (
        prop::option::weighted(0.85, days),
        prop::option::weighted(0.3, month_days),
        prop::option::weighted(0.3, months),
        time.clone(),
        time,
    )
        .prop_map(|(days, month_days, months, start, stop)| {
            let mut p = serde_json::Map::new();
            if let Some(d) = days {
                p.insert("DaysActive".into(), d.into());
            }
            if let Some(d) = month_days {
                p.insert("MonthDays".into(), d.into());
            }
            if let Some(m) = months {
                p.insert("Months".into(), m.into());
            }
            p.insert("StartTime".into(), start.into());
            p.insert("StopTime".into(), stop.into());
            serde_json::Value::Object(p)
        })
}

fn random_schedule() -> impl Strategy<Value = serde_json::Value> {
    let zone = prop::sample::select(vec![
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Seoul",
    ]);
    (
        any::<bool>(),
        prop::collection::vec(random_period(), 1..4),
        zone,
    )
        .prop_map(|(own, periods, zone)| {
            let mut s = json!({ "ScheduleName": "S", "TimeZone": zone });
            if own {
                if let (Some(map), serde_json::Value::Object(p)) =
                    (s.as_object_mut(), periods[0].clone())
                {
                    map.extend(p);
                }
            } else {
                s["Periods"] = serde_json::Value::Array(periods);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Four weeks of a random calendar in a zone with DST, on a simulated fleet:
    /// every start and stop the scheduler began is one the calendar has, at its
    /// instant, and it missed none.
    #[test]
    fn what_simulate_acts_on_is_the_calendars(
        schedule in random_schedule(),
        day in 0i64..(3 * 365),
        hour in 0i64..24,
    ) {
        let item: ScheduleItem = serde_json::from_value(schedule.clone()).unwrap();
        let items = Items { schedules: vec![item], ..Items::default() };
        let catalog = items.catalog(Tz::UTC);
        prop_assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
        let s = catalog.schedules[0].clone();
        let from = utc("2026-01-01T00:00:00Z") + Duration::days(day) + Duration::hours(hour);
        let to = from + Duration::days(28);
        let did = acted(&run(items, from, to), "S");
        prop_assert_eq!(local(&did, s.tz), local(&expected(&s, from, to), s.tz), "{}", schedule);
    }
}

// ---- Periods in DynamoDB ----

#[test]
fn periods_are_a_list_of_maps_in_dynamodb_and_read_back_unchanged() {
    use serde_dynamo::AttributeValue;
    let items = examples();
    let item = items
        .schedules
        .iter()
        .find(|s| s.schedule_name == "WeekendDowntime")
        .unwrap();
    let stored: serde_dynamo::Item = serde_dynamo::to_item(item).unwrap();
    let Some(AttributeValue::L(periods)) = stored.get("Periods") else {
        panic!("Periods is not a list: {stored:?}");
    };
    assert_eq!(periods.len(), 2);
    let AttributeValue::M(first) = &periods[0] else {
        panic!("a period is not a map: {:?}", periods[0]);
    };
    assert_eq!(
        first.get("DaysActive"),
        Some(&AttributeValue::S("mon".into()))
    );
    let back: ScheduleItem = serde_dynamo::from_item(stored).unwrap();
    assert_eq!(&back, item);
}

#[tokio::test]
async fn periods_stored_in_dynamodb_drive_a_real_run() {
    let moto = common::Moto::start().await;
    let store = moto.store().await;
    let text =
        std::fs::read_to_string(root().join("examples/calendar/weekend-downtime.json")).unwrap();
    // No database here: its group is marked optional, so that APP need not wait
    // for it (an empty group otherwise holds its dependents).
    let text = text.replace(
        r#""GroupName": "DB","#,
        r#""GroupName": "DB", "Optional": true,"#,
    );
    assert!(text.contains("Optional"));
    common::load_schedules(&store, &[&text]).await;
    let ids = common::ec2_instances(
        &moto,
        &[
            ("ScheduleName", "WeekendDowntime"),
            ("ScheduleGroupName", "APP"),
        ],
        1,
    )
    .await;
    // Monday 08:00 in Seoul: the first period starts the schedule.
    let runner = moto.runner("2026-12-07T08:00:00+09:00").await;
    let report = runner.run(&[]).await.unwrap();
    let started = report.events.iter().any(|e| {
        matches!(&e.what, What::Start { group, instances } if group == "APP" && instances == &ids)
    });
    assert!(started, "{:?}", report.events);
    // The schedule read back from the table still has its two periods.
    let loaded = instance_scheduler::store::Store::load(&store)
        .await
        .unwrap();
    let catalog = loaded.catalog(Tz::UTC);
    let s = catalog.get("WeekendDowntime").unwrap();
    assert_eq!(s.periods().count(), 2);
    assert_eq!(s.days_active(), "1: mon; 2: fri");
}

#[tokio::test]
async fn schedctl_sync_and_export_round_trip_periods() {
    let moto = common::Moto::start().await;
    let env = |c: &mut Command| {
        c.current_dir(root())
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("DEFAULT_TIME_ZONE");
    };
    let schedctl = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_schedctl"));
        c.args(args);
        env(&mut c);
        let out = c.output().expect("schedctl runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(schedctl(&["init-tables"]).0, 0);
    let (code, out) = schedctl(&["sync", "examples/calendar"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("~ schedule WeekendDowntime\n"), "{out}");
    assert_eq!(schedctl(&["sync", "examples/calendar"]).1, "no changes\n");
    let dir = std::env::temp_dir().join(format!("calendar-export-{}", std::process::id()));
    assert_eq!(schedctl(&["export", dir.to_str().unwrap()]).0, 0);
    let exported = std::fs::read_to_string(dir.join("weekend-downtime.json")).unwrap();
    assert!(exported.contains("\"Periods\""), "{exported}");
    let (code, out) = schedctl(&["sync", dir.to_str().unwrap(), "--prune", "--dry-run"]);
    assert_eq!((code, out.as_str()), (0, "no changes\n"));
    let _ = std::fs::remove_dir_all(&dir);
}
