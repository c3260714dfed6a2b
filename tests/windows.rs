//! Maintenance windows through the whole scheduler: a window made in SSM on the
//! emulator, read by the real SDK client, brings a schedule's instance up for its
//! opening and down after its close; it is read at most once an hour.

mod common;

use common::{Moto, at, ec2_instances, load_schedules, states};
use instance_scheduler::plan::What;

const PATCHED: &str = r#"{"ScheduleName":"Patched","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","TimeZone":"Asia/Seoul","MaintenanceWindows":["patching","nightly-typo"]}"#;

#[tokio::test]
async fn an_ssm_window_starts_the_schedule_for_its_opening_and_stops_it_after() {
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
    let ids = ec2_instances(&moto, &[("ScheduleName", "Patched")], 1).await;
    // Tuesday 2026-12-08 is the second Tuesday: the window opens at 02:00 in Seoul.
    let runner = moto.runner("2026-12-08T01:30:00+09:00").await;
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

    // Minutes before the opening, early enough for the instance to be up by then.
    moto.record().await;
    runner.clock.set(at("2026-12-07T16:58:00Z"));
    let report = runner.run(&[]).await.unwrap();
    let started: Vec<&str> = report
        .actions
        .iter()
        .flat_map(|a| a.targets.iter().map(|t| t.id.as_str()))
        .collect();
    assert_eq!(started, [ids[0].as_str()]);
    assert_eq!(states(&moto).await[&ids[0]], "running");
    // Read half an hour ago, kept in the state: not read again.
    let calls = moto.recorded().await;
    assert_eq!(calls.get("DescribeMaintenanceWindows"), None, "{calls:?}");

    // Closed at 05:00 in Seoul, before the day's period: stopped.
    moto.record().await;
    runner.clock.set(at("2026-12-07T20:01:00Z"));
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(report.actions.len(), 1, "{:?}", report.actions);
    assert_eq!(states(&moto).await[&ids[0]], "stopped");
    // More than an hour later: read again, once.
    let calls = moto.recorded().await;
    assert_eq!(
        calls.get("DescribeMaintenanceWindows"),
        Some(&1),
        "{calls:?}"
    );
}
