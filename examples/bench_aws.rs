//! Benchmark (`make bench-aws`): AWS requests and wall time per run against the local
//! emulator, for 40 schedules × 4 groups (one RDS group of 2 databases, three EC2
//! groups of 5 instances): a run that starts everything, and a run with nothing to do.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

const SCHEDULES: usize = 40;

#[tokio::main]
async fn main() {
    let moto = Moto::start().await;
    let mut runner = moto.runner("2026-11-30T09:00:00Z").await;
    runner.config.poll_every = Duration::ZERO;
    runner.config.budget = Duration::from_secs(3600);
    let mut files = Vec::new();
    for k in 0..SCHEDULES {
        let name = format!("Env{k:02}");
        files.push(format!(
            r#"{{"ScheduleName":"{name}","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
              "Groups":[{{"GroupName":"DB","InstanceType":"RDS"}},{{"GroupName":"MW","InstanceType":"EC2","Dependency":["DB"]}},
                        {{"GroupName":"API","InstanceType":"EC2","Dependency":["MW"]}},{{"GroupName":"BATCH","InstanceType":"EC2","Dependency":["API"]}}]}}"#
        ));
        for d in 0..2 {
            rds_instance(
                &moto,
                &format!("{}-db-{d}", name.to_lowercase()),
                &[("ScheduleName", &name), ("ScheduleGroupName", "DB")],
            )
            .await;
        }
        for group in ["MW", "API", "BATCH"] {
            ec2_instances(
                &moto,
                &[("ScheduleName", &name), ("ScheduleGroupName", group)],
                5,
            )
            .await;
        }
    }
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(&runner.store, &texts).await;
    println!(
        "{SCHEDULES} schedules x 4 groups: {} EC2 instances, {} RDS instances",
        SCHEDULES * 15,
        SCHEDULES * 2
    );

    for (label, at) in [
        ("a run that starts everything", "2026-11-30T09:00:00Z"),
        ("a run with nothing to do", "2026-11-30T12:00:00Z"),
    ] {
        runner.clock.set(common::at(at));
        moto.record().await;
        let started = Instant::now();
        let report = runner.run(&[]).await.expect("run");
        let wall = started.elapsed();
        let counts = moto.recorded().await;
        let total: usize = counts.values().sum();
        let acting: usize = [
            "StartInstances",
            "StopInstances",
            "StartDBInstance",
            "StopDBInstance",
            "StartDBCluster",
            "StopDBCluster",
        ]
        .iter()
        .filter_map(|op| counts.get(*op))
        .sum();
        println!(
            "\n{label}: {} passes, {} actions, wall time {:.2} s",
            report.passes,
            report.actions.len(),
            wall.as_secs_f64()
        );
        println!(
            "  requests: {total} in all, {} besides the start/stop calls themselves ({:.1} per pass)",
            total - acting,
            (total - acting) as f64 / report.passes as f64
        );
        for (op, n) in &counts {
            println!("    {op:<22} {n}");
        }
    }
}
