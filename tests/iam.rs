//! The function and the bot with IAM enforced, holding exactly the policies the
//! template gives them: the emulator (moto, started with IAM checks on) refuses any
//! action the template does not grant, as AWS would.
//!
//! moto checks actions, not resources or conditions (it authorises every request
//! against resource `*`, and applies a conditional Deny always). So the template's
//! statements go to moto with their actions as they are, their resources as `*`,
//! without conditions, and without the Deny of protected resources; resources and
//! conditions are checked by tests/template.rs, the protection tag by the planner's
//! own test. One more difference: moto names a DynamoDB transaction's permission
//! `dynamodb:TransactWriteItems`, where AWS checks the PutItem and DeleteItem of its
//! items, and an invocation's `lambda:Invoke`, where AWS checks
//! `lambda:InvokeFunction`; a statement granting AWS's gets moto's name added.
//!
//! moto serves no Price List API. `pricing:GetProducts` goes to a stand-in that
//! answers only the callers moto's own policy engine allows that action, with the
//! policies moto holds for the request's access key (tests/iam/moto_setup.py
//! `permits`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use instance_scheduler::chatbot::{self, BotConfig};
use instance_scheduler::clock::Clock;
use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::fleet::Direction;
use instance_scheduler::handoff::LambdaHandoff;
use instance_scheduler::history::{HistoryTable, Origin};
use instance_scheduler::ops;
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::Store;
use instance_scheduler::store::dynamo::{DynamoStore, Tables};
use serde_json::{Value, json};

const DEV: &str = r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00","MaintenanceWindows":["patching"],
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;
// Its one group names its kind: a group of every kind would list EKS node groups,
// and moto fails every body-less request (EKS's listings are GETs) while it enforces
// IAM, whatever the policy.
const FORCED: &str = r#"{"ScheduleName":"Weekend","TagValue":"weekend","DaysActive":"sat","ForceStart":true,
  "Groups":[{"GroupName":"ALL","InstanceType":"EC2"}]}"#;

/// The statements the template gives `role`, without those named in `without`, as
/// moto can check them.
fn policy_for_moto(role: &str, without: &[&str]) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new(root.join(".venv/bin/python"));
    command
        .arg(root.join("tests/iam/policy.py"))
        .arg(root.join("infra/template.yaml"))
        .arg(role)
        .arg("EnableBot=true")
        .arg("SlackSigningSecretParameter=/bot/slack");
    for sid in without {
        command.arg("--without").arg(sid);
    }
    let out = command.output().expect("python from .venv");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resolved: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut statements = Vec::new();
    for s in resolved["statements"].as_array().unwrap() {
        if s["Effect"] != "Allow" {
            continue;
        }
        let mut actions: Vec<Value> = match &s["Action"] {
            Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        };
        let grants = |actions: &[Value], a: &str| actions.iter().any(|x| x == a);
        if grants(&actions, "dynamodb:PutItem") && grants(&actions, "dynamodb:DeleteItem") {
            actions.push(json!("dynamodb:TransactWriteItems"));
        }
        if grants(&actions, "lambda:InvokeFunction") {
            actions.push(json!("lambda:Invoke"));
        }
        statements.push(json!({"Effect": "Allow", "Action": actions, "Resource": "*"}));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A user holding `policy`, created while IAM is not yet enforced; its keys.
fn user(moto: &Moto, name: &str, policy: &Value) -> (String, String) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("policy-{name}-{}-{n}.json", std::process::id()));
    std::fs::write(&file, policy.to_string()).unwrap();
    let keys = moto_setup(moto, &["user", name, file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    (
        keys["key"].as_str().unwrap().to_string(),
        keys["secret"].as_str().unwrap().to_string(),
    )
}

struct World {
    moto: Moto,
    app: Vec<String>,
    /// The administrator's keys (the test's own look).
    admin: (String, String),
}

async fn world() -> World {
    let moto = Moto::start().await;
    moto_setup(&moto, &["enforce", "off"]);
    moto_setup(&moto, &["lambda-stub", "test-scheduler"]);
    moto_setup(&moto, &["schedule-group", "test-wakeups"]);
    rds_instance(
        &moto,
        "dev-db",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let app = ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "APP")],
        2,
    )
    .await;
    ec2_instances(
        &moto,
        &[("ScheduleName", "weekend"), ("ScheduleGroupName", "ALL")],
        1,
    )
    .await;
    maintenance_window(&moto, "patching", "cron(0 2 ? * TUE#2 *)", None).await;
    let store = moto.store().await.with_history(history());
    store.create_tables().await.expect("the history table");
    load_schedules(&store, &[DEV, FORCED]).await;
    let christmas_eve = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
    instance_scheduler::store::Store::set_exception(
        &store,
        "Dev",
        christmas_eve,
        Direction::Stop,
        chrono::NaiveTime::from_hms_opt(15, 0, 0),
    )
    .await
    .unwrap();
    // The test's own look at the fleet goes through an administrator.
    let mut moto = moto;
    let admin = user(
        &moto,
        "admin",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    );
    moto.sdk = sdk_as(&moto.url, &admin.0, &admin.1).await;
    World { moto, app, admin }
}

/// The bot's answer says it handed the command to the scheduler.
fn assert_handed_over(answer: &aws_lambda_events::lambda_function_urls::LambdaFunctionUrlResponse) {
    assert!(
        answer
            .body
            .as_deref()
            .unwrap_or_default()
            .contains("handed to the scheduler"),
        "{:?}",
        answer.body
    );
}

/// The history table the template creates.
fn history() -> HistoryTable {
    HistoryTable {
        name: "ScheduleHistory".into(),
        days: 400,
    }
}

async fn scheduler_as(
    w: &World,
    keys: &(String, String),
    at: &str,
) -> Runner<AwsCloud, DynamoStore, VirtualClock> {
    let sdk = sdk_as(&w.moto.url, &keys.0, &keys.1).await;
    Runner {
        cloud: AwsCloud::new(&sdk),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::default())
            .with_history(history()),
        clock: VirtualClock::at(common::at(at)),
        config: RunConfig::default(),
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    }
}

#[tokio::test]
async fn the_function_and_the_bot_do_everything_with_the_templates_own_policies() {
    let w = world().await;
    let scheduler = user(&w.moto, "scheduler", &policy_for_moto("SchedulerRole", &[]));
    let bot = user(&w.moto, "bot", &policy_for_moto("BotRole", &[]));
    // moto checks no resource or condition: without PutItem at all.
    let bot_no_note = user(
        &w.moto,
        "bot-no-note",
        &policy_for_moto("BotRole", &["NoteOrigin", "EditExceptions"]),
    );
    moto_setup(&w.moto, &["enforce", "on"]);

    // The scheduler: a start in order (describes, starts, the state in
    // transactions, clearing a ForceStart flag), an extension, a stop.
    let runner = scheduler_as(&w, &scheduler, "2026-11-30T09:00:00Z").await;
    let report = runner
        .run(&[])
        .await
        .expect("a run with the scheduler's policy");
    assert!(!report.has_errors(), "{:?}", report.events);
    assert_eq!(report.actions.len(), 3, "{:?}", report.actions);
    // Its history was written (BatchWriteItem) and reads back (Query, the weekly
    // summary's read) with the same policy.
    let history = runner
        .store
        .read_history("Dev", at("2026-11-30T00:00:00Z"))
        .await
        .expect("Query with the scheduler's policy");
    assert!(history.iter().any(|e| !e.changes.is_empty()), "{history:?}");
    // Its events go to the default bus with the same policy.
    let bus = instance_scheduler::outlets::EventBus::aws(
        &sdk_as(&w.moto.url, &scheduler.0, &scheduler.1).await,
        "default",
    );
    let sent = bus
        .publish(&report.events)
        .await
        .expect("PutEvents with the scheduler's policy");
    assert!(sent >= 3, "{sent}");
    assert!(w.app.iter().all(|id| !id.is_empty()));
    runner.clock.set(at("2026-11-30T17:00:00Z"));
    ops::extend(
        &runner,
        "Dev",
        chrono::NaiveTime::from_hms_opt(19, 0, 0).unwrap(),
    )
    .await
    .expect("extend with the scheduler's policy");
    runner.clock.set(at("2026-11-30T19:00:00Z"));
    let report = runner.run(&[]).await.expect("the stop");
    assert!(
        report
            .actions
            .iter()
            .any(|a| a.direction == Direction::Stop)
    );

    // A wake-up in the stack's own schedule group.
    let wakeups = instance_scheduler::wakeup::Wakeups::scheduler(
        &sdk_as(&w.moto.url, &scheduler.0, &scheduler.1).await,
        "test-wakeups".into(),
        "arn:aws:lambda:us-east-1:123456789012:function:test-scheduler".into(),
        "arn:aws:iam::123456789012:role/test-wakeup".into(),
    );
    wakeups
        .set(
            "next-look",
            at("2026-12-01T00:16:00Z"),
            r#"{"action":"run"}"#,
        )
        .await
        .expect("create the wake-up");
    wakeups
        .set(
            "next-look",
            at("2026-12-01T00:17:00Z"),
            r#"{"action":"run"}"#,
        )
        .await
        .expect("move the wake-up");

    // The bot: status, an exception set and deleted, a force-start handed over.
    let bot_sdk = sdk_as(&w.moto.url, &bot.0, &bot.1).await;
    let bot_runner = Runner {
        cloud: AwsCloud::new(&bot_sdk),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&bot_sdk), Tables::default()),
        clock: VirtualClock::at(at("2026-11-30T12:00:00Z")),
        config: RunConfig::default(),
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let status = ops::status(&bot_runner, "Dev").await.expect("status");
    assert_eq!(status.groups.len(), 2);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
    ops::set_exception(&bot_runner, "Dev", date, Direction::Start, None)
        .await
        .expect("exception set");
    ops::delete_exception(&bot_runner, "Dev", date, Direction::Start)
        .await
        .expect("exception del, which needs DeleteItem");
    let handoff = LambdaHandoff::new(&bot_sdk, "test-scheduler");
    let config = BotConfig {
        jandi_token: Some("t".into()),
        allowed_users: Some(vec!["*".into()]),
        ..BotConfig::default()
    };
    let body = json!({"token": "t", "writerEmail": "kim@example.com", "data": "Dev force_start"});
    let request = json!({
        "version": "2.0", "rawPath": "/", "headers": {},
        "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": bot_runner.clock.now().timestamp_millis()},
        "body": body.to_string(), "isBase64Encoded": false,
    });
    let answer = chatbot::handle(&bot_runner, &config, &handoff, request.clone())
        .await
        .unwrap();
    assert_handed_over(&answer);
    // It noted the force as its own first (NoteOrigin), for the history.
    let admin = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&w.moto.sdk),
        Tables::default(),
    );
    let note = async || {
        admin.load_state().await.unwrap();
        admin.side_items().get("origin#Dev").cloned()
    };
    let noted = Origin::bot(
        at("2026-11-30T12:00:00Z"),
        Direction::Start,
        "kim@example.com",
    );
    assert_eq!(note().await, Some(noted.to_string()));
    // Without the statement the force is handed over all the same; only the note is
    // lost (the history would say forced).
    let no_note_sdk = sdk_as(&w.moto.url, &bot_no_note.0, &bot_no_note.1).await;
    let no_note = Runner {
        cloud: AwsCloud::new(&no_note_sdk),
        store: DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&no_note_sdk),
            Tables::default(),
        ),
        clock: VirtualClock::at(at("2026-11-30T12:05:00Z")),
        config: RunConfig::default(),
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let handoff = LambdaHandoff::new(&no_note_sdk, "test-scheduler");
    let answer = chatbot::handle(&no_note, &config, &handoff, request)
        .await
        .unwrap();
    assert_handed_over(&answer);
    assert_eq!(note().await, Some(noted.to_string()));
}

#[tokio::test]
async fn without_a_statement_of_the_template_the_work_it_grants_is_refused() {
    let w = world().await;
    let no_state = user(
        &w.moto,
        "no-state",
        &policy_for_moto("SchedulerRole", &["RunState"]),
    );
    let no_start = user(
        &w.moto,
        "no-start",
        &policy_for_moto("SchedulerRole", &["StartStopEc2Instances"]),
    );
    let no_delete = user(
        &w.moto,
        "no-delete",
        &policy_for_moto("BotRole", &["EditExceptions"]),
    );
    let no_events = user(
        &w.moto,
        "no-events",
        &policy_for_moto("SchedulerRole", &["PublishEvents"]),
    );
    let no_windows = user(
        &w.moto,
        "no-windows",
        &policy_for_moto("SchedulerRole", &["DescribeMaintenanceWindows"]),
    );
    moto_setup(&w.moto, &["enforce", "on"]);

    let runner = scheduler_as(&w, &no_state, "2026-11-30T09:00:00Z").await;
    let e = runner.run(&[]).await.expect_err("the state cannot be read");
    assert!(
        e.to_string().contains("403") || e.to_string().contains("AccessDenied"),
        "{e}"
    );

    let runner = scheduler_as(&w, &no_start, "2026-11-30T09:00:00Z").await;
    let report = runner.run(&[]).await.expect("the run itself goes on");
    assert!(
        report
            .events
            .iter()
            .any(|e| format!("{:?}", e.what).contains("AccessDenied")),
        "{:?}",
        report.events
    );
    let s = states(&w.moto).await;
    assert!(w.app.iter().all(|id| s[id] == "stopped"));

    // Without ssm:DescribeMaintenanceWindows the windows cannot be read: the run
    // goes on and says so (two hours on, when the windows read at 09:00 are stale).
    let runner = scheduler_as(&w, &no_windows, "2026-11-30T11:00:00Z").await;
    let report = runner.run(&[]).await.expect("the run itself goes on");
    assert!(
        report.events.iter().any(|e| matches!(&e.what,
            instance_scheduler::plan::What::Error { message }
                if message.contains("maintenance windows") && message.contains("AccessDenied"))),
        "{:?}",
        report.events
    );

    let bus = instance_scheduler::outlets::EventBus::aws(
        &sdk_as(&w.moto.url, &no_events.0, &no_events.1).await,
        "default",
    );
    let e = bus
        .publish(&report.events)
        .await
        .expect_err("no events:PutEvents");
    assert!(e.contains("AccessDenied"), "{e}");

    let bot = scheduler_as(&w, &no_delete, "2026-11-30T12:00:00Z").await;
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
    let e = ops::delete_exception(&bot, "Dev", date, Direction::Stop)
        .await
        .expect_err("no DeleteItem");
    assert!(
        e.to_string().contains("403") || e.to_string().contains("AccessDenied"),
        "{e}"
    );
}

#[tokio::test]
async fn without_write_history_the_run_goes_on_and_keeps_no_history() {
    let w = world().await;
    let no_history = user(
        &w.moto,
        "no-history",
        &policy_for_moto("SchedulerRole", &["WriteHistory"]),
    );
    moto_setup(&w.moto, &["enforce", "on"]);
    let runner = scheduler_as(&w, &no_history, "2026-11-30T09:00:00Z").await;
    let report = runner.run(&[]).await.expect("the run itself goes on");
    assert!(!report.has_errors(), "{:?}", report.events);
    assert_eq!(report.actions.len(), 3, "{:?}", report.actions);
    let admin = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&w.moto.sdk),
        Tables::default(),
    )
    .with_history(history());
    let kept = admin
        .read_history("Dev", at("2026-11-30T00:00:00Z"))
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
}

/// A Price List stand-in that answers only callers moto's policy engine allows
/// `pricing:GetProducts`, with the policies moto holds for them (moto has no Price
/// List API of its own to refuse the call).
async fn enforced_price_list(w: &World) -> common::pricing::PriceStub {
    let url = w.moto.url.clone();
    let admin = w.admin.clone();
    common::pricing::PriceStub::gated(move |key| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/iam/moto_setup.py"))
            .arg(&url)
            .args(["permits", key, "pricing:GetProducts", &admin.0, &admin.1])
            .output()
            .expect("python from .venv");
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        answer["permitted"] == true
    })
    .await
}

#[tokio::test]
async fn the_scheduler_reads_list_prices_with_its_own_policy_and_the_bot_cannot() {
    use instance_scheduler::fleet::{Kind, Size};
    use instance_scheduler::pricing::{PriceKey, PriceList};
    let w = world().await;
    let scheduler = user(&w.moto, "scheduler", &policy_for_moto("SchedulerRole", &[]));
    let no_prices = user(
        &w.moto,
        "no-prices",
        &policy_for_moto("SchedulerRole", &["ReadPrices"]),
    );
    let bot = user(&w.moto, "bot", &policy_for_moto("BotRole", &[]));
    moto_setup(&w.moto, &["enforce", "on"]);
    let prices = enforced_price_list(&w).await;
    let m5 = PriceKey::of(
        "us-east-1",
        Kind::Ec2,
        &Size {
            class: "m5.large".into(),
            ..Size::default()
        },
    )
    .unwrap();
    let as_user = |keys: &(String, String)| {
        let (url, keys) = (prices.url.clone(), keys.clone());
        async move { PriceList::new(&sdk_as(&url, &keys.0, &keys.1).await) }
    };

    let price = as_user(&scheduler)
        .await
        .fetch(&m5)
        .await
        .expect("GetProducts with the scheduler's policy");
    assert_eq!(price, Some(0.096));
    assert_eq!(prices.asked().len(), 1);
    for (who, keys) in [("no ReadPrices", &no_prices), ("the bot", &bot)] {
        let e = as_user(keys)
            .await
            .fetch(&m5)
            .await
            .expect_err(who)
            .to_string();
        assert!(e.contains("AccessDenied"), "{who}: {e}");
    }
    assert_eq!(prices.asked().len(), 1, "a refused caller was answered");
}

#[tokio::test]
async fn the_weekly_summary_reads_task_sizes_and_volumes_with_the_schedulers_policy() {
    use instance_scheduler::cloud::Cloud;
    let w = world().await;
    aws_sdk_ecs::Client::new(&w.moto.sdk)
        .register_task_definition()
        .family("web")
        .cpu("512")
        .memory("1024")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("web")
                .image("nginx")
                .build(),
        )
        .send()
        .await
        .expect("a task definition");
    let scheduler = user(&w.moto, "scheduler", &policy_for_moto("SchedulerRole", &[]));
    let without = user(
        &w.moto,
        "no-inventory",
        &policy_for_moto("SchedulerRole", &["DescribeTasksAndVolumes"]),
    );
    moto_setup(&w.moto, &["enforce", "on"]);
    let services = [("apps/web".to_string(), "web:1".to_string())];
    let cloud = AwsCloud::new(&sdk_as(&w.moto.url, &scheduler.0, &scheduler.1).await);
    let sizes = cloud.task_sizes(&services).await;
    assert_eq!(sizes.get("apps/web"), Some(&(512, 1024)), "{sizes:?}");
    let volumes = cloud.volumes(&w.app).await;
    assert_eq!(volumes.len(), w.app.len(), "{volumes:?}");
    // Without the statement both are refused; the summary goes out without them.
    let cloud = AwsCloud::new(&sdk_as(&w.moto.url, &without.0, &without.1).await);
    assert!(cloud.task_sizes(&services).await.is_empty());
    assert!(cloud.volumes(&w.app).await.is_empty());
}
