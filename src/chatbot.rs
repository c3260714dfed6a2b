//! The schedule bot: chat commands reaching the function through its Function URL.
//!
//! Every request is verified before anything else: Slack slash commands by the
//! signing secret (HMAC-SHA256 over `v0:{timestamp}:{raw body}`, timestamps more than
//! five minutes off rejected), JANDI outgoing webhooks by their token; comparisons in
//! constant time. A request that fails any check, or does not read as a Function URL
//! request at all, gets 400/401/413 and changes nothing. The chat's words parse into
//! an [`ops::Request`], answered by [`ops::apply`] (or, for a force-start or -stop,
//! which takes longer than a chat waits, handed to the scheduler function by
//! [`ops::hand_off_from_bot`], which first notes the force as the bot's so that the
//! history can say so); a request that changes anything needs a user on the
//! allow-list, matched by immutable id.
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
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::config::BotSettings;
use crate::fleet::{Direction, NotADirection};
use crate::handoff::Handoff;
use crate::invocation::{Invocation, Unreadable};
use crate::ops::{self, Day, HandlerError, Request};
use crate::run::Runner;
use crate::schedule::parse_time;
use crate::secrets::SecretError;
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
    ) -> Result<BotConfig, SecretError> {
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

/// What the chat's words ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BotCommand {
    /// The list of commands.
    Help,
    /// A request of the one vocabulary every door speaks.
    Ask(Request),
}

impl BotCommand {
    /// Whether the command changes anything (and so needs an allowed user).
    pub fn changes_anything(&self) -> bool {
        match self {
            BotCommand::Help => false,
            BotCommand::Ask(request) => request.changes_anything(),
        }
    }
}

/// Words that are not a command, and what is wrong with them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// No command has these words.
    #[error("unknown command \"{0}\"; {help}", help = HELP)]
    Unknown(String),
    /// A date that does not read.
    #[error("\"{0}\" is not a date (YYYY-MM-DD)")]
    NotADate(String),
    /// Neither `start` nor `stop`.
    #[error(transparent)]
    NotADirection(#[from] NotADirection),
    /// A time that does not read, or none where one is needed.
    #[error("{0}")]
    NotATime(String),
}

const HELP: &str = "commands: help | SCHEDULE status | SCHEDULE info [YYYY-MM-DD] | \
SCHEDULE exception info [YYYY-MM-DD] | SCHEDULE exception set YYYY-MM-DD start|stop HH:MM|None | \
SCHEDULE exception del YYYY-MM-DD start|stop | SCHEDULE extend HH:MM | SCHEDULE force_start | SCHEDULE force_stop";

/// The chat's parser: its words into a [`Request`] (or help).
pub fn parse_command(text: &str) -> Result<BotCommand, ChatError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let date = |w: &str| {
        NaiveDate::parse_from_str(w, "%Y-%m-%d").map_err(|_| ChatError::NotADate(w.to_string()))
    };
    let direction = |w: &str| w.parse::<Direction>().map_err(ChatError::from);
    let time = |w: &str, field: &str| parse_time(Some(w), field).map_err(ChatError::NotATime);
    let until = |w: &str| -> Result<NaiveTime, ChatError> {
        time(w, "until")?.ok_or_else(|| ChatError::NotATime("extend needs a time, HH:MM".into()))
    };
    let schedule = |w: &str| w.to_string();
    let ask = |r: Request| Ok(BotCommand::Ask(r));
    match words.as_slice() {
        [] | ["help"] => Ok(BotCommand::Help),
        [name, "status"] => ask(Request::Status {
            schedule: schedule(name),
        }),
        [name, "info"] => ask(Request::DayTimes {
            schedule: schedule(name),
            day: Day::Today,
        }),
        [name, "info", d] => ask(Request::DayTimes {
            schedule: schedule(name),
            day: Day::On(date(d)?),
        }),
        [name, "exception", "info"] => ask(Request::Exceptions {
            schedule: schedule(name),
            from: Some(Day::Today),
            to: None,
        }),
        [name, "exception", "info", d] => ask(Request::Exceptions {
            schedule: schedule(name),
            from: Some(Day::On(date(d)?)),
            to: None,
        }),
        [name, "exception", "set", d, k, v] => ask(Request::SetException {
            schedule: schedule(name),
            date: date(d)?,
            direction: direction(k)?,
            value: time(v, "value")?,
        }),
        [name, "exception", "del", d, k] => ask(Request::DeleteException {
            schedule: schedule(name),
            date: date(d)?,
            direction: direction(k)?,
        }),
        [name, "extend", t] => ask(Request::Extend {
            schedule: schedule(name),
            until: until(t)?,
        }),
        [name, "force_start"] => ask(Request::Force {
            schedule: schedule(name),
            direction: Direction::Start,
        }),
        [name, "force_stop"] => ask(Request::Force {
            schedule: schedule(name),
            direction: Direction::Stop,
        }),
        _ => Err(ChatError::Unknown(text.trim().to_string())),
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
/// with an HTTP response, even when it does not read as one (400). Anything else
/// (a command, an event) is refused.
pub async fn handle<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    config: &BotConfig,
    handoff: &H,
    payload: Value,
) -> Result<LambdaFunctionUrlResponse, HandlerError> {
    match Invocation::read(payload) {
        Ok(Invocation::FunctionUrl(request)) => Ok(answer(runner, config, handoff, &request).await),
        Err(e @ Unreadable::FunctionUrl(_)) => {
            tracing::warn!(action = "bot", status = 400, "rejected request: {e}");
            Ok(respond(None, 400, false, &e.to_string()))
        }
        Ok(_) => Err(HandlerError::BadPayload(
            "this is the bot's function: it answers Function URL requests only".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Answers one Function URL request: verify, parse, check the allow-list, then
/// apply the request, or hand a force-start or force-stop (which follows its chain
/// for longer than a chat waits) to the scheduler, and say so.
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
        Err(e) => return respond(chat, 200, false, &e.to_string()),
    };
    if command.changes_anything() && !config.allows(&verified.user) {
        tracing::warn!(action = "bot", user = %verified.user, command = ?command, "refused: not on the allow-list");
        return respond(chat, 200, false, "you are not allowed to do that here");
    }
    tracing::info!(action = "bot", user = %verified.user, command = ?command, "bot command");
    let request = match command {
        BotCommand::Help => return respond(chat, 200, true, HELP),
        BotCommand::Ask(request) => request,
    };
    let answered = match request {
        Request::Force { .. } => {
            ops::hand_off_from_bot(runner, handoff, request, &verified.user).await
        }
        _ => ops::apply(runner, request).await,
    };
    match answered {
        Ok(answer) => respond(chat, 200, true, &answer.to_string()),
        Err(e) => respond(chat, 200, false, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_or_explain() {
        assert_eq!(
            parse_command("Dev extend 23:30"),
            Ok(BotCommand::Ask(Request::Extend {
                schedule: "Dev".into(),
                until: NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
            }))
        );
        assert_eq!(
            parse_command("Dev exception set 2026-12-24 STOP None"),
            Ok(BotCommand::Ask(Request::SetException {
                schedule: "Dev".into(),
                date: NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(),
                direction: Direction::Stop,
                value: None,
            }))
        );
        assert_eq!(parse_command(""), Ok(BotCommand::Help));
        for (words, says) in [
            (
                "Dev reboot",
                "unknown command \"Dev reboot\"; commands: help",
            ),
            (
                "Dev info yesterday",
                "\"yesterday\" is not a date (YYYY-MM-DD)",
            ),
            (
                "Dev exception del 2026-12-24 reboot",
                "\"reboot\" is not start or stop",
            ),
            (
                "Dev exception set 2026-12-24 stop 6pm",
                "value \"6pm\" is not a time of day",
            ),
            ("Dev extend None", "extend needs a time, HH:MM"),
        ] {
            let e = parse_command(words).unwrap_err().to_string();
            assert!(e.starts_with(says), "{words}: {e}");
        }
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
        assert!(!BotCommand::Help.changes_anything());
        assert!(
            parse_command("Dev extend 23:00")
                .unwrap()
                .changes_anything()
        );
        assert!(!parse_command("Dev status").unwrap().changes_anything());
    }
}
