//! The schedule bot through the real handler: Function URL requests signed as Slack
//! and JANDI sign them, against the local emulator.

mod common;

use base64::Engine;
use common::*;
use hmac::{KeyInit, Mac};
use instance_scheduler::chatbot::{BotConfig, handle};
use instance_scheduler::handoff::Handoff;
use instance_scheduler::lambda::Command;
use instance_scheduler::store::Store;
use serde_json::{Value, json};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TOKEN: &str = "jandi-outgoing-token";
const DEV: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"API","InstanceType":"EC2"}]}"#;
// 2026-11-30 12:00 UTC, the virtual clock's time.
const NOW: i64 = 1_796_040_000;

fn function_url(headers: Value, body: &str, base64_body: bool) -> Value {
    json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": NOW * 1000},
        "body": body, "isBase64Encoded": base64_body,
    })
}

fn slack(text: &str, user: &str, stamp: i64, secret: &str) -> Value {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/schedule")
        .append_pair("text", text)
        .append_pair("user_id", user)
        .append_pair("user_name", "someone")
        .finish();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{stamp}:{body}").as_bytes());
    let signature: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    function_url(
        json!({"x-slack-signature": format!("v0={signature}"), "x-slack-request-timestamp": stamp.to_string(),
               "content-type": "application/x-www-form-urlencoded"}),
        &body,
        false,
    )
}

fn jandi(data: &str, token: &str) -> Value {
    let body = json!({"token": token, "teamName": "t", "roomName": "ops", "writerName": "Kim",
                      "writerEmail": "kim@example.com", "text": format!("/schedule {data}"), "data": data});
    function_url(
        json!({"content-type": "application/json"}),
        &body.to_string(),
        false,
    )
}

/// Hands commands to an in-process scheduler: runs them on the test's runner right
/// away, as the scheduler function would on its own, and keeps what it was given.
struct InProcess<'a> {
    runner: &'a instance_scheduler::run::Runner<
        instance_scheduler::cloud::aws::AwsCloud,
        instance_scheduler::store::dynamo::DynamoStore,
        VirtualClock,
    >,
    given: std::sync::Mutex<Vec<Command>>,
}

impl Handoff for InProcess<'_> {
    async fn hand_off(&self, command: &Command) -> Result<(), String> {
        self.given.lock().unwrap().push(command.clone());
        instance_scheduler::lambda::handle(self.runner, serde_json::to_value(command).unwrap())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

struct Bot {
    moto: Moto,
    runner: instance_scheduler::run::Runner<
        instance_scheduler::cloud::aws::AwsCloud,
        instance_scheduler::store::dynamo::DynamoStore,
        VirtualClock,
    >,
    bot: BotConfig,
    api: Vec<String>,
}

/// A bot on the emulator whose allow-list holds `allowed` (Slack user ids, JANDI
/// addresses); `*` lets everyone change things.
async fn bot(allowed: &[&str]) -> Bot {
    let moto = Moto::start().await;
    let api = ec2_instances(
        &moto,
        &[
            ("ScheduleName", "Dev"),
            ("ScheduleGroupName", "API"),
            ("Name", "api-1"),
        ],
        1,
    )
    .await;
    let runner = moto.runner("2026-11-30T12:00:00Z").await;
    load_schedules(&runner.store, &[DEV]).await;
    let bot = BotConfig {
        slack_signing_secret: Some(SECRET.into()),
        jandi_token: Some(TOKEN.into()),
        allowed_users: Some(allowed.iter().map(|u| u.to_string()).collect()),
    };
    Bot {
        moto,
        runner,
        bot,
        api,
    }
}

async fn ask(b: &Bot, event: Value) -> (u16, Value) {
    let handoff = InProcess {
        runner: &b.runner,
        given: Default::default(),
    };
    let answer = handle(&b.runner, &b.bot, &handoff, event)
        .await
        .expect("an HTTP answer");
    let status = answer.status_code as u16;
    let body: Value = serde_json::from_str(answer.body.as_deref().unwrap()).unwrap();
    (status, body)
}

#[tokio::test]
async fn a_signed_slack_command_is_answered_in_slacks_format() {
    let b = bot(&["*"]).await;
    let (status, body) = ask(&b, slack("Dev status", "U1", NOW, SECRET)).await;
    assert_eq!(status, 200);
    assert_eq!(body["response_type"], "in_channel");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "Dev (UTC, weekdays): today 2026-11-30 09:00 +00:00 to 2026-11-30 18:00 +00:00"
        ),
        "{text}"
    );
    assert!(text.contains("API: api-1 stopped"), "{text}");

    let (_, body) = ask(&b, slack("Dev force_start", "U1", NOW, SECRET)).await;
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Dev: force-start handed to the scheduler"),
        "{body}"
    );
    assert_eq!(states(&b.moto).await[&b.api[0]], "running");
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_unsigned_requests_change_nothing() {
    let b = bot(&["*"]).await;
    let cases = [
        (
            slack("Dev force_start", "U1", NOW, "wrong-secret"),
            401,
            "bad signature",
        ),
        (
            slack("Dev force_start", "U1", NOW - 301, SECRET),
            401,
            "stale request timestamp",
        ),
        (
            slack("Dev force_start", "U1", NOW + 301, SECRET),
            401,
            "stale request timestamp",
        ),
        // A timestamp as far from now as an i64 goes: refused, not an overflow.
        (
            slack("Dev force_start", "U1", i64::MIN, SECRET),
            401,
            "stale request timestamp",
        ),
        (
            slack("Dev force_start", "U1", i64::MAX, SECRET),
            401,
            "stale request timestamp",
        ),
        (
            function_url(json!({}), "text=Dev+force_start", false),
            401,
            "unsigned request",
        ),
        (jandi("Dev force_start", "not-the-token"), 401, "bad token"),
        (
            function_url(json!({}), &"x".repeat(20_000), false),
            413,
            "too large",
        ),
        (
            function_url(
                json!({}),
                &base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, 0x00]),
                true,
            ),
            400,
            "not valid UTF-8",
        ),
        (
            function_url(json!({}), "%%%", true),
            400,
            "not valid base64",
        ),
    ];
    for (event, want, says) in cases {
        let (status, body) = ask(&b, event).await;
        assert_eq!(status, want, "{body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
    // A signature over a different body does not pass either.
    let mut tampered = slack("Dev status", "U1", NOW, SECRET);
    tampered["body"] = json!(
        tampered["body"]
            .as_str()
            .unwrap()
            .replace("status", "force_start")
    );
    assert_eq!(ask(&b, tampered).await.0, 401);
    assert_eq!(states(&b.moto).await[&b.api[0]], "stopped");
}

#[tokio::test]
async fn jandi_commands_extend_and_edit_exceptions() {
    let b = bot(&["*"]).await;
    let (status, body) = ask(&b, jandi("Dev extend 23:30", TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["body"], "Dev: today's stop (2026-11-30) is now 23:30");
    assert_eq!(body["connectColor"], "#2EB67D");
    let (_, body) = ask(&b, jandi("Dev exception set 2026-12-24 start None", TOKEN)).await;
    assert_eq!(body["body"], "Dev 2026-12-24 start = None");
    let (_, body) = ask(&b, jandi("Dev exception info", TOKEN)).await;
    assert_eq!(body["body"], "2026-11-30 stop 23:30\n2026-12-24 start None");
    let (_, body) = ask(&b, jandi("Dev exception del 2026-12-24 start", TOKEN)).await;
    assert_eq!(body["body"], "Dev 2026-12-24 start: deleted");
    let (_, body) = ask(&b, jandi("Dev info 2026-12-01", TOKEN)).await;
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with("Dev on 2026-12-01 (UTC, weekdays): start 2026-12-01 09:00"),
        "{body}"
    );
    let items = b.runner.store.load().await.unwrap();
    assert_eq!(items.exceptions.len(), 1);
}

#[tokio::test]
async fn unknown_schedules_and_malformed_commands_get_clear_answers() {
    let b = bot(&["*"]).await;
    let (status, body) = ask(&b, jandi("Nope status", TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["body"], "schedule \"Nope\" does not exist");
    let (_, body) = ask(&b, jandi("Dev reboot now", TOKEN)).await;
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with("unknown command \"Dev reboot now\"; commands: help")
    );
    let (_, body) = ask(&b, jandi("Dev exception set tomorrow stop 20:00", TOKEN)).await;
    assert_eq!(body["body"], "\"tomorrow\" is not a date (YYYY-MM-DD)");
    let (_, body) = ask(&b, jandi("help", TOKEN)).await;
    assert!(body["body"].as_str().unwrap().starts_with("commands:"));
}

#[tokio::test]
async fn the_allow_list_guards_every_change_and_matches_user_ids_only() {
    let b = bot(&["U-ADMIN", "kim@example.com"]).await;
    for command in [
        "Dev force_start",
        "Dev force_stop",
        "Dev extend 23:30",
        "Dev exception set 2026-12-24 start None",
        "Dev exception del 2026-12-24 start",
    ] {
        let (_, body) = ask(&b, slack(command, "U-ANYONE", NOW, SECRET)).await;
        assert_eq!(
            body["text"], "you are not allowed to do that here",
            "{command}"
        );
    }
    // The Slack user name ("someone") and JANDI display name are the user's to change:
    // listing them grants nothing.
    let b2 = bot(&["someone", "Kim"]).await;
    let (_, body) = ask(&b2, slack("Dev force_start", "U-ANYONE", NOW, SECRET)).await;
    assert_eq!(body["text"], "you are not allowed to do that here");
    let (_, body) = ask(&b2, jandi("Dev force_start", TOKEN)).await;
    assert_eq!(body["body"], "you are not allowed to do that here");
    assert_eq!(body["connectColor"], "#E01E5A");
    assert_eq!(states(&b.moto).await[&b.api[0]], "stopped");
    assert!(b.runner.store.load().await.unwrap().exceptions.is_empty());
    // Reading is open to everyone.
    let (_, body) = ask(&b, slack("Dev status", "U-ANYONE", NOW, SECRET)).await;
    assert!(body["text"].as_str().unwrap().contains("api-1 stopped"));

    ask(&b, slack("Dev force_start", "U-ADMIN", NOW, SECRET)).await;
    assert_eq!(states(&b.moto).await[&b.api[0]], "running");
    ask(&b, jandi("Dev force_stop", TOKEN)).await;
    assert_eq!(states(&b.moto).await[&b.api[0]], "stopped");
}
