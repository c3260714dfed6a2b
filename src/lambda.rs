//! The Lambda function's handler: one typed [`Invocation`], answered by a run or a
//! typed operation of [`crate::ops`].
//!
//! ```json
//! {"action":"run"}
//! {"action":"force-start","schedule":"Development"}
//! {"action":"force-stop","schedule":"Development"}
//! {"action":"extend","schedule":"Development","until":"23:30"}
//! {"action":"status","schedule":"Development"}
//! {"action":"plan","at":"2026-12-21T09:30:00+09:00"}
//! ```
//!
//! An EventBridge event is a run. `{"action":"run","now":…}` is a preview of a run at
//! that instant: it acts on nothing and records nothing, so a replay can never move
//! the scheduler's idea of time.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::fleet::Direction;
use crate::handoff::Handoff;
pub use crate::handoff::{Command, Shard};
use crate::ops::{self, OpError};
use crate::run::{RunError, Runner, Scope};
use crate::schedule::parse_time;
use crate::store::Store;

/// Everything the function can be invoked with.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    /// A manual invocation (`aws lambda invoke`, `schedctl`).
    Command(Command),
    /// A request to the Function URL: the schedule bot.
    FunctionUrl(Box<LambdaFunctionUrlRequest>),
    /// An EventBridge event: the regular tick.
    Event(Box<EventBridgeEvent<Value>>),
}

/// Why an invocation failed; the message is what the caller sees.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an invocation this function understands.
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// The operation was refused or could not be carried out.
    #[error(transparent)]
    Op(#[from] OpError),
}

impl From<RunError> for HandlerError {
    fn from(e: RunError) -> Self {
        HandlerError::Op(OpError::Run(e))
    }
}

const ACTIONS: &str = "run, force-start, force-stop, extend, status, plan";

impl Invocation {
    /// Reads a payload, saying what is wrong with one that is none of the three.
    pub fn parse(payload: Value) -> Result<Invocation, HandlerError> {
        if let Ok(invocation) = serde_json::from_value::<Invocation>(payload.clone()) {
            return Ok(invocation);
        }
        // Not one of the three: the most useful explanation is the command's own
        // error when it meant to be one.
        if payload.get("action").is_some() {
            let e = serde_json::from_value::<Command>(payload)
                .err()
                .map_or_else(String::new, |e| e.to_string());
            let hint = if e.starts_with("unknown variant") {
                format!("{e}; actions are {ACTIONS}")
            } else {
                e
            };
            return Err(HandlerError::BadPayload(hint));
        }
        Err(HandlerError::BadPayload(format!(
            "expected an EventBridge event, a Function URL request or an object with \"action\" ({ACTIONS})"
        )))
    }
}

/// Handles one invocation of the scheduler function; the answer is the operation's
/// value as JSON. The bot has its own function ([`crate::chatbot::handle`]): a
/// Function URL request here is refused.
pub async fn handle<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    payload: Value,
) -> Result<Value, HandlerError> {
    let json = |v: &dyn erased::Json| v.json();
    match Invocation::parse(payload)? {
        Invocation::FunctionUrl(_) => Err(HandlerError::BadPayload(
            "this is the scheduler function; chat commands go to the bot's function".into(),
        )),
        Invocation::Event(event) => match event_subjects(&event) {
            // The regular tick (or an event of a kind this function does not read).
            None => tick(runner).await,
            Some(ids) => match runner.wake(&ids).await? {
                Some(report) => Ok(json(&report)),
                None => Ok(serde_json::json!({"ignored": ids})),
            },
        },
        Invocation::Command(command) => match command {
            Command::Run {
                now: None,
                shard: None,
            } => tick(runner).await,
            Command::Run {
                now: None,
                shard: Some(Shard { index, count }),
            } => {
                let scope = Scope::Shard { index, count };
                Ok(json(&runner.run_in(&scope, &[]).await?))
            }
            Command::Run { now: Some(at), .. } | Command::Plan { at } => {
                Ok(json(&ops::preview(runner, at.with_timezone(&Utc)).await?))
            }
            Command::ForceStart { schedule } => Ok(json(
                &ops::force(runner, &schedule, Direction::Start).await?,
            )),
            Command::ForceStop { schedule } => {
                Ok(json(&ops::force(runner, &schedule, Direction::Stop).await?))
            }
            Command::Extend { schedule, until } => {
                let until = parse_time(Some(&until), "until")
                    .map_err(HandlerError::BadPayload)?
                    .ok_or_else(|| HandlerError::BadPayload("until must be HH:MM".into()))?;
                Ok(json(&ops::extend(runner, &schedule, until).await?))
            }
            Command::Status { schedule } => Ok(json(&ops::status(runner, &schedule).await?)),
        },
    }
}

/// A regular run: every schedule here, or, with shards, one asynchronous
/// invocation of this function per shard.
async fn tick<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
) -> Result<Value, HandlerError> {
    let count = runner.shards.count;
    let Some(invoke) = runner.shards.invoke.as_ref().filter(|_| count > 1) else {
        return Ok(erased::Json::json(&runner.run(&[]).await?));
    };
    let mut handed = Vec::new();
    for index in 0..count {
        let command = Command::Run {
            now: None,
            shard: Some(Shard { index, count }),
        };
        match invoke.hand_off(&command).await {
            Ok(()) => handed.push(index),
            Err(e) => tracing::error!(action = "shard", shard = index, "{e}"),
        }
    }
    Ok(serde_json::json!({"shards": count, "invoked": handed}))
}

/// The resources a state-change event is about (EC2 instance, RDS instance or
/// cluster, Auto Scaling group, ECS service), or `None` for the tick and any other
/// event, which call for a full run.
pub fn event_subjects(event: &EventBridgeEvent<Value>) -> Option<Vec<String>> {
    let detail = &event.detail;
    let text = |key: &str| detail.get(key).and_then(Value::as_str).map(str::to_string);
    let id = match event.detail_type.as_str() {
        "EC2 Instance State-change Notification" => text("instance-id"),
        "RDS DB Instance Event" | "RDS DB Cluster Event" => text("SourceIdentifier"),
        "EC2 Instance Launch Successful" | "EC2 Instance Terminate Successful" => {
            text("AutoScalingGroupName")
        }
        // An ECS service's id here is `cluster/service`, the last two parts of its ARN.
        "ECS Service Action" => event.resources.as_ref().and_then(|r| {
            let arn = r.first()?;
            let mut parts = arn.rsplit('/');
            let service = parts.next()?;
            let cluster = parts.next()?;
            Some(format!("{cluster}/{service}"))
        }),
        _ => return None,
    };
    id.map(|id| vec![id])
}

/// Serialising the handler's own plain data types cannot fail; this keeps the one
/// conversion in one place.
mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::BadPayload(_) => "BadPayload",
            HandlerError::Op(OpError::Unknown(_)) => "UnknownSchedule",
            HandlerError::Op(OpError::Invalid(_)) => "Refused",
            HandlerError::Op(OpError::Run(_)) => "RunFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(v: Value) -> Result<Command, String> {
        match Invocation::parse(v) {
            Ok(Invocation::Command(c)) => Ok(c),
            Ok(other) => Err(format!("not a command: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn payloads_parse_or_say_what_is_wrong() {
        assert_eq!(
            command(json!({"action":"force-start","schedule":"Dev"})).unwrap(),
            Command::ForceStart {
                schedule: "Dev".into(),
            }
        );
        let scheduled = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-30T00:30:00Z", "region": "ap-northeast-2",
            "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/tick"], "detail": {}
        });
        assert!(matches!(
            Invocation::parse(scheduled).unwrap(),
            Invocation::Event(_)
        ));
        let url = json!({
            "version": "2.0", "rawPath": "/", "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": 1},
            "body": "{}", "isBase64Encoded": false
        });
        assert!(matches!(
            Invocation::parse(url).unwrap(),
            Invocation::FunctionUrl(_)
        ));
        for (bad, says) in [
            (json!({"action":"reboot"}), "actions are run, force-start"),
            (json!({"action":"force-start"}), "missing field `schedule`"),
            (json!({"action":"plan","at":"tomorrow"}), "bad payload"),
            (json!({"hello":1}), "expected an EventBridge event"),
            (json!([1, 2]), "expected an EventBridge event"),
            (json!({"action":"run","dry":true}), "unknown field `dry`"),
            (
                json!({"action":"force-start","schedule":"Dev","now":"2026-12-21T09:30:00+09:00"}),
                "unknown field `now`",
            ),
        ] {
            let e = command(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}
