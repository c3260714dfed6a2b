//! The schedule bot through its real handler, in process: Function URL requests
//! signed as Slack and JANDI sign them, answered on the in-memory store and the
//! simulated fleet on a virtual clock, as the scheduler's handler is tested
//! (tests/handlers.rs). The bot's permissions are proven on the emulator with IAM
//! enforced (tests/iam.rs).

use std::sync::Mutex;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use instance_scheduler::chatbot::{BotConfig, handle};
use instance_scheduler::clock::{Clock, VirtualClock};
use instance_scheduler::cloud::sim::{FleetFile, SimCloud, SimFleet};
use instance_scheduler::fleet::Direction;
use instance_scheduler::fleet::Power;
use instance_scheduler::handoff::Handoff;
use instance_scheduler::history::{Cause, Origin};
use instance_scheduler::lambda::Command;
use instance_scheduler::ops::{self, Request};
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::memory::MemoryStore;
use instance_scheduler::store::{Items, Store, files::parse_into};
use serde_json::{Value, json};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const TOKEN: &str = "jandi-outgoing-token";
const DEV: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00",
  "Groups":[{"GroupName":"API","InstanceType":"EC2"}]}"#;
/// Monday 2026-11-30 12:00 UTC: Dev's period, which this first run did not see begin.
const NOW: &str = "2026-11-30T12:00:00Z";

type SimRunner = Runner<SimFleet, MemoryStore, VirtualClock>;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn function_url(headers: Value, body: &str, base64_body: bool, stamp: i64) -> Value {
    json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": stamp.saturating_mul(1000)},
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
        stamp,
    )
}

fn jandi(data: &str, token: &str) -> Value {
    let body = json!({"token": token, "teamName": "t", "roomName": "ops", "writerName": "Kim",
                      "writerEmail": "kim@example.com", "text": format!("/schedule {data}"), "data": data});
    function_url(
        json!({"content-type": "application/json"}),
        &body.to_string(),
        false,
        0,
    )
}

/// Hands commands to an in-process scheduler: runs them through the scheduler's own
/// handler on the test's runner right away, as the scheduler function would on its
/// own, and keeps what it was given.
struct InProcess<'a> {
    runner: &'a SimRunner,
    given: Mutex<Vec<Command>>,
}

impl Handoff for InProcess<'_> {
    async fn hand_off(&self, command: &Command) -> Result<(), String> {
        self.given.lock().unwrap().push(command.clone());
        // What crosses the wire is the serialised command, read back as any payload.
        let payload: Value = serde_json::from_str(&command.payload()).unwrap();
        instance_scheduler::lambda::handle(self.runner, payload)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

struct Bot {
    runner: SimRunner,
    bot: BotConfig,
}

/// A bot whose allow-list holds `allowed` (Slack user ids, JANDI addresses; `*` lets
/// everyone change things), over one stopped EC2 instance of schedule Dev, on a store
/// that keeps the history of what ran.
fn bot(allowed: &[&str]) -> Bot {
    let fleet: FleetFile = serde_json::from_value(json!({"instances": [
        {"id": "i-api1", "kind": "ec2", "state": "stopped", "boot_seconds": 60, "stop_seconds": 30,
         "tags": {"ScheduleName": "Dev", "ScheduleGroupName": "API", "Name": "api-1"}}
    ]}))
    .unwrap();
    let mut items = Items::default();
    parse_into(DEV, &mut items).unwrap();
    let clock = VirtualClock::at(at(NOW));
    let runner = Runner {
        cloud: SimFleet::new(SimCloud::new(fleet, at(NOW)), clock.clone()),
        store: MemoryStore::new(items).with_history(),
        clock,
        config: RunConfig::default(),
        notifier: Default::default(),
        wakeups: Default::default(),
        shards: Default::default(),
    };
    let bot = BotConfig {
        slack_signing_secret: Some(SECRET.into()),
        jandi_token: Some(TOKEN.into()),
        allowed_users: Some(allowed.iter().map(|u| u.to_string()).collect()),
    };
    Bot { runner, bot }
}

impl Bot {
    /// Now on the bot's clock, as a Slack timestamp.
    fn now(&self) -> i64 {
        self.runner.clock.now().timestamp()
    }

    /// The API instance's power state.
    fn api(&self) -> Power {
        let now = self.runner.clock.now();
        self.runner
            .cloud
            .with(|c| {
                c.observe(now)
                    .iter()
                    .find(|i| i.id == "i-api1")
                    .map(|i| i.power)
            })
            .unwrap()
    }

    /// The API instance's changes in the history: up or not, and why.
    fn api_changes(&self) -> Vec<(bool, Cause)> {
        self.runner
            .store
            .history()
            .iter()
            .flat_map(|e| e.changes.iter())
            .filter(|c| c.id == "i-api1")
            .map(|c| (c.now.up, c.now.cause))
            .collect()
    }

    /// Asks the bot; the HTTP status and JSON body, and the commands handed over.
    async fn ask(&self, event: Value) -> (u16, Value, Vec<Command>) {
        let handoff = InProcess {
            runner: &self.runner,
            given: Default::default(),
        };
        let answer = handle(&self.runner, &self.bot, &handoff, event)
            .await
            .expect("an HTTP answer");
        let status = answer.status_code as u16;
        let body: Value = serde_json::from_str(answer.body.as_deref().unwrap()).unwrap();
        (status, body, handoff.given.into_inner().unwrap())
    }
}

#[tokio::test]
async fn a_signed_slack_command_is_answered_in_slacks_format() {
    let b = bot(&["*"]);
    let (status, body, _) = b.ask(slack("Dev status", "U1", b.now(), SECRET)).await;
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

    let (_, body, given) = b.ask(slack("Dev force_start", "U1", b.now(), SECRET)).await;
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("Dev: force-start handed to the scheduler"),
        "{body}"
    );
    assert_eq!(
        given,
        [Command::ForceStart {
            schedule: "Dev".into()
        }]
    );
    assert_eq!(b.api(), Power::Running);
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_unsigned_requests_change_nothing() {
    let b = bot(&["*"]);
    let now = b.now();
    let cases = [
        (
            slack("Dev force_start", "U1", now, "wrong-secret"),
            401,
            "bad signature",
        ),
        (
            slack("Dev force_start", "U1", now - 301, SECRET),
            401,
            "stale request timestamp",
        ),
        (
            slack("Dev force_start", "U1", now + 301, SECRET),
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
            function_url(json!({}), "text=Dev+force_start", false, now),
            401,
            "unsigned request",
        ),
        (jandi("Dev force_start", "not-the-token"), 401, "bad token"),
        (
            function_url(json!({}), &"x".repeat(20_000), false, now),
            413,
            "too large",
        ),
        (
            function_url(
                json!({}),
                &base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, 0x00]),
                true,
                now,
            ),
            400,
            "not valid UTF-8",
        ),
        (
            function_url(json!({}), "%%%", true, now),
            400,
            "not valid base64",
        ),
    ];
    for (event, want, says) in cases {
        let (status, body, given) = b.ask(event).await;
        assert_eq!(status, want, "{body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
        assert!(given.is_empty());
    }
    // A signature over a different body does not pass either.
    let mut tampered = slack("Dev status", "U1", now, SECRET);
    tampered["body"] = json!(
        tampered["body"]
            .as_str()
            .unwrap()
            .replace("status", "force_start")
    );
    assert_eq!(b.ask(tampered).await.0, 401);
    assert_eq!(b.api(), Power::Stopped);
}

#[tokio::test]
async fn a_request_that_is_not_a_readable_function_url_request_is_an_http_answer() {
    let b = bot(&["*"]);
    // Headers as a list of pairs, as some proxies and hand-written tests send them:
    // the handler answers 400, rather than failing the invocation.
    let mut listed = slack("Dev force_start", "U1", b.now(), SECRET);
    let pairs: Vec<Value> = listed["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| json!([k, v]))
        .collect();
    listed["headers"] = Value::Array(pairs);
    let (status, body, given) = b.ask(listed).await;
    assert_eq!(status, 400, "{body}");
    let says = body["error"].as_str().unwrap();
    assert!(
        says.starts_with("not a readable Function URL request") && says.contains("headers"),
        "{says}"
    );
    assert!(given.is_empty());
    // A header value that is not text is as unreadable.
    let mut numeric = jandi("Dev status", TOKEN);
    numeric["headers"] = json!({"content-length": 12});
    assert_eq!(b.ask(numeric).await.0, 400);
    assert_eq!(b.api(), Power::Stopped);
    // What is no Function URL request at all is still refused as a bad payload.
    let e = handle(
        &b.runner,
        &b.bot,
        &InProcess {
            runner: &b.runner,
            given: Default::default(),
        },
        json!({"action": "force-start", "schedule": "Dev"}),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("answers Function URL requests only"),
        "{e}"
    );
}

#[tokio::test]
async fn jandi_commands_extend_and_edit_exceptions() {
    let b = bot(&["*"]);
    let (status, body, _) = b.ask(jandi("Dev extend 23:30", TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["body"], "Dev: today's stop (2026-11-30) is now 23:30");
    assert_eq!(body["connectColor"], "#2EB67D");
    let (_, body, _) = b
        .ask(jandi("Dev exception set 2026-12-24 start None", TOKEN))
        .await;
    assert_eq!(body["body"], "Dev 2026-12-24 start = None");
    let (_, body, _) = b.ask(jandi("Dev exception info", TOKEN)).await;
    assert_eq!(body["body"], "2026-11-30 stop 23:30\n2026-12-24 start None");
    let (_, body, _) = b.ask(jandi("Dev exception info 2026-12-01", TOKEN)).await;
    assert_eq!(body["body"], "2026-12-24 start None");
    let (_, body, _) = b
        .ask(jandi("Dev exception del 2026-12-24 start", TOKEN))
        .await;
    assert_eq!(body["body"], "Dev 2026-12-24 start: deleted");
    let (_, body, _) = b.ask(jandi("Dev info 2026-12-01", TOKEN)).await;
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with("Dev on 2026-12-01 (UTC, weekdays): start 2026-12-01 09:00"),
        "{body}"
    );
    let (_, body, _) = b.ask(jandi("Dev info", TOKEN)).await;
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with("Dev on 2026-11-30"),
        "{body}"
    );
    assert_eq!(b.runner.store.items().exceptions.len(), 1);
}

#[tokio::test]
async fn unknown_schedules_and_malformed_commands_get_clear_answers() {
    let b = bot(&["*"]);
    for (words, says) in [
        ("Nope status", "schedule \"Nope\" does not exist"),
        ("Nope force_start", "schedule \"Nope\" does not exist"),
        (
            "Dev exception set tomorrow stop 20:00",
            "\"tomorrow\" is not a date (YYYY-MM-DD)",
        ),
        (
            "Dev exception del 2026-12-24 restart",
            "\"restart\" is not start or stop",
        ),
    ] {
        let (status, body, given) = b.ask(jandi(words, TOKEN)).await;
        assert_eq!(status, 200);
        assert_eq!(body["body"], says, "{words}");
        assert_eq!(body["connectColor"], "#E01E5A");
        assert!(
            given.is_empty(),
            "{words}: an unknown schedule is never handed over"
        );
    }
    let (_, body, _) = b.ask(jandi("Dev reboot now", TOKEN)).await;
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with("unknown command \"Dev reboot now\"; commands: help")
    );
    let (_, body, _) = b.ask(jandi("help", TOKEN)).await;
    assert!(body["body"].as_str().unwrap().starts_with("commands:"));
}

#[tokio::test]
async fn the_allow_list_guards_every_change_and_matches_user_ids_only() {
    let b = bot(&["U-ADMIN", "kim@example.com"]);
    for command in [
        "Dev force_start",
        "Dev force_stop",
        "Dev extend 23:30",
        "Dev exception set 2026-12-24 start None",
        "Dev exception del 2026-12-24 start",
    ] {
        let (_, body, _) = b.ask(slack(command, "U-ANYONE", b.now(), SECRET)).await;
        assert_eq!(
            body["text"], "you are not allowed to do that here",
            "{command}"
        );
    }
    // The Slack user name ("someone") and JANDI display name are the user's to change:
    // listing them grants nothing.
    let b2 = bot(&["someone", "Kim"]);
    let (_, body, _) = b2
        .ask(slack("Dev force_start", "U-ANYONE", b2.now(), SECRET))
        .await;
    assert_eq!(body["text"], "you are not allowed to do that here");
    let (_, body, _) = b2.ask(jandi("Dev force_start", TOKEN)).await;
    assert_eq!(body["body"], "you are not allowed to do that here");
    assert_eq!(body["connectColor"], "#E01E5A");
    assert_eq!(b.api(), Power::Stopped);
    assert!(b.runner.store.items().exceptions.is_empty());
    // Reading is open to everyone.
    let (_, body, _) = b
        .ask(slack("Dev status", "U-ANYONE", b.now(), SECRET))
        .await;
    assert!(body["text"].as_str().unwrap().contains("api-1 stopped"));

    b.ask(slack("Dev force_start", "U-ADMIN", b.now(), SECRET))
        .await;
    assert_eq!(b.api(), Power::Running);
    b.ask(jandi("Dev force_stop", TOKEN)).await;
    assert_eq!(b.api(), Power::Stopped);
}

#[tokio::test]
async fn a_force_through_the_bot_is_recorded_as_the_bots_and_one_through_the_payload_as_forced() {
    let b = bot(&["*"]);
    // Through the bot: noted beside the state as the bot's, then handed over with
    // the payload every door sends.
    let (_, body, given) = b.ask(jandi("Dev force_start", TOKEN)).await;
    assert_eq!(body["connectColor"], "#2EB67D", "{body}");
    assert_eq!(
        given.iter().map(Command::payload).collect::<Vec<_>>(),
        [r#"{"action":"force-start","schedule":"Dev"}"#]
    );
    let note = b.runner.store.side_items()["origin#Dev"].parse::<Origin>();
    assert_eq!(
        note,
        Ok(Origin::bot(at(NOW), Direction::Start, "kim@example.com"))
    );
    assert_eq!(b.api(), Power::Running);
    assert_eq!(b.api_changes(), [(true, Cause::Bot)]);

    // Through the payload, then schedctl's way (ops), within the note's 15 minutes:
    // an operator's, the start too, since the stop came between it and the note.
    b.runner.clock.set(at("2026-11-30T12:03:00Z"));
    instance_scheduler::lambda::handle(
        &b.runner,
        json!({"action": "force-stop", "schedule": "Dev"}),
    )
    .await
    .expect("the force-stop");
    b.runner.clock.set(at("2026-11-30T12:06:00Z"));
    ops::apply(
        &b.runner,
        Request::Force {
            schedule: "Dev".into(),
            direction: Direction::Start,
        },
    )
    .await
    .expect("the force-start");
    assert_eq!(b.api(), Power::Running);
    assert_eq!(
        b.api_changes(),
        [
            (true, Cause::Bot),
            (false, Cause::Forced),
            (true, Cause::Forced)
        ]
    );
}
