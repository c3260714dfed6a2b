//! The Lambda function's handler: an EventBridge scheduled event is a normal run;
//! manual invocations carry an `action`.
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
//! `run`, `force-start`, `force-stop` and `extend` also take `"now"` (RFC 3339) to
//! run as if at that instant, for demos and replays.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::calendar;
use crate::cloud::{Cloud, Power};
use crate::plan::{Request, Settings};
use crate::run::{Clock, RunConfig, RunError, Runner};
use crate::schedule::{Direction, GROUP_TAG, SCHEDULE_TAG, parse_time, parse_time_zone};
use crate::store::Store;

/// A manual invocation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// A normal run.
    Run {
        /// Run as if at this instant.
        #[serde(default)]
        now: Option<DateTime<FixedOffset>>,
    },
    /// Start the schedule now, in dependency order.
    ForceStart {
        /// The schedule.
        schedule: String,
        /// Run as if at this instant.
        #[serde(default)]
        now: Option<DateTime<FixedOffset>>,
    },
    /// Stop the schedule now, in reverse dependency order.
    ForceStop {
        /// The schedule.
        schedule: String,
        /// Run as if at this instant.
        #[serde(default)]
        now: Option<DateTime<FixedOffset>>,
    },
    /// Today's stop becomes `until` (`HH:MM`, the schedule's zone).
    Extend {
        /// The schedule.
        schedule: String,
        /// The new stop time.
        until: String,
        /// Today as of this instant.
        #[serde(default)]
        now: Option<DateTime<FixedOffset>>,
    },
    /// The schedule's groups, instances and states, and today's times.
    Status {
        /// The schedule.
        schedule: String,
        /// As of this instant.
        #[serde(default)]
        now: Option<DateTime<FixedOffset>>,
    },
    /// What a run at `at` would do; changes nothing.
    Plan {
        /// The instant.
        at: DateTime<FixedOffset>,
    },
}

/// Why an invocation failed; the message is what the caller sees.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an invocation this function understands.
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// The run could not read or write what it needs.
    #[error(transparent)]
    Run(#[from] RunError),
}

const ACTIONS: &str = "run, force-start, force-stop, extend, status, plan";

/// Reads a payload: an EventBridge scheduled event, or a [`Command`].
pub fn parse_payload(payload: Value) -> Result<Command, HandlerError> {
    if payload.get("action").is_none() {
        if payload.get("detail-type").is_some() || payload.get("source").is_some() {
            let event: aws_lambda_events::eventbridge::EventBridgeEvent<Value> =
                serde_json::from_value(payload).map_err(|e| {
                    HandlerError::BadPayload(format!("not an EventBridge event: {e}"))
                })?;
            tracing::debug!(source = %event.source, "scheduled invocation");
            return Ok(Command::Run { now: None });
        }
        return Err(HandlerError::BadPayload(format!(
            "expected an EventBridge event or an object with \"action\" ({ACTIONS})"
        )));
    }
    serde_json::from_value(payload).map_err(|e| {
        let text = e.to_string();
        let hint = if text.starts_with("unknown variant") {
            format!("{text}; actions are {ACTIONS}")
        } else {
            text
        };
        HandlerError::BadPayload(hint)
    })
}

/// Settings from the environment: `DEFAULT_TIME_ZONE`, `DRY_RUN`, `WARN_MINUTES`,
/// `SEQUENCE_TIMEOUT_MINUTES`, `RUN_BUDGET_SECONDS`, `POLL_SECONDS`. A value that does
/// not parse is an error at start-up, not a silent default.
pub fn config_from_env() -> Result<RunConfig, String> {
    fn var(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
    fn number(name: &str, default: i64) -> Result<i64, String> {
        var(name).map_or(Ok(default), |v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{name}={v:?} is not a whole number of at least 0"))
        })
    }
    let default_tz = match var("DEFAULT_TIME_ZONE") {
        Some(z) => parse_time_zone(&z).map_err(|e| format!("DEFAULT_TIME_ZONE: {e}"))?,
        None => chrono_tz::UTC,
    };
    let dry_run = match var("DRY_RUN").map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => true,
        Some(v) if ["false", "0", "no"].contains(&v.as_str()) => false,
        Some(v) => return Err(format!("DRY_RUN={v:?} is not true or false")),
    };
    let defaults = RunConfig::default();
    Ok(RunConfig {
        default_tz,
        settings: Settings {
            warn_before: Duration::minutes(number("WARN_MINUTES", 10)?),
            sequence_timeout: Duration::minutes(number("SEQUENCE_TIMEOUT_MINUTES", 60)?),
            ..Settings::default()
        },
        dry_run,
        budget: StdDuration::from_secs(number(
            "RUN_BUDGET_SECONDS",
            defaults.budget.as_secs() as i64,
        )? as u64),
        poll_every: StdDuration::from_secs(number(
            "POLL_SECONDS",
            defaults.poll_every.as_secs() as i64,
        )? as u64),
    })
}

/// The chat channels from the environment (see [`crate::notify::deliver::configs`]),
/// `NOTIFY_LANGUAGE` (`en` or `ko`) and `WEBHOOK_TIMEOUT_SECONDS` (default 5).
pub async fn notifier_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::notify::deliver::Notifier, String> {
    let language =
        crate::notify::Language::parse(&std::env::var("NOTIFY_LANGUAGE").unwrap_or_default())
            .map_err(|e| format!("NOTIFY_LANGUAGE: {e}"))?;
    let timeout = match std::env::var("WEBHOOK_TIMEOUT_SECONDS") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("WEBHOOK_TIMEOUT_SECONDS={v:?} is not a positive number"))?,
        _ => 5,
    };
    let hooks = crate::notify::secrets::webhooks_from_env(sdk).await?;
    Ok(crate::notify::deliver::Notifier::new(
        hooks,
        language,
        StdDuration::from_secs(timeout),
    ))
}

/// One instance in a status answer.
#[derive(Debug, Serialize)]
struct InstanceStatus {
    id: String,
    name: String,
    kind: String,
    state: Power,
    zone: Option<String>,
}

/// Handles one invocation.
pub async fn handle<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    payload: Value,
) -> Result<Value, HandlerError> {
    // A Function URL request is the schedule bot; it answers with an HTTP response.
    if payload.get("requestContext").is_some() && payload.get("action").is_none() {
        return Ok(Box::pin(crate::chatbot::answer(runner, &runner.bot, &payload)).await);
    }
    let utc = |t: Option<DateTime<FixedOffset>>| t.map(|t| t.with_timezone(&Utc));
    let to_json = |v: &dyn erased::Json| v.json();
    match parse_payload(payload)? {
        Command::Run { now } => Ok(to_json(&runner.run(utc(now), &[]).await?)),
        Command::ForceStart { schedule, now } => {
            let report = runner
                .run(utc(now), &[Request::ForceStart(schedule)])
                .await?;
            Ok(to_json(&report))
        }
        Command::ForceStop { schedule, now } => {
            let report = runner
                .run(utc(now), &[Request::ForceStop(schedule)])
                .await?;
            Ok(to_json(&report))
        }
        Command::Extend {
            schedule,
            until,
            now,
        } => {
            let time = parse_time(Some(&until), "until")
                .map_err(HandlerError::BadPayload)?
                .ok_or_else(|| HandlerError::BadPayload("until must be HH:MM".into()))?;
            let date = runner
                .set_today(&schedule, Direction::Stop, Some(time), utc(now))
                .await?;
            Ok(json!({
                "schedule": schedule,
                "date": date.to_string(),
                "stop": time.format("%H:%M").to_string(),
            }))
        }
        Command::Status { schedule, now } => status(runner, &schedule, utc(now)).await,
        Command::Plan { at } => {
            let p = runner.preview(at.with_timezone(&Utc)).await?;
            Ok(json!({ "at": at, "actions": p.actions, "events": p.events }))
        }
    }
}

async fn status<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    now: Option<DateTime<Utc>>,
) -> Result<Value, HandlerError> {
    let catalog = runner.catalog().await?;
    let Some(s) = catalog.get(name) else {
        let why = catalog
            .errors
            .iter()
            .find(|e| e.schedule == name)
            .map_or_else(|| "no such schedule".to_string(), |e| e.problem.clone());
        return Err(HandlerError::BadPayload(format!(
            "schedule \"{name}\": {why}"
        )));
    };
    let fleet = runner.observe().await?;
    let now = now.unwrap_or_else(|| runner.clock.now());
    let today = now.with_timezone(&s.tz).date_naive();
    let (start, stop) = calendar::day_times(s, today);
    let groups: Vec<Value> = s
        .groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let instances: Vec<InstanceStatus> = fleet
                .iter()
                .filter(|i| i.tags.get(SCHEDULE_TAG) == Some(&s.tag_value))
                .filter(|i| {
                    s.group_of(i.tags.get(GROUP_TAG).map(String::as_str), i.kind) == Some(k)
                })
                .map(|i| InstanceStatus {
                    id: i.id.clone(),
                    name: i.name().to_string(),
                    kind: i.kind.to_string(),
                    state: i.power,
                    zone: i.zone.clone(),
                })
                .collect();
            json!({ "group": g.name, "depends_on": g.depends_on, "instances": instances })
        })
        .collect();
    Ok(json!({
        "schedule": s.name,
        "enabled": s.enabled,
        "force_start": s.force_start,
        "time_zone": s.tz.name(),
        "days_active": s.days.to_string(),
        "today": today.to_string(),
        "start": start.map(|t| t.to_rfc3339()),
        "stop": stop.map(|t| t.to_rfc3339()),
        "groups": groups,
    }))
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
        let error_type = match e {
            HandlerError::BadPayload(_) => "BadPayload",
            HandlerError::Run(_) => "RunFailed",
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

    #[test]
    fn payloads_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse_payload(json!({"action":"force-start","schedule":"Dev"})).unwrap(),
            Command::ForceStart {
                schedule: "Dev".into(),
                now: None
            }
        );
        let scheduled = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-30T00:30:00Z", "region": "ap-northeast-2",
            "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/tick"], "detail": {}
        });
        assert_eq!(
            parse_payload(scheduled).unwrap(),
            Command::Run { now: None }
        );
        for (bad, says) in [
            (json!({"action":"reboot"}), "actions are run, force-start"),
            (json!({"action":"force-start"}), "missing field `schedule`"),
            (json!({"action":"plan","at":"tomorrow"}), "bad payload"),
            (json!({"hello":1}), "expected an EventBridge event"),
            (json!([1, 2]), "expected an EventBridge event"),
            (json!({"action":"run","dry":true}), "unknown field `dry`"),
        ] {
            let e = parse_payload(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
