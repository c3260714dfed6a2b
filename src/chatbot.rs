//! The schedule bot: chat commands reaching the function through its Function URL.
//!
//! Every request is verified before anything else: Slack slash commands by the
//! signing secret (HMAC-SHA256 over `v0:{timestamp}:{raw body}`, timestamps more than
//! five minutes off rejected), JANDI outgoing webhooks by their token; comparisons in
//! constant time. A request that fails any check gets 400/401/413 and changes nothing.
//! Commands are answered by the typed operations of [`crate::ops`]; those that change
//! anything need a user on the allow-list, matched by immutable id.
//!
//! Commands: `help`, `SCHEDULE status`, `SCHEDULE info [DATE]`,
//! `SCHEDULE exception info [DATE]`, `SCHEDULE exception set DATE start|stop HH:MM|None`,
//! `SCHEDULE exception del DATE start|stop`, `SCHEDULE extend HH:MM`,
//! `SCHEDULE force_start`, `SCHEDULE force_stop`.

use aws_lambda_events::http;
use aws_lambda_events::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::config::BotSettings;
use crate::fleet::Direction;
use crate::handoff::Handoff;
use crate::lambda::{Command, HandlerError, Invocation};
use crate::ops;
use crate::run::Runner;
use crate::schedule::parse_time;
use crate::store::Store;

/// Largest body the bot reads; chat commands are short.
pub const MAX_BODY: usize = 16 * 1024;

/// The bot's secrets (fetched) and allow-list.
#[derive(Clone, Default)]
pub struct BotConfig {
    /// Slack's signing secret.
    pub slack_signing_secret: Option<String>,
    /// JANDI's outgoing webhook token.
    pub jandi_token: Option<String>,
    /// Users (Slack user ids, JANDI e-mail addresses) allowed to change anything;
    /// `*` allows everyone. Nobody when `None`.
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

impl BotConfig {
    /// The bot's settings with their secrets fetched, once per cold start.
    pub async fn connect(
        sdk: &aws_config::SdkConfig,
        settings: &BotSettings,
    ) -> Result<BotConfig, String> {
        let fetch = |source: &Option<crate::secrets::SecretSource>, label: &'static str| {
            let source = source.clone();
            async move {
                match source {
                    Some(s) => s.fetch(sdk, label).await.map(Some),
                    None => Ok(None),
                }
            }
        };
        Ok(BotConfig {
            slack_signing_secret: fetch(&settings.slack_signing_secret, "SLACK_SIGNING_SECRET")
                .await?,
            jandi_token: fetch(&settings.jandi_token, "JANDI_TOKEN").await?,
            allowed_users: settings.allowed_users.clone(),
        })
    }

    /// Whether `user` may change anything.
    pub fn allows(&self, user: &str) -> bool {
        self.allowed_users
            .as_ref()
            .is_some_and(|list| list.iter().any(|u| u == "*" || u == user))
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
    /// Who, by an id the user cannot change (Slack user id, JANDI e-mail address).
    pub user: String,
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

/// Checks a Function URL request and extracts the command.
pub fn verify(
    request: &LambdaFunctionUrlRequest,
    config: &BotConfig,
    now: DateTime<Utc>,
) -> Result<Verified, Rejected> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let raw = request.body.as_deref().unwrap_or_default();
    if raw.len() > MAX_BODY * 2 {
        return Err(reject(413, "request body too large"));
    }
    let body: Vec<u8> = if request.is_base64_encoded {
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
        // Any timestamp is accepted by the parser; one far from now must not overflow.
        let off = now.timestamp().checked_sub(stamp).map(i64::unsigned_abs);
        if off.is_none_or(|off| off > 300) {
            return Err(reject(
                401,
                "stale request timestamp (more than 5 minutes off)",
            ));
        }
        let expected = signature
            .strip_prefix("v0=")
            .and_then(|h| hex::decode(h).ok())
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
            user: field("user_id").unwrap_or_default(),
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
    if !bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
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
        // The display name (`writerName`) is the user's to change; the address is not.
        user: doc["writerEmail"].as_str().unwrap_or_default().to_string(),
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

impl BotCommand {
    /// Whether the command changes anything (and so needs an allowed user).
    pub fn changes_anything(&self) -> bool {
        !matches!(
            self,
            BotCommand::Help
                | BotCommand::Status(_)
                | BotCommand::Info(..)
                | BotCommand::ExceptionInfo(..)
        )
    }
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

/// The Function URL response: `text` for the chat, in its format, coloured by
/// whether the command succeeded.
fn respond(chat: Option<Chat>, status: u16, ok: bool, text: &str) -> LambdaFunctionUrlResponse {
    let text = text.trim_end();
    let body = match chat {
        Some(Chat::Slack) => json!({"response_type": "in_channel", "text": text}),
        Some(Chat::Jandi) => {
            json!({"body": text, "connectColor": if ok { "#2EB67D" } else { "#E01E5A" }})
        }
        None => json!({"error": text}),
    };
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(status);
    response.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.body = Some(body.to_string());
    response
}

/// Handles one invocation of the bot's function: a Function URL request, answered
/// with an HTTP response. Anything else is refused.
pub async fn handle<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    config: &BotConfig,
    handoff: &H,
    payload: Value,
) -> Result<LambdaFunctionUrlResponse, HandlerError> {
    match Invocation::parse(payload)? {
        Invocation::FunctionUrl(request) => Ok(answer(runner, config, handoff, &request).await),
        _ => Err(HandlerError::BadPayload(
            "this is the bot's function: it answers Function URL requests only".into(),
        )),
    }
}

/// Answers one Function URL request: verify, parse, check the allow-list, act. A
/// command that takes longer than a chat waits (force-start, force-stop) is handed
/// to the scheduler and acknowledged at once.
pub async fn answer<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    config: &BotConfig,
    handoff: &H,
    request: &LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let verified = match verify(request, config, runner.clock.now()) {
        Ok(v) => v,
        Err(r) => {
            tracing::warn!(
                action = "bot",
                status = r.status,
                "rejected request: {}",
                r.message
            );
            return respond(None, r.status, false, &r.message);
        }
    };
    let chat = Some(verified.chat);
    let command = match parse_command(&verified.text) {
        Ok(c) => c,
        Err(e) => return respond(chat, 200, false, &e),
    };
    if command.changes_anything() && !config.allows(&verified.user) {
        tracing::warn!(action = "bot", user = %verified.user, command = ?command, "refused: not on the allow-list");
        return respond(chat, 200, false, "you are not allowed to do that here");
    }
    tracing::info!(action = "bot", user = %verified.user, command = ?command, "bot command");
    match run_command(runner, handoff, command).await {
        Ok(text) => respond(chat, 200, true, &text),
        Err(text) => respond(chat, 200, false, &text),
    }
}

async fn run_command<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    handoff: &H,
    command: BotCommand,
) -> Result<String, String> {
    let text = |r: Result<String, ops::OpError>| r.map_err(|e| e.to_string());
    match command {
        BotCommand::Help => Ok(HELP.to_string()),
        BotCommand::Status(name) => text(ops::status(runner, &name).await.map(|s| s.to_string())),
        BotCommand::Info(name, date) => text(
            ops::day_times(runner, &name, date)
                .await
                .map(|d| d.to_string()),
        ),
        BotCommand::ExceptionInfo(name, from) => {
            let from = match from {
                Some(d) => d,
                None => {
                    ops::day_times(runner, &name, None)
                        .await
                        .map_err(|e| e.to_string())?
                        .date
                }
            };
            text(
                ops::exceptions(runner, &name, Some(from), None)
                    .await
                    .map(|x| x.to_string()),
            )
        }
        BotCommand::ExceptionSet(name, date, direction, value) => {
            let time = parse_time(Some(&value), "value")?;
            text(
                ops::set_exception(runner, &name, date, direction, time)
                    .await
                    .map(|c| c.to_string()),
            )
        }
        BotCommand::ExceptionDel(name, date, direction) => text(
            ops::delete_exception(runner, &name, date, direction)
                .await
                .map(|c| c.to_string()),
        ),
        BotCommand::Extend(name, until) => {
            let until = parse_time(Some(&until), "until")?
                .ok_or_else(|| "extend needs a time, HH:MM".to_string())?;
            text(
                ops::extend(runner, &name, until)
                    .await
                    .map(|e| e.to_string()),
            )
        }
        BotCommand::ForceStart(name) => {
            hand_off(runner, handoff, Command::ForceStart { schedule: name }).await
        }
        BotCommand::ForceStop(name) => {
            hand_off(runner, handoff, Command::ForceStop { schedule: name }).await
        }
    }
}

/// Checks the schedule, then hands the command to the scheduler and says so.
async fn hand_off<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    handoff: &H,
    command: Command,
) -> Result<String, String> {
    let (Command::ForceStart { schedule } | Command::ForceStop { schedule }) = &command else {
        return Err("only force-start and force-stop are handed over".into());
    };
    ops::check(runner, schedule)
        .await
        .map_err(|e| e.to_string())?;
    handoff.hand_off(&command).await?;
    let verb = if matches!(command, Command::ForceStart { .. }) {
        "force-start"
    } else {
        "force-stop"
    };
    Ok(format!(
        "{schedule}: {verb} handed to the scheduler; this channel hears how it goes"
    ))
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
    fn only_listed_users_change_anything() {
        let config = |list: Option<&[&str]>| BotConfig {
            allowed_users: list.map(|l| l.iter().map(|u| u.to_string()).collect()),
            ..BotConfig::default()
        };
        assert!(!config(None).allows("U1"));
        assert!(config(Some(&["U1"])).allows("U1"));
        assert!(!config(Some(&["U1"])).allows("U2"));
        assert!(config(Some(&["*"])).allows("U2"));
        assert!(BotCommand::Extend("Dev".into(), "23:00".into()).changes_anything());
        assert!(!BotCommand::Status("Dev".into()).changes_anything());
    }
}
