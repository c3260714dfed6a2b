//! Many accounts and Regions: one schedule whose chain runs from an RDS database in
//! account 222222222222 (eu-west-1), through EC2 in the function's own account
//! (ap-northeast-2), to EC2 in account 333333333333 (us-east-1), with the roles
//! assumed through STS on the emulator; a target that cannot be assumed and a Region
//! that does not answer are reported while the others proceed; and a tick shared
//! by two shards.

mod common;

use common::proxy::{Proxy, sts_access_denied};
use common::*;
use instance_scheduler::cloud::aws::targets::{AwsTargets, parse_targets};
use instance_scheduler::fleet::Direction;
use instance_scheduler::handoff::LambdaHandoff;
use instance_scheduler::lambda::handle;
use instance_scheduler::plan::What;
use instance_scheduler::run::{RunConfig, Runner, Shards};
use instance_scheduler::store::dynamo::DynamoStore;
use serde_json::{Value, json};

const OWN: &str = "123456789012";
const ROLE_222: &str = "arn:aws:iam::222222222222:role/instance-scheduler";
const ROLE_333: &str = "arn:aws:iam::333333333333:role/instance-scheduler";
const ROLE_444: &str = "arn:aws:iam::444444444444:role/instance-scheduler";

const CHAIN: &str = r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"RDB","InstanceType":"RDS"},{"GroupName":"MW","InstanceType":"EC2","Dependency":["RDB"]},
            {"GroupName":"API","InstanceType":"EC2","Dependency":["MW"]}]}"#;

async fn runner(
    moto: &Moto,
    store: DynamoStore,
    sdk: &aws_config::SdkConfig,
    targets: &str,
    at: &str,
) -> Runner<AwsTargets, DynamoStore, VirtualClock> {
    let targets = parse_targets(targets).unwrap();
    let _ = moto;
    Runner {
        cloud: AwsTargets::connect(sdk, &targets, Some("shared-secret"), Some(OWN)).await,
        store,
        clock: VirtualClock::at(common::at(at)),
        config: RunConfig::default(),
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    }
}

fn errors(report: &instance_scheduler::run::RunReport) -> Vec<String> {
    report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(format!("{}: {message}", e.schedule)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_chain_across_accounts_and_regions_starts_in_order_and_touches_nothing_else() {
    let moto = Moto::start().await;
    let in_222 = sdk_in(&moto, Some(ROLE_222), "eu-west-1").await;
    let in_own = sdk_in(&moto, None, "ap-northeast-2").await;
    let in_333 = sdk_in(&moto, Some(ROLE_333), "us-east-1").await;
    rds_instance_with(
        &in_222,
        "rdb",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "RDB")],
    )
    .await;
    let mw = ec2_instances_with(
        &in_own,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "MW")],
        2,
    )
    .await;
    let api = ec2_instances_with(
        &in_333,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "API")],
        1,
    )
    .await;
    let strangers = [
        ec2_instances_with(&in_222, &[("Name", "bastion")], 1).await,
        ec2_instances_with(&in_own, &[("Name", "bastion")], 1).await,
        ec2_instances_with(&in_333, &[("Name", "bastion")], 1).await,
    ];
    // An instance in the own account's us-east-1, not a target: never seen.
    let elsewhere = ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "MW")],
        1,
    )
    .await;

    let targets = format!("ap-northeast-2,{ROLE_222}@eu-west-1,{ROLE_333}@us-east-1");
    let r = runner(
        &moto,
        moto.store().await,
        &moto.sdk,
        &targets,
        "2026-11-30T09:00:00Z",
    )
    .await;
    load_schedules(&r.store, &[CHAIN]).await;
    let report = r.run(&[]).await.unwrap();
    assert!(errors(&report).is_empty(), "{:?}", errors(&report));
    let started: Vec<&str> = report
        .actions
        .iter()
        .filter(|a| a.direction == Direction::Start)
        .map(|a| a.group.as_str())
        .collect();
    assert_eq!(started, ["RDB", "MW", "API"]);
    // Every id names its account and Region.
    assert_eq!(
        report.actions[0].targets[0].id,
        "rdb@222222222222/eu-west-1"
    );
    assert!(
        report.actions[1].targets[0]
            .id
            .ends_with(&format!("@{OWN}/ap-northeast-2"))
    );
    assert!(
        report.actions[2].targets[0]
            .id
            .ends_with("@333333333333/us-east-1")
    );
    assert_eq!(states_with(&in_222).await["rdb"], "available");
    let own = states_with(&in_own).await;
    assert!(mw.iter().all(|id| own[id] == "running"));
    assert_eq!(states_with(&in_333).await[&api[0]], "running");
    for (sdk, ids) in [
        (&in_222, &strangers[0]),
        (&in_own, &strangers[1]),
        (&in_333, &strangers[2]),
    ] {
        assert_eq!(states_with(sdk).await[&ids[0]], "stopped");
    }
    assert_eq!(states(&moto).await[&elsewhere[0]], "stopped");
}

#[tokio::test]
async fn a_target_that_cannot_be_assumed_or_reached_is_reported_and_the_others_proceed() {
    let moto = Moto::start().await;
    let in_222 = sdk_in(&moto, Some(ROLE_222), "eu-west-1").await;
    let in_own = sdk_in(&moto, None, "ap-northeast-2").await;
    rds_instance_with(
        &in_222,
        "rdb",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "RDB")],
    )
    .await;
    let mw = ec2_instances_with(
        &in_own,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "MW")],
        1,
    )
    .await;
    let in_444 = sdk_in(&moto, Some(ROLE_444), "us-east-1").await;
    let far = ec2_instances_with(&in_444, &[("ScheduleName", "far")], 1).await;
    let store = moto.store().await;
    load_schedules(
        &store,
        &[
            CHAIN,
            r#"{"ScheduleName":"Far","TagValue":"far","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00"}"#,
        ],
    )
    .await;
    // Yesterday every target answered: each schedule's accounts are known.
    let good = format!("ap-northeast-2,{ROLE_222}@eu-west-1,{ROLE_444}@us-east-1");
    let yesterday = runner(
        &moto,
        moto.store().await,
        &moto.sdk,
        &good,
        "2026-11-27T12:00:00Z",
    )
    .await;
    yesterday.run(&[]).await.unwrap();

    // Today STS refuses the role of 444444444444, and one Region does not answer.
    let proxy = Proxy::start(
        &moto.url,
        Box::new(|op, _, body| {
            (op == "AssumeRole" && body.contains("444444444444")).then(sts_access_denied)
        }),
    )
    .await;
    let through_proxy = sdk_at(&proxy.url).await;
    let targets = format!("ap-northeast-2,{ROLE_222}@eu-west-1,{ROLE_444}@us-east-1,xx-nowhere-1");
    let r = runner(
        &moto,
        store,
        &through_proxy,
        &targets,
        "2026-11-30T09:00:00Z",
    )
    .await;
    let report = r.run(&[]).await.unwrap();
    let said = errors(&report);
    assert!(
        said.iter().any(|e| e
            .starts_with("(targets): 444444444444/us-east-1 could not be observed")
            && e.contains("Far wait")),
        "{said:?}"
    );
    assert!(
        said.iter().any(|e| e.starts_with(&format!(
            "(targets): {OWN}/xx-nowhere-1 could not be observed"
        ))),
        "{said:?}"
    );
    // Dev never used those targets: its chain starts; Far waits, untouched.
    let started: Vec<&str> = report.actions.iter().map(|a| a.group.as_str()).collect();
    assert_eq!(started, ["RDB", "MW"]);
    assert_eq!(states_with(&in_own).await[&mw[0]], "running");
    assert_eq!(states_with(&in_444).await[&far[0]], "stopped");
}

#[tokio::test]
async fn a_tick_shared_by_two_shards_acts_on_each_schedule_once() {
    let moto = Moto::start().await;
    moto_setup(&moto, &["lambda-stub", "scheduler"]);
    let store = moto.store().await;
    let mut files = Vec::new();
    let mut ids = Vec::new();
    for k in 0..8 {
        let tag = format!("env{k}");
        files.push(format!(
            r#"{{"ScheduleName":"Env{k}","TagValue":"{tag}","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00"}}"#
        ));
        ids.extend(ec2_instances(&moto, &[("ScheduleName", &tag)], 1).await);
    }
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(&store, &texts).await;
    let mut coordinator = moto.runner("2026-11-30T09:00:00Z").await;
    coordinator.shards = Shards {
        count: 2,
        invoke: Some(LambdaHandoff::new(&moto.sdk, "scheduler")),
    };
    moto.record().await;
    let tick = json!({"version": "0", "id": "t", "detail-type": "Scheduled Event", "source": "aws.events",
                      "account": "123456789012", "time": "2026-11-30T09:00:00Z", "region": "us-east-1",
                      "resources": [], "detail": {}});
    let answer = handle(&coordinator, tick).await.unwrap();
    assert_eq!(answer, json!({"shards": 2, "invoked": [0, 1]}));
    // The tick acted on nothing itself: it invoked the function once per shard.
    let payloads: Vec<Value> = moto
        .recorded_requests()
        .await
        .iter()
        .filter(|r| {
            r["url"]
                .as_str()
                .unwrap_or("")
                .contains("/functions/scheduler/invocations")
        })
        .map(|r| serde_json::from_str(&request_body(r)).unwrap())
        .collect();
    assert_eq!(payloads.len(), 2);
    assert!(states(&moto).await.values().all(|s| s == "stopped"));
    // The two invocations, at once, as Lambda would run them.
    let a = moto.runner("2026-11-30T09:00:00Z").await;
    let b = moto.runner("2026-11-30T09:00:00Z").await;
    let (ra, rb) = tokio::join!(
        handle(&a, payloads[0].clone()),
        handle(&b, payloads[1].clone())
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let acted = |r: &Value| -> Vec<String> {
        r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["schedule"].as_str().unwrap().to_string())
            .collect()
    };
    let (sa, sb) = (acted(&ra), acted(&rb));
    assert!(!sa.is_empty() && !sb.is_empty(), "{sa:?} {sb:?}");
    let mut all: Vec<String> = sa.iter().chain(&sb).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 8, "every schedule acted on once: {sa:?} {sb:?}");
    assert_eq!(sa.len() + sb.len(), 8);
    let s = states(&moto).await;
    assert!(ids.iter().all(|id| s[id] == "running"));
}

#[tokio::test]
async fn turning_targets_on_keeps_the_own_regions_ids_so_nothing_is_acted_or_reported_twice() {
    let moto = Moto::start().await;
    let own = ec2_instances(&moto, &[("ScheduleName", "far")], 1).await;
    let retired = ec2_instances(&moto, &[("ScheduleName", "retired")], 1).await;
    let in_333 = sdk_in(&moto, Some(ROLE_333), "eu-west-1").await;
    let far = ec2_instances_with(&in_333, &[("ScheduleName", "far")], 1).await;
    let store = moto.store().await;
    load_schedules(
        &store,
        &[r#"{"ScheduleName":"Far","TagValue":"far","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00"}"#],
    )
    .await;
    // Before: the function's own account and Region only.
    let before = moto.runner("2026-11-30T09:00:00Z").await;
    let report = before.run(&[]).await.unwrap();
    assert_eq!(report.actions.len(), 1);
    assert_eq!(report.actions[0].targets[0].id, own[0]);
    assert!(
        errors(&report).iter().any(|e| e.contains(&retired[0])),
        "{:?}",
        errors(&report)
    );

    // After: the own Region listed among others. Its ids stay as they were, so the
    // started instance is not started again and the known problem not re-reported.
    let targets = format!("us-east-1,{ROLE_333}@eu-west-1");
    let after = runner(&moto, store, &moto.sdk, &targets, "2026-11-30T09:05:00Z").await;
    let report = after.run(&[]).await.unwrap();
    assert!(errors(&report).is_empty(), "{:?}", errors(&report));
    assert!(report.actions.is_empty(), "{:?}", report.actions);
    assert_eq!(states(&moto).await[&own[0]], "running");

    // The next morning both start, the own one under its plain id; messages name
    // the own place too, now that there is more than one.
    let gone = ec2_instances(&moto, &[("ScheduleName", "gone")], 1).await;
    let next = runner(
        &moto,
        moto.store().await,
        &moto.sdk,
        &targets,
        "2026-12-01T09:00:00Z",
    )
    .await;
    next.clock.set(common::at("2026-11-30T18:00:00Z"));
    let report = next.run(&[]).await.unwrap();
    let shown = format!("{}@{OWN}/us-east-1", gone[0]);
    assert!(
        errors(&report).iter().any(|e| e.contains(&shown)),
        "{:?}",
        errors(&report)
    );
    next.clock.set(common::at("2026-12-01T09:00:00Z"));
    let report = next.run(&[]).await.unwrap();
    let mut ids: Vec<&str> = report
        .actions
        .iter()
        .flat_map(|a| a.targets.iter().map(|t| t.id.as_str()))
        .collect();
    ids.sort();
    let mut want = vec![own[0].clone(), format!("{}@333333333333/eu-west-1", far[0])];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(states(&moto).await[&own[0]], "running");
    assert_eq!(states_with(&in_333).await[&far[0]], "running");
}
