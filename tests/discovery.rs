//! Targets without a ceiling: 500 of them (100 accounts in five Regions each) through
//! one run, from a list kept in SSM under a path (where the 4 KB of a function's
//! environment does not bind) and from AWS Organizations discovery on the emulator
//! (nested OUs, an excluded account, one that is not ACTIVE left out by moto's own
//! model of it). Each prints its requests and wall time (`--nocapture`).

mod common;

use std::time::Instant;

use common::*;
use instance_scheduler::cloud::aws::discovery::{self, Discovery};
use instance_scheduler::cloud::aws::targets::{AwsTargets, TargetSpec};
use instance_scheduler::run::{RunConfig, Runner};

const REGIONS: [&str; 5] = [
    "us-east-1",
    "eu-west-1",
    "ap-northeast-2",
    "us-west-2",
    "eu-central-1",
];
const OWN: &str = "123456789012";
const ROLE: &str = "instance-scheduler-spoke";

/// One schedule whose resources live in a few of the targets: a database, then an
/// instance, in each.
const FLEET: &str = r#"{"ScheduleName":"Fleet","TagValue":"fleet","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","TimeZone":"UTC",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;

async fn populate(moto: &Moto, accounts: &[String]) -> usize {
    // Resources in every twentieth account, in one Region each.
    let mut places = 0;
    for (k, account) in accounts.iter().enumerate().step_by(20) {
        let role = format!("arn:aws:iam::{account}:role/{ROLE}");
        let sdk = sdk_in(moto, Some(&role), REGIONS[k % REGIONS.len()]).await;
        database(
            &sdk,
            &format!("db-{k}"),
            &[("ScheduleName", "fleet"), ("ScheduleGroupName", "DB")],
        )
        .await;
        ec2_instances_with(
            &sdk,
            &[("ScheduleName", "fleet"), ("ScheduleGroupName", "APP")],
            1,
        )
        .await;
        places += 1;
    }
    places
}

/// One run over `specs` that starts everything; its requests and wall time printed.
async fn run_over(moto: &Moto, specs: &[TargetSpec], what: &str, places: usize) {
    let store = moto.store().await;
    load_schedules(&store, &[FLEET]).await;
    let runner = Runner {
        cloud: AwsTargets::connect(&moto.sdk, specs, None, Some(OWN)).await,
        store,
        clock: VirtualClock::at(at("2026-11-30T08:58:00Z")),
        config: RunConfig {
            poll_every: std::time::Duration::ZERO,
            budget: std::time::Duration::from_secs(600),
            ..RunConfig::default()
        },
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    runner.run(&[]).await.expect("first sight");
    runner.clock.set(at("2026-11-30T09:00:00Z"));
    moto.record().await;
    let started = Instant::now();
    let report = runner.run(&[]).await.expect("a run over every target");
    let wall = started.elapsed();
    let counts = moto.recorded().await;
    let total: usize = counts.values().sum();
    eprintln!(
        "{what}: {} targets, {} passes, {} actions, {total} requests, wall {:.2} s; {counts:?}",
        specs.len(),
        report.passes,
        report.actions.len(),
        wall.as_secs_f64()
    );
    assert!(!report.has_errors(), "{:?}", report.events);
    let started: usize = report.actions.iter().map(|a| a.targets.len()).sum();
    assert_eq!(started, 2 * places, "{:?}", report.actions);
}

#[tokio::test]
async fn five_hundred_targets_from_a_list_kept_in_ssm_plan_in_one_run() {
    let moto = Moto::start().await;
    let accounts: Vec<String> = (0..100)
        .map(|k| format!("{:012}", 200_000_000_000u64 + k))
        .collect();
    // 100 accounts in five Regions, in three parameters under one path: about 7 KB,
    // more than a function's whole environment may hold.
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk);
    let mut total = 0;
    for (n, chunk) in accounts.chunks(40).enumerate() {
        let text: Vec<String> = chunk
            .iter()
            .map(|a| format!("{a}@{}", REGIONS.join("+")))
            .collect();
        let text = text.join("\n");
        total += text.len();
        ssm.put_parameter()
            .name(format!("/instance-scheduler/targets/part-{n}"))
            .value(text)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .tier(aws_sdk_ssm::types::ParameterTier::Advanced)
            // A put retried after a slow answer finds its own first attempt.
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }
    assert!(
        total > 4096,
        "the list ({total} bytes) fits in the environment"
    );
    let places = populate(&moto, &accounts).await;
    let d = Discovery::from_vars(&|k: &str| match k {
        "TARGETS_SSM" => Some("/instance-scheduler/targets/".into()),
        "SPOKE_ROLE_NAME" => Some(ROLE.into()),
        _ => None,
    })
    .expect("settings");
    let specs = discovery::targets(&moto.sdk, &d, Vec::new(), Some(OWN))
        .await
        .expect("the stored list");
    assert_eq!(specs.len(), 500);
    assert_eq!(
        specs[1],
        TargetSpec {
            region: "eu-west-1".into(),
            role: Some(format!("arn:aws:iam::200000000000:role/{ROLE}"))
        }
    );
    run_over(&moto, &specs, "stored list", places).await;
}

#[tokio::test]
async fn five_hundred_targets_from_organizations_discovery_plan_in_one_run() {
    use aws_sdk_organizations::types::OrganizationFeatureSet;
    let moto = Moto::start().await;
    let org = aws_sdk_organizations::Client::new(&moto.sdk);
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("organization");
    let root = org.list_roots().send().await.expect("roots").roots()[0]
        .id()
        .expect("root id")
        .to_string();
    let ou = |parent: String, name: &'static str| {
        let org = org.clone();
        async move {
            org.create_organizational_unit()
                .parent_id(parent)
                .name(name)
                .send()
                .await
                .expect("OU")
                .organizational_unit()
                .and_then(|o| o.id())
                .expect("OU id")
                .to_string()
        }
    };
    let dev = ou(root.clone(), "dev").await;
    let teams = ou(dev.clone(), "teams").await;
    let elsewhere = ou(root.clone(), "prod").await;
    let mut accounts = Vec::new();
    let mut excluded = String::new();
    for k in 0..102 {
        let created = org
            .create_account()
            .email(format!("team{k}@example.com"))
            .account_name(format!("team{k}"))
            .send()
            .await
            .expect("account");
        let id = created
            .create_account_status()
            .and_then(|s| s.account_id())
            .expect("account id")
            .to_string();
        // 50 in dev, 50 in dev/teams (nested), one in prod, one in dev but excluded.
        let to = match k {
            0..50 => dev.clone(),
            50..100 => teams.clone(),
            100 => elsewhere.clone(),
            _ => {
                excluded = id.clone();
                dev.clone()
            }
        };
        org.move_account()
            .account_id(&id)
            .source_parent_id(&root)
            .destination_parent_id(to)
            .send()
            .await
            .expect("move");
        if k < 100 {
            accounts.push(id);
        }
    }
    let places = populate(&moto, &accounts).await;
    let d = Discovery::from_vars(&|k: &str| match k {
        "ORG_UNITS" => Some(dev.clone()),
        "ORG_REGIONS" => Some(REGIONS.join(",")),
        "ORG_EXCLUDE" => Some(excluded.clone()),
        "SPOKE_ROLE_NAME" => Some(ROLE.into()),
        _ => None,
    })
    .expect("settings");
    let specs = discovery::targets(&moto.sdk, &d, Vec::new(), Some(OWN))
        .await
        .expect("discovery");
    assert_eq!(specs.len(), 500, "100 accounts × 5 Regions");
    let found: std::collections::BTreeSet<String> = specs
        .iter()
        .filter_map(|s| s.account().map(str::to_string))
        .collect();
    let expected: std::collections::BTreeSet<String> = accounts.iter().cloned().collect();
    assert_eq!(
        found, expected,
        "the prod and the excluded account are left out"
    );
    run_over(&moto, &specs, "organizations", places).await;
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
