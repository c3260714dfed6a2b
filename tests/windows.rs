//! Maintenance windows through the whole scheduler: a window made in SSM on the
//! emulator, read by the real SDK clients, brings a schedule's DB → APP chain up, in
//! order, before its opening and down, in reverse, after its close; it is read at
//! most once an hour, and `status` names it as the cause of its transitions.

mod common;

use common::{Moto, at, ec2_instances, load_schedules, maintenance_window, rds_instance, states};
use instance_scheduler::fleet::Direction;
use instance_scheduler::plan::What;
use instance_scheduler::run::RunReport;

const PATCHED: &str = r#"{"ScheduleName":"Patched","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","TimeZone":"Asia/Seoul","MaintenanceWindows":["patching","nightly-typo"],
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;

/// The groups acted on in `direction`, in the order the run acted.
fn groups(report: &RunReport, direction: Direction) -> Vec<String> {
    report
        .events
        .iter()
        .filter_map(|e| match (&e.what, direction) {
            (What::Start { group, .. }, Direction::Start) => Some(group.clone()),
            (What::Stop { group, .. }, Direction::Stop) => Some(group.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_ssm_window_brings_a_chain_up_for_its_opening_and_down_after_it() {
    let moto = Moto::start().await;
    maintenance_window(
        &moto,
        "patching",
        "cron(0 2 ? * TUE#2 *)",
        Some("Asia/Seoul"),
    )
    .await;
    rds_instance(
        &moto,
        "patched-db",
        &[("ScheduleName", "Patched"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let app = ec2_instances(
        &moto,
        &[("ScheduleName", "Patched"), ("ScheduleGroupName", "APP")],
        1,
    )
    .await;
    // Tuesday 2026-12-08 is the second Tuesday: the window opens at 02:00 in Seoul.
    let runner = moto.runner("2026-12-08T01:00:00+09:00").await;
    load_schedules(&runner.store, &[PATCHED]).await;
    let report = runner.run(&[]).await.unwrap();
    assert!(report.actions.is_empty(), "{:?}", report.actions);
    // The name SSM does not know is said, naming the schedule; the rest works.
    assert!(
        report.events.iter().any(|e| e.schedule == "Patched"
            && matches!(&e.what, What::Error { message }
                if message.contains("\"nightly-typo\": no SSM maintenance window"))),
        "{:?}",
        report.events
    );
    // status names the window as the cause of the next start and stop.
    let status = instance_scheduler::ops::status(&runner, "Patched")
        .await
        .unwrap()
        .to_string();
    assert!(
        status.contains("start Tue 2026-12-08 02:00 (window patching)")
            && status.contains("stop Tue 2026-12-08 05:00 (window patching)"),
        "{status}"
    );

    // Early enough for the database (10 minutes until learned) and then the
    // application to be up at 02:00: the chain starts in order.
    moto.record().await;
    let mut started = Vec::new();
    for t in ["16:50", "16:52", "16:54", "16:56"] {
        runner.clock.set(at(&format!("2026-12-07T{t}:00Z")));
        started.extend(groups(&runner.run(&[]).await.unwrap(), Direction::Start));
    }
    assert_eq!(started, ["DB", "APP"]);
    let up = states(&moto).await;
    assert_eq!(up["patched-db"], "available");
    assert_eq!(up[&app[0]], "running");
    // Read 50 minutes ago and kept in the state: not read again.
    let calls = moto.recorded().await;
    assert_eq!(calls.get("DescribeMaintenanceWindows"), None, "{calls:?}");

    // Closed at 05:00 in Seoul, before the day's period: stopped in reverse order.
    moto.record().await;
    let mut stopped = Vec::new();
    for t in ["20:01", "20:03", "20:05"] {
        runner.clock.set(at(&format!("2026-12-07T{t}:00Z")));
        stopped.extend(groups(&runner.run(&[]).await.unwrap(), Direction::Stop));
    }
    assert_eq!(stopped, ["APP", "DB"]);
    let down = states(&moto).await;
    assert_eq!(down["patched-db"], "stopped");
    assert_eq!(down[&app[0]], "stopped");
    // More than an hour later: read again, once.
    let calls = moto.recorded().await;
    assert_eq!(
        calls.get("DescribeMaintenanceWindows"),
        Some(&1),
        "{calls:?}"
    );
}

/// The simulator reads the account's windows from the fleet file and runs the same
/// step: the chain is up, in order, before the second Tuesday's 02:00 opening, and
/// down, in reverse, after its 05:00 close.
#[test]
fn the_simulator_takes_windows_from_the_fleet_file() {
    use chrono::{DateTime, Duration, Utc};
    use instance_scheduler::simulate::{Span, Wakes, read_fleet, simulate_with_windows};
    use instance_scheduler::store::Items;
    use instance_scheduler::store::files::parse_into;

    let fleet = r#"{"instances": [
        {"id": "patched-db", "kind": "rds", "state": "stopped", "boot_seconds": 300, "stop_seconds": 120,
         "tags": {"ScheduleName": "Patched", "ScheduleGroupName": "DB"}},
        {"id": "i-patched-app", "kind": "ec2", "state": "stopped",
         "tags": {"ScheduleName": "Patched", "ScheduleGroupName": "APP"}}],
      "maintenance_windows": [{"id": "mw-0123456789abcdef0", "name": "patching",
        "schedule": "cron(0 2 ? * TUE#2 *)", "duration_hours": 3, "time_zone": "Asia/Seoul",
        "enabled": true}]}"#;
    let (fleet, windows) = read_fleet(fleet).unwrap();
    assert_eq!(windows.len(), 1);
    let mut items = Items::default();
    parse_into(
        r#"{"ScheduleName":"Patched","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","TimeZone":"Asia/Seoul","MaintenanceWindows":["patching"],
            "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#,
        &mut items,
    )
    .unwrap();
    let kst = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    let span = Span {
        from: kst("2026-12-08T00:00:00+09:00"),
        to: kst("2026-12-08T08:00:00+09:00"),
        tick: Duration::minutes(5),
    };
    let report = simulate_with_windows(
        items,
        fleet,
        windows,
        span,
        Default::default(),
        Wakes::default(),
    );
    let acted: Vec<(DateTime<Utc>, &str, &str)> = report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Start { group, .. } => Some((e.at.to_utc(), "start", group.as_str())),
            What::Ready { group } => Some((e.at.to_utc(), "ready", group.as_str())),
            What::Stop { group, .. } => Some((e.at.to_utc(), "stop", group.as_str())),
            _ => None,
        })
        .collect();
    let shown: Vec<(&str, &str)> = acted.iter().map(|(_, w, g)| (*w, *g)).collect();
    assert_eq!(
        shown,
        [
            ("start", "DB"),
            ("ready", "DB"),
            ("start", "APP"),
            ("ready", "APP"),
            ("stop", "APP"),
            ("stop", "DB")
        ],
        "{:?}",
        report.events
    );
    let (opens, closes) = (
        kst("2026-12-08T02:00:00+09:00"),
        kst("2026-12-08T05:00:00+09:00"),
    );
    assert!(acted[3].0 <= opens, "APP ready at {} for 02:00", acted[3].0);
    assert!(
        acted[0].0 >= opens - Duration::hours(1),
        "DB began at {}",
        acted[0].0
    );
    assert!(
        acted[4].0 >= closes,
        "APP stopped at {} before 05:00",
        acted[4].0
    );
}
