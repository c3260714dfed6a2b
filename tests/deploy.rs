//! What a real deployment needs that the emulator forgives: the bot in its own
//! function handing long work to the scheduler, production kept out by tag values
//! and the protection tag, and a broken chat setting that must not stop scheduling.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hmac::{KeyInit, Mac};
use instance_scheduler::chatbot::{self, BotConfig};
use instance_scheduler::clock::{Clock, SystemClock};
use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::cloud::{Cloud, Look, Observation, ObserveError};
use instance_scheduler::config::Config;
use instance_scheduler::fleet::{Direction, Failure, Target};
use instance_scheduler::handoff::LambdaHandoff;
use instance_scheduler::notify::deliver::connect;
use instance_scheduler::plan::{Request, What};
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::schedule::TagPatterns;
use serde_json::{Value, json};

const DEV: &str = r#"{"ScheduleName":"Dev","TagValue":"dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]}"#;
const PROD: &str = r#"{"ScheduleName":"Prod","TagValue":"prod","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00"}"#;
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// The real cloud, made slow: every look at the fleet takes two seconds, as a large
/// account's listings can, so a run that follows a chain takes a while.
struct Slow(AwsCloud);

impl Cloud for Slow {
    async fn observe(&self, look: &Look) -> Result<Observation, ObserveError> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.0.observe(look).await
    }
    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure> {
        self.0.act(direction, targets).await
    }
}

fn slack(text: &str, user: &str, stamp: i64) -> Value {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("text", text)
        .append_pair("user_id", user)
        .finish();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{stamp}:{body}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "",
        "headers": {"x-slack-signature": format!("v0={signature}"), "x-slack-request-timestamp": stamp.to_string()},
        "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": stamp * 1000},
        "body": body, "isBase64Encoded": false,
    })
}

#[tokio::test]
async fn a_bot_command_during_a_long_scheduled_run_is_answered_within_three_seconds() {
    let moto = Moto::start().await;
    moto_setup(&moto, &["lambda-stub", "scheduler"]);
    rds_instance(
        &moto,
        "dev-db",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "DB")],
    )
    .await;
    ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "APP")],
        2,
    )
    .await;
    let store = moto.store().await;
    load_schedules(&store, &[DEV]).await;
    // The scheduler function: a force-start that follows the chain for several seconds.
    let scheduler = Runner {
        cloud: Slow(AwsCloud::new(&moto.sdk)),
        store,
        clock: SystemClock,
        config: RunConfig {
            budget: Duration::from_secs(30),
            chat_deadline: Duration::from_secs(5),
            poll_every: Duration::from_millis(100),
            ..RunConfig::default()
        },
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    // The bot function: its own runner, its own handoff to the scheduler function.
    let bot_runner = moto.runner("2026-11-30T12:00:00Z").await;
    let bot = BotConfig {
        slack_signing_secret: Some(SECRET.into()),
        jandi_token: None,
        allowed_users: Some(vec!["U-OPS".into()]),
    };
    let handoff = LambdaHandoff::new(&moto.sdk, "scheduler");
    let stamp = bot_runner.clock.now().timestamp();
    moto.record().await;
    let long_run = async {
        let started = Instant::now();
        let report = scheduler
            .run(&[Request::ForceStart("Dev".into())])
            .await
            .unwrap();
        (started.elapsed(), report)
    };
    let command = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let answer = chatbot::handle(
            &bot_runner,
            &bot,
            &handoff,
            slack("Dev force_start", "U-OPS", stamp),
        )
        .await
        .unwrap();
        (started.elapsed(), answer)
    };
    let ((run_took, report), (bot_took, answer)) = tokio::join!(long_run, command);
    assert!(
        run_took > Duration::from_secs(4),
        "the run was long: {run_took:?}"
    );
    assert_eq!(report.actions.len(), 2);
    assert!(
        bot_took < Duration::from_secs(3),
        "the bot took {bot_took:?}"
    );
    let body: Value = serde_json::from_str(answer.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body["text"],
        "Dev: force-start handed to the scheduler; this channel hears how it goes"
    );
    // The scheduler function was invoked asynchronously with the command.
    let invoked = moto.recorded_requests().await;
    let invoke = invoked
        .iter()
        .find(|r| {
            r["url"]
                .as_str()
                .unwrap_or("")
                .contains("/functions/scheduler/invocations")
        })
        .expect("an Invoke of the scheduler");
    assert_eq!(invoke["headers"]["X-Amz-Invocation-Type"], "Event");
    assert_eq!(
        serde_json::from_str::<Value>(&request_body(invoke)).unwrap(),
        json!({"action": "force-start", "schedule": "Dev"})
    );
}

#[tokio::test]
async fn protected_and_out_of_list_resources_are_never_touched_and_are_reported() {
    let moto = Moto::start().await;
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
    let guarded = ec2_instances(
        &moto,
        &[
            ("ScheduleName", "dev"),
            ("ScheduleGroupName", "APP"),
            ("SchedulerProtected", "true"),
            ("Name", "ledger"),
        ],
        1,
    )
    .await;
    let prod = ec2_instances(&moto, &[("ScheduleName", "prod")], 1).await;
    rds_instance(
        &moto,
        "prod-db",
        &[("ScheduleName", "prod"), ("SchedulerProtected", "TRUE")],
    )
    .await;
    let mut runner = moto.runner("2026-11-30T09:00:00Z").await;
    runner.config.allowed = TagPatterns::parse("dev*,staging").unwrap();
    load_schedules(&runner.store, &[DEV, PROD]).await;
    let report = runner.run(&[]).await.unwrap();
    let s = states(&moto).await;
    assert_eq!(s["dev-db"], "available");
    assert!(app.iter().all(|id| s[id] == "running"));
    assert_eq!(
        s[&guarded[0]], "stopped",
        "a protected instance is never started"
    );
    assert_eq!(s[&prod[0]], "stopped");
    assert_eq!(s["prod-db"], "stopped");
    let errors: Vec<String> = report
        .events
        .iter()
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(format!("{}: {message}", e.schedule)),
            _ => None,
        })
        .collect();
    assert!(errors.contains(&"Prod: TagValue \"prod\" is not one this deployment may act on (allowed: dev*, staging); the schedule is skipped until it is fixed".to_string()), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains(&format!(
            "ledger ({}): it is protected (SchedulerProtected=true)",
            guarded[0]
        ))),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_chat_setting_that_cannot_be_resolved_is_reported_and_the_run_still_acts() {
    let moto = Moto::start().await;
    let app = ec2_instances(
        &moto,
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "APP")],
        1,
    )
    .await;
    rds_instance(
        &moto,
        "dev-db",
        &[("ScheduleName", "dev"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let config = Config::from_vars(|k| match k {
        "WEBHOOK_URL_SSM" => Some("/instance-scheduler/missing".into()),
        "WEBHOOK_2_URL" => Some("https://chat.internal.test/hook".into()),
        _ => None,
    })
    .expect("the function starts");
    let notifier = connect(&moto.sdk, &config.chat, None).await;
    assert!(notifier.webhooks.is_empty());
    let mut runner = moto.runner("2026-11-30T09:00:00Z").await;
    runner.notifier = notifier;
    load_schedules(&runner.store, &[DEV]).await;
    let report = runner.run(&[]).await.unwrap();
    assert_eq!(states(&moto).await[&app[0]], "running");
    let chat: Vec<String> = report
        .events
        .iter()
        .filter(|e| e.schedule == "(chat)")
        .filter_map(|e| match &e.what {
            What::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(chat.len(), 2, "{chat:?}");
    assert!(chat[0].starts_with("chat channel WEBHOOK is off: WEBHOOK_URL_SSM /instance-scheduler/missing: ParameterNotFound"), "{chat:?}");
    assert!(chat[1].contains("set WEBHOOK_2_FORMAT"), "{chat:?}");
    // Reported once, not every run.
    runner.clock.set(at("2026-11-30T09:05:00Z"));
    let again = runner.run(&[]).await.unwrap();
    assert!(again.events.iter().all(|e| e.schedule != "(chat)"));
}
