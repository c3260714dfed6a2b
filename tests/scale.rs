//! The run state has no ceiling: one schedule of 8,000 EC2 instances and 1,200
//! one-instance schedules starting together, in one run. The state goes to DynamoDB
//! on the emulator, which enforces the 400 KB item limit as AWS does. The fleet is
//! the simulated one: moto needs minutes to launch 9,200 instances and more than a
//! minute to list them, so it cannot hold a fleet of this size in a test (EC2
//! batching is tested against moto itself in faults.rs).

mod common;

use common::*;
use instance_scheduler::cloud::sim::{FleetFile, SimCloud, SimFleet};
use instance_scheduler::fleet::Power;
use instance_scheduler::notify::deliver::Notifier;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::Store;

#[tokio::test]
async fn eight_thousand_instances_and_twelve_hundred_schedules_start_in_one_run() {
    let moto = Moto::start().await;
    let store = moto.store().await;
    let mut files = vec![
        r#"{"ScheduleName":"Big","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"APP","InstanceType":"EC2"}]}"#
            .to_string(),
    ];
    let mut instances = Vec::new();
    for k in 0..8000 {
        instances.push(format!(
            r#"{{"id":"i-{k:017x}","kind":"ec2","tags":{{"ScheduleName":"Big","ScheduleGroupName":"APP"}},"state":"stopped","boot_seconds":40}}"#
        ));
    }
    for k in 0..1200 {
        let name = format!("S{k:04}");
        instances.push(format!(
            r#"{{"id":"i-{:017x}","kind":"ec2","tags":{{"ScheduleName":"{name}"}},"state":"stopped","boot_seconds":40}}"#,
            100_000 + k
        ));
        files.push(format!(
            r#"{{"ScheduleName":"{name}","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00"}}"#
        ));
    }
    let fleet: FleetFile =
        serde_json::from_str(&format!(r#"{{"instances":[{}]}}"#, instances.join(","))).unwrap();
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(&store, &texts).await;

    let clock = VirtualClock::at(at("2026-11-30T08:58:00Z"));
    let cloud = SimFleet::new(
        SimCloud::new(fleet, at("2026-11-30T08:58:00Z")),
        clock.clone(),
    );
    let runner = Runner {
        cloud: cloud.clone(),
        store,
        clock: clock.clone(),
        config: RunConfig::default(),
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    runner
        .run(&[])
        .await
        .expect("the first run sees every schedule");
    clock.set(at("2026-11-30T09:00:00Z"));
    let report = runner.run(&[]).await.expect("the 09:00 run");
    assert!(
        !report.has_errors(),
        "{:?}",
        &report.events[..report.events.len().min(3)]
    );
    let started: usize = report.actions.iter().map(|a| a.targets.len()).sum();
    assert_eq!(started, 9200);
    let up = cloud.with(|c| {
        c.observe(at("2026-11-30T09:10:00Z"))
            .iter()
            .filter(|i| i.power == Power::Running)
            .count()
    });
    assert_eq!(up, 9200);
    // Every schedule's state was kept, each part within DynamoDB's item limit.
    let state = runner.store.load_state().await.unwrap();
    assert_eq!(state.state.schedules.len(), 1201);
}
