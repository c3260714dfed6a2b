//! Scale. The run state has no ceiling: one schedule of 8,000 EC2 instances and
//! 1,200 one-instance schedules starting together, in one run, the state in DynamoDB
//! on the emulator, which enforces the 400 KB item limit as AWS does (the fleet is
//! the simulated one: moto needs minutes to launch 9,200 instances and more than a
//! minute to list them). And the scale fleet on the emulator itself: one RDS → EC2
//! chain per schedule comes all up within two runs of the default budget, however
//! slow the listings, 200 schedules here and 1,000 in `make bench-scale`.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use common::*;
use futures::StreamExt;
use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::cloud::sim::{FleetFile, SimCloud, SimFleet};
use instance_scheduler::fleet::{Kind, Power};
use instance_scheduler::notify::deliver::Notifier;
use instance_scheduler::plan::What;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::Store;
use instance_scheduler::store::dynamo::DynamoStore;

#[tokio::test]
async fn eight_thousand_instances_and_twelve_hundred_schedules_start_in_one_run() {
    let moto = Moto::start().await;
    // The state write of 1,201 schedules is slow on moto (below): no attempt limit.
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&patient(&moto)),
        Default::default(),
    );
    store.create_tables().await.expect("tables");
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
        // moto copies the whole state table for every item of a transaction, so one
        // write of 1,201 schedules' states takes it about a minute on a busy machine
        // (DynamoDB, well under a second): the run gets the time the emulator needs.
        config: RunConfig {
            budget: std::time::Duration::from_secs(600),
            ..RunConfig::default()
        },
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
    let errors: Vec<&String> = report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(message),
            _ => None,
        })
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
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

/// The emulator's SDK configuration without the crate's time limits: building a
/// large fleet takes moto longer per request than a run would allow.
fn patient(moto: &Moto) -> aws_config::SdkConfig {
    moto.sdk
        .to_builder()
        .timeout_config(TimeoutConfig::disabled())
        .build()
}

/// `n` schedules `C0000`…, weekdays 09:00–18:00 UTC, each a chain: one RDS
/// instance (group DB) and three EC2 instances (group APP, depending on DB), all
/// stopped. Built in few requests: EC2 launches of 500 with the group tag, one
/// CreateTags per schedule, RDS one request per database and a few at once, and the
/// schedules in batch writes.
async fn chain_fleet(moto: &Moto, store: &DynamoStore, n: usize) {
    let sdk = patient(moto);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let mut ids = Vec::new();
    let mut left = 3 * n;
    while left > 0 {
        let count = left.min(500);
        let launched = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(count as i32)
            .max_count(count as i32)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(Tag::builder().key("ScheduleGroupName").value("APP").build())
                    .build(),
            )
            .send()
            .await
            .expect("run_instances");
        ids.extend(
            launched
                .instances()
                .iter()
                .filter_map(|i| i.instance_id().map(str::to_string)),
        );
        left -= count;
    }
    futures::stream::iter(ids.chunks(3).enumerate())
        .for_each_concurrent(8, |(k, three)| {
            let ec2 = ec2.clone();
            async move {
                ec2.create_tags()
                    .set_resources(Some(three.to_vec()))
                    .tags(Tag::builder().key("ScheduleName").value(tag(k)).build())
                    .send()
                    .await
                    .expect("create_tags");
            }
        })
        .await;
    for batch in ids.chunks(500) {
        ec2.stop_instances()
            .set_instance_ids(Some(batch.to_vec()))
            .send()
            .await
            .expect("stop_instances");
    }
    futures::stream::iter(0..n)
        .for_each_concurrent(4, |k| {
            let rds = rds.clone();
            async move {
                let id = format!("db-{}", tag(k));
                rds.create_db_instance()
                    .db_instance_identifier(&id)
                    .db_instance_class("db.t3.micro")
                    .engine("postgres")
                    .master_username("scheduler")
                    .master_user_password("not-a-secret-1")
                    .allocated_storage(20)
                    .tags(
                        aws_sdk_rds::types::Tag::builder()
                            .key("ScheduleName")
                            .value(tag(k))
                            .build(),
                    )
                    .tags(
                        aws_sdk_rds::types::Tag::builder()
                            .key("ScheduleGroupName")
                            .value("DB")
                            .build(),
                    )
                    .send()
                    .await
                    .expect("create_db_instance");
            }
        })
        .await;
    // Stopped once all exist: moto answers a stop beside a create with a 500 at times.
    futures::stream::iter(0..n)
        .for_each_concurrent(4, |k| {
            let rds = rds.clone();
            async move {
                rds.stop_db_instance()
                    .db_instance_identifier(format!("db-{}", tag(k)))
                    .send()
                    .await
                    .expect("stop_db_instance");
            }
        })
        .await;
    let files: Vec<String> = (0..n)
        .map(|k| {
            format!(
                r#"{{"ScheduleName":"C{k:04}","TagValue":"{}","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
                    "Groups":[{{"GroupName":"DB","InstanceType":"RDS"}},{{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}}]}}"#,
                tag(k)
            )
        })
        .collect();
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(store, &texts).await;
}

/// The `ScheduleName` tag value of chain `k`.
fn tag(k: usize) -> String {
    format!("c{k:04}")
}

/// EC2 instances not running, and RDS instances available.
async fn not_running_and_available(moto: &Moto) -> (usize, usize) {
    let sdk = patient(moto);
    // Filtered by state, so the emulator describes only what is not running.
    let down = aws_sdk_ec2::Client::new(&sdk)
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("stopping")
                .values("stopped")
                .build(),
        )
        .send()
        .await
        .expect("describe_instances");
    let down = down
        .reservations()
        .iter()
        .map(|r| r.instances().len())
        .sum();
    let mut available = 0;
    let mut pages = aws_sdk_rds::Client::new(&sdk)
        .describe_db_instances()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        available += page
            .expect("describe_db_instances")
            .db_instances()
            .iter()
            .filter(|d| d.db_instance_status() == Some("available"))
            .count();
    }
    (down, available)
}

/// The scale fleet of `n` chains on the emulator, and two runs of the default budget
/// on a virtual clock, 09:00 and 09:05: every database and every server is up
/// after them. Prints each run's wall time and AWS requests, and each listing page's
/// time (with --nocapture).
async fn chains_come_up_within_two_runs(n: usize) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,instance_scheduler::cloud::aws::listing=debug")
        .with_test_writer()
        .try_init();
    let moto = Moto::start().await;
    let store = moto.store().await;
    let setup = Instant::now();
    chain_fleet(&moto, &store, n).await;
    eprintln!(
        "{n} chains: the emulator built the fleet in {:.0?}",
        setup.elapsed()
    );
    let clock = VirtualClock::at(at("2026-11-30T09:00:00Z"));
    let runner = Runner {
        cloud: AwsCloud::new(&moto.sdk),
        store,
        clock: clock.clone(),
        config: RunConfig::default(),
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let mut started: BTreeMap<Kind, usize> = BTreeMap::new();
    for (k, time) in ["2026-11-30T09:00:00Z", "2026-11-30T09:05:00Z"]
        .into_iter()
        .enumerate()
    {
        clock.set(at(time));
        moto.record().await;
        let begun = Instant::now();
        let report = runner.run(&[]).await.expect("a run of the scale fleet");
        let took = begun.elapsed();
        let requests = moto.recorded().await;
        for t in report.actions.iter().flat_map(|a| &a.targets) {
            *started.entry(t.kind).or_default() += 1;
        }
        let problems: Vec<&str> = report
            .events
            .iter()
            .filter_map(|e| match &e.what {
                What::Error { message } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        eprintln!(
            "run {}: {:.1?}, {} passes, {} starts, {} AWS requests {:?}; problems: {:?}",
            k + 1,
            took,
            report.passes,
            report
                .actions
                .iter()
                .map(|a| a.targets.len())
                .sum::<usize>(),
            requests.values().sum::<usize>(),
            requests,
            problems
                .iter()
                .map(|p| p.chars().take(160).collect::<String>())
                .collect::<Vec<_>>(),
        );
        // A run may leave part of the fleet to the next (a listing the time cut
        // short); it never fails what it tried.
        assert!(
            problems
                .iter()
                .all(|p| p.contains("did not finish listing")),
            "{problems:?}"
        );
        assert!(took < runner.config.budget, "run {} took {took:?}", k + 1);
    }
    assert_eq!(started.get(&Kind::Rds), Some(&n), "{started:?}");
    assert_eq!(started.get(&Kind::Ec2), Some(&(3 * n)), "{started:?}");
    assert_eq!(not_running_and_available(&moto).await, (0, n));
}

#[tokio::test]
async fn two_hundred_chains_on_the_emulator_come_up_within_two_runs() {
    chains_come_up_within_two_runs(200).await;
}

/// `make bench-scale`: minutes of the emulator's time, so not part of `make test`.
#[tokio::test]
#[ignore]
async fn a_thousand_chains_on_the_emulator_come_up_within_two_runs() {
    chains_come_up_within_two_runs(1000).await;
}
