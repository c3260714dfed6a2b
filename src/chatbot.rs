//! The schedule bot: chat commands reaching the function through its Function URL.
//!
//! Every request is verified before anything else: Slack slash commands by the
//! signing secret (HMAC-SHA256 over `v0:{timestamp}:{raw body}`, timestamps more than
//! five minutes off rejected), JANDI outgoing webhooks by their token; comparisons in
//! constant time. A request that fails any check gets 400/401 and changes nothing.
//!
//! Commands: `help`, `SCHEDULE status`, `SCHEDULE info [DATE]`,
//! `SCHEDULE exception info [DATE]`, `SCHEDULE exception set DATE start|stop HH:MM|None`,
//! `SCHEDULE exception del DATE start|stop`, `SCHEDULE extend HH:MM`,
//! `SCHEDULE force_start`, `SCHEDULE force_stop`.

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::calendar;
use crate::cloud::Cloud;
use crate::lambda::handle;
use crate::run::{Clock, Runner};
use crate::schedule::{Direction, parse_time};
use crate::store::Store;

/// Largest body the bot reads; chat commands are short.
pub const MAX_BODY: usize = 16 * 1024;

/// How the bot checks who is calling.
#[derive(Clone, Default)]
pub struct BotConfig {
    /// Slack's signing secret.
    pub slack_signing_secret: Option<String>,
    /// JANDI's outgoing webhook token.
    pub jandi_token: Option<String>,
    /// Users allowed to force-stop and edit exceptions; everyone when `None`.
    pub allowed_users: Option<Vec<String>>,
}

impl std::fmt::Debug for BotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotConfig")
            .field(
                "slack_signing_secret",
                &self.slack_signing_secret.as_ref().map(|_| "…"),
            )
            .field("jandi_token", &self.jandi_token.as_ref().map(|_| "…"))
            .field("allowed_users", &self.allowed_users)
            .finish()
    }
}

/// Which chat sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    /// A Slack slash command.
    Slack,
    /// A JANDI outgoing webhook.
    Jandi,
}

/// A verified command from a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Which chat.
    pub chat: Chat,
    /// Who (Slack user id or name, JANDI e-mail or name).
    pub users: Vec<String>,
    /// The command text.
    pub text: String,
}

/// A request turned away, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 400, 401 or 413.
    pub status: u16,
    /// Why, for the caller.
    pub message: String,
}

fn reject(status: u16, message: impl Into<String>) -> Rejected {
    Rejected {
        status,
        message: message.into(),
    }
}

/// Byte equality whose time does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks a Function URL request (the event as JSON) and extracts the command.
pub fn verify(event: &Value, config: &BotConfig, now: DateTime<Utc>) -> Result<Verified, Rejected> {
    let header = |name: &str| {
        event["headers"]
            .as_object()
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
    };
    let raw = event["body"].as_str().unwrap_or_default();
    if raw.len() > MAX_BODY * 2 {
        return Err(reject(413, "request body too large"));
    }
    let body: Vec<u8> = if event["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| reject(400, "body is not valid base64"))?
    } else {
        raw.as_bytes().to_vec()
    };
    if body.len() > MAX_BODY {
        return Err(reject(413, "request body too large"));
    }
    let text = std::str::from_utf8(&body).map_err(|_| reject(400, "body is not valid UTF-8"))?;

    if let Some(signature) = header("x-slack-signature") {
        let secret = config
            .slack_signing_secret
            .as_deref()
            .ok_or_else(|| reject(401, "Slack requests are not configured"))?;
        let stamp = header("x-slack-request-timestamp")
            .and_then(|t| t.trim().parse::<i64>().ok())
            .ok_or_else(|| reject(401, "missing or bad X-Slack-Request-Timestamp"))?;
        if (now.timestamp() - stamp).abs() > 300 {
            return Err(reject(
                401,
                "stale request timestamp (more than 5 minutes off)",
            ));
        }
        let expected = signature
            .strip_prefix("v0=")
            .and_then(hex)
            .ok_or_else(|| reject(401, "bad signature"))?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| reject(401, "bad signature"))?;
        mac.update(format!("v0:{stamp}:").as_bytes());
        mac.update(&body);
        mac.verify_slice(&expected)
            .map_err(|_| reject(401, "bad signature"))?;
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        return Ok(Verified {
            chat: Chat::Slack,
            users: [field("user_id"), field("user_name")]
                .into_iter()
                .flatten()
                .collect(),
            text: field("text").unwrap_or_default(),
        });
    }

    // JANDI outgoing webhooks post JSON with the token inside.
    let doc: Value = serde_json::from_str(text).map_err(|_| reject(401, "unsigned request"))?;
    let Some(token) = doc["token"].as_str() else {
        return Err(reject(401, "unsigned request"));
    };
    let expected = config
        .jandi_token
        .as_deref()
        .ok_or_else(|| reject(401, "JANDI requests are not configured"))?;
    if !same(token.as_bytes(), expected.as_bytes()) {
        return Err(reject(401, "bad token"));
    }
    // `data` is the text after the trigger keyword; `text` the whole message.
    let command = doc["data"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            doc["text"]
                .as_str()
                .map(|t| t.split_once(' ').map_or("", |(_, rest)| rest).to_string())
        })
        .unwrap_or_default();
    Ok(Verified {
        chat: Chat::Jandi,
        users: ["writerEmail", "writerName"]
            .iter()
            .filter_map(|k| doc[*k].as_str().map(str::to_string))
            .collect(),
        text: command,
    })
}

/// A parsed bot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotCommand {
    /// The list of commands.
    Help,
    /// Groups, instances, states.
    Status(String),
    /// The schedule's times on a date.
    Info(String, Option<NaiveDate>),
    /// Exceptions from a date on.
    ExceptionInfo(String, Option<NaiveDate>),
    /// Set an exception.
    ExceptionSet(String, NaiveDate, Direction, String),
    /// Delete an exception.
    ExceptionDel(String, NaiveDate, Direction),
    /// Move today's stop.
    Extend(String, String),
    /// Force-start.
    ForceStart(String),
    /// Force-stop.
    ForceStop(String),
}

const HELP: &str = "commands: help | SCHEDULE status | SCHEDULE info [YYYY-MM-DD] | \
SCHEDULE exception info [YYYY-MM-DD] | SCHEDULE exception set YYYY-MM-DD start|stop HH:MM|None | \
SCHEDULE exception del YYYY-MM-DD start|stop | SCHEDULE extend HH:MM | SCHEDULE force_start | SCHEDULE force_stop";

/// Parses the words of a command.
pub fn parse_command(text: &str) -> Result<BotCommand, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let date = |w: &str| {
        NaiveDate::parse_from_str(w, "%Y-%m-%d")
            .map_err(|_| format!("\"{w}\" is not a date (YYYY-MM-DD)"))
    };
    let direction = |w: &str| match w.to_ascii_lowercase().as_str() {
        "start" => Ok(Direction::Start),
        "stop" => Ok(Direction::Stop),
        _ => Err(format!("\"{w}\" is not start or stop")),
    };
    let s = |w: &str| w.to_string();
    match words.as_slice() {
        [] | ["help"] => Ok(BotCommand::Help),
        [name, "status"] => Ok(BotCommand::Status(s(name))),
        [name, "info"] => Ok(BotCommand::Info(s(name), None)),
        [name, "info", d] => Ok(BotCommand::Info(s(name), Some(date(d)?))),
        [name, "exception", "info"] => Ok(BotCommand::ExceptionInfo(s(name), None)),
        [name, "exception", "info", d] => Ok(BotCommand::ExceptionInfo(s(name), Some(date(d)?))),
        [name, "exception", "set", d, k, v] => Ok(BotCommand::ExceptionSet(
            s(name),
            date(d)?,
            direction(k)?,
            s(v),
        )),
        [name, "exception", "del", d, k] => {
            Ok(BotCommand::ExceptionDel(s(name), date(d)?, direction(k)?))
        }
        [name, "extend", t] => Ok(BotCommand::Extend(s(name), s(t))),
        [name, "force_start"] => Ok(BotCommand::ForceStart(s(name))),
        [name, "force_stop"] => Ok(BotCommand::ForceStop(s(name))),
        _ => Err(format!("unknown command \"{}\"; {HELP}", text.trim())),
    }
}

/// The Function URL response for `status` with a text for the chat, in its format.
fn respond(chat: Option<Chat>, status: u16, text: &str) -> Value {
    let body = match chat {
        Some(Chat::Slack) => json!({"response_type": "in_channel", "text": text}),
        Some(Chat::Jandi) => {
            json!({"body": text, "connectColor": if status == 200 { "#2EB67D" } else { "#E01E5A" }})
        }
        None => json!({"error": text}),
    };
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    })
}

/// Answers one Function URL request: verify, parse, check the allow-list, act.
pub async fn answer<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    config: &BotConfig,
    event: &Value,
) -> Value {
    let verified = match verify(event, config, runner.clock.now()) {
        Ok(v) => v,
        Err(r) => {
            tracing::warn!(
                action = "bot",
                status = r.status,
                "rejected request: {}",
                r.message
            );
            return respond(None, r.status, &r.message);
        }
    };
    let chat = Some(verified.chat);
    let command = match parse_command(&verified.text) {
        Ok(c) => c,
        Err(e) => return respond(chat, 200, &e),
    };
    let restricted = matches!(
        command,
        BotCommand::ForceStop(_) | BotCommand::ExceptionSet(..) | BotCommand::ExceptionDel(..)
    );
    if restricted
        && let Some(allowed) = &config.allowed_users
        && !verified.users.iter().any(|u| allowed.contains(u))
    {
        return respond(chat, 200, "you are not allowed to do that here");
    }
    tracing::info!(action = "bot", users = ?verified.users, command = ?command, "bot command");
    match run_command(runner, command).await {
        Ok(text) => respond(chat, 200, &text),
        Err(text) => respond(chat, 200, &text),
    }
}

async fn known<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
) -> Result<crate::schedule::Schedule, String> {
    let catalog = runner.catalog().await.map_err(|e| e.to_string())?;
    if let Some(s) = catalog.get(name) {
        return Ok(s.clone());
    }
    match catalog.errors.iter().find(|e| e.schedule == name) {
        Some(e) => Err(e.to_string()),
        None => Err(format!("schedule \"{name}\" does not exist")),
    }
}

async fn run_command<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    command: BotCommand,
) -> Result<String, String> {
    let via_handler =
        |payload: Value| async move { handle(runner, payload).await.map_err(|e| e.to_string()) };
    let starting = matches!(command, BotCommand::ForceStart(_));
    match command {
        BotCommand::Help => Ok(HELP.to_string()),
        BotCommand::Status(name) => {
            known(runner, &name).await?;
            let s = via_handler(json!({"action": "status", "schedule": name})).await?;
            let mut lines = vec![format!(
                "{name}: today {} to {}",
                s["start"].as_str().unwrap_or("no start"),
                s["stop"].as_str().unwrap_or("no stop")
            )];
            for g in s["groups"].as_array().into_iter().flatten() {
                let list: Vec<String> = g["instances"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        format!(
                            "{} {}",
                            i["name"].as_str().unwrap_or("?"),
                            i["state"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                lines.push(format!(
                    "{}: {}",
                    g["group"].as_str().unwrap_or("?"),
                    list.join(", ")
                ));
            }
            Ok(lines.join("\n"))
        }
        BotCommand::Info(name, date) => {
            let s = known(runner, &name).await?;
            let date = date.unwrap_or_else(|| runner.clock.now().with_timezone(&s.tz).date_naive());
            let (start, stop) = calendar::day_times(&s, date);
            let show = |t: Option<DateTime<chrono_tz::Tz>>| {
                t.map_or("none".to_string(), |t| {
                    t.format("%Y-%m-%d %H:%M %Z").to_string()
                })
            };
            Ok(format!(
                "{name} on {date} ({}, {}): start {}, stop {}",
                s.tz.name(),
                s.days,
                show(start),
                show(stop)
            ))
        }
        BotCommand::ExceptionInfo(name, from) => {
            let s = known(runner, &name).await?;
            let from = from.unwrap_or_else(|| runner.clock.now().with_timezone(&s.tz).date_naive());
            let lines: Vec<String> = s
                .exceptions
                .range((from, Direction::Start)..)
                .map(|((d, k), v)| {
                    format!(
                        "{d} {k} {}",
                        v.map_or("None".to_string(), |t| t.format("%H:%M").to_string())
                    )
                })
                .collect();
            Ok(if lines.is_empty() {
                format!("{name}: no exceptions from {from}")
            } else {
                lines.join("\n")
            })
        }
        BotCommand::ExceptionSet(name, date, direction, value) => {
            known(runner, &name).await?;
            let time = parse_time(Some(&value), "value")?;
            runner
                .store
                .set_exception(&name, date, direction, time)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("{name}: {direction} on {date} set to {value}"))
        }
        BotCommand::ExceptionDel(name, date, direction) => {
            known(runner, &name).await?;
            runner
                .store
                .delete_exception(&name, date, direction)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("{name}: {direction} exception on {date} deleted"))
        }
        BotCommand::Extend(name, until) => {
            known(runner, &name).await?;
            let a =
                via_handler(json!({"action": "extend", "schedule": name, "until": until})).await?;
            Ok(format!(
                "{name}: today's stop ({}) is now {}",
                a["date"].as_str().unwrap_or("?"),
                a["stop"].as_str().unwrap_or("?")
            ))
        }
        BotCommand::ForceStart(name) | BotCommand::ForceStop(name) => {
            known(runner, &name).await?;
            let action = if starting {
                "force-start"
            } else {
                "force-stop"
            };
            let payload = json!({"action": action, "schedule": name});
            let report = via_handler(payload).await?;
            let n = report["actions"].as_array().map_or(0, Vec::len);
            Ok(format!(
                "{name}: done, {n} group action(s); the chat channel has the details"
            ))
        }
    }
}

/// The bot's settings: `SLACK_SIGNING_SECRET` and `JANDI_TOKEN` (each also as
/// `…_SSM` or `…_SECRET`), and `BOT_ALLOWED_USERS` (comma-separated user ids, names
/// or e-mails).
pub async fn config_from_env(sdk: &aws_config::SdkConfig) -> Result<BotConfig, String> {
    use crate::notify::secrets::secret_from_env;
    let allowed_users = std::env::var("BOT_ALLOWED_USERS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            v.split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        });
    Ok(BotConfig {
        slack_signing_secret: secret_from_env(sdk, "SLACK_SIGNING_SECRET").await?,
        jandi_token: secret_from_env(sdk, "JANDI_TOKEN").await?,
        allowed_users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_or_explain() {
        assert_eq!(
            parse_command("Dev extend 23:30"),
            Ok(BotCommand::Extend("Dev".into(), "23:30".into()))
        );
        assert_eq!(
            parse_command("Dev exception set 2026-12-24 stop None"),
            Ok(BotCommand::ExceptionSet(
                "Dev".into(),
                NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(),
                Direction::Stop,
                "None".into()
            ))
        );
        assert_eq!(parse_command(""), Ok(BotCommand::Help));
        assert!(
            parse_command("Dev reboot")
                .unwrap_err()
                .starts_with("unknown command \"Dev reboot\"")
        );
        assert!(
            parse_command("Dev info yesterday")
                .unwrap_err()
                .contains("not a date")
        );
    }

    #[test]
    fn constant_time_equality_and_hex() {
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
        assert_eq!(hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex("0g"), None);
        assert_eq!(hex("abc"), None);
    }
}
