//! Delivery to incoming webhooks: short timeouts, retries of 429 and 5xx with backoff
//! (honouring `Retry-After`), and never a word of the URL in a log or an error. A
//! chat outage is logged and changes nothing else.

use std::time::Duration;

use super::formats::Format;
use super::{Language, Message, Severity};
use crate::clock::Clock;
use crate::secrets::SecretSource;

/// A webhook URL: a secret, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(url.into())
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretUrl(…)")
    }
}

/// Which messages a webhook wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants {
    /// Everything.
    All,
    /// Warnings and errors only.
    Alerts,
}

impl Wants {
    /// Parses `all` or `alerts` (also `warnings`, `errors`).
    pub fn parse(text: &str) -> Result<Wants, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "all" => Ok(Wants::All),
            "alerts" | "warnings" | "errors" | "warnings-and-errors" => Ok(Wants::Alerts),
            other => Err(format!("unknown event choice \"{other}\" (all or alerts)")),
        }
    }
}

/// One configured chat channel.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// How it is named in logs (`WEBHOOK`, `WEBHOOK_2`, ...), never its URL.
    pub label: String,
    /// The URL.
    pub url: SecretUrl,
    /// Its format.
    pub format: Format,
    /// What it wants.
    pub wants: Wants,
}

/// Sends messages to every configured webhook.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
    /// The channels.
    pub webhooks: Vec<Webhook>,
    /// Language of the messages.
    pub language: Language,
    /// Attempts per message (the first included).
    pub attempts: u32,
    /// Longest wait between attempts, whatever `Retry-After` asks.
    pub max_wait: Duration,
    /// Channels that could not be set up, and why: every run reports them as an
    /// error, so a broken chat setting is seen without stopping anything.
    pub problems: Vec<String>,
    /// The function's name, for the commands that warnings suggest.
    pub function_name: Option<String>,
    /// Beyond chat: metric lines and EventBridge events; off by default.
    pub outlets: crate::outlets::Outlets,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier::new(Vec::new(), Language::En, Duration::from_secs(5))
    }
}

/// Why one message did not reach one webhook; never holds the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The chat answered with an error status (`404 Not Found`).
    #[error("HTTP {0}")]
    Status(String),
    /// The request went unanswered within its timeout: it may have arrived, so it is
    /// not sent again.
    #[error("no answer: {0}")]
    NoAnswer(String),
    /// The request did not get through (connection refused, DNS).
    #[error("{0}")]
    Transport(String),
    /// A retry was due, but could not finish before the deadline.
    #[error("{0}; no time left to retry")]
    NoTimeLeft(Box<DeliveryError>),
    /// Every attempt failed.
    #[error("{last} after {attempts} attempts")]
    GaveUp {
        /// The last attempt's error.
        last: Box<DeliveryError>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The whole delivery ran past the chat's deadline.
    #[error("not delivered within {0} s")]
    Deadline(u64),
}

/// A message that did not reach a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    /// The webhook's label.
    pub webhook: String,
    /// Why, without the URL.
    pub reason: String,
}

impl Notifier {
    /// A notifier with a per-request `timeout`.
    pub fn new(webhooks: Vec<Webhook>, language: Language, timeout: Duration) -> Notifier {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Notifier {
            client,
            webhooks,
            language,
            attempts: 3,
            max_wait: Duration::from_secs(10),
            problems: Vec::new(),
            function_name: None,
            outlets: Default::default(),
        }
    }

    /// The same notifier, with metric lines and events going to `outlets`.
    pub fn with_outlets(mut self, outlets: crate::outlets::Outlets) -> Notifier {
        self.outlets = outlets;
        self
    }

    /// Sends each message to each webhook that wants it, all at once, and gives up on
    /// whatever has not arrived when `deadline` has passed; returns what did not
    /// arrive (also logged). Never fails and never takes longer than `deadline`.
    pub async fn send(
        &self,
        messages: &[Message],
        clock: &impl Clock,
        deadline: Duration,
    ) -> Vec<Undelivered> {
        let jobs: Vec<(&Webhook, &Message)> = self
            .webhooks
            .iter()
            .flat_map(|hook| messages.iter().map(move |m| (hook, m)))
            .filter(|(hook, m)| !(hook.wants == Wants::Alerts && m.severity == Severity::Ok))
            .collect();
        if jobs.is_empty() {
            return Vec::new();
        }
        let started = std::time::Instant::now();
        let sends = jobs.iter().map(|(hook, m)| async move {
            let outcome =
                tokio::time::timeout(deadline, self.post(hook, m, clock, started, deadline))
                    .await
                    .unwrap_or(Err(DeliveryError::Deadline(deadline.as_secs())));
            (hook, m, outcome)
        });
        let mut failed = Vec::new();
        for (hook, m, outcome) in futures::future::join_all(sends).await {
            if let Err(reason) = outcome {
                tracing::warn!(
                    webhook = %hook.label,
                    format = hook.format.name(),
                    schedule = %m.schedule,
                    action = "notify",
                    "message not delivered: {reason}"
                );
                failed.push(Undelivered {
                    webhook: hook.label.clone(),
                    reason: reason.to_string(),
                });
            }
        }
        failed
    }

    async fn post(
        &self,
        hook: &Webhook,
        m: &Message,
        clock: &impl Clock,
        started: std::time::Instant,
        deadline: Duration,
    ) -> Result<(), DeliveryError> {
        let body = hook.format.body(m);
        let mut backoff = Duration::from_millis(500);
        let mut last = DeliveryError::Transport(String::new());
        for attempt in 1..=self.attempts.max(1) {
            let mut request = self.client.post(&hook.url.0).json(&body);
            for (k, v) in hook.format.headers() {
                request = request.header(*k, *v);
            }
            let wait = match request.send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    last = DeliveryError::Status(status.to_string());
                    // Only throttling and the chat's own failures may pass.
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(last);
                    }
                    r.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(backoff, Duration::from_secs)
                }
                // A timeout may have delivered the message: do not send it twice.
                Err(e) if e.is_timeout() => {
                    return Err(DeliveryError::NoAnswer(e.without_url().to_string()));
                }
                Err(e) => {
                    last = DeliveryError::Transport(e.without_url().to_string());
                    backoff
                }
            };
            if attempt < self.attempts {
                let wait = wait.min(self.max_wait);
                // A retry that could not finish before the deadline is not worth starting.
                if started.elapsed() + wait >= deadline {
                    return Err(DeliveryError::NoTimeLeft(Box::new(last)));
                }
                clock.sleep(wait).await;
                backoff *= 2;
            }
        }
        Err(DeliveryError::GaveUp {
            last: Box::new(last),
            attempts: self.attempts,
        })
    }
}

/// The chat channels as configured, their URLs not yet fetched.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// The webhooks that read.
    pub webhooks: Vec<WebhookConfig>,
    /// What is wrong with those that did not.
    pub problems: Vec<String>,
    /// `NOTIFY_LANGUAGE`.
    pub language: Language,
    /// `WEBHOOK_TIMEOUT_SECONDS`: per request.
    pub timeout: Duration,
}

/// A webhook as configured, its URL not yet fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `WEBHOOK`, `WEBHOOK_2`, ...
    pub label: String,
    /// Where its URL is.
    pub url: SecretSource,
    /// Its format, if set.
    pub format: Option<Format>,
    /// What it wants.
    pub wants: Wants,
}

/// Reads webhook settings from `var`: for `P` in `WEBHOOK`, `WEBHOOK_2` … `WEBHOOK_9`,
/// `P_URL` (or `P_URL_SSM`, `P_URL_SECRET`), `P_FORMAT`, `P_EVENTS`. A webhook whose
/// settings do not read is left out, and what is wrong with it comes back in the
/// second list: a broken chat setting never stops scheduling.
pub fn configs(var: impl Fn(&str) -> Option<String>) -> (Vec<WebhookConfig>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for n in 1..=9 {
        let label = if n == 1 {
            "WEBHOOK".to_string()
        } else {
            format!("WEBHOOK_{n}")
        };
        let get = |suffix: &str| var(&format!("{label}_{suffix}")).filter(|v| !v.trim().is_empty());
        let read = || -> Result<Option<WebhookConfig>, String> {
            let Some(url) = SecretSource::from_vars(&var, &format!("{label}_URL"))
                .map_err(|e| e.to_string())?
            else {
                return Ok(None);
            };
            let format = get("FORMAT")
                .map(|f| Format::parse(&f))
                .transpose()
                .map_err(|e| format!("{label}_FORMAT: {e}"))?;
            let wants = Wants::parse(&get("EVENTS").unwrap_or_default())
                .map_err(|e| format!("{label}_EVENTS: {e}"))?;
            Ok(Some(WebhookConfig {
                label: label.clone(),
                url,
                format,
                wants,
            }))
        };
        match read() {
            Ok(Some(c)) => out.push(c),
            Ok(None) => {}
            Err(e) => problems.push(format!("chat channel {label} is off: {e}")),
        }
    }
    (out, problems)
}

/// Resolves a configured webhook once its URL is known: the format is the one set, or
/// the one recognised from the URL; neither is a configuration error.
pub fn resolve(config: &WebhookConfig, url: SecretUrl) -> Result<Webhook, String> {
    let format = match config.format {
        Some(f) => f,
        None => Format::recognise(&url.0).ok_or_else(|| {
            format!(
                "{}: the URL is not one of a known chat; set {}_FORMAT (jandi, slack, teams, discord, googlechat)",
                config.label, config.label
            )
        })?,
    };
    Ok(Webhook {
        label: config.label.clone(),
        url,
        format,
        wants: config.wants,
    })
}

/// The chat channels of a configuration, their URLs fetched where they are kept. A
/// channel that cannot be set up (a missing parameter, an unreadable secret, an
/// unrecognised URL) is left out and reported in [`Notifier::problems`].
pub async fn connect(
    sdk: &aws_config::SdkConfig,
    chat: &ChatConfig,
    function_name: Option<String>,
) -> Notifier {
    let mut hooks = Vec::new();
    let mut problems = chat.problems.clone();
    for c in &chat.webhooks {
        let hook = match c.url.fetch(sdk, &format!("{}_URL", c.label)).await {
            Ok(url) => resolve(c, SecretUrl::new(url.trim())),
            Err(e) => Err(e.to_string()),
        };
        match hook {
            Ok(h) => hooks.push(h),
            Err(e) => problems.push(format!("chat channel {} is off: {e}", c.label)),
        }
    }
    for p in &problems {
        tracing::error!(action = "notify", "{p}");
    }
    let mut notifier = Notifier::new(hooks, chat.language, chat.timeout);
    notifier.problems = problems;
    notifier.function_name = function_name;
    notifier
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn several_webhooks_each_with_its_format_and_events() {
        let (c, problems) = configs(env(&[
            ("WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X"),
            ("WEBHOOK_2_URL_SSM", "/scheduler/ops-webhook"),
            ("WEBHOOK_2_FORMAT", "teams"),
            ("WEBHOOK_2_EVENTS", "alerts"),
        ]));
        assert!(problems.is_empty());
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].url, SecretSource::Ssm("/scheduler/ops-webhook".into()));
        assert_eq!(c[1].wants, Wants::Alerts);
        let hook = resolve(
            &c[0],
            SecretUrl::new("https://hooks.slack.com/services/T/B/X"),
        )
        .unwrap();
        assert_eq!(hook.format, Format::Slack);
    }

    #[test]
    fn an_unrecognised_url_without_a_format_is_a_clear_error_without_the_url() {
        let (c, _) = configs(env(&[(
            "WEBHOOK_URL",
            "https://chat.internal.example/hook/s3cr3t",
        )]));
        let e = resolve(
            &c[0],
            SecretUrl::new("https://chat.internal.example/hook/s3cr3t"),
        )
        .unwrap_err();
        assert!(e.contains("set WEBHOOK_FORMAT"), "{e}");
        assert!(!e.contains("s3cr3t"));
        // A broken channel is left out and named; the others still work.
        let (c, problems) = configs(env(&[
            ("WEBHOOK_URL", "x"),
            ("WEBHOOK_URL_SSM", "y"),
            ("WEBHOOK_2_URL", "https://hooks.slack.com/services/T/B/X"),
            ("WEBHOOK_3_URL", "z"),
            ("WEBHOOK_3_FORMAT", "irc"),
        ]));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].label, "WEBHOOK_2");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("chat channel WEBHOOK is off: set only one of"));
        assert!(problems[1].contains("WEBHOOK_3_FORMAT"));
    }

    #[test]
    fn a_secret_url_never_prints() {
        let s = SecretUrl::new("https://hooks.slack.com/services/T/B/s3cr3t");
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}
