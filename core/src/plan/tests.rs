use super::*;
use crate::fleet::{Direction, Instance, Power};
use crate::schedule::Catalog;
use crate::schedule::Items;
use crate::schedule::TagPatterns;
use crate::schedule::file::parse_into;
use crate::sim::{FleetFile, SimCloud};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// A schedule, a simulated fleet and the run state, driven run by run.
struct Harness {
    catalog: Catalog,
    cloud: SimCloud,
    state: RunState,
    settings: Settings,
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn catalog(files: &[&str]) -> Catalog {
    let mut items = Items::default();
    for f in files {
        parse_into(f, &mut items).unwrap();
    }
    Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC)
}

/// DB → MW → API, and BATCH after API and DB; weekdays 09:00–18:00 UTC.
const CHAIN: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"MW","Dependency":["DB"]},
            {"GroupName":"API","Dependency":["MW"]},{"GroupName":"BATCH","Dependency":["API","DB"]}]}"#;

fn fleet(json: &str) -> FleetFile {
    serde_json::from_str(json).unwrap()
}

/// One instance per group of CHAIN, all stopped, booting in a minute; plus an
/// untagged instance and one of another schedule, both running.
fn chain_fleet(extra: &str) -> FleetFile {
    fleet(&format!(
        r#"{{"instances":[
        {{"id":"db","kind":"rds","tags":{{"ScheduleName":"Dev","ScheduleGroupName":"DB"}},"state":"stopped","boot_seconds":300}},
        {{"id":"mw","kind":"ec2","tags":{{"ScheduleName":"Dev","ScheduleGroupName":"MW"}},"state":"stopped"}},
        {{"id":"api1","kind":"ec2","tags":{{"ScheduleName":"Dev","ScheduleGroupName":"API"}},"state":"stopped"}},
        {{"id":"api2","kind":"ec2","tags":{{"ScheduleName":"Dev","ScheduleGroupName":"API"}},"state":"stopped"}},
        {{"id":"batch","kind":"ec2","tags":{{"ScheduleName":"Dev","ScheduleGroupName":"BATCH"}},"state":"stopped"}},
        {{"id":"loose","kind":"ec2","tags":{{"Name":"bastion"}},"state":"running"}},
        {{"id":"other","kind":"ec2","tags":{{"ScheduleName":"Prod","ScheduleGroupName":"API"}},"state":"running"}}
        {extra}]}}"#
    ))
}

impl Harness {
    fn new(files: &[&str], fleet: FleetFile, first: &str) -> Harness {
        let catalog = catalog(files);
        assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
        let seen = catalog.clone();
        Harness {
            catalog,
            cloud: SimCloud::new(fleet, at(first)),
            state: RunState {
                schedules: seen
                    .schedules
                    .iter()
                    .map(|s| {
                        let seen = ScheduleState {
                            consumed: Some(at(first) - Duration::minutes(5)),
                            ..ScheduleState::default()
                        };
                        (s.name.clone(), seen)
                    })
                    .collect(),
                ..RunState::default()
            },
            settings: Settings::default(),
        }
    }

    /// One run at `when` (RFC 3339): the planner, its actions carried out on the
    /// simulated fleet, and the core's bookkeeping after acting.
    fn run_with(&mut self, when: &str, requests: &[Request]) -> Plan {
        let now = at(when);
        let observed = self.cloud.snapshot(now);
        let mut p = plan(
            now,
            &self.catalog,
            &observed,
            &self.state,
            requests,
            &self.settings,
        );
        let mut failures = Vec::new();
        for a in &p.actions {
            let ids: Vec<String> = a.targets.iter().map(|t| t.id.clone()).collect();
            for (id, error) in self.cloud.act(now, a.direction, &ids) {
                failures.push(crate::fleet::Failure { id, error });
            }
        }
        p.after_act(now, &self.catalog, &observed, &failures);
        self.catalog.clear_force_start(&p.clear_force_start);
        self.state = p.state.clone();
        p
    }

    fn run(&mut self, when: &str) -> Plan {
        self.run_with(when, &[])
    }

    fn power(&mut self, id: &str, when: &str) -> Power {
        let now = at(when);
        self.cloud
            .observe(now)
            .iter()
            .find(|i| i.id == id)
            .unwrap()
            .power
    }
}

/// The plan's actions as `"start DB [db]"` strings.
fn acts(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| {
            let ids: Vec<&str> = a.targets.iter().map(|t| t.id.as_str()).collect();
            format!("{} {} [{}]", a.direction, a.group, ids.join(","))
        })
        .collect()
}

/// The plan's errors, less the one-time report of the fleet's resources that carry
/// no schedule's tag (every test fleet has one, `other`; see
/// `tagged_but_unscheduled_resources_are_reported_once_until_fixed`).
fn errors(p: &Plan) -> Vec<String> {
    p.events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } if !message.contains("not scheduled (left alone)") => {
                Some(format!("{}: {message}", e.schedule))
            }
            _ => None,
        })
        .collect()
}

fn warnings(p: &Plan) -> Vec<i64> {
    p.events
        .iter()
        .filter_map(|e| match &e.what {
            What::Warn { minutes_left, .. } => Some(*minutes_left),
            _ => None,
        })
        .collect()
}

#[test]
fn start_waits_for_dependencies_to_be_ready() {
    // Monday 2026-11-30.
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    assert!(acts(&h.run("2026-11-30T08:55:00Z")).is_empty());
    assert_eq!(acts(&h.run("2026-11-30T09:00:00Z")), ["start DB [db]"]);
    // The database takes five minutes: at 09:04 it is still starting.
    assert!(acts(&h.run("2026-11-30T09:04:00Z")).is_empty());
    let p = h.run("2026-11-30T09:06:00Z");
    assert_eq!(acts(&p), ["start MW [mw]"]);
    assert!(p.events.iter().any(
        |e| e.what == What::Ready { group: "DB".into() } && e.at == at("2026-11-30T09:05:00Z")
    ));
    assert_eq!(
        acts(&h.run("2026-11-30T09:08:00Z")),
        ["start API [api1,api2]"]
    );
    assert_eq!(
        acts(&h.run("2026-11-30T09:10:00Z")),
        ["start BATCH [batch]"]
    );
    let p = h.run("2026-11-30T09:12:00Z");
    assert!(acts(&p).is_empty());
    assert!(
        p.events
            .iter()
            .any(|e| e.what == What::ScheduleReady { seconds: 660 })
    );
    assert!(
        p.state
            .schedules
            .get("Dev")
            .is_none_or(|s| s.sequence.is_none())
    );
}

#[test]
fn independent_groups_start_together() {
    let two_roots = r#"{"ScheduleName":"Dev","StartTime":"09:00","StopTime":"18:00",
      "Groups":[{"GroupName":"A"},{"GroupName":"B"},{"GroupName":"C","Dependency":["A","B"]}]}"#;
    let f = fleet(
        r#"{"instances":[
        {"id":"a","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"A"},"state":"stopped"},
        {"id":"b","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"B"},"state":"stopped","boot_seconds":400},
        {"id":"c","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"C"},"state":"stopped"}]}"#,
    );
    let mut h = Harness::new(&[two_roots], f, "2026-11-30T09:00:00Z");
    assert_eq!(
        acts(&h.run("2026-11-30T09:00:00Z")),
        ["start A [a]", "start B [b]"]
    );
    // A is up, B is not: C waits for both.
    assert!(acts(&h.run("2026-11-30T09:05:00Z")).is_empty());
    assert_eq!(acts(&h.run("2026-11-30T09:10:00Z")), ["start C [c]"]);
}

#[test]
fn stop_waits_for_dependents_to_stop() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    for t in ["09:00", "09:06", "09:08", "09:10", "09:12"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    assert_eq!(acts(&h.run("2026-11-30T18:00:00Z")), ["stop BATCH [batch]"]);
    assert_eq!(
        acts(&h.run("2026-11-30T18:01:00Z")),
        ["stop API [api1,api2]"]
    );
    assert_eq!(acts(&h.run("2026-11-30T18:02:00Z")), ["stop MW [mw]"]);
    assert_eq!(acts(&h.run("2026-11-30T18:03:00Z")), ["stop DB [db]"]);
    let p = h.run("2026-11-30T18:10:00Z");
    assert!(acts(&p).is_empty());
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e.what, What::ScheduleStopped { .. }))
    );
    assert_eq!(h.power("loose", "2026-11-30T18:10:00Z"), Power::Running);
    assert_eq!(h.power("other", "2026-11-30T18:10:00Z"), Power::Running);
}

#[test]
fn a_stop_waits_for_a_dependent_that_is_still_booting() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    for t in ["09:00", "09:06", "09:08", "09:10"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    // A force-stop while BATCH is still booting: BATCH must be stopped before API.
    let p = h.run_with("2026-11-30T09:10:30Z", &[Request::ForceStop("Dev".into())]);
    assert!(acts(&p).is_empty(), "{:?}", acts(&p));
    assert_eq!(acts(&h.run("2026-11-30T09:11:00Z")), ["stop BATCH [batch]"]);
}

#[test]
fn untagged_and_other_schedules_instances_are_never_touched() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    let mut minute = at("2026-11-30T08:55:00Z");
    let mut touched = BTreeSet::new();
    while minute < at("2026-12-01T00:00:00Z") {
        let p = h.run(&minute.to_rfc3339());
        for a in &p.actions {
            for t in &a.targets {
                assert!(!["loose", "other"].contains(&t.id.as_str()), "{a:?}");
                touched.insert((a.direction, t.id.clone()));
            }
        }
        minute += Duration::minutes(1);
    }
    // The day did start and stop the schedule's own instances, every one of them.
    for id in ["db", "mw", "api1", "api2", "batch"] {
        for d in [Direction::Start, Direction::Stop] {
            assert!(
                touched.contains(&(d, id.to_string())),
                "{d} {id}: {touched:?}"
            );
        }
    }
}

#[test]
fn a_late_run_still_starts_and_a_missed_period_is_not_replayed() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    h.run("2026-11-30T08:55:00Z");
    // The 09:00 start is caught up an hour late.
    assert_eq!(acts(&h.run("2026-11-30T10:00:00Z")), ["start DB [db]"]);

    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    h.run("2026-11-30T08:55:00Z");
    // No run from before 09:00 until after 18:00: the period is over, nothing starts.
    let p = h.run("2026-11-30T18:30:00Z");
    assert!(acts(&p).is_empty(), "{:?}", acts(&p));
    assert_eq!(h.power("db", "2026-11-30T18:31:00Z"), Power::Stopped);
}

#[test]
fn instances_changed_by_hand_between_transitions_are_left_alone() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    for t in ["09:00", "09:06", "09:08", "09:10", "09:12"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    // Someone stops API by hand at noon; nothing restarts it.
    h.cloud.act(
        at("2026-11-30T12:00:00Z"),
        Direction::Stop,
        &["api1".into()],
    );
    for t in ["12:05", "12:10", "15:00"] {
        assert!(acts(&h.run(&format!("2026-11-30T{t}:00Z"))).is_empty());
    }
    // On Saturday someone starts MW by hand; it keeps running through the weekend.
    h.state.schedules.get_mut("Dev").unwrap().consumed = Some(at("2026-12-05T09:55:00Z"));
    h.cloud
        .act(at("2026-12-05T10:00:00Z"), Direction::Start, &["mw".into()]);
    for t in [
        "2026-12-05T10:05:00Z",
        "2026-12-05T18:00:00Z",
        "2026-12-05T18:05:00Z",
    ] {
        assert!(acts(&h.run(t)).is_empty());
    }
}

#[test]
fn force_start_ignores_time_and_enabled_and_is_cleared_when_all_is_up() {
    let forced = CHAIN.replace(
        r#""ScheduleName":"Dev","#,
        r#""ScheduleName":"Dev","Enabled":false,"ForceStart":true,"#,
    );
    // Sunday night, schedule disabled.
    let mut h = Harness::new(&[&forced], chain_fleet(""), "2026-11-29T23:00:00Z");
    let p = h.run("2026-11-29T23:00:00Z");
    assert_eq!(acts(&p), ["start DB [db]"]);
    assert!(p.clear_force_start.is_empty());
    h.run("2026-11-29T23:06:00Z");
    h.run("2026-11-29T23:08:00Z");
    h.run("2026-11-29T23:10:00Z");
    let p = h.run("2026-11-29T23:12:00Z");
    assert_eq!(p.clear_force_start, ["Dev"]);
    // Cleared: the next run does nothing more, and being disabled, no stop follows.
    assert!(acts(&h.run("2026-11-29T23:20:00Z")).is_empty());
    assert!(acts(&h.run("2026-11-30T18:00:00Z")).is_empty());
}

#[test]
fn force_start_and_force_stop_requests_act_now_in_order() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-28T12:00:00Z");
    let p = h.run_with("2026-11-28T12:00:00Z", &[Request::ForceStart("Dev".into())]);
    assert_eq!(acts(&p), ["start DB [db]"]);
    // The sequence carries on over the following runs without the request.
    assert_eq!(acts(&h.run("2026-11-28T12:06:00Z")), ["start MW [mw]"]);
    h.run("2026-11-28T12:08:00Z");
    h.run("2026-11-28T12:10:00Z");
    let p = h.run_with("2026-11-28T13:00:00Z", &[Request::ForceStop("Dev".into())]);
    assert_eq!(acts(&p), ["stop BATCH [batch]"]);
    let p = h.run_with("2026-11-28T13:00:00Z", &[Request::ForceStop("Nope".into())]);
    assert_eq!(
        errors(&p),
        ["Nope: cannot force-stop: schedule \"Nope\" does not exist"]
    );
}

#[test]
fn a_failed_start_holds_back_dependents_and_is_reported_once() {
    let f = chain_fleet("").instances;
    let mut f = FleetFile { instances: f };
    f.instances[1].start_fails = true; // mw
    let mut h = Harness::new(&[CHAIN], f, "2026-11-30T08:55:00Z");
    h.run("2026-11-30T09:00:00Z");
    // The cloud refuses at once: one report, with its reason, in the same run.
    let p = h.run("2026-11-30T09:06:00Z");
    assert_eq!(acts(&p), ["start MW [mw]"]);
    assert_eq!(
        errors(&p),
        [
            "Dev: group MW: mw (InsufficientInstanceCapacity: there is no capacity for this instance type) did not start; holding back API, BATCH"
        ]
    );
    let p = h.run("2026-11-30T09:08:00Z");
    assert!(acts(&p).is_empty() && errors(&p).is_empty());
    // Nothing more can happen: the start ends without a second report or a retry.
    let p = h.run("2026-11-30T09:10:00Z");
    assert!(acts(&p).is_empty() && errors(&p).is_empty());
    assert!(
        p.state
            .schedules
            .get("Dev")
            .is_none_or(|s| s.sequence.is_none())
    );
}

#[test]
fn a_start_that_never_finishes_gives_up_after_the_timeout() {
    let f = chain_fleet("").instances;
    let mut f = FleetFile { instances: f };
    f.instances[0].boot_seconds = 3 * 3600; // the database never comes up in time
    let mut h = Harness::new(&[CHAIN], f, "2026-11-30T08:55:00Z");
    h.run("2026-11-30T09:00:00Z");
    assert!(errors(&h.run("2026-11-30T09:59:00Z")).is_empty());
    let p = h.run("2026-11-30T10:00:00Z");
    assert_eq!(
        errors(&p),
        ["Dev: start did not finish within 60 minutes; gave up on groups DB, MW, API, BATCH"]
    );
    assert!(
        p.state
            .schedules
            .get("Dev")
            .is_none_or(|s| s.sequence.is_none())
    );
}

#[test]
fn warnings_come_at_most_twice_and_only_when_something_runs() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    for t in ["09:00", "09:06", "09:08", "09:10", "09:12"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    let mut sent = Vec::new();
    for m in 45..60 {
        sent.extend(warnings(&h.run(&format!("2026-11-30T17:{m}:00Z"))));
    }
    assert_eq!(sent, [10, 5]);
    // Tuesday: nothing is running at the stop (the start was cancelled), so no warning.
    let mut h = Harness::new(
        &[&CHAIN.replace("\"Groups\"", r#""Exceptions":[{"ExceptionDate":"2026-12-01","ExceptionType":"start","ExceptionValue":"None"}],"Groups""#)],
        chain_fleet(""),
        "2026-12-01T08:55:00Z",
    );
    for m in 0..60 {
        let p = h.run(&format!("2026-12-01T17:{m:02}:00Z"));
        assert!(warnings(&p).is_empty());
    }
}

#[test]
fn an_extended_stop_is_warned_about_afresh() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    for t in ["09:00", "09:06", "09:08", "09:10", "09:12"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    assert_eq!(warnings(&h.run("2026-11-30T17:52:00Z")), [8]);
    // Someone extends today to 18:30.
    let s = &mut h.catalog.schedules[0];
    s.exceptions.insert(
        (
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            Direction::Stop,
        ),
        chrono::NaiveTime::from_hms_opt(18, 30, 0),
    );
    assert!(acts(&h.run("2026-11-30T18:00:00Z")).is_empty());
    assert_eq!(warnings(&h.run("2026-11-30T18:20:00Z")), [10]);
    assert_eq!(warnings(&h.run("2026-11-30T18:25:00Z")), [5]);
    assert_eq!(acts(&h.run("2026-11-30T18:30:00Z")), ["stop BATCH [batch]"]);
}

#[test]
fn a_broken_schedule_is_reported_once_and_the_others_proceed() {
    let broken = r#"{"ScheduleName":"Broken","StartTime":"9am","StopTime":"18:00"}"#;
    let mut items = Items::default();
    parse_into(CHAIN, &mut items).unwrap();
    parse_into(broken, &mut items).unwrap();
    let catalog = Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC);
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    h.catalog = catalog;
    let p = h.run("2026-11-30T09:00:00Z");
    assert_eq!(acts(&p), ["start DB [db]"]);
    assert_eq!(errors(&p).len(), 1);
    assert!(errors(&p)[0].starts_with("Broken: StartTime \"9am\" is not a time of day"));
    assert!(errors(&h.run("2026-11-30T09:05:00Z")).is_empty());
}

#[test]
fn disabled_schedules_do_nothing_at_their_times() {
    let off = CHAIN.replace(
        r#""ScheduleName":"Dev","#,
        r#""ScheduleName":"Dev","Enabled":false,"#,
    );
    let mut h = Harness::new(&[&off], chain_fleet(""), "2026-11-30T08:55:00Z");
    let mut minute = at("2026-11-30T08:55:00Z");
    while minute < at("2026-11-30T19:00:00Z") {
        let p = h.run(&minute.to_rfc3339());
        assert!(p.actions.is_empty() && errors(&p).is_empty());
        assert!(
            p.events
                .iter()
                .all(|e| matches!(e.what, What::Error { .. }))
        );
        minute += Duration::minutes(5);
    }
}

#[test]
fn run_state_survives_a_round_trip_through_json() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T08:55:00Z");
    h.run("2026-11-30T09:00:00Z");
    let text = serde_json::to_string(&h.state).unwrap();
    let back: RunState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, h.state);
    assert!(back.schedules["Dev"].sequence.is_some());
}

#[test]
fn a_schedule_without_groups_starts_everything_at_once() {
    let flat = r#"{"ScheduleName":"Flat","StartTime":"09:00","StopTime":"10:00"}"#;
    let f = fleet(
        r#"{"instances":[
        {"id":"a","kind":"ec2","tags":{"ScheduleName":"Flat"},"state":"stopped"},
        {"id":"b","kind":"aurora","tags":{"ScheduleName":"Flat","ScheduleGroupName":"X"},"state":"stopped"}]}"#,
    );
    let mut h = Harness::new(&[flat], f, "2026-11-30T09:00:00Z");
    assert_eq!(acts(&h.run("2026-11-30T09:00:00Z")), ["start all [a,b]"]);
}

/// A fleet member: schedule tag, group tag, running, boot seconds.
type Member = (String, String, bool, u32);

/// Arbitrary schedules (valid or not) against an arbitrary fleet, run minute by minute.
fn arbitrary_world() -> impl Strategy<Value = (String, Vec<Member>, i64)> {
    let time = prop_oneof![
        Just("None".to_string()),
        (0u32..24, 0u32..4).prop_map(|(h, q)| format!("{h:02}:{:02}", q * 15)),
    ];
    let deps = prop::collection::vec(prop::sample::select(vec!["A", "B", "C"]), 0..3);
    let group = (prop::sample::select(vec!["A", "B", "C"]), deps);
    let schedule = (time.clone(), time, prop::collection::vec(group, 0..4), any::<bool>()).prop_map(
        |(start, stop, groups, force)| {
            let groups: Vec<String> = groups
                .into_iter()
                .map(|(n, d)| format!(r#"{{"GroupName":"{n}","Dependency":{d:?}}}"#))
                .collect();
            format!(
                r#"{{"ScheduleName":"S","DaysActive":"mon-fri","StartTime":"{start}","StopTime":"{stop}","ForceStart":{force},"TimeZone":"America/New_York","Groups":[{}]}}"#,
                groups.join(",")
            )
        },
    );
    let instance = (
        prop::sample::select(vec!["S", "T", ""]),
        prop::sample::select(vec!["A", "B", "C", "D"]),
        any::<bool>(),
        0u32..900,
    )
        .prop_map(|(s, g, up, boot)| (s.to_string(), g.to_string(), up, boot));
    (
        schedule,
        prop::collection::vec(instance, 0..8),
        0i64..(14 * 24),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the schedule and fleet, the planner only touches the schedule's tagged
    /// instances, starts a group only when its dependencies are all up, and stops a
    /// group only when its dependents are all down.
    #[test]
    fn the_planner_keeps_its_invariants((file, instances, hour) in arbitrary_world()) {
        let mut items = Items::default();
        parse_into(&file, &mut items).unwrap();
        let catalog = Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC);
        let json: Vec<String> = instances.iter().enumerate().map(|(k, (s, g, up, boot))| {
            let tags = if s.is_empty() { "{}".to_string() } else {
                format!(r#"{{"ScheduleName":"{s}","ScheduleGroupName":"{g}"}}"#)
            };
            format!(r#"{{"id":"i{k}","kind":"ec2","tags":{tags},"state":"{}","boot_seconds":{boot}}}"#,
                if *up { "running" } else { "stopped" })
        }).collect();
        let f = fleet(&format!(r#"{{"instances":[{}]}}"#, json.join(",")));
        let start = at("2026-03-02T00:00:00Z") + Duration::hours(hour);
        let mut cloud = SimCloud::new(f, start);
        let mut state = RunState::default();
        let settings = Settings::default();
        let mut now = start;
        while now < start + Duration::days(2) {
            let observed = cloud.observe(now).to_vec();
            let p = plan(now, &catalog, &observed, &state, &[], &settings);
            prop_assert_eq!(&p, &plan(now, &catalog, &observed, &state, &[], &settings));
            let schedule = catalog.schedules.first();
            for a in &p.actions {
                let s = schedule.unwrap();
                let group = s.groups.iter().find(|g| g.name == a.group).unwrap();
                for t in &a.targets {
                    let i = observed.iter().find(|i| i.id == t.id).unwrap();
                    prop_assert_eq!(i.tags.get("ScheduleName").map(String::as_str), Some("S"));
                    if group.name != crate::schedule::DEFAULT_GROUP {
                        prop_assert_eq!(i.tags.get("ScheduleGroupName"), Some(&group.name));
                    }
                }
                let in_group = |name: &str, power: Power| observed.iter().filter(|i| {
                    i.tags.get("ScheduleName").map(String::as_str) == Some("S")
                        && i.tags.get("ScheduleGroupName").map(String::as_str) == Some(name)
                }).all(|i| i.power == power);
                match a.direction {
                    Direction::Start => for d in &group.depends_on {
                        prop_assert!(in_group(d, Power::Running), "{} started before {}", a.group, d);
                    },
                    Direction::Stop => for g in s.groups.iter().filter(|g| g.depends_on.contains(&a.group)) {
                        prop_assert!(in_group(&g.name, Power::Stopped), "{} stopped before {}", a.group, g.name);
                    },
                }
                let ids: Vec<String> = a.targets.iter().map(|t| t.id.clone()).collect();
                cloud.act(now, a.direction, &ids);
            }
            state = p.state;
            now += Duration::minutes(5);
        }
    }
}

#[test]
fn tagged_but_unscheduled_resources_are_reported_once_until_fixed() {
    let f = chain_fleet(
        r#",{"id":"typo","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"APi"},"state":"stopped"},
           {"id":"bare","kind":"ec2","tags":{"ScheduleName":"Dev"},"state":"stopped"},
           {"id":"ec2-in-db","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"DB"},"state":"stopped"}"#,
    );
    let mut h = Harness::new(&[CHAIN], f, "2026-11-30T08:55:00Z");
    let misfits = |p: &Plan| -> Vec<String> {
        p.events
            .iter()
            .filter_map(|e| match &e.what {
                What::Error { message } if message.contains("not scheduled") => {
                    Some(format!("{}: {message}", e.schedule))
                }
                _ => None,
            })
            .collect()
    };
    let first = misfits(&h.run("2026-11-30T08:55:00Z"));
    assert_eq!(
        first,
        [
            "Dev: 3 resources tagged ScheduleName=Dev not scheduled (left alone): \
             typo: its ScheduleGroupName \"APi\" is not a group of Dev (DB, MW, API, BATCH); \
             bare: it has no ScheduleGroupName tag (Dev has groups DB, MW, API, BATCH); \
             ec2-in-db: group DB takes RDS databases and clusters only, and this is ec2",
            "Prod: 1 resource tagged ScheduleName=Prod not scheduled (left alone): \
             other: its ScheduleName \"Prod\" is the TagValue of no schedule",
        ]
    );
    // Said once: not again while nothing changes, even after the next check.
    assert!(misfits(&h.run("2026-11-30T09:00:00Z")).is_empty());
    assert!(misfits(&h.run("2026-11-30T09:20:00Z")).is_empty());
    // And none of them is ever acted on.
    for t in ["09:06", "09:08", "09:10", "09:12"] {
        for a in h.run(&format!("2026-11-30T{t}:00Z")).actions {
            assert!(
                a.targets
                    .iter()
                    .all(|t| !["typo", "bare", "ec2-in-db"].contains(&t.id.as_str()))
            );
        }
    }
}

#[test]
fn a_group_named_all_is_an_ordinary_group() {
    let named_all = r#"{"ScheduleName":"Dev","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"all"}]}"#;
    let f = fleet(
        r#"{"instances":[
        {"id":"in","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"all"},"state":"stopped"},
        {"id":"out","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"web"},"state":"stopped"}]}"#,
    );
    let mut h = Harness::new(&[named_all], f, "2026-11-30T09:00:00Z");
    assert_eq!(acts(&h.run("2026-11-30T09:00:00Z")), ["start all [in]"]);
}

/// CHAIN with a fortnight of holidays after Friday 11 December.
fn chain_with_holidays() -> String {
    let mut holidays = String::new();
    for d in 14..=31 {
        holidays.push_str(&format!(
            r#"{{"ExceptionDate":"2026-12-{d:02}","ExceptionType":"start","ExceptionValue":"None"}},"#
        ));
    }
    CHAIN.replace(
        "\"Groups\"",
        &format!(
            r#""Exceptions":[{}],"Groups""#,
            holidays.trim_end_matches(',')
        ),
    )
}

/// `file`'s chain started on Friday 11 December at 09:00 and stopped at 18:00.
fn stopped_on_friday(file: &str) -> Harness {
    let mut h = Harness::new(&[file], chain_fleet(""), "2026-12-11T08:55:00Z");
    for t in [
        "09:00", "09:06", "09:08", "09:10", "09:12", "18:00", "18:01", "18:02", "18:03", "18:10",
    ] {
        h.run(&format!("2026-12-11T{t}:00Z"));
    }
    h
}

#[test]
fn a_database_aws_restarted_after_seven_days_is_stopped_again_one_started_by_a_person_is_not() {
    // Stopped on Friday 11 December at 18:00; a fortnight of holidays follows.
    let file = chain_with_holidays();
    let mut h = stopped_on_friday(&file);
    assert_eq!(h.power("db", "2026-12-11T18:10:00Z"), Power::Stopped);
    // Friday's stop finds nothing running; seven days after the stop, at about 18:07,
    // AWS starts the database by itself (the simulator does, too).
    for t in [
        "2026-12-14T09:00:00Z",
        "2026-12-18T18:00:00Z",
        "2026-12-18T18:05:00Z",
    ] {
        assert!(acts(&h.run(t)).is_empty());
    }
    let p = h.run("2026-12-18T18:30:00Z");
    assert_eq!(acts(&p), ["stop DB [db]"]);
    assert!(p.events.iter().any(|e| matches!(&e.what, What::Notice { message }
        if message == "group DB: db was started by AWS after seven days stopped; stopping it again")));
    assert_eq!(h.power("db", "2026-12-18T18:40:00Z"), Power::Stopped);

    // A person starting it on Saturday, a day after the stop, is theirs: left running
    // until the next scheduled stop.
    let mut h = stopped_on_friday(&file);
    h.cloud
        .act(at("2026-12-12T10:00:00Z"), Direction::Start, &["db".into()]);
    assert!(acts(&h.run("2026-12-12T10:30:00Z")).is_empty());
    assert!(acts(&h.run("2026-12-13T23:30:00Z")).is_empty());
    assert_eq!(h.power("db", "2026-12-13T23:30:00Z"), Power::Running);
}

#[test]
fn databases_it_stopped_are_looked_at_hourly_only_when_no_start_comes_before_aws_restarts_them() {
    let due = |h: &Harness| h.state.schedules["Dev"].due.unwrap();
    let h = stopped_on_friday(CHAIN);
    assert!(!h.state.schedules["Dev"].stopped.is_empty());
    // Friday evening: Monday's start comes well within seven days, and clears the
    // list; nothing to look at before it.
    assert_eq!(due(&h), at("2026-12-14T09:00:00Z"));
    // With a fortnight of holidays, nothing starts it before AWS would: looked at
    // every hour, to tell a person's start from AWS's.
    let h = stopped_on_friday(&chain_with_holidays());
    assert_eq!(due(&h), at("2026-12-11T19:10:00Z"));
}

#[test]
fn an_instance_that_falls_back_to_stopped_for_a_kms_key_is_reported_with_the_fix() {
    let catalog = catalog(&[r#"{"ScheduleName":"Dev","StartTime":"09:00","StopTime":"18:00"}"#]);
    let mut i = Instance::new(
        "i-1",
        crate::fleet::Kind::Ec2,
        Default::default(),
        Power::Stopped,
    );
    i.tags.insert("ScheduleName".into(), "Dev".into());
    let start = at("2026-11-30T09:00:00Z");
    let mut state = RunState::default();
    state.schedules.insert(
        "Dev".into(),
        ScheduleState {
            consumed: Some(start - Duration::minutes(5)),
            ..ScheduleState::default()
        },
    );
    let p = plan(
        start,
        &catalog,
        &[i.clone()],
        &state,
        &[],
        &Settings::default(),
    );
    assert_eq!(acts(&p), ["start all [i-1]"]);
    // Two minutes on, EC2 says it stopped again, and why.
    i.reason = Some("Client.InternalError: Client error on launch".into());
    let p = plan(
        start + Duration::minutes(2),
        &catalog,
        &[i],
        &p.state,
        &[],
        &Settings::default(),
    );
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("i-1 (Client.InternalError: Client error on launch) did not start"),
        "{e:?}"
    );
    assert!(e[0].contains("deploy with KmsKeyArns"), "{e:?}");
    // The failure is recognisable as such by tools outside the chat.
    let failed: Vec<_> = p.events.iter().filter_map(Event::failed_group).collect();
    assert_eq!(failed, [(Direction::Start, "all")]);
}

/// A fleet of one schedule's groups: (id, kind, group, state).
fn fleet_of(schedule: &str, members: &[(&str, &str, &str, &str)]) -> FleetFile {
    let list: Vec<String> = members
        .iter()
        .map(|(id, kind, group, state)| {
            format!(
                r#"{{"id":"{id}","kind":"{kind}","tags":{{"ScheduleName":"{schedule}","ScheduleGroupName":"{group}"}},"state":"{state}"}}"#
            )
        })
        .collect();
    fleet(&format!(r#"{{"instances":[{}]}}"#, list.join(",")))
}

const DB_APP: &str = r#"{"ScheduleName":"Dev","DaysActive":"all","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;

#[test]
fn an_empty_dependency_group_holds_its_dependents_and_is_named_once() {
    // Nothing is tagged into DB (or its database was deleted): APP must not start.
    let f = fleet_of("Dev", &[("app", "ec2", "APP", "stopped")]);
    let mut h = Harness::new(&[DB_APP], f, "2026-11-30T08:55:00Z");
    let p = h.run("2026-11-30T09:00:00Z");
    assert!(acts(&p).is_empty(), "{:?}", acts(&p));
    assert_eq!(
        errors(&p),
        [
            "Dev: DB has no resources tagged ScheduleName=Dev, ScheduleGroupName=DB (it takes RDS databases and clusters only); APP waits. Tag its resources, or mark the group \"Optional\": true"
        ]
    );
    // Said once while it lasts, not every morning.
    for t in [
        "2026-11-30T09:05:00Z",
        "2026-12-01T09:00:00Z",
        "2026-12-01T09:05:00Z",
    ] {
        let p = h.run(t);
        assert!(
            acts(&p).is_empty() && errors(&p).is_empty(),
            "{t}: {:?}",
            errors(&p)
        );
    }
    // An optional group lets its dependents start without it.
    let optional = DB_APP.replace(
        r#""InstanceType":"RDS""#,
        r#""InstanceType":"RDS","Optional":true"#,
    );
    let f = fleet_of("Dev", &[("app", "ec2", "APP", "stopped")]);
    let mut h = Harness::new(&[&optional], f, "2026-11-30T08:55:00Z");
    assert_eq!(acts(&h.run("2026-11-30T09:00:00Z")), ["start APP [app]"]);
}

#[test]
fn a_stop_scales_down_a_service_still_short_of_its_desired_count() {
    // An ECS service at desired 2 whose tasks cannot be placed is "starting" for
    // ever; so is an Auto Scaling group below its desired count. A stop scales them
    // to zero like any other member, and the database behind them stops after.
    let schedule = r#"{"ScheduleName":"Dev","DaysActive":"all","StartTime":"None","StopTime":"18:00",
      "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"SVC","Dependency":["DB"]}]}"#;
    let catalog = catalog(&[schedule]);
    let tags = |g: &str| {
        [("ScheduleName", "Dev"), ("ScheduleGroupName", g)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let capacity = crate::fleet::Capacity {
        min: 1,
        desired: 2,
        max: 4,
    };
    let mut ecs = Instance::new(
        "cluster/api",
        crate::fleet::Kind::Ecs,
        tags("SVC"),
        Power::Starting,
    );
    ecs.capacity = Some(capacity);
    let mut asg = Instance::new(
        "workers",
        crate::fleet::Kind::Asg,
        tags("SVC"),
        Power::Starting,
    );
    asg.capacity = Some(capacity);
    let db = Instance::new("db", crate::fleet::Kind::Rds, tags("DB"), Power::Running);
    let stop = at("2026-11-30T18:00:00Z");
    let mut state = RunState::default();
    state.schedules.insert(
        "Dev".into(),
        ScheduleState {
            consumed: Some(stop - Duration::minutes(5)),
            ..ScheduleState::default()
        },
    );
    let fleet = [ecs.clone(), asg.clone(), db.clone()];
    let p = plan(stop, &catalog, &fleet, &state, &[], &Settings::default());
    assert_eq!(acts(&p), ["stop SVC [cluster/api,workers]"]);
    // Their sizes are kept for the next start.
    let targets = &p.actions[0].targets;
    assert!(
        targets.iter().all(|t| t.capacity == Some(capacity)),
        "{targets:?}"
    );
    // Once they are at zero, the database stops.
    ecs.power = Power::Stopped;
    asg.power = Power::Stopped;
    let fleet = [ecs, asg, db];
    let p = plan(
        stop + Duration::minutes(1),
        &catalog,
        &fleet,
        &p.state,
        &[],
        &Settings::default(),
    );
    assert_eq!(acts(&p), ["stop DB [db]"]);
}

#[test]
fn a_pending_instance_is_stopped_once_it_can_be() {
    let schedule =
        r#"{"ScheduleName":"Dev","DaysActive":"all","StartTime":"None","StopTime":"18:00"}"#;
    let catalog = catalog(&[schedule]);
    let tags = [("ScheduleName".to_string(), "Dev".to_string())]
        .into_iter()
        .collect();
    let mut i = Instance::new("i-1", crate::fleet::Kind::Ec2, tags, Power::Starting);
    let stop = at("2026-11-30T18:00:00Z");
    let mut state = RunState::default();
    state.schedules.insert(
        "Dev".into(),
        ScheduleState {
            consumed: Some(stop - Duration::minutes(5)),
            ..ScheduleState::default()
        },
    );
    let p = plan(
        stop,
        &catalog,
        std::slice::from_ref(&i),
        &state,
        &[],
        &Settings::default(),
    );
    // Pending: EC2 refuses to stop it yet; the plan looks again soon.
    assert!(acts(&p).is_empty());
    assert!(
        p.next_look
            .is_some_and(|t| t <= stop + Duration::seconds(30))
    );
    i.power = Power::Running;
    let p = plan(
        stop + Duration::seconds(30),
        &catalog,
        &[i],
        &p.state,
        &[],
        &Settings::default(),
    );
    assert_eq!(acts(&p), ["stop all [i-1]"]);
}

#[test]
fn a_failed_start_is_reported_at_the_first_look_that_shows_it() {
    // EC2: stopped again with a state reason 15 s after the start (a KMS key).
    let catalog = catalog(&[DB_APP]);
    let tags = |g: &str| {
        [("ScheduleName", "Dev"), ("ScheduleGroupName", g)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let db = Instance::new("db", crate::fleet::Kind::Rds, tags("DB"), Power::Running);
    let mut app = Instance::new("i-1", crate::fleet::Kind::Ec2, tags("APP"), Power::Stopped);
    app.reason = Some("Client.UserInitiatedShutdown: User initiated shutdown".into());
    let start = at("2026-11-30T09:00:00Z");
    let mut state = RunState::default();
    state.schedules.insert(
        "Dev".into(),
        ScheduleState {
            consumed: Some(start - Duration::minutes(5)),
            ..ScheduleState::default()
        },
    );
    let p = plan(
        start,
        &catalog,
        &[db.clone(), app.clone()],
        &state,
        &[],
        &Settings::default(),
    );
    assert_eq!(acts(&p), ["start APP [i-1]"]);
    app.reason = Some("Client.InternalError: Client error on launch".into());
    let p = plan(
        start + Duration::seconds(15),
        &catalog,
        &[db, app],
        &p.state,
        &[],
        &Settings::default(),
    );
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("Client.InternalError"), "{e:?}");
    assert!(e[0].contains("deploy with KmsKeyArns"), "{e:?}");

    // RDS: a database that ends in incompatible-parameters holds its dependents
    // back at once, naming the state.
    let mut db = Instance::new("db", crate::fleet::Kind::Rds, tags("DB"), Power::Stopped);
    let app = Instance::new("i-1", crate::fleet::Kind::Ec2, tags("APP"), Power::Stopped);
    let p = plan(
        start,
        &catalog,
        &[db.clone(), app.clone()],
        &state,
        &[],
        &Settings::default(),
    );
    assert_eq!(acts(&p), ["start DB [db]"]);
    db.power = Power::Failed;
    db.reason = Some("incompatible-parameters".into());
    let p = plan(
        start + Duration::seconds(20),
        &catalog,
        &[db, app],
        &p.state,
        &[],
        &Settings::default(),
    );
    let e = errors(&p);
    assert_eq!(
        e,
        ["Dev: group DB: db (incompatible-parameters) did not start; holding back APP"]
    );
    assert!(acts(&p).is_empty());
}

#[test]
fn a_schedule_first_seen_while_its_place_is_unseen_keeps_its_transitions() {
    let f = fleet_of(
        "Dev",
        &[
            ("db", "rds", "DB", "stopped"),
            ("app", "ec2", "APP", "stopped"),
        ],
    );
    let catalog = catalog(&[DB_APP]);
    let mut cloud = SimCloud::new(f, at("2026-11-30T08:00:00Z"));
    let unseen = [Unseen {
        place: "222222222222/eu-west-1".into(),
        kind: None,
        error: "AccessDenied".into(),
    }];
    // 08:58: the schedule is new, and another account cannot be seen: it waits.
    let now = at("2026-11-30T08:58:00Z");
    let fleet = cloud.snapshot(now);
    let state = RunState::default();
    let settings = Settings::default();
    let mut inputs = Inputs::new(now, &catalog, &fleet, &state, &settings);
    inputs.unseen = &unseen;
    let p = decide(&inputs);
    assert!(p.actions.is_empty());
    assert!(p.events.iter().any(|e| matches!(&e.what, What::Error { message }
        if message.contains("222222222222/eu-west-1 could not be observed") && message.contains("Dev wait"))));
    let state = RunState {
        schedules: p.state.schedules,
        run: p.state.run,
    };
    // 09:20: everything is seen again; the 09:00 start still happens.
    let now = at("2026-11-30T09:20:00Z");
    let fleet = cloud.snapshot(now);
    let p = decide(&Inputs::new(now, &catalog, &fleet, &state, &settings));
    assert_eq!(acts(&p), ["start DB [db]"]);
}

#[test]
fn a_stop_that_coincides_with_a_start_is_not_warned_about() {
    // "All day on weekdays": 00:00 to 00:00. Monday to Thursday nights a stop and a
    // start fall at the same instant; the start wins, and nobody is warned.
    let all_day =
        r#"{"ScheduleName":"Dev","DaysActive":"mon-fri","StartTime":"00:00","StopTime":"00:00"}"#;
    let f = fleet_of("Dev", &[("i", "ec2", "all", "stopped")]);
    let mut h = Harness::new(&[all_day], f, "2026-11-29T23:55:00Z");
    let mut warned = Vec::new();
    let mut minute = at("2026-11-29T23:55:00Z");
    while minute < at("2026-12-05T00:10:00Z") {
        let p = h.run(&minute.to_rfc3339());
        for e in &p.events {
            if let What::Warn { stop_at, .. } = &e.what {
                warned.push(stop_at.to_utc());
            }
        }
        minute += Duration::minutes(1);
    }
    // Only Friday's period ends (Saturday 00:00): two warnings, about it.
    assert_eq!(
        warned,
        [at("2026-12-05T00:00:00Z"), at("2026-12-05T00:00:00Z")]
    );
    assert_eq!(h.power("i", "2026-12-05T00:10:00Z"), Power::Stopped);
}

#[test]
fn protection_holds_whatever_the_case_of_its_key() {
    let f = fleet(
        r#"{"instances":[
        {"id":"a","kind":"ec2","tags":{"ScheduleName":"Flat","schedulerprotected":"TRUE"},"state":"stopped"},
        {"id":"b","kind":"ec2","tags":{"ScheduleName":"Flat"},"state":"stopped"}]}"#,
    );
    let flat = r#"{"ScheduleName":"Flat","StartTime":"09:00","StopTime":"10:00"}"#;
    let mut h = Harness::new(&[flat], f, "2026-11-30T09:00:00Z");
    assert_eq!(acts(&h.run("2026-11-30T09:00:00Z")), ["start all [b]"]);
}

#[test]
fn resources_of_a_schedule_this_deployment_may_not_touch_are_not_called_strangers() {
    let prod =
        r#"{"ScheduleName":"Prod","TagValue":"prod-api","StartTime":"09:00","StopTime":"10:00"}"#;
    let f = fleet(
        r#"{"instances":[{"id":"p","kind":"ec2","tags":{"ScheduleName":"prod-api"},"state":"stopped"}]}"#,
    );
    let catalog = catalog(&[prod]);
    let allowed = TagPatterns::parse("dev-*").unwrap();
    let cloud = SimCloud::new(f, at("2026-11-30T08:00:00Z"))
        .observe(at("2026-11-30T09:00:00Z"))
        .to_vec();
    let state = RunState::default();
    let settings = Settings::default();
    let mut inputs = Inputs::new(
        at("2026-11-30T09:00:00Z"),
        &catalog,
        &cloud,
        &state,
        &settings,
    );
    inputs.allowed = Some(&allowed);
    let p = decide(&inputs);
    assert!(p.actions.is_empty());
    let messages: Vec<String> = p
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        [
            "TagValue \"prod-api\" is not one this deployment may act on (allowed: dev-*); the schedule is skipped until it is fixed"
        ]
    );
}

#[test]
fn an_enforced_schedule_undoes_changes_made_by_hand_in_dependency_order() {
    let enforced = CHAIN.replace(
        r#""ScheduleName":"Dev","#,
        r#""ScheduleName":"Dev","Enforced":true,"#,
    );
    // First seen on Monday at noon, inside a running period, everything stopped:
    // brought up at once, in dependency order, and said.
    let mut h = Harness::new(&[&enforced], chain_fleet(""), "2026-11-30T12:00:00Z");
    let p = h.run("2026-11-30T12:00:00Z");
    assert_eq!(acts(&p), ["start DB [db]"]);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(&e.what, What::Notice { message }
        if message.starts_with("Enforced: ") && message.contains("starting again")))
    );
    for t in ["12:06", "12:08", "12:10", "12:12"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    // Someone stops API by hand; the next run starts it again, and nothing else.
    h.cloud.act(
        at("2026-11-30T14:00:00Z"),
        Direction::Stop,
        &["api1".into()],
    );
    assert_eq!(acts(&h.run("2026-11-30T14:05:00Z")), ["start API [api1]"]);
    for t in ["14:07", "14:09", "14:11"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    assert!(acts(&h.run("2026-11-30T15:00:00Z")).is_empty());
    // Stopped at 18:00; a person starts MW at night: stopped again.
    for t in ["18:00", "18:02", "18:04", "18:06", "18:08", "18:10"] {
        h.run(&format!("2026-11-30T{t}:00Z"));
    }
    h.cloud
        .act(at("2026-11-30T21:00:00Z"), Direction::Start, &["mw".into()]);
    assert_eq!(acts(&h.run("2026-11-30T21:05:00Z")), ["stop MW [mw]"]);
}

#[test]
fn a_schedule_that_is_not_enforced_leaves_a_first_seen_stopped_fleet_alone() {
    let mut h = Harness::new(&[CHAIN], chain_fleet(""), "2026-11-30T12:00:00Z");
    assert!(acts(&h.run("2026-11-30T12:00:00Z")).is_empty());
}

fn patching(schedule: &str, hours: u32) -> crate::schedule::window::MaintenanceWindow {
    crate::schedule::window::MaintenanceWindow {
        id: "mw-0a1b2c".into(),
        name: "patching".into(),
        schedule: schedule.into(),
        duration_hours: hours,
        time_zone: None,
        start_date: None,
        enabled: true,
    }
}

#[test]
fn a_maintenance_window_brings_the_chain_up_by_its_opening_and_down_after_it() {
    let with = CHAIN.replace(
        r#""ScheduleName":"Dev","#,
        r#""ScheduleName":"Dev","MaintenanceWindows":["patching"],"#,
    );
    // The second Tuesday of December 2026 is the 8th: 02:00-05:00 UTC.
    let mut h = Harness::new(&[&with], chain_fleet(""), "2026-12-07T23:00:00Z");
    h.catalog
        .attach_windows(&[patching("cron(0 2 ? * TUE#2 *)", 3)]);
    assert!(h.catalog.warnings.is_empty(), "{:?}", h.catalog.warnings);
    let mut started = Vec::new();
    let mut t = at("2026-12-08T01:00:00Z");
    while t <= at("2026-12-08T02:00:00Z") {
        let p = h.run(&t.to_rfc3339());
        started.extend(acts(&p).into_iter().map(|a| (t, a)));
        t += chrono::Duration::minutes(1);
    }
    // DB (5 minutes to boot) first, early enough that all is up at the opening.
    assert_eq!(started[0].1, "start DB [db]");
    assert!(started[0].0 < at("2026-12-08T01:54:00Z"), "{started:?}");
    assert_eq!(started.len(), 4, "{started:?}");
    assert!(
        h.cloud
            .observe(at("2026-12-08T02:00:00Z"))
            .iter()
            .filter(|i| i.tags.get("ScheduleName").map(String::as_str) == Some("Dev"))
            .all(|i| i.power == Power::Running)
    );
    // Closed at 05:00, outside the schedule's period: stopped in reverse order.
    let p = h.run("2026-12-08T05:00:00Z");
    assert_eq!(acts(&p), ["stop BATCH [batch]"]);
}

#[test]
fn a_window_open_at_the_periods_stop_keeps_everything_up_until_it_closes() {
    let with = CHAIN.replace(
        r#""ScheduleName":"Dev","#,
        r#""ScheduleName":"Dev","MaintenanceWindows":"patching","#,
    );
    let mut h = Harness::new(&[&with], chain_fleet(""), "2026-12-08T08:55:00Z");
    h.catalog
        .attach_windows(&[patching("cron(0 17 ? * TUE *)", 3)]);
    let s = &h.catalog.schedules[0];
    let list: Vec<String> =
        crate::calendar::transitions(s, at("2026-12-08T08:00:00Z"), at("2026-12-09T00:00:00Z"))
            .iter()
            .map(|t| format!("{} {}", t.direction, t.at.format("%H:%M")))
            .collect();
    // The 18:00 stop waits for the window, which closes at 20:00.
    assert_eq!(list, ["start 09:00", "stop 20:00"]);
    // A name SSM does not know is said, and the periods still run.
    h.catalog.attach_windows(&[]);
    assert!(
        h.catalog.warnings[0]
            .problem
            .contains("no SSM maintenance window")
    );
    assert_eq!(h.catalog.schedules[0].windows.len(), 0);
}

#[test]
fn sorted_lookups_walk_on_and_fall_back_for_keys_out_of_order() {
    let map: std::collections::BTreeMap<String, u32> = [("a", 1), ("c", 3), ("e", 5)]
        .map(|(k, v)| (k.to_string(), v))
        .into();
    let mut parts = super::Sorted::new(&map);
    // In order, with gaps and misses, as the catalog asks.
    assert_eq!(parts.get("a"), Some(&1));
    assert_eq!(parts.get("b"), None);
    assert_eq!(parts.get("e"), Some(&5));
    // Out of order (a catalog not sorted by name): still found.
    assert_eq!(parts.get("c"), Some(&3));
    assert_eq!(parts.get("a"), Some(&1));
    assert_eq!(parts.get("z"), None);
    assert!(parts.any_unasked());

    // Every key asked for, in order: nothing unasked. A key skipped, or one left
    // after the last lookup, is.
    let mut all = super::Sorted::new(&map);
    for k in ["0", "a", "b", "c", "e", "f"] {
        all.get(k);
    }
    assert!(!all.any_unasked());
    let mut skipped = super::Sorted::new(&map);
    for k in ["a", "e"] {
        skipped.get(k);
    }
    assert!(skipped.any_unasked());
    let mut short = super::Sorted::new(&map);
    for k in ["a", "c"] {
        short.get(k);
    }
    assert!(short.any_unasked());
}

#[test]
fn the_index_finds_the_same_members_as_the_schedules_own_rule() {
    // Every reason a tagged resource is not a member: another group, a kind the group
    // does not take, no group tag, protection (any spelling), an Auto Scaling group's
    // instance, gone; and members in each group.
    let f = chain_fleet(
        r#",{"id":"db2","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"DB"},"state":"stopped"},
        {"id":"nogroup","kind":"ec2","tags":{"ScheduleName":"Dev"},"state":"stopped"},
        {"id":"elsewhere","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"WEB"},"state":"stopped"},
        {"id":"kept","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"API","schedulerprotected":" TRUE "},"state":"stopped"},
        {"id":"asg-i","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"API","aws:autoscaling:groupName":"web"},"state":"stopped"},
        {"id":"gone","kind":"ec2","tags":{"ScheduleName":"Dev","ScheduleGroupName":"API"},"state":"stopped"}"#,
    );
    let c = catalog(&[CHAIN]);
    let s = &c.schedules[0];
    let now = at("2026-11-30T08:00:00Z");
    let mut fleet = SimCloud::new(f, now).observe(now).to_vec();
    fleet.last_mut().unwrap().power = Power::Gone;
    let index = FleetIndex::build(&fleet);
    let ids = |groups: Vec<Vec<&Instance>>| -> Vec<Vec<String>> {
        groups
            .into_iter()
            .map(|g| g.into_iter().map(|i| i.id.clone()).collect())
            .collect()
    };
    let by_rule = ids(s.members(fleet.iter()));
    assert_eq!(
        by_rule,
        [vec!["db"], vec!["mw"], vec!["api1", "api2"], vec!["batch"]]
    );
    assert_eq!(ids(index.members(&fleet, s)), by_rule);
}

#[test]
fn the_state_of_a_schedule_that_no_longer_exists_goes_and_a_broken_ones_stays() {
    const OTHER: &str =
        r#"{"ScheduleName":"Ops","DaysActive":"all","StartTime":"09:00","StopTime":"18:00"}"#;
    const BROKEN: &str =
        r#"{"ScheduleName":"Broken","DaysActive":"all","StartTime":"25:00","StopTime":"18:00"}"#;
    let mut items = Items::default();
    for f in [CHAIN, OTHER, BROKEN] {
        parse_into(f, &mut items).unwrap();
    }
    let c = Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC);
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let now = at("2026-11-30T12:00:00Z");
    let part = ScheduleState {
        consumed: Some(now - Duration::minutes(1)),
        ..ScheduleState::default()
    };
    let removed = |names: &[&str]| {
        let state = RunState {
            schedules: names
                .iter()
                .map(|n| (n.to_string(), part.clone()))
                .collect(),
            ..RunState::default()
        };
        let settings = Settings::default();
        let mut inputs = Inputs::new(now, &c, &[], &state, &settings);
        inputs.every = false;
        decide(&inputs).removed
    };
    // Every part has its schedule (or its broken schedule): nothing goes.
    assert!(removed(&["Broken", "Dev", "Ops"]).is_empty());
    assert!(removed(&["Dev"]).is_empty());
    // Parts without a schedule, before, between and after the others, go.
    assert_eq!(
        removed(&["Aardvark", "Dev", "Gone", "Ops", "Zed"]),
        BTreeSet::from(["Aardvark".to_string(), "Gone".into(), "Zed".into()])
    );
}

#[test]
fn a_follow_up_pass_that_skips_what_was_not_due_plans_as_a_whole_walk_would() {
    // Dev starts at 09:00 with a chain; Late and Night are not due for hours, and are
    // skipped by the passes that follow within the run, until one of them is due.
    let late = r#"{"ScheduleName":"Late","TagValue":"late","DaysActive":"weekdays","StartTime":"09:01","StopTime":"17:00"}"#;
    let night = r#"{"ScheduleName":"Night","TagValue":"night","DaysActive":"weekdays","StartTime":"20:00","StopTime":"06:00"}"#;
    let extra = r#",{"id":"late1","kind":"ec2","tags":{"ScheduleName":"late"},"state":"stopped"},
        {"id":"night1","kind":"ec2","tags":{"ScheduleName":"night"},"state":"running"}"#;
    let mut h = Harness::new(
        &[CHAIN, late, night],
        chain_fleet(extra),
        "2026-11-30T08:50:00Z",
    );
    h.run("2026-11-30T08:50:00Z");
    let steps = super::steps::Steps::new(Scope::All, &[], false);
    let mut now = at("2026-11-30T09:00:00Z");
    let mut skipped_some = false;
    for _ in 0..30 {
        let fleet = h.cloud.snapshot(now);
        let whole = decide(&Inputs {
            every: false,
            ..Inputs::new(now, &h.catalog, &fleet, &h.state, &h.settings)
        });
        let world = super::steps::World {
            catalog: &h.catalog,
            settings: &h.settings,
            allowed: None,
            notes: &[],
        };
        let p = steps.pass(now, world, &fleet, None, &[], &h.state);
        assert_eq!(p, whole, "at {now}");
        skipped_some |= steps
            .visits()
            .is_some_and(|v| v < h.catalog.schedules.len());
        let mut state = h.state.schedules.clone();
        for name in &p.removed {
            state.remove(name);
        }
        state.extend(p.state.schedules.clone());
        h.state = RunState {
            schedules: state,
            run: p.state.run.clone(),
        };
        for a in &p.actions {
            let ids: Vec<String> = a.targets.iter().map(|t| t.id.clone()).collect();
            h.cloud.act(now, a.direction, &ids);
        }
        now += Duration::seconds(15);
    }
    assert!(skipped_some, "no pass skipped anything");
}
