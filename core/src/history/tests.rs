use super::*;
use crate::fleet::{Power, Target};
use crate::plan::{Request, Settings, plan};
use crate::schedule::Items;
use crate::schedule::file::parse_into;
use crate::sim::{FleetFile, SimCloud};
use chrono_tz::Tz;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Weekdays 09:30–22:00 in Seoul, one group.
const DEV: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00",
  "TimeZone":"Asia/Seoul","Groups":[{"GroupName":"APP","InstanceType":"EC2"}]}"#;

/// The same with an extend on Monday 2026-12-21 (stop at 23:30).
const DEV_EXTENDED: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00",
  "TimeZone":"Asia/Seoul","Groups":[{"GroupName":"APP","InstanceType":"EC2"}],
  "Exceptions":[{"ExceptionDate":"2026-12-21","ExceptionType":"stop","ExceptionValue":"23:30"}]}"#;

const M5: &str = r#"{"instances":[{"id":"i-1","kind":"ec2","state":"stopped",
  "tags":{"ScheduleName":"Dev","ScheduleGroupName":"APP","Name":"api"},"size":{"class":"m5.large"}}]}"#;

/// The scheduler's planner, the history and a simulated fleet, pass by pass.
struct Week {
    catalog: Catalog,
    cloud: SimCloud,
    state: RunState,
    known: Known,
    entries: Vec<Entry>,
    /// The forces' notes, by schedule.
    origins: BTreeMap<String, Origin>,
}

/// DB <- APP, weekdays 09:30–22:00 in Seoul; each stop takes minutes.
const CHAIN: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00",
  "TimeZone":"Asia/Seoul","Groups":[{"GroupName":"DB","InstanceType":"RDS"},
  {"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;

const CHAIN_FLEET: &str = r#"{"instances":[
  {"id":"db","kind":"rds","state":"stopped","boot_seconds":300,"stop_seconds":240,
   "tags":{"ScheduleName":"Dev","ScheduleGroupName":"DB"}},
  {"id":"i-1","kind":"ec2","state":"stopped","boot_seconds":60,"stop_seconds":120,
   "tags":{"ScheduleName":"Dev","ScheduleGroupName":"APP"}}]}"#;

impl Week {
    fn new(schedule: &str, from: &str) -> Week {
        let fleet = if schedule == CHAIN { CHAIN_FLEET } else { M5 };
        let mut items = Items::default();
        parse_into(schedule, &mut items).unwrap();
        let catalog = Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC);
        assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);
        let fleet: FleetFile = serde_json::from_str(fleet).unwrap();
        Week {
            catalog,
            cloud: SimCloud::new(fleet, at(from)),
            state: RunState::default(),
            known: Known::new(),
            entries: Vec::new(),
            origins: BTreeMap::new(),
        }
    }

    /// One pass at `now`, with operators' `requests`.
    fn pass(&mut self, now: DateTime<Utc>, requests: &[Request]) {
        let fleet = self.cloud.observe(now).to_vec();
        let mut p = plan(
            now,
            &self.catalog,
            &fleet,
            &self.state,
            requests,
            &Settings::default(),
        );
        let mut failures = Vec::new();
        for a in &p.actions {
            let targets: Vec<Target> = a.targets.clone();
            for (id, error) in self.cloud.act_on(now, a.direction, &targets) {
                failures.push(Failure { id, error });
            }
        }
        p.after_act(now, &self.catalog, &fleet, &failures);
        let open: BTreeMap<String, Sequence> = self
            .state
            .schedules
            .iter()
            .filter_map(|(n, s)| s.sequence.clone().map(|q| (n.clone(), q)))
            .collect();
        let pass = Pass {
            now,
            catalog: &self.catalog,
            scope: &Scope::All,
            fleet: &fleet,
            unseen: &[],
            actions: &p.actions,
            failures: &failures,
            events: &p.events,
            open: &open,
            after: &p.state,
            origins: &self.origins,
        };
        self.entries.extend(record(&pass, &mut self.known));
        self.state = p.state;
    }

    /// Passes every `minutes` from `from` until `to`.
    fn run(&mut self, from: &str, to: &str, minutes: i64) {
        let (mut t, end) = (at(from), at(to));
        while t < end {
            self.pass(t, &[]);
            t += Duration::minutes(minutes);
        }
    }

    /// The usage of resource `id`.
    fn usage_of(&self, id: &str, from: &str, to: &str) -> (Track, Usage) {
        let tracks = tracks(&self.entries, &self.known, at(from), at(to));
        let track = tracks.iter().find(|t| t.id == id).expect("its track");
        let s = &self.catalog.schedules[0];
        let windows = regular_windows(s, at(from), at(to));
        (track.clone(), usage(s, track, &windows))
    }

    fn usage(&self, from: &str, to: &str) -> (Track, Usage) {
        let tracks = tracks(&self.entries, &self.known, at(from), at(to));
        assert_eq!(tracks.len(), 1, "{tracks:?}");
        let s = &self.catalog.schedules[0];
        let windows = regular_windows(s, at(from), at(to));
        let u = usage(s, &tracks[0], &windows);
        (tracks[0].clone(), u)
    }
}

const MON: &str = "2026-12-21T00:00:00+09:00";
const NEXT_MON: &str = "2026-12-28T00:00:00+09:00";

#[test]
fn a_weekday_schedule_runs_62_and_a_half_of_168_hours() {
    let mut w = Week::new(DEV, MON);
    w.run(MON, NEXT_MON, 5);
    let (track, u) = w.usage(MON, NEXT_MON);
    assert_eq!(u.hours, 168.0);
    assert_eq!(u.running, 62.5);
    assert_eq!(u.scheduled, 62.5);
    // Stopped by the schedule, except the night before the first start, which the
    // history found stopped.
    assert_eq!(u.stopped_by[&Cause::Schedule], 105.5 - 9.5);
    assert_eq!(u.stopped_by[&Cause::Seen], 9.5);
    assert!(u.forced.is_empty() && u.extended.is_empty() && u.by_hand == 0.0);
    assert_eq!(track.seen.size, Some(Size::class("m5.large")));
    assert_eq!(track.seen.name, "api");
    // Five starts and five stops, each recorded once.
    let changes: usize = w.entries.iter().map(|e| e.changes.len()).sum();
    assert_eq!(changes, 1 + 10, "{:?}", w.entries);
}

#[test]
fn force_starts_and_extends_are_overrides() {
    let mut w = Week::new(DEV_EXTENDED, MON);
    w.run(MON, "2026-12-26T10:00:00+09:00", 5);
    // Saturday 10:00 a force-start, 11:00 a force-stop.
    w.pass(
        at("2026-12-26T10:00:00+09:00"),
        &[Request::ForceStart("Dev".into())],
    );
    w.run("2026-12-26T10:05:00+09:00", "2026-12-26T11:00:00+09:00", 5);
    w.pass(
        at("2026-12-26T11:00:00+09:00"),
        &[Request::ForceStop("Dev".into())],
    );
    w.run("2026-12-26T11:05:00+09:00", NEXT_MON, 5);
    let (track, u) = w.usage(MON, NEXT_MON);
    assert_eq!(u.running, 62.5 + 1.5 + 1.0);
    assert_eq!(u.scheduled, 62.5);
    let monday = NaiveDate::from_ymd_opt(2026, 12, 21).unwrap();
    assert_eq!(u.extended, BTreeMap::from([(monday, 1.5)]));
    assert_eq!(
        u.forced,
        BTreeMap::from([(at("2026-12-26T10:00:00+09:00"), 1.0)])
    );
    // The extended stop was the exception's; the force-stop's time is saved by it.
    let stops: Vec<Cause> = track
        .spans
        .iter()
        .filter(|s| !s.up)
        .map(|s| s.cause)
        .collect();
    assert_eq!(
        stops,
        [
            Cause::Seen,
            Cause::Exception,
            Cause::Schedule,
            Cause::Schedule,
            Cause::Schedule,
            Cause::Schedule,
            Cause::Forced
        ]
    );
}

#[test]
fn a_resource_stopped_by_hand_is_saved_by_a_person_not_the_schedule() {
    let mut w = Week::new(DEV, MON);
    w.run(MON, "2026-12-22T12:00:00+09:00", 5);
    // Tuesday noon someone stops it; Wednesday's start starts it again.
    let noon = at("2026-12-22T12:00:00+09:00");
    assert!(
        w.cloud
            .act(noon, Direction::Stop, &["i-1".into()])
            .is_empty()
    );
    w.run("2026-12-22T12:00:00+09:00", NEXT_MON, 5);
    let (track, u) = w.usage(MON, NEXT_MON);
    assert_eq!(u.running, 62.5 - 10.0);
    // From the pass that saw it stopping (at noon) to Wednesday 09:30.
    let person = u.stopped_by[&Cause::Person];
    assert_eq!(person, 21.5, "{:?}", track.spans);
    assert_eq!(u.stopped_by[&Cause::Schedule], 105.5 - 9.5 - (21.5 - 10.0));
    let hand = track
        .spans
        .iter()
        .find(|s| s.cause == Cause::Person)
        .unwrap();
    assert!(!hand.up);
}

#[test]
fn a_database_aws_started_after_seven_days_is_started_by_aws() {
    let mut known = Known::new();
    let seen = Seen {
        up: false,
        since: at("2026-12-01T00:00:00Z"),
        cause: Cause::Schedule,
        group: "DB".into(),
        kind: Kind::Rds,
        name: String::new(),
        size: None,
        count: 1,
        hourly: None,
        began: None,
    };
    known.insert("Dev".into(), BTreeMap::from([("db".to_string(), seen)]));
    let mut items = Items::default();
    parse_into(
        r#"{"ScheduleName":"Dev","Groups":[{"GroupName":"DB","InstanceType":"RDS"}]}"#,
        &mut items,
    )
    .unwrap();
    let catalog = Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC);
    let mut db = Instance::new(
        "db",
        Kind::Rds,
        BTreeMap::from([
            ("ScheduleName".to_string(), "Dev".to_string()),
            ("ScheduleGroupName".to_string(), "DB".to_string()),
        ]),
        Power::Running,
    );
    db.since = Some(at("2026-12-08T00:10:00Z"));
    let after = RunState::default();
    let open = BTreeMap::new();
    let origins = BTreeMap::new();
    let pass = Pass {
        now: at("2026-12-08T00:15:00Z"),
        catalog: &catalog,
        scope: &Scope::All,
        fleet: &[db],
        unseen: &[],
        actions: &[],
        failures: &[],
        events: &[],
        open: &open,
        after: &after,
        origins: &origins,
    };
    let entries = record(&pass, &mut known);
    let change = &entries[0].changes[0];
    assert_eq!(change.now.cause, Cause::Aws);
    // Dated when the service says it got there.
    assert_eq!(change.now.since, at("2026-12-08T00:10:00Z"));
    assert_eq!(change.was.as_ref().unwrap().cause, Cause::Schedule);
}

#[test]
fn a_change_recorded_twice_counts_once_and_a_resource_that_left_stops_counting() {
    let mut w = Week::new(DEV, MON);
    w.run(MON, NEXT_MON, 5);
    let mut twice = w.entries.clone();
    twice.extend(w.entries.clone());
    let tracks = tracks(&twice, &w.known, at(MON), at(NEXT_MON));
    let windows = regular_windows(&w.catalog.schedules[0], at(MON), at(NEXT_MON));
    assert_eq!(
        usage(&w.catalog.schedules[0], &tracks[0], &windows).running,
        62.5
    );

    // Untagged on Wednesday at noon: its time after that is not the schedule's.
    let mut w = Week::new(DEV, MON);
    w.run(MON, "2026-12-23T12:00:00+09:00", 5);
    let empty = Catalog {
        schedules: w.catalog.schedules.clone(),
        ..Catalog::default()
    };
    let after = RunState::default();
    let open = BTreeMap::new();
    let origins = BTreeMap::new();
    let pass = Pass {
        now: at("2026-12-23T12:00:00+09:00"),
        catalog: &empty,
        scope: &Scope::All,
        fleet: &[],
        unseen: &[],
        actions: &[],
        failures: &[],
        events: &[],
        open: &open,
        after: &after,
        origins: &origins,
    };
    let left = record(&pass, &mut w.known);
    assert_eq!(left[0].changes[0].now.cause, Cause::Left);
    w.entries.extend(left);
    let (_, u) = w.usage(MON, NEXT_MON);
    assert_eq!(u.hours, 2.0 * 24.0 + 12.0);
    assert_eq!(u.running, 12.5 * 2.0 + 2.5);
}

#[test]
fn regular_windows_ignore_exceptions_and_cross_the_window_edges() {
    let mut items = Items::default();
    parse_into(DEV_EXTENDED, &mut items).unwrap();
    let c = Catalog::build(&items.schedules, &items.groups, &items.exceptions, Tz::UTC);
    let w = regular_windows(
        &c.schedules[0],
        at("2026-12-21T12:00:00+09:00"),
        at("2026-12-22T12:00:00+09:00"),
    );
    assert_eq!(
        w,
        [
            (
                at("2026-12-21T12:00:00+09:00"),
                at("2026-12-21T22:00:00+09:00")
            ),
            (
                at("2026-12-22T09:30:00+09:00"),
                at("2026-12-22T12:00:00+09:00")
            ),
        ]
    );
}

#[test]
fn a_stop_chain_that_takes_minutes_is_no_extend() {
    // DB <- APP: the 22:00 stop stops APP first, then DB once APP is down; the DB
    // runs a few minutes past 22:00 every day, which is the chain's pace.
    let mut w = Week::new(CHAIN, MON);
    w.run(MON, NEXT_MON, 1);
    let (_, u) = w.usage_of("db", MON, NEXT_MON);
    assert!(u.running > 62.5, "{u:?}");
    assert!(u.extended.is_empty(), "{u:?}");
    assert!(u.forced.is_empty() && u.by_hand == 0.0, "{u:?}");
}

/// The causes of the changes a force-start of the DB <- APP chain on Saturday 10:00
/// records (the APP group starts in a later pass, once the DB is up), then those of
/// a force-stop at 11:00, with `origins` noted before the force-start.
fn forced_chain_causes(origins: &[(&str, Origin)]) -> (Vec<Cause>, Vec<Cause>) {
    let mut w = Week::new(CHAIN, "2026-12-26T09:00:00+09:00");
    w.origins = origins
        .iter()
        .map(|(s, o)| (s.to_string(), o.clone()))
        .collect();
    w.pass(at("2026-12-26T09:55:00+09:00"), &[]);
    let seen = w.entries.len();
    w.pass(
        at("2026-12-26T10:00:00+09:00"),
        &[Request::ForceStart("Dev".into())],
    );
    w.run("2026-12-26T10:01:00+09:00", "2026-12-26T11:00:00+09:00", 1);
    let started = w.entries.len();
    w.pass(
        at("2026-12-26T11:00:00+09:00"),
        &[Request::ForceStop("Dev".into())],
    );
    w.run("2026-12-26T11:01:00+09:00", "2026-12-26T12:00:00+09:00", 1);
    let causes = |entries: &[Entry]| -> Vec<Cause> {
        entries
            .iter()
            .flat_map(|e| e.changes.iter().map(|c| c.now.cause))
            .collect()
    };
    (
        causes(&w.entries[seen..started]),
        causes(&w.entries[started..]),
    )
}

#[test]
fn a_force_the_bots_note_names_is_the_bots_and_any_other_is_forced() {
    let note = |at_: &str, direction| Origin::bot(at(at_), direction, "kim@example.com");
    // The note written just before the force-start: both groups' starts are the
    // bot's, the APP's too, in a later pass; the force-stop after it is not.
    let bot = note("2026-12-26T10:00:00+09:00", Direction::Start);
    assert_eq!(
        forced_chain_causes(&[("Dev", bot.clone())]),
        (vec![Cause::Bot; 2], vec![Cause::Forced; 2])
    );
    // A few minutes in Lambda's queue still count.
    assert_eq!(
        forced_chain_causes(&[("Dev", note("2026-12-26T09:46:00+09:00", Direction::Start))]).0,
        [Cause::Bot; 2]
    );
    for (why, origins) in [
        ("no note", vec![]),
        (
            "a note 20 minutes older",
            vec![("Dev", note("2026-12-26T09:40:00+09:00", Direction::Start))],
        ),
        (
            "a note of the other direction",
            vec![("Dev", note("2026-12-26T10:00:00+09:00", Direction::Stop))],
        ),
        ("a note of another schedule", vec![("Other", bot.clone())]),
    ] {
        assert_eq!(
            forced_chain_causes(&origins),
            (vec![Cause::Forced; 2], vec![Cause::Forced; 2]),
            "{why}"
        );
    }
}
