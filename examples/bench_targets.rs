//! Benchmark (`make bench-targets`): AWS requests and wall time of one run against
//! 1, 10 and 50 targets on the local emulator. Each target is another account's
//! role (assumed through STS) in one of five Regions, holding one schedule's chain
//! (an RDS database, then two EC2 instances): a run that starts all of them, and an
//! idle run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::*;
use instance_scheduler::cloud::aws::targets::{AwsTargets, parse_targets};
use instance_scheduler::run::{RunConfig, Runner};

const REGIONS: [&str; 5] = [
    "us-east-1",
    "eu-west-1",
    "ap-northeast-2",
    "us-west-2",
    "eu-central-1",
];

#[tokio::main]
async fn main() {
    for n in [1usize, 10, 50] {
        let moto = Moto::start().await;
        let store = moto.store().await;
        let mut targets = Vec::new();
        let mut files = Vec::new();
        for k in 0..n {
            let role = format!(
                "arn:aws:iam::{:012}:role/instance-scheduler",
                100_000_000_000u64 + k as u64
            );
            let region = REGIONS[k % REGIONS.len()];
            let sdk = sdk_in(&moto, Some(&role), region).await;
            let tag = format!("team{k:02}");
            rds_instance_with(
                &sdk,
                &format!("db-{k:02}"),
                &[("ScheduleName", &tag), ("ScheduleGroupName", "DB")],
            )
            .await;
            ec2_instances_with(
                &sdk,
                &[("ScheduleName", &tag), ("ScheduleGroupName", "APP")],
                2,
            )
            .await;
            files.push(format!(
                r#"{{"ScheduleName":"Team{k:02}","TagValue":"{tag}","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
                   "Groups":[{{"GroupName":"DB","InstanceType":"RDS"}},{{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}}]}}"#
            ));
            targets.push(format!("{role}@{region}"));
        }
        let texts: Vec<&str> = files.iter().map(String::as_str).collect();
        load_schedules(&store, &texts).await;
        let specs = parse_targets(&targets.join(",")).unwrap();
        let config = RunConfig {
            poll_every: std::time::Duration::ZERO,
            budget: std::time::Duration::from_secs(3600),
            ..RunConfig::default()
        };
        let runner = Runner {
            cloud: AwsTargets::connect(&moto.sdk, &specs, None, Some("123456789012")).await,
            store,
            clock: VirtualClock::at(at("2026-11-30T08:58:00Z")),
            config,
            notifier: Default::default(),
            wakeups: Default::default(),
            shards: Default::default(),
        };
        runner.run(&[]).await.expect("first sight");
        println!(
            "{n} target(s): {} schedules, {} RDS and {} EC2 instances",
            n,
            n,
            2 * n
        );
        for (label, at) in [
            ("starts everything", "2026-11-30T09:00:00Z"),
            ("nothing to do", "2026-11-30T12:00:00Z"),
        ] {
            runner.clock.set(common::at(at));
            moto.record().await;
            let started = Instant::now();
            let report = runner.run(&[]).await.expect("run");
            let wall = started.elapsed();
            let counts = moto.recorded().await;
            let total: usize = counts.values().sum();
            println!(
                "  {label}: {} passes, {} actions, {total} requests ({:.1} per target), wall {:.2} s",
                report.passes,
                report.actions.len(),
                total as f64 / n as f64,
                wall.as_secs_f64()
            );
            println!("    {counts:?}");
        }
    }
}
