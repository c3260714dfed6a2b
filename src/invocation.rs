//! What the functions are invoked with, as types: a [`Command`] (a manual invocation,
//! a hand-off from the bot, a shard of a tick, a wake-up), a Function URL request
//! (the bot), or an EventBridge event (the tick, a state change). Both handlers read
//! their payloads through [`Invocation::read`], and every payload the system writes
//! to itself is a serialised [`Command`] ([`Command::payload`]), never JSON built by
//! hand.
//!
//! A leaf of the shell: it knows no adapter and no operation, so the handlers, the
//! hand-off and the run can all use it.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A manual invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// A normal run; with `now`, a preview of a run at that instant.
    Run {
        /// Preview a run at this instant instead (acts on nothing, records nothing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<DateTime<FixedOffset>>,
        /// Run one shard of the schedules (`{"index":0,"count":4}`): what a sharded
        /// tick hands each invocation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard: Option<Shard>,
    },
    /// Start the schedule now, in dependency order.
    ForceStart {
        /// The schedule.
        schedule: String,
    },
    /// Stop the schedule now, in reverse dependency order.
    ForceStop {
        /// The schedule.
        schedule: String,
    },
    /// Today's stop becomes `until` (`HH:MM`, the schedule's zone).
    Extend {
        /// The schedule.
        schedule: String,
        /// The new stop time.
        until: String,
    },
    /// The schedule's groups, instances and states, and today's times.
    Status {
        /// The schedule.
        schedule: String,
    },
    /// What a run at `at` would do; changes nothing.
    Plan {
        /// The instant.
        at: DateTime<FixedOffset>,
    },
}

/// One shard of a tick's schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many there are.
    pub count: u32,
}

/// A shard that does not exist: `count` is zero, or `index` is not below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "shard {index} of {count} does not exist: count must be at least 1 and index from 0 to count - 1"
)]
pub struct NoSuchShard {
    /// The index asked for.
    pub index: u32,
    /// The count asked for.
    pub count: u32,
}

impl Shard {
    /// The shard, if it is one of its count; a shard that is none is refused rather
    /// than run as something else (a whole run, or nothing).
    pub fn checked(self) -> Result<Shard, NoSuchShard> {
        if self.index < self.count {
            Ok(self)
        } else {
            Err(NoSuchShard {
                index: self.index,
                count: self.count,
            })
        }
    }
}

impl Command {
    /// A regular run of every schedule: what a wake-up of a whole run carries.
    pub fn run() -> Command {
        Command::Run {
            now: None,
            shard: None,
        }
    }

    /// A run of shard `index` of `count`: what a sharded tick hands each
    /// invocation, and what a shard's own wake-up carries.
    pub fn run_shard(index: u32, count: u32) -> Command {
        Command::Run {
            now: None,
            shard: Some(Shard { index, count }),
        }
    }

    /// Its `action`, as the payload names it.
    pub fn action(&self) -> &'static str {
        match self {
            Command::Run { .. } => "run",
            Command::ForceStart { .. } => "force-start",
            Command::ForceStop { .. } => "force-stop",
            Command::Extend { .. } => "extend",
            Command::Status { .. } => "status",
            Command::Plan { .. } => "plan",
        }
    }

    /// The command as the JSON payload the function reads back, for a hand-off or a
    /// wake-up.
    pub fn payload(&self) -> String {
        // A plain enum of strings, numbers and timestamps always serialises; the
        // fallback only keeps this infallible.
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"action":"run"}"#.to_string())
    }
}

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

/// A payload that is none of the invocations, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// It has an `action`, but not a command's shape.
    #[error("{0}")]
    Command(String),
    /// It has the parts of a Function URL request, but one does not read (the
    /// headers as a list, say).
    #[error("not a readable Function URL request: {0}")]
    FunctionUrl(String),
    /// It is nothing this function knows.
    #[error(
        "expected an EventBridge event, a Function URL request or an object with \"action\" ({actions})",
        actions = ACTIONS
    )]
    Unknown,
}

/// The actions a [`Command`] may name.
pub const ACTIONS: &str = "run, force-start, force-stop, extend, status, plan";

impl Invocation {
    /// Reads a payload, saying what is wrong with one that is none of the three: the
    /// most useful explanation is the error of the kind it meant to be.
    pub fn read(payload: Value) -> Result<Invocation, Unreadable> {
        if let Ok(invocation) = serde_json::from_value::<Invocation>(payload.clone()) {
            return Ok(invocation);
        }
        if payload.get("action").is_some() {
            let e = serde_json::from_value::<Command>(payload)
                .err()
                .map_or_else(String::new, |e| e.to_string());
            return Err(Unreadable::Command(if e.starts_with("unknown variant") {
                format!("{e}; actions are {ACTIONS}")
            } else {
                e
            }));
        }
        if is_function_url(&payload) {
            let e = serde_path_to_error::deserialize::<_, LambdaFunctionUrlRequest>(payload)
                .err()
                .map_or_else(String::new, |e| e.to_string());
            return Err(Unreadable::FunctionUrl(e));
        }
        Err(Unreadable::Unknown)
    }
}

/// Whether a payload has the parts only a Function URL request has: what a chat
/// request that does not read is told apart by.
fn is_function_url(payload: &Value) -> bool {
    ["requestContext", "rawPath", "headers"]
        .iter()
        .any(|k| payload.get(k).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_payloads_the_system_writes_to_itself_read_back_as_written() {
        for command in [
            Command::run(),
            Command::run_shard(2, 4),
            Command::ForceStart {
                schedule: "Dev".into(),
            },
        ] {
            let back: Command = serde_json::from_str(&command.payload()).unwrap();
            assert_eq!(back, command);
        }
        assert_eq!(Command::run().payload(), r#"{"action":"run"}"#);
        assert_eq!(
            Command::run_shard(1, 3).payload(),
            r#"{"action":"run","shard":{"index":1,"count":3}}"#
        );
    }

    #[test]
    fn only_a_shard_of_its_count_exists() {
        assert!(Shard { index: 0, count: 1 }.checked().is_ok());
        assert!(Shard { index: 3, count: 4 }.checked().is_ok());
        for (index, count) in [(5, 2), (2, 2), (0, 0)] {
            let e = Shard { index, count }.checked().unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("shard {index} of {count} does not exist")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_function_url_request_that_does_not_read_says_which_part() {
        let e = Invocation::read(json!({
            "version": "2.0", "rawPath": "/", "headers": [["x-slack-signature", "v0=1"]],
            "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": 1},
            "body": "", "isBase64Encoded": false
        }))
        .unwrap_err();
        assert!(matches!(e, Unreadable::FunctionUrl(_)), "{e:?}");
        assert!(e.to_string().contains("headers"), "{e}");
    }
}
