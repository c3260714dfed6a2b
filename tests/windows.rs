//! Maintenance windows through the whole scheduler: a window made in SSM on the
//! emulator, read by the real SDK clients, brings a schedule's DB → APP chain up, in
//! order, before its opening and down, in reverse, after its close; it is read at
//! most once an hour, and `status` names it as the cause of its transitions.

mod common;

use common::{Moto, at, ec2_instances, load_schedules, rds_instance, states};
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
    aws_sdk_ssm::Client::new(&moto.sdk)
        .create_maintenance_window()
        .name("patching")
        .schedule("cron(0 2 ? * TUE#2 *)")
        .schedule_timezone("Asia/Seoul")
        .duration(3)
        .cutoff(1)
        .allow_unassociated_targets(true)
        .send()
        .await
        .expect("a maintenance window");
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
