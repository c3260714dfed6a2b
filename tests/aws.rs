//! The real SDK clients against a local AWS emulator (moto on 127.0.0.1): the
//! function's runs and invocations end to end.

mod common;

use common::*;
use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::cloud::{Cloud, Look, Observation, ObserveError};
use instance_scheduler::fleet::Direction;
use instance_scheduler::fleet::{Failure, Instance, Kind, Power, Target};
use instance_scheduler::lambda::handle;
use instance_scheduler::plan::What;
use instance_scheduler::run::{RunReport, Runner};
use instance_scheduler::store::{StateKey, Store, save_state};
use serde_json::json;

/// DB (an RDS instance and an Aurora cluster) → MW → API → BATCH, weekdays 09:00–18:00 UTC.
const CHAIN: &str = r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"MW","InstanceType":"EC2","Dependency":["DB"]},
            {"GroupName":"API","InstanceType":"EC2","Dependency":["MW"]},{"GroupName":"BATCH","InstanceType":"EC2","Dependency":["API","DB"]}],
  "Exceptions":[{"ExceptionDate":"2026-12-25","ExceptionType":"start","ExceptionValue":"None"}]}"#;

struct Fleet {
    mw: Vec<String>,
    api: Vec<String>,
    batch: Vec<String>,
    untagged: Vec<String>,
    other: Vec<String>,
}

async fn chain_fleet(moto: &Moto) -> Fleet {
    rds_instance(
        moto,
        "dev-db",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "DB")],
    )
    .await;
    aurora_cluster(
        moto,
        "dev-reports",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "DB")],
    )
    .await;
    rds_instance(
        moto,
        "prod-db",
        &[("ScheduleName", "prod"), ("ScheduleGroupName", "DB")],
    )
    .await;
    Fleet {
        mw: ec2_instances(
            moto,
            &[("ScheduleName", "dev"), ("ScheduleGroupName", "MW")],
            2,
        )
        .await,
        api: ec2_instances(
            moto,
            &[("ScheduleName", "dev"), ("ScheduleGroupName", "API")],
            2,
        )
        .await,
        batch: ec2_instances(
            moto,
            &[("ScheduleName", "dev"), ("ScheduleGroupName", "BATCH")],
            1,
        )
        .await,
        untagged: ec2_instances(moto, &[("Name", "bastion")], 1).await,
        other: ec2_instances(
            moto,
            &[("ScheduleName", "prod"), ("ScheduleGroupName", "MW")],
            1,
        )
        .await,
    }
}

fn groups(report: &RunReport, direction: Direction) -> Vec<String> {
    report
        .actions
        .iter()
        .filter(|a| a.direction == direction)
        .map(|a| a.group.clone())
        .collect()
}

/// The run's errors, less the one-time report of resources tagged for no schedule
/// (the `prod` instances of the test fleet; see `misfits`).
fn errors(report: &RunReport) -> Vec<String> {
    report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } if !message.contains("not scheduled (left alone)") => {
                Some(format!("{}: {message}", e.schedule))
            }
            _ => None,
        })
        .collect()
}

/// The run's reports of resources that carry a schedule tag but are not scheduled.
fn misfits(report: &RunReport) -> Vec<String> {
    report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } if message.contains("not scheduled (left alone)") => {
                Some(format!("{}: {message}", e.schedule))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn starts_and_stops_in_dependency_order_and_touches_nothing_else() {
    let moto = Moto::start().await;
    let fleet = chain_fleet(&moto).await;
    // Monday 2026-11-30.
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;

    let report = runner.run(&[]).await.unwrap();
    assert_eq!(
        groups(&report, Direction::Start),
        ["DB", "MW", "API", "BATCH"]
    );
    assert!(errors(&report).is_empty(), "{:?}", errors(&report));
    // The instance and database tagged for a schedule that does not exist are named.
    let told = misfits(&report);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0]
            .starts_with("prod: 2 resources tagged ScheduleName=prod not scheduled (left alone)")
    );
    assert!(told[0].contains("prod-db: its ScheduleName \"prod\" is the TagValue of no schedule"));
    let s = states(&moto).await;
    assert_eq!(s["dev-db"], "available");
    assert_eq!(s["dev-reports"], "available");
    for id in fleet.mw.iter().chain(&fleet.api).chain(&fleet.batch) {
        assert_eq!(s[id], "running");
    }
    assert_eq!(s["prod-db"], "stopped");
    assert_eq!(s[&fleet.untagged[0]], "stopped");
    assert_eq!(s[&fleet.other[0]], "stopped");
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e.what, What::ScheduleReady { .. }))
    );

    // Someone starts the untagged and the other schedule's instances; the stop leaves them.
    let ids = vec![fleet.untagged[0].clone(), fleet.other[0].clone()];
    moto.ec2()
        .start_instances()
        .set_instance_ids(Some(ids))
        .send()
        .await
        .unwrap();
    runner.clock.set(at("2026-11-30T18:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(
        groups(&report, Direction::Stop),
        ["BATCH", "API", "MW", "DB"]
    );
    let s = states(&moto).await;
    assert_eq!(s["dev-db"], "stopped");
    assert_eq!(s["dev-reports"], "stopped");
    assert_eq!(s[&fleet.api[1]], "stopped");
    assert_eq!(s[&fleet.untagged[0]], "running");
    assert_eq!(s[&fleet.other[0]], "running");
}

#[tokio::test]
async fn a_holiday_exception_starts_nothing() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let runner = moto.runner("2026-12-25T09:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;
    let report = runner.run(&[]).await.unwrap();
    assert!(report.actions.is_empty());
    assert_eq!(states(&moto).await["dev-db"], "stopped");
}

#[tokio::test]
async fn force_start_and_force_stop_by_invocation() {
    let moto = Moto::start().await;
    let fleet = chain_fleet(&moto).await;
    // Saturday: nothing would start by the schedule.
    let runner = moto.runner("2026-11-28T11:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;
    let answer = handle(&runner, json!({"action":"force-start","schedule":"Dev"}))
        .await
        .unwrap();
    let started: Vec<&str> = answer["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["group"].as_str().unwrap())
        .collect();
    assert_eq!(started, ["DB", "MW", "API", "BATCH"]);
    assert_eq!(states(&moto).await[&fleet.batch[0]], "running");

    let answer = handle(&runner, json!({"action":"force-stop","schedule":"Dev"}))
        .await
        .unwrap();
    assert_eq!(answer["actions"][0]["group"], "BATCH");
    assert_eq!(answer["actions"].as_array().unwrap().len(), 4);
    assert_eq!(states(&moto).await["dev-reports"], "stopped");

    let e = handle(&runner, json!({"action":"force-stop","schedule":"Nope"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "schedule \"Nope\" does not exist");
}

#[tokio::test]
async fn the_force_start_flag_starts_and_is_cleared_in_the_table() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let runner = moto.runner("2026-11-28T11:00:00Z").await;
    let disabled = CHAIN.replace(
        r#""TagValue":"dev","#,
        r#""TagValue":"dev","Enabled":false,"#,
    );
    load_schedules(&runner.store, &[&disabled]).await;
    runner.store.set_force_start("Dev").await.unwrap();
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(
        groups(&report, Direction::Start),
        ["DB", "MW", "API", "BATCH"]
    );
    let items = runner.store.load().await.unwrap();
    assert!(
        !items.schedules[0].force_start,
        "ForceStart was not cleared"
    );
}

#[tokio::test]
async fn extend_moves_todays_stop_and_warnings_follow_it() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;
    runner.run(&[]).await.unwrap();

    runner.clock.set(at("2026-11-30T17:50:00Z"));
    let report = runner.run(&[]).await.unwrap();
    let warned: Vec<i64> = report
        .events
        .iter()
        .filter_map(|e| match e.what {
            What::Warn { minutes_left, .. } => Some(minutes_left),
            _ => None,
        })
        .collect();
    assert_eq!(warned, [10]);

    let answer = handle(
        &runner,
        json!({"action":"extend","schedule":"Dev","until":"23:30"}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        json!({"schedule":"Dev","date":"2026-11-30","stop":"23:30"})
    );
    // Extending again replaces the same exception instead of adding a conflicting one.
    handle(
        &runner,
        json!({"action":"extend","schedule":"Dev","until":"23:45"}),
    )
    .await
    .unwrap();
    let catalog = runner.catalog().await.unwrap();
    assert!(catalog.errors.is_empty(), "{:?}", catalog.errors);

    runner.clock.set(at("2026-11-30T18:00:00Z"));
    assert!(runner.run(&[]).await.unwrap().actions.is_empty());
    runner.clock.set(at("2026-11-30T23:45:00Z"));
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(
        groups(&report, Direction::Stop),
        ["BATCH", "API", "MW", "DB"]
    );

    let bad = handle(
        &runner,
        json!({"action":"extend","schedule":"Dev","until":"25:00"}),
    )
    .await;
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("\"25:00\" is not a time of day")
    );
}

#[tokio::test]
async fn a_stale_exception_edit_is_refused_not_lost() {
    let moto = Moto::start().await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let t = |h| chrono::NaiveTime::from_hms_opt(h, 0, 0);
    runner
        .store
        .set_exception("Dev", date, Direction::Stop, t(20))
        .await
        .unwrap();
    // Two editors read the exception (20:00), one writes 21:00 first: the table's
    // condition makes the other's write, based on 20:00, fail.
    let client = runner.store.client();
    let key = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    client
        .update_item()
        .table_name("ScheduleException")
        .key("ExceptionUuid", key("Dev:2026-11-30:stop"))
        .update_expression("SET ExceptionValue = :v")
        .expression_attribute_values(":v", key("21:00"))
        .send()
        .await
        .unwrap();
    let stale = client
        .update_item()
        .table_name("ScheduleException")
        .key("ExceptionUuid", key("Dev:2026-11-30:stop"))
        .update_expression("SET ExceptionValue = :new")
        .condition_expression("ExceptionValue = :old")
        .expression_attribute_values(":new", key("22:00"))
        .expression_attribute_values(":old", key("20:00"))
        .send()
        .await;
    assert!(stale.is_err());
    // The store's own edit reads the current value and succeeds.
    runner
        .store
        .set_exception("Dev", date, Direction::Stop, t(23))
        .await
        .unwrap();
    let items = runner.store.load().await.unwrap();
    let stops: Vec<_> = items
        .exceptions
        .iter()
        .filter(|e| e.exception_type == "stop")
        .collect();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].exception_value.as_deref(), Some("23:00"));
}

#[tokio::test]
async fn two_overlapping_runs_act_once() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let a = moto.runner("2026-11-30T09:00:00Z").await;
    let b = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(&a.store, &[CHAIN]).await;
    let (ra, rb) = tokio::join!(a.run(&[]), b.run(&[]));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let starts = groups(&ra, Direction::Start).len() + groups(&rb, Direction::Start).len();
    assert_eq!(starts, 4, "each group started exactly once");

    // The same, deterministically, at the state table: a write from a stale read
    // loses, for that schedule only, and writes nothing of it.
    let read = a.store.load_state().await.unwrap();
    let mut next = read.state.clone();
    next.schedules.get_mut("Dev").unwrap().warning = None;
    next.schedules.get_mut("Dev").unwrap().consumed = Some(at("2026-11-30T09:01:00Z"));
    let mut first = read.clone();
    assert!(
        save_state(&a.store, &mut first, &next)
            .await
            .unwrap()
            .is_empty()
    );
    let mut stale = read.clone();
    next.schedules.get_mut("Dev").unwrap().consumed = Some(at("2026-11-30T09:02:00Z"));
    let lost = save_state(&b.store, &mut stale, &next).await.unwrap();
    assert_eq!(lost, [StateKey::Schedule("Dev".into())].into());
    let now = a.store.load_state().await.unwrap();
    assert_eq!(
        now.state.schedules["Dev"].consumed,
        Some(at("2026-11-30T09:01:00Z"))
    );
}

#[tokio::test]
async fn a_malformed_item_skips_its_schedule_and_the_rest_proceeds() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(
        &runner.store,
        &[CHAIN, r#"{"ScheduleName":"Broken","StartTime":"09:00"}"#],
    )
    .await;
    use aws_sdk_dynamodb::types::AttributeValue as A;
    runner
        .store
        .client()
        .put_item()
        .table_name("ScheduleServerGroup")
        .item("ScheduleName", A::S("Broken".into()))
        .item("GroupName", A::S("API".into()))
        .item("Dependency", A::N("7".into()))
        .send()
        .await
        .unwrap();
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(
        groups(&report, Direction::Start),
        ["DB", "MW", "API", "BATCH"]
    );
    let errors = errors(&report);
    assert_eq!(errors.len(), 1, "{errors:?}");
    // The error names the attribute that is wrong.
    assert_eq!(
        errors[0],
        "Broken: an item of table ScheduleServerGroup cannot be read: Dependency: expected a list of group names, a string set or a comma-separated string; the schedule is skipped until it is fixed"
    );
    // An exception that names no schedule is reported by its table and key, and
    // skips nothing else.
    runner
        .store
        .client()
        .put_item()
        .table_name("ScheduleException")
        .item("ExceptionUuid", A::S("e-17".into()))
        .item("ExceptionDate", A::S("2026-12-01".into()))
        .item("ExceptionType", A::S("stop".into()))
        .send()
        .await
        .unwrap();
    let catalog = runner.catalog().await.unwrap();
    assert!(catalog.get("Dev").is_some());
    let orphan: Vec<String> = catalog
        .errors
        .iter()
        .filter(|e| e.schedule.starts_with("(table"))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        orphan,
        [
            "schedule \"(table ScheduleException, item ExceptionUuid e-17)\": an item has no ScheduleName: missing field `ScheduleName`"
        ]
    );
}

#[tokio::test]
async fn pagination_reaches_every_instance() {
    let moto = Moto::start().await;
    let flat = r#"{"ScheduleName":"Wide","StartTime":"09:00","StopTime":"18:00"}"#;
    // One reservation each: EC2 pages count reservations.
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.extend(ec2_instances(&moto, &[("ScheduleName", "Wide")], 1).await);
    }
    for k in 0..3 {
        rds_instance(&moto, &format!("wide-db-{k}"), &[("ScheduleName", "Wide")]).await;
    }
    let mut runner = moto.runner("2026-11-30T09:00:00Z").await;
    runner.cloud = AwsCloud::new(&moto.sdk).with_page_size(5);
    load_schedules(&runner.store, &[flat]).await;
    moto.record().await;
    let report = runner.run(&[]).await.unwrap();
    let counts = moto.recorded().await;
    assert_eq!(report.actions[0].targets.len(), 15);
    let s = states(&moto).await;
    assert!(ids.iter().all(|id| s[id] == "running"));
    assert_eq!(s["wide-db-2"], "available");
    // Twelve instances in pages of five: three listings a pass, and one batched start.
    let passes = report.passes as usize;
    assert_eq!(
        counts.get("DescribeInstances"),
        Some(&(3 * passes)),
        "{counts:?}"
    );
    assert_eq!(counts.get("StartInstances"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("StartDBInstance"), Some(&3), "{counts:?}");
}

#[tokio::test]
async fn an_ec2_batch_with_one_bad_instance_starts_the_others() {
    let moto = Moto::start().await;
    let ids = ec2_instances(&moto, &[("ScheduleName", "x")], 4).await;
    let cloud = AwsCloud::new(&moto.sdk);
    let mut targets: Vec<Target> = ids
        .iter()
        .map(|id| Instance::new(id, Kind::Ec2, Default::default(), Power::Stopped).target())
        .collect();
    targets.insert(
        2,
        Instance::new(
            "i-0123456789abcdef0",
            Kind::Ec2,
            Default::default(),
            Power::Stopped,
        )
        .target(),
    );
    let failures = cloud.act(Direction::Start, &targets).await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].id, "i-0123456789abcdef0");
    assert!(
        failures[0].error.starts_with("InvalidInstanceID.NotFound"),
        "{}",
        failures[0].error
    );
    let s = states(&moto).await;
    assert!(ids.iter().all(|id| s[id] == "running"));
}

/// The real cloud, except that starting one instance fails as it does when AWS has
/// no capacity, which the emulator cannot be made to do.
struct NoCapacityFor(AwsCloud, String);

impl Cloud for NoCapacityFor {
    async fn observe(&self, look: &Look) -> Result<Observation, ObserveError> {
        self.0.observe(look).await
    }
    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure> {
        let (bad, good): (Vec<Target>, Vec<Target>) = targets
            .iter()
            .cloned()
            .partition(|t| t.id == self.1 && direction == Direction::Start);
        let mut failures = self.0.act(direction, &good).await;
        failures.extend(bad.into_iter().map(|t| Failure {
            id: t.id,
            error: "InsufficientInstanceCapacity: no capacity".into(),
        }));
        failures
    }
}

#[tokio::test]
async fn an_instance_that_cannot_start_holds_back_its_dependents_only() {
    let moto = Moto::start().await;
    let fleet = chain_fleet(&moto).await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;
    let runner = Runner {
        cloud: NoCapacityFor(AwsCloud::new(&moto.sdk), fleet.mw[1].clone()),
        store: runner.store,
        clock: runner.clock,
        config: runner.config,
        notifier: runner.notifier,
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(groups(&report, Direction::Start), ["DB", "MW"]);
    let s = states(&moto).await;
    assert_eq!(s[&fleet.mw[0]], "running");
    assert_eq!(s[&fleet.api[0]], "stopped");
    let errors = errors(&report);
    // One report of the failure, with the service's reason and what it holds back.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(
            "(InsufficientInstanceCapacity: no capacity) did not start; holding back API, BATCH"
        ),
        "{errors:?}"
    );
}

#[tokio::test]
async fn status_plan_and_dry_run_change_nothing() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let mut runner = moto.runner("2026-11-30T08:00:00Z").await;
    load_schedules(&runner.store, &[CHAIN]).await;
    let status = handle(&runner, json!({"action":"status","schedule":"Dev"}))
        .await
        .unwrap();
    assert_eq!(status["start"], "2026-11-30T09:00:00Z");
    assert_eq!(status["stop"], "2026-11-30T18:00:00Z");
    assert_eq!(status["groups"][0]["group"], "DB");
    assert_eq!(
        status["groups"][0]["instances"].as_array().unwrap().len(),
        2
    );
    assert_eq!(status["groups"][0]["instances"][0]["state"], "stopped");

    let plan = handle(
        &runner,
        json!({"action":"plan","at":"2026-11-30T09:00:00Z"}),
    )
    .await
    .unwrap();
    assert_eq!(plan["actions"][0]["group"], "DB");
    runner.config.dry_run = true;
    runner.clock.set(at("2026-11-30T09:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(groups(&report, Direction::Start), ["DB"]);
    assert_eq!(states(&moto).await["dev-db"], "stopped");

    let bad = handle(&runner, json!({"action":"status","schedule":"Nope"})).await;
    assert_eq!(
        bad.unwrap_err().to_string(),
        "schedule \"Nope\" does not exist"
    );
}

#[tokio::test]
async fn a_run_needs_a_fixed_handful_of_requests() {
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let runner = moto.runner("2026-11-30T08:00:00Z").await;
    let other = CHAIN
        .replace("\"Dev\"", "\"Dev2\"")
        .replace("\"dev\"", "\"dev2\"");
    load_schedules(&runner.store, &[CHAIN, &other]).await;
    moto.record().await;
    runner.run(&[]).await.unwrap();
    let counts = moto.recorded().await;
    let total: usize = counts.values().sum();
    assert!(total < 10, "{counts:?}");
    assert_eq!(counts.get("ListTagsForResource"), None);
}

#[tokio::test]
async fn a_run_sends_one_message_per_schedule_and_survives_a_dead_chat() {
    use common::listener::{Listener, Reply};
    use instance_scheduler::notify::deliver::{Notifier, SecretUrl, Wants, Webhook};
    use instance_scheduler::notify::formats::Format;
    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let mut runner = moto.runner("2026-11-30T09:00:00Z").await;
    let other = CHAIN.replace("\"Dev\"", "\"Dev2\"");
    load_schedules(
        &runner.store,
        &[CHAIN, &other.replace("\"dev\"", "\"dev2\"")],
    )
    .await;
    let chat = Listener::start(vec![Reply::Status(200)]).await;
    let dead = Listener::start(vec![Reply::Silent]).await;
    let hook = |label: &str, url: &str| Webhook {
        label: label.into(),
        url: SecretUrl::new(url),
        format: Format::Jandi,
        wants: Wants::All,
    };
    runner.notifier = Notifier::new(
        vec![hook("WEBHOOK", &chat.url), hook("WEBHOOK_2", &dead.url)],
        instance_scheduler::notify::Language::En,
        std::time::Duration::from_millis(300),
    );
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(groups(&report, Direction::Start).len(), 4);
    // One message for Dev (its four starts combined); Dev2 has no instances: silent.
    // (The prod instances, tagged for no schedule, are reported on their own.)
    let got: Vec<_> = chat
        .received()
        .into_iter()
        .filter(|r| !r.body.contains("ScheduleName=prod"))
        .collect();
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let body = got[0].json();
    assert!(
        body["body"].as_str().unwrap().starts_with("Dev is up"),
        "{body}"
    );
    assert!(
        body["connectInfo"][0]["description"]
            .as_str()
            .unwrap()
            .contains("dev-db (rds, us-east-1")
    );
    // The dead chat was tried with both messages, at once, and cost the run nothing.
    assert_eq!(dead.received().len(), 2);
    // Nothing to do: nothing said.
    let heard = chat.received().len();
    runner.clock.set(at("2026-11-30T12:00:00Z"));
    runner.run(&[]).await.unwrap();
    assert_eq!(chat.received().len(), heard);
}

/// A run that acted puts its events on the default EventBridge bus of the emulator
/// (seen in the requests moto received) and writes one metric line for its schedule;
/// an idle run sends and writes nothing.
#[tokio::test]
async fn a_run_publishes_its_events_to_eventbridge_and_its_metrics_to_the_log() {
    use instance_scheduler::outlets::{EventBus, MetricSink};

    let moto = Moto::start().await;
    chain_fleet(&moto).await;
    let mut runner = moto.runner("2026-11-30T09:00:00Z").await;
    let (sink, lines) = MetricSink::recorder();
    runner.notifier.outlets.metrics = sink;
    runner.notifier.outlets.events = EventBus::aws(&moto.sdk, "default");
    load_schedules(&runner.store, &[CHAIN]).await;
    moto.record().await;
    let report = runner.run(&[]).await.unwrap();
    assert!(errors(&report).is_empty(), "{:?}", errors(&report));
    let put: Vec<serde_json::Value> = moto
        .recorded_requests()
        .await
        .iter()
        .filter(|r| operation_of(r) == "PutEvents")
        .map(|r| serde_json::from_str(&request_body(r)).expect("a JSON body"))
        .collect();
    assert!(!put.is_empty(), "no PutEvents request");
    let entries: Vec<serde_json::Value> = put
        .iter()
        .flat_map(|b| b["Entries"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        put.iter()
            .all(|b| b["Entries"].as_array().unwrap().len() <= 10)
    );
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["DetailType"].as_str().unwrap())
        .collect();
    for kind in ["Group Starting", "Group Ready", "Schedule Started"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(
        entries
            .iter()
            .all(|e| e["Source"] == "instance-scheduler" && e["EventBusName"] == "default")
    );
    let started = entries
        .iter()
        .find(|e| e["DetailType"] == "Schedule Started")
        .unwrap();
    let detail: serde_json::Value =
        serde_json::from_str(started["Detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["schedule"], "Dev");
    assert!(detail["seconds"].is_i64(), "{detail}");

    // One line for the schedule, one for the run's errors (the resources tagged for
    // a schedule that does not exist).
    let written = lines.lock().unwrap().clone();
    assert_eq!(written.len(), 2, "{written:?}");
    let line: serde_json::Value = serde_json::from_str(&written[0]).unwrap();
    assert_eq!(line["Schedule"], "Dev");
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "InstanceScheduler"
    );
    assert!(line["Actions"].as_f64().unwrap() >= 5.0, "{line}");

    // An idle run: nothing more.
    runner.clock.set(at("2026-11-30T12:00:00Z"));
    moto.record().await;
    runner.run(&[]).await.unwrap();
    let calls = moto.recorded().await;
    assert!(!calls.contains_key("PutEvents"), "{calls:?}");
    assert_eq!(lines.lock().unwrap().len(), 2);
}
