//! What a real AWS does and the emulator does not, injected: a service that accepts
//! and never answers, a listing slower than any fixed limit or cut short by the
//! run's time, a listing refused, a chat that throttles, EC2 that throttles, a
//! payload from the past. Real SDK clients, moto on 127.0.0.1, and small listeners
//! and proxies there.

mod common;

use std::time::{Duration, Instant};

use common::listener::{Listener, Reply};
use common::proxy::{Proxy, ec2_throttled, rds_access_denied};
use common::*;
use instance_scheduler::clock::SystemClock;
use instance_scheduler::cloud::aws::{AwsCloud, limits};
use instance_scheduler::cloud::{Cloud, Look};
use instance_scheduler::fleet::Kind;
use instance_scheduler::lambda::handle;
use instance_scheduler::notify::deliver::{Notifier, SecretUrl, Wants, Webhook};
use instance_scheduler::notify::formats::Format;
use instance_scheduler::run::RunReport;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::Store;
use instance_scheduler::store::dynamo::{DynamoStore, Tables};
use serde_json::json;

/// Schedule `name` (tag value `tag`), weekdays 09:00–18:00 UTC, one group.
fn schedule(name: &str, tag: &str) -> String {
    format!(
        r#"{{"ScheduleName":"{name}","TagValue":"{tag}","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","Groups":[{{"GroupName":"APP","InstanceType":"EC2"}}]}}"#
    )
}

/// The run's problems as `schedule: message`.
fn errors(report: &RunReport) -> Vec<String> {
    report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            instance_scheduler::plan::What::Error { message } => {
                Some(format!("{}: {message}", e.schedule))
            }
            _ => None,
        })
        .collect()
}

/// Web (EC2, tag `web`) and Db (RDS, tag `db`): two schedules of one kind each.
const WEB_AND_DB: [&str; 2] = [
    r#"{"ScheduleName":"Web","TagValue":"web","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"APP","InstanceType":"EC2"}]}"#,
    r#"{"ScheduleName":"Db","TagValue":"db","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","Groups":[{"GroupName":"DB","InstanceType":"RDS"}]}"#,
];

#[tokio::test]
async fn dynamodb_that_never_answers_ends_the_run_within_its_budget_and_acts_on_nothing() {
    let moto = Moto::start().await;
    let ids = ec2_instances(
        &moto,
        &[("ScheduleName", "Dev"), ("ScheduleGroupName", "APP")],
        2,
    )
    .await;
    // DynamoDB accepts the connection and never says a word.
    let silent = Listener::start(vec![Reply::Silent]).await;
    let dynamo = sdk_at(&silent.url).await;
    let runner = Runner {
        cloud: AwsCloud::new(&moto.sdk),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&dynamo), Tables::default()),
        clock: VirtualClock::at(at("2026-11-30T09:00:00Z")),
        // 12 s for the tables and the fleet, less than one request's fixed limit.
        config: RunConfig {
            budget: Duration::from_secs(20),
            chat_deadline: Duration::from_secs(8),
            ..RunConfig::default()
        },
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let started = Instant::now();
    let result = runner.run(&[]).await;
    let took = started.elapsed();
    let e = result.expect_err("a run without its tables fails");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    eprintln!("a silent DynamoDB ended the run after {took:?}: {e}");
    // It says which table did not answer, and that time ran out.
    assert!(e.to_string().starts_with("scan Schedule"), "{e}");
    assert!(e.to_string().contains("timeout"), "{e}");
    let s = states(&moto).await;
    assert!(ids.iter().all(|id| s[id] == "stopped"), "nothing acted");
}

#[tokio::test]
async fn a_store_deadline_ends_with_the_run_that_set_it() {
    let moto = Moto::start().await;
    let store = moto.store().await;
    {
        let _bounded = instance_scheduler::store::Bounded::until(&store, Instant::now());
        let e = store.load_state().await.expect_err("past its deadline");
        assert!(e.to_string().contains("time"), "{e}");
    }
    // A run that ended, however it ended, leaves no deadline behind.
    store.load_state().await.expect("no deadline any more");
}

#[tokio::test]
async fn a_listing_slower_than_one_requests_fixed_limit_finishes_within_the_runs_budget() {
    let moto = Moto::start().await;
    let ids = ec2_instances(
        &moto,
        &[("ScheduleName", "web"), ("ScheduleGroupName", "APP")],
        2,
    )
    .await;
    let store = moto.store().await;
    load_schedules(&store, &[WEB_AND_DB[0]]).await;
    // The first page of EC2 instances takes longer than one attempt's fixed limit,
    // as a page of a large account in a slow Region can.
    let slow = limits::ATTEMPT + Duration::from_secs(2);
    let proxy = Proxy::slow(
        &moto.url,
        Box::new(|_, _, _| None),
        Box::new(move |op, before, _| (op == "DescribeInstances" && before == 0).then_some(slow)),
    )
    .await;
    let runner = Runner {
        cloud: AwsCloud::new(&sdk_at(&proxy.url).await),
        store,
        clock: VirtualClock::at(at("2026-11-30T09:00:00Z")),
        config: RunConfig::default(),
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let report = runner
        .run(&[])
        .await
        .expect("the run waits for the slow page");
    assert!(!report.has_errors(), "{:?}", errors(&report));
    assert_eq!(report.actions.len(), 1, "{:?}", report.actions);
    let s = states(&moto).await;
    assert!(ids.iter().all(|id| s[id] == "running"), "{s:?}");
}

#[tokio::test]
async fn a_listing_cut_short_by_the_runs_time_holds_only_the_schedules_of_its_kind() {
    let moto = Moto::start().await;
    // Six launches, so that pages of five reservations take two pages.
    let mut web = Vec::new();
    for _ in 0..6 {
        web.extend(
            ec2_instances(
                &moto,
                &[("ScheduleName", "web"), ("ScheduleGroupName", "APP")],
                1,
            )
            .await,
        );
    }
    rds_instance(
        &moto,
        "db",
        &[("ScheduleName", "db"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let store = moto.store().await;
    load_schedules(&store, &WEB_AND_DB).await;
    // The second page of EC2 instances never comes.
    let proxy = Proxy::slow(
        &moto.url,
        Box::new(|_, _, _| None),
        Box::new(|op, _, body| {
            (op == "DescribeInstances" && body.contains("NextToken="))
                .then_some(Duration::from_secs(3600))
        }),
    )
    .await;
    let cloud = AwsCloud::new(&sdk_at(&proxy.url).await).with_page_size(5);

    // Asked directly, the cloud gives the first page and names what did not finish.
    let look = Look::kinds(vec![Kind::Ec2, Kind::Rds]).within(Duration::from_secs(2));
    let started = Instant::now();
    let seen = cloud
        .observe(&look)
        .await
        .expect("a partial look is a look");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        seen.instances
            .iter()
            .filter(|i| i.kind == Kind::Ec2)
            .count(),
        5
    );
    assert_eq!(
        seen.instances
            .iter()
            .filter(|i| i.kind == Kind::Rds)
            .count(),
        1
    );
    assert_eq!(seen.unreachable.len(), 1, "{:?}", seen.unreachable);
    let cut = &seen.unreachable[0];
    assert_eq!((cut.place.as_str(), cut.kind), ("", Some(Kind::Ec2)));
    assert_eq!(
        cut.error,
        "EC2 instances in this account and Region did not finish listing within 2.0 s (page 2 unanswered, 5 listed before it)"
    );

    // A run with 12 s for the tables and the fleet starts the database and leaves
    // the web servers, which it has not all seen, alone.
    let runner = Runner {
        cloud,
        store,
        clock: VirtualClock::at(at("2026-11-30T09:00:00Z")),
        config: RunConfig {
            budget: Duration::from_secs(14),
            chat_deadline: Duration::from_secs(2),
            ..RunConfig::default()
        },
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let started = Instant::now();
    let report = runner.run(&[]).await.expect("the run goes on without EC2");
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "{:?}",
        started.elapsed()
    );
    let acted: Vec<&str> = report.actions.iter().map(|a| a.schedule.as_str()).collect();
    assert_eq!(acted, ["Db"]);
    let said = errors(&report);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("(targets): EC2 instances in this account and Region did not finish listing within ")
            && said[0].ends_with("(page 2 unanswered, 5 listed before it); what it did not list is left alone, and Web wait for it"),
        "{said:?}"
    );
    let s = states(&moto).await;
    assert!(web.iter().all(|id| s[id] == "stopped"), "{s:?}");
    assert_eq!(s["db"], "available");
}

#[tokio::test]
async fn a_listing_the_service_refuses_holds_only_the_schedules_of_its_kind() {
    let moto = Moto::start().await;
    let web = ec2_instances(
        &moto,
        &[("ScheduleName", "web"), ("ScheduleGroupName", "APP")],
        2,
    )
    .await;
    rds_instance(
        &moto,
        "db",
        &[("ScheduleName", "db"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let store = moto.store().await;
    load_schedules(&store, &WEB_AND_DB).await;
    let proxy = Proxy::start(
        &moto.url,
        Box::new(|op, _, _| (op == "DescribeDBInstances").then(rds_access_denied)),
    )
    .await;
    let runner = Runner {
        cloud: AwsCloud::new(&sdk_at(&proxy.url).await),
        store,
        clock: VirtualClock::at(at("2026-11-30T09:00:00Z")),
        config: RunConfig::default(),
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let report = runner.run(&[]).await.expect("the run goes on without RDS");
    let acted: Vec<&str> = report.actions.iter().map(|a| a.schedule.as_str()).collect();
    assert_eq!(acted, ["Web"]);
    assert_eq!(
        errors(&report),
        [
            "(targets): RDS DB instances in this account and Region could not be listed (page 1, 0 listed before it): AccessDenied: User is not authorized to perform: rds:DescribeDBInstances; what it did not list is left alone, and Db wait for it"
        ]
    );
    let s = states(&moto).await;
    assert!(web.iter().all(|id| s[id] == "running"), "{s:?}");
    assert_eq!(s["db"], "stopped");
}

#[tokio::test]
async fn a_chat_that_throttles_for_30_seconds_keeps_the_run_within_its_budget() {
    let moto = Moto::start().await;
    let store = moto.store().await;
    let mut files = Vec::new();
    for k in 0..10 {
        let tag = format!("env{k}");
        files.push(schedule(&format!("Env{k}"), &tag));
        ec2_instances(
            &moto,
            &[("ScheduleName", &tag), ("ScheduleGroupName", "APP")],
            1,
        )
        .await;
    }
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(&store, &texts).await;
    let chat = Listener::start(vec![Reply::TooMany(30)]).await;
    let config = RunConfig {
        budget: Duration::from_secs(30),
        chat_deadline: Duration::from_secs(8),
        poll_every: Duration::from_millis(200),
        ..RunConfig::default()
    };
    let mut notifier = Notifier::new(
        vec![Webhook {
            label: "WEBHOOK".into(),
            url: SecretUrl::new(&chat.url),
            format: Format::Slack,
            wants: Wants::All,
        }],
        instance_scheduler::notify::Language::En,
        Duration::from_secs(5),
    );
    notifier.max_wait = Duration::from_secs(30);
    // The real clock: the chat's Retry-After is real time, and so is the budget.
    let runner = Runner {
        cloud: AwsCloud::new(&moto.sdk),
        store,
        clock: SystemClock,
        config,
        notifier,
        wakeups: Default::default(),
        shards: Default::default(),
    };
    // A run that acts: every schedule's start transition is today's, so force them.
    let requests: Vec<_> = (0..10)
        .map(|k| instance_scheduler::plan::Request::ForceStart(format!("Env{k}")))
        .collect();
    let started = Instant::now();
    let report = runner.run(&requests).await.unwrap();
    let took = started.elapsed();
    assert_eq!(report.actions.len(), 10);
    assert_eq!(report.messages.len(), 10);
    assert!(took < Duration::from_secs(30), "the run took {took:?}");
    // Every message was tried, and none was retried past the deadline.
    assert_eq!(chat.received().len(), 10);
}

#[tokio::test]
async fn throttled_starts_are_retried_and_batched_across_schedules() {
    let moto = Moto::start().await;
    let store = moto.store().await;
    let mut files = Vec::new();
    let mut ids = Vec::new();
    for k in 0..3 {
        let tag = format!("env{k}");
        files.push(schedule(&format!("Env{k}"), &tag));
        ids.extend(
            ec2_instances(
                &moto,
                &[("ScheduleName", &tag), ("ScheduleGroupName", "APP")],
                50,
            )
            .await,
        );
    }
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(&store, &texts).await;
    // EC2 answers the first three StartInstances with RequestLimitExceeded.
    let proxy = Proxy::start(
        &moto.url,
        Box::new(|op, before, _| (op == "StartInstances" && before < 3).then(ec2_throttled)),
    )
    .await;
    let ec2 = sdk_at(&proxy.url).await;
    let runner = Runner {
        cloud: AwsCloud::new(&ec2),
        store,
        clock: VirtualClock::at(at("2026-11-30T09:00:00Z")),
        config: RunConfig::default(),
        notifier: Notifier::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let report = runner.run(&[]).await.unwrap();
    assert!(!report.has_errors(), "{:?}", report.events);
    let s = states(&moto).await;
    assert!(ids.iter().all(|id| s[id] == "running"));
    let starts: Vec<bool> = proxy
        .seen()
        .iter()
        .filter(|r| r.operation == "StartInstances")
        .map(|r| r.injected)
        .collect();
    // 150 instances of three schedules: two calls (100 + 50), not three, and the
    // throttled attempts retried by the SDK with backoff.
    assert_eq!(starts.iter().filter(|i| !**i).count(), 2, "{starts:?}");
    assert_eq!(starts.iter().filter(|i| **i).count(), 3, "{starts:?}");
}

#[tokio::test]
async fn a_run_from_the_past_in_a_payload_changes_nothing_for_the_next_real_run() {
    let moto = Moto::start().await;
    let ids = ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "APP")],
        2,
    )
    .await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(&runner.store, &[&schedule("Dev", "dev")]).await;
    assert_eq!(runner.run(&[]).await.unwrap().actions.len(), 1);
    // Someone stops one instance by hand at 10:00.
    moto.ec2()
        .stop_instances()
        .instance_ids(&ids[0])
        .send()
        .await
        .unwrap();
    let before = runner.store.load_state().await.unwrap().state;
    // A replay of the day before: a preview, which records nothing and acts on nothing.
    runner.clock.set(at("2026-11-30T11:00:00Z"));
    let replay = handle(
        &runner,
        json!({"action":"run","now":"2026-11-29T09:00:00Z"}),
    )
    .await
    .unwrap();
    assert!(replay.get("at").is_some(), "a preview answers: {replay}");
    assert_eq!(runner.store.load_state().await.unwrap().state, before);
    // The next real run leaves the instance stopped by hand alone, as it would have.
    runner.clock.set(at("2026-11-30T12:00:00Z"));
    let report = runner.run(&[]).await.unwrap();
    assert!(report.actions.is_empty(), "{:?}", report.actions);
    assert_eq!(states(&moto).await[&ids[0]], "stopped");
}

#[tokio::test]
async fn an_idle_run_of_forty_schedules_makes_a_handful_of_requests_and_writes_nothing() {
    let moto = Moto::start().await;
    let runner = moto.runner("2026-11-30T08:00:00Z").await;
    let mut files = Vec::new();
    for k in 0..40 {
        let tag = format!("env{k:02}");
        files.push(schedule(&format!("Env{k:02}"), &tag));
        ec2_instances(
            &moto,
            &[("ScheduleName", &tag), ("ScheduleGroupName", "APP")],
            1,
        )
        .await;
    }
    let texts: Vec<&str> = files.iter().map(String::as_str).collect();
    load_schedules(&runner.store, &texts).await;
    // The first run sees the schedules for the first time and records them.
    runner.run(&[]).await.unwrap();
    runner.clock.set(at("2026-11-30T08:30:00Z"));
    moto.record().await;
    let report = runner.run(&[]).await.unwrap();
    let counts = moto.recorded().await;
    assert!(report.actions.is_empty());
    let total: usize = counts.values().sum();
    assert!(total <= 10, "{counts:?}");
    for write in ["PutItem", "UpdateItem", "TransactWriteItems", "DeleteItem"] {
        assert_eq!(counts.get(write), None, "an idle run wrote: {counts:?}");
    }
    // The 09:00 start of all forty is one StartInstances call.
    runner.clock.set(at("2026-11-30T09:00:00Z"));
    moto.record().await;
    let report = runner.run(&[]).await.unwrap();
    let counts = moto.recorded().await;
    assert_eq!(report.actions.len(), 40);
    assert_eq!(counts.get("StartInstances"), Some(&1), "{counts:?}");
}

#[tokio::test]
async fn an_event_about_a_stranger_costs_one_read_and_one_about_a_chain_moves_it_on() {
    let moto = Moto::start().await;
    let stranger = ec2_instances(&moto, &[("Name", "bastion")], 1).await;
    rds_instance(
        &moto,
        "dev-db",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let app = ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "APP")],
        1,
    )
    .await;
    let runner = moto.runner("2026-11-30T09:00:00Z").await;
    load_schedules(
        &runner.store,
        &[r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
              "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#],
    )
    .await;
    // The 09:00 run starts the database; moto makes it available at once, but this
    // run stops after one look (as if the database took minutes).
    let mut once = moto.runner("2026-11-30T09:00:00Z").await;
    once.config.budget = std::time::Duration::from_secs(21);
    once.store = runner.store;
    let report = once.run(&[]).await.unwrap();
    assert_eq!(report.actions.len(), 1, "{:?}", report.actions);
    let event = |id: &str, detail_type: &str, detail: serde_json::Value| {
        json!({"version": "0", "id": "e", "detail-type": detail_type, "source": "aws.ec2",
               "account": "123456789012", "time": "2026-11-30T09:01:00Z", "region": "us-east-1",
               "resources": [], "detail": detail, "_id": id})
    };
    // A stranger's state change: the state is read, nothing else.
    moto.record().await;
    let answer = handle(
        &once,
        event(
            &stranger[0],
            "EC2 Instance State-change Notification",
            json!({"instance-id": stranger[0], "state": "running"}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(answer["ignored"][0], stranger[0]);
    let counts = moto.recorded().await;
    assert_eq!(counts.values().sum::<usize>(), 1, "{counts:?}");
    // The database's event: a run, which starts what waited for it.
    let answer = handle(
        &once,
        event(
            "dev-db",
            "RDS DB Instance Event",
            json!({"SourceIdentifier": "dev-db", "EventID": "RDS-EVENT-0088"}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(answer["actions"][0]["group"], "APP", "{answer}");
    assert_eq!(states(&moto).await[&app[0]], "running");
    // The same event again, late and twice: nothing more to do.
    let again = handle(
        &once,
        event(
            "dev-db",
            "RDS DB Instance Event",
            json!({"SourceIdentifier": "dev-db", "EventID": "RDS-EVENT-0088"}),
        ),
    )
    .await
    .unwrap();
    assert!(
        again.get("ignored").is_some() || again["actions"].as_array().is_some_and(Vec::is_empty),
        "{again}"
    );
}
