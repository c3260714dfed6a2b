//! Moving from the original Python tool: its three tables, seeded here in its exact
//! item shapes (no `TimeZone` anywhere, no `Enabled` on some, `"None"` times, its
//! `Dependency` lists, its table names and key schemas), read unchanged. With the
//! documented settings (`DEFAULT_TIME_ZONE=Asia/Seoul`, `MISSING_ENABLED=off`) a run
//! acts at the Seoul instants the original acted at; without them the ambiguous
//! schedules are refused by name, and `schedctl migrate --check` names the zone.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue as A;
use common::*;
use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::config::Config;
use instance_scheduler::fleet::Direction;
use instance_scheduler::plan::What;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::dynamo::{DynamoStore, Tables};

fn s(v: &str) -> A {
    A::S(v.into())
}

/// The original tool's items, as its tables hold them.
async fn seed(moto: &Moto) {
    let db = aws_sdk_dynamodb::Client::new(&moto.sdk);
    let put = |table: &'static str, item: Vec<(&'static str, A)>| {
        let db = db.clone();
        async move {
            let item: HashMap<String, A> =
                item.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            db.put_item()
                .table_name(table)
                .set_item(Some(item))
                .send()
                .await
                .expect("put");
        }
    };
    // Schedule: no TimeZone on any; Staging without Enabled; Batch without a start.
    put(
        "Schedule",
        vec![
            ("ScheduleName", s("Development")),
            ("TagValue", s("Development")),
            ("DaysActive", s("weekdays")),
            ("Enabled", A::Bool(true)),
            ("StartTime", s("09:30")),
            ("StopTime", s("22:00")),
            ("ForceStart", A::Bool(false)),
        ],
    )
    .await;
    put(
        "Schedule",
        vec![
            ("ScheduleName", s("Staging")),
            ("TagValue", s("Staging")),
            ("DaysActive", s("mon,wed,fri")),
            ("StartTime", s("10:00")),
            ("StopTime", s("None")),
            ("ForceStart", A::Bool(false)),
        ],
    )
    .await;
    put(
        "Schedule",
        vec![
            ("ScheduleName", s("Batch")),
            ("TagValue", s("Batch")),
            ("DaysActive", s("all")),
            ("Enabled", A::Bool(true)),
            ("StartTime", s("None")),
            ("StopTime", s("20:00")),
            ("ForceStart", A::Bool(false)),
        ],
    )
    .await;
    // ScheduleServerGroup: Dependency lists, an empty one included.
    put(
        "ScheduleServerGroup",
        vec![
            ("ScheduleName", s("Development")),
            ("GroupName", s("RDB")),
            ("InstanceType", s("RDS")),
            ("Dependency", A::L(vec![])),
        ],
    )
    .await;
    put(
        "ScheduleServerGroup",
        vec![
            ("ScheduleName", s("Development")),
            ("GroupName", s("MIDDLEWARE")),
            ("InstanceType", s("EC2")),
            ("Dependency", A::L(vec![s("RDB")])),
        ],
    )
    .await;
    put(
        "ScheduleServerGroup",
        vec![
            ("ScheduleName", s("Development")),
            ("GroupName", s("API")),
            ("InstanceType", s("EC2")),
            ("Dependency", A::L(vec![s("RDB"), s("MIDDLEWARE")])),
        ],
    )
    .await;
    // ScheduleException: a late stop, and a day without a start ("None").
    put(
        "ScheduleException",
        vec![
            ("ExceptionUuid", s("414faf09-5f6a-4182-b8fd-65522d7612b2")),
            ("ScheduleName", s("Development")),
            ("ExceptionDate", s("2026-12-22")),
            ("ExceptionType", s("stop")),
            ("ExceptionValue", s("21:00")),
        ],
    )
    .await;
    put(
        "ScheduleException",
        vec![
            ("ExceptionUuid", s("7d1c2a4e-0b7a-4c55-9a3e-2f1f5f0c9b11")),
            ("ScheduleName", s("Development")),
            ("ExceptionDate", s("2026-12-23")),
            ("ExceptionType", s("start")),
            ("ExceptionValue", s("None")),
        ],
    )
    .await;
}

/// When the original acted, in Seoul: on the first 5-minute tick at or after a time,
/// on an active day, with that day's exception instead of the time.
fn original_instants() -> BTreeSet<(String, &'static str, &'static str)> {
    [
        ("2026-12-21T09:30:00+09:00", "Development", "start"),
        ("2026-12-21T20:00:00+09:00", "Batch", "stop"),
        ("2026-12-21T22:00:00+09:00", "Development", "stop"),
        ("2026-12-22T09:30:00+09:00", "Development", "start"),
        ("2026-12-22T20:00:00+09:00", "Batch", "stop"),
        ("2026-12-22T21:00:00+09:00", "Development", "stop"),
        ("2026-12-23T20:00:00+09:00", "Batch", "stop"),
    ]
    .into_iter()
    .map(|(at, schedule, what)| (at.to_string(), schedule, what))
    .collect()
}

/// The ticks looked at: around every time any schedule names, each day.
fn ticks() -> Vec<String> {
    let mut out = Vec::new();
    for day in ["2026-12-21", "2026-12-22", "2026-12-23"] {
        for time in [
            "09:25", "09:30", "09:35", "10:00", "19:55", "20:00", "20:55", "21:00", "21:55",
            "22:00", "22:05",
        ] {
            out.push(format!("{day}T{time}:00+09:00"));
        }
    }
    out
}

async fn runner(moto: &Moto, vars: &[(&str, &str)]) -> Runner<AwsCloud, DynamoStore, VirtualClock> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_vars(|k| vars.get(k).cloned()).expect("settings");
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk), Tables::default())
        .with_absent(config.absent);
    Runner {
        cloud: AwsCloud::new(&moto.sdk),
        store,
        clock: VirtualClock::at(at("2026-12-21T00:00:00Z")),
        config: RunConfig {
            poll_every: Duration::from_millis(50),
            budget: Duration::from_secs(30),
            chat_deadline: Duration::from_secs(1),
            ..config.run
        },
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    }
}

async fn fleet(moto: &Moto) -> Vec<String> {
    database(
        &moto.sdk,
        "seoul-rdb",
        &[
            ("ScheduleName", "Development"),
            ("ScheduleGroupName", "RDB"),
        ],
    )
    .await;
    let mut ids = ec2_instances(
        moto,
        &[
            ("ScheduleName", "Development"),
            ("ScheduleGroupName", "MIDDLEWARE"),
        ],
        1,
    )
    .await;
    ids.extend(
        ec2_instances(
            moto,
            &[
                ("ScheduleName", "Development"),
                ("ScheduleGroupName", "API"),
            ],
            1,
        )
        .await,
    );
    ids.extend(ec2_instances(moto, &[("ScheduleName", "Staging")], 1).await);
    let batch = ec2_instances(moto, &[("ScheduleName", "Batch")], 1).await;
    moto.ec2()
        .start_instances()
        .set_instance_ids(Some(batch.clone()))
        .send()
        .await
        .expect("start");
    ids.extend(batch);
    ids
}

#[tokio::test]
async fn with_the_documented_settings_runs_act_at_the_original_seoul_instants() {
    let moto = Moto::start().await;
    let tables = DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk), Tables::default());
    tables.create_tables().await.expect("the original's tables");
    seed(&moto).await;
    let ids = fleet(&moto).await;
    let runner = runner(
        &moto,
        &[
            ("DEFAULT_TIME_ZONE", "Asia/Seoul"),
            ("MISSING_ENABLED", "off"),
        ],
    )
    .await;
    let mut acted = BTreeSet::new();
    for tick in ticks() {
        runner.clock.set(at(&tick));
        let report = runner.run(&[]).await.expect("a run");
        assert!(!report.has_errors(), "{tick}: {:?}", report.events);
        for a in &report.actions {
            let what = if a.direction == Direction::Start {
                "start"
            } else {
                "stop"
            };
            acted.insert((tick.clone(), leak(&a.schedule), what));
        }
        // Batch is started again by hand each evening, as people do.
        if tick.ends_with("T21:00:00+09:00") {
            moto.ec2()
                .start_instances()
                .instance_ids(ids[3].clone())
                .send()
                .await
                .expect("start");
        }
    }
    assert_eq!(acted, original_instants());
    // Staging (no Enabled: off, as in the original) never moved.
    assert_eq!(states(&moto).await[&ids[2]], "stopped");
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

#[tokio::test]
async fn without_the_settings_the_ambiguous_schedules_are_refused_by_name() {
    let moto = Moto::start().await;
    let tables = DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk), Tables::default());
    tables.create_tables().await.expect("tables");
    seed(&moto).await;
    fleet(&moto).await;
    // The template's defaults: both settings present and empty.
    let runner = runner(&moto, &[("DEFAULT_TIME_ZONE", ""), ("MISSING_ENABLED", "")]).await;
    runner.clock.set(at("2026-12-21T09:30:00+09:00"));
    let report = runner.run(&[]).await.expect("a run");
    assert!(report.actions.is_empty(), "{:?}", report.actions);
    let errors: Vec<String> = report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(format!("{}: {message}", e.schedule)),
            _ => None,
        })
        .collect();
    for name in ["Development", "Staging", "Batch"] {
        assert!(
            errors.iter().any(|e| e.starts_with(name)
                && e.contains("has no TimeZone")
                && e.contains("DEFAULT_TIME_ZONE")),
            "{name}: {errors:?}"
        );
    }
    // A zone alone still leaves Staging's missing Enabled to be decided.
    let runner = self::runner(
        &moto,
        &[("DEFAULT_TIME_ZONE", "Asia/Seoul"), ("MISSING_ENABLED", "")],
    )
    .await;
    runner.clock.set(at("2026-12-21T09:35:00+09:00"));
    let report = runner.run(&[]).await.expect("a run");
    assert!(
        report.events.iter().any(|e| e.schedule == "Staging"
            && matches!(&e.what, What::Error { message } if message.contains("MISSING_ENABLED"))),
        "{:?}",
        report.events
    );
}

#[tokio::test]
async fn migrate_check_names_the_zone_difference_and_its_setting() {
    let moto = Moto::start().await;
    let tables = DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk), Tables::default());
    tables.create_tables().await.expect("tables");
    seed(&moto).await;
    let check = |vars: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_schedctl"));
        c.args(["migrate", "--check"])
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("DEFAULT_TIME_ZONE")
            .env_remove("MISSING_ENABLED")
            .env_remove("SCHEDULER_STACK");
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().expect("schedctl runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = check(&[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("Development:\n  - has no TimeZone and no default zone is set"),
        "{out}"
    );
    assert!(out.contains("fix: DEFAULT_TIME_ZONE=Asia/Seoul"), "{out}");
    assert!(
        out.contains("Staging:") && out.contains("fix: MISSING_ENABLED=off"),
        "{out}"
    );
    // With the documented settings, the zone and Enabled differences are gone.
    let (_, out, _) = check(&[
        ("DEFAULT_TIME_ZONE", "Asia/Seoul"),
        ("MISSING_ENABLED", "off"),
    ]);
    assert!(!out.contains("TimeZone"), "{out}");
    assert!(!out.contains("MISSING_ENABLED=off (the"), "{out}");
    assert!(out.contains("Staging: runs as in the original"), "{out}");
    assert!(out.contains("Batch: runs as in the original"), "{out}");
}

/// A stopped RDS instance with these tags. Under load the emulator can answer a
/// create after the SDK's attempt timeout; the retry then finds the database (and its
/// snapshot) made by the first attempt, which is what was asked for.
async fn database(sdk: &aws_config::SdkConfig, id: &str, tags: &[(&str, &str)]) {
    let rds = aws_sdk_rds::Client::new(sdk);
    let tags: Vec<aws_sdk_rds::types::Tag> = tags
        .iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build())
        .collect();
    let created = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("scheduler")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .set_tags(Some(tags))
        .send()
        .await;
    if let Err(e) = created {
        let text = format!("{e:?}");
        assert!(
            text.contains("AlreadyExists"),
            "create_db_instance {id}: {text}"
        );
    }
    rds.stop_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("stop_db_instance");
}
