//! Chains at the speed of the servers: the deployed function, simulated with its
//! tick, state-change events and wake-ups, on the chain DB (RDS, 420 s) → MW → API →
//! BATCH (EC2, 60/60/75 s) starting at 09:30 and stopping at 22:00 in Seoul.
//! Its critical path is 615 s to start and 330 s to stop.

use chrono::{DateTime, Duration, FixedOffset, Timelike, Utc};
use instance_scheduler::cloud::sim::FleetFile;
use instance_scheduler::plan::What;
use instance_scheduler::run::RunConfig;
use instance_scheduler::simulate::{Report, Span, Wakes, simulate};
use instance_scheduler::store::files::load_dir;

const START_PATH: i64 = 615;
const STOP_PATH: i64 = 330;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn week(schedules: &str, wakes: Wakes) -> Report {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let items = load_dir(&root.join(schedules)).unwrap();
    let fleet: FleetFile = serde_json::from_str(
        &std::fs::read_to_string(root.join("examples/chain-fleet.json")).unwrap(),
    )
    .unwrap();
    simulate(
        items,
        fleet,
        Span {
            from: at("2026-12-21T00:00:00+09:00"),
            to: at("2026-12-26T00:00:00+09:00"),
            tick: Duration::minutes(5),
        },
        RunConfig::default(),
        wakes,
    )
}

/// When each day's first action of `start` or `stop` fell, and when its whole
/// schedule was up (or down).
fn days(r: &Report, starting: bool) -> Vec<(DateTime<FixedOffset>, DateTime<FixedOffset>)> {
    let mut out = Vec::new();
    let mut first = None;
    for e in &r.events {
        match &e.what {
            What::Start { .. } if starting => first = first.or(Some(e.at)),
            What::Stop { .. } if !starting => first = first.or(Some(e.at)),
            What::ScheduleReady { .. } if starting => out.push((first.take().unwrap(), e.at)),
            What::ScheduleStopped { .. } if !starting => out.push((first.take().unwrap(), e.at)),
            _ => {}
        }
    }
    out
}

#[test]
fn a_chain_is_up_within_its_critical_path_and_down_within_its_stop_path() {
    let r = week("examples/chain", Wakes::default());
    let starts = days(&r, true);
    assert_eq!(starts.len(), 5);
    for (first, ready) in &starts {
        // Without StartMode, the chain still begins at 09:30.
        assert_eq!((first.hour(), first.minute(), first.second()), (9, 30, 0));
        let took = (*ready - *first).num_seconds();
        assert!(took <= START_PATH + 120, "{first}: up after {took} s");
    }
    for (first, down) in days(&r, false) {
        let took = (down - first).num_seconds();
        assert!(took <= STOP_PATH + 120, "{first}: down after {took} s");
    }
}

#[test]
fn ready_by_has_every_group_up_by_the_start_time_from_the_second_day() {
    let r = week("examples/chain-ready-by", Wakes::default());
    let starts = days(&r, true);
    assert_eq!(starts.len(), 5);
    for (first, ready) in &starts[1..] {
        let nine_thirty = first
            .with_hour(9)
            .and_then(|t| t.with_minute(30))
            .and_then(|t| t.with_second(0))
            .unwrap();
        assert!(*ready <= nine_thirty, "ready at {ready}");
        let early = (nine_thirty - *first).num_seconds();
        assert!(early <= START_PATH + 600, "the DB started {early} s early");
    }
}

#[test]
fn without_events_and_wake_ups_the_tick_paces_the_chain() {
    let clock_only = week(
        "examples/chain",
        Wakes {
            events: false,
            wakeups: false,
            ..Wakes::default()
        },
    );
    let events = week("examples/chain", Wakes::default());
    let slowest = |r: &Report| {
        days(r, true)
            .iter()
            .map(|(a, b)| (*b - *a).num_seconds())
            .max()
            .unwrap()
    };
    // The DB's readiness is seen at a tick, not when it happens.
    assert!(
        slowest(&clock_only) > START_PATH + 300,
        "{}",
        slowest(&clock_only)
    );
    assert!(slowest(&events) <= START_PATH + 120);
}
