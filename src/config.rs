//! Every setting of the function, the bot and `schedctl`, read once at start from
//! the environment into one typed value. Nothing reads the environment during a run.
//!
//! A setting that does not parse is an error naming it, at start-up; a chat setting
//! that does not parse only turns that chat channel off (reported by every run), so a
//! broken webhook never stops scheduling.

use std::time::Duration as StdDuration;

use chrono::Duration;

use crate::cloud::aws::discovery::Discovery;
use crate::cloud::aws::targets::{TargetSpec, parse_targets};
use crate::notify::Language;
use crate::notify::deliver::{ChatConfig, configs};
use crate::plan::Settings;
use crate::run::RunConfig;
use crate::schedule::absent::Absent;
use crate::schedule::{TagPatterns, parse_time_zone};
use crate::secrets::{SecretError, SecretSource};
use crate::store::dynamo::Tables;

/// A setting the function cannot start with, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not read as what the setting takes.
    #[error("{name}={value:?} is not {expected}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
    /// A value that reads but is wrong, and why.
    #[error("{name}: {problem}")]
    Wrong {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A secret configured in more than one place.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Settings that go together, some set and some not.
    #[error("set all of {0}, or none")]
    AllOrNone(&'static str),
    /// A setting another one needs.
    #[error("{setting} needs {needs}")]
    Missing {
        /// The setting that needs it.
        setting: &'static str,
        /// The one it needs.
        needs: &'static str,
    },
    /// A setting of target discovery (`TARGETS_SSM`, `ORG_UNITS`, ...) that does not
    /// parse, as discovery says.
    #[error("{0}")]
    Discovery(String),
    /// A run budget that leaves nothing once the chat has had its share.
    #[error(
        "RUN_BUDGET_SECONDS ({budget}) must be more than CHAT_DEADLINE_SECONDS ({chat}): the budget includes the chat"
    )]
    BudgetBelowChat {
        /// The run budget, seconds.
        budget: u64,
        /// The chat's deadline, seconds.
        chat: u64,
    },
}

/// Which function this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// The scheduler: ticks, events, wake-ups, manual invocations.
    #[default]
    Scheduler,
    /// The schedule bot behind its Function URL (`FUNCTION_ROLE=bot`).
    Bot,
}

/// Everything configurable.
#[derive(Debug, Clone)]
pub struct Config {
    /// `FUNCTION_ROLE`: `scheduler` (default) or `bot`.
    pub role: Role,
    /// `SCHEDULER_FUNCTION_NAME`: where the bot hands force-starts and force-stops.
    pub scheduler_function: Option<String>,
    /// The DynamoDB tables.
    pub tables: Tables,
    /// How runs behave.
    pub run: RunConfig,
    /// The chat channels.
    pub chat: ChatConfig,
    /// The schedule bot.
    pub bot: BotSettings,
    /// The function's own name (`AWS_LAMBDA_FUNCTION_NAME`), for the commands that
    /// messages suggest.
    pub function_name: Option<String>,
    /// Where one-time wake-ups go: `WAKEUP_GROUP`, `WAKEUP_ROLE_ARN` and
    /// `SCHEDULER_FUNCTION_ARN`, all three or none.
    pub wakeup: Option<WakeupSettings>,
    /// `TARGETS`: the accounts and Regions to schedule; empty for the function's own.
    pub targets: Vec<TargetSpec>,
    /// `EXTERNAL_ID`: sent when assuming the targets' roles.
    pub external_id: Option<String>,
    /// `SHARDS`: how many invocations share a tick's schedules (1: no sharding).
    pub shards: u32,
    /// What schedule items without `TimeZone` or `Enabled` mean: `DEFAULT_TIME_ZONE`
    /// and `MISSING_ENABLED`. Unset, they read as UTC and on (local use); set but
    /// empty, as the template sets them by default, such items are refused by name.
    pub absent: Absent,
    /// Where more targets come from: `TARGETS_SSM`, `ORG_UNITS`, `ORG_REGIONS`,
    /// `ORG_EXCLUDE` and `SPOKE_ROLE_NAME`.
    pub discovery: Discovery,
    /// `EVENT_BUS`: the EventBridge bus the run's events go to (`default`); unset or
    /// empty, none are sent.
    pub event_bus: Option<String>,
    /// `METRICS`: `off` writes no CloudWatch metric lines into the function's log
    /// (they are written by default, in Lambda only).
    pub metrics: bool,
    /// `HISTORY_TABLE` and `HISTORY_DAYS`: where the history of what ran is kept,
    /// and for how many days; unset, none is kept.
    pub history: Option<crate::history::HistoryTable>,
    /// `SUMMARY_AT`: when the weekly summary goes out (`mon 09:00` in each schedule's
    /// zone by default; `off` for never). Only with a history.
    pub summary: Option<crate::summary::SummaryRule>,
}

/// EventBridge Scheduler wake-ups as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WakeupSettings {
    /// The schedule group the function may write in.
    pub group: String,
    /// The role EventBridge Scheduler invokes the function as.
    pub role: String,
    /// The function to invoke (this one).
    pub target: String,
}

/// The schedule bot's settings, its secrets not yet fetched.
#[derive(Debug, Clone, Default)]
pub struct BotSettings {
    /// `SLACK_SIGNING_SECRET` (or `_SSM`, `_SECRET`).
    pub slack_signing_secret: Option<SecretSource>,
    /// `JANDI_TOKEN` (or `_SSM`, `_SECRET`).
    pub jandi_token: Option<SecretSource>,
    /// `BOT_ALLOWED_USERS`: comma-separated user ids.
    pub allowed_users: Option<Vec<String>>,
}

impl Config {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|k| std::env::var(k).ok())
    }

    /// The configuration from `var`, which answers a variable's value by name.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let invalid =
            |name: &'static str, value: String, expected: &'static str| ConfigError::Invalid {
                name,
                value,
                expected,
            };
        let number = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| invalid(name, v, "a whole number of at least 0"))
            })
        };
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match get(name).map(|v| v.trim().to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if ["true", "1", "yes"].contains(&v.as_str()) => Ok(true),
                Some(v) if ["false", "0", "no"].contains(&v.as_str()) => Ok(false),
                Some(v) => Err(invalid(name, v, "true or false")),
            }
        };
        let wrong =
            |name: &'static str| move |problem: String| ConfigError::Wrong { name, problem };

        let role = match get("FUNCTION_ROLE").map(|r| r.trim().to_ascii_lowercase()) {
            None => Role::Scheduler,
            Some(r) if r == "scheduler" => Role::Scheduler,
            Some(r) if r == "bot" => Role::Bot,
            Some(r) => return Err(invalid("FUNCTION_ROLE", r, "scheduler or bot")),
        };
        let scheduler_function = get("SCHEDULER_FUNCTION_NAME");
        if role == Role::Bot && scheduler_function.is_none() {
            // The bot hands force-starts and force-stops to the scheduler function.
            return Err(ConfigError::Missing {
                setting: "FUNCTION_ROLE=bot",
                needs: "SCHEDULER_FUNCTION_NAME",
            });
        }
        let allowed = TagPatterns::parse(&get("ALLOWED_TAG_VALUES").unwrap_or_else(|| "*".into()))
            .map_err(wrong("ALLOWED_TAG_VALUES"))?;

        let d = Tables::default();
        let table = |name: &str, default: String| get(name).unwrap_or(default);
        let tables = Tables {
            schedules: table("SCHEDULE_TABLE", d.schedules),
            groups: table("GROUP_TABLE", d.groups),
            exceptions: table("EXCEPTION_TABLE", d.exceptions),
            state: table("STATE_TABLE", d.state),
        };

        let default_tz = match get("DEFAULT_TIME_ZONE") {
            Some(z) => parse_time_zone(&z).map_err(wrong("DEFAULT_TIME_ZONE"))?,
            None => chrono_tz::UTC,
        };
        // Set but empty (the template's default) is a deployment that chose no default:
        // items without the attribute are refused rather than guessed.
        let absent = Absent {
            zone: match var("DEFAULT_TIME_ZONE") {
                None => Some(chrono_tz::UTC),
                Some(_) => get("DEFAULT_TIME_ZONE").map(|_| default_tz),
            },
            enabled: match var("MISSING_ENABLED").map(|v| v.trim().to_ascii_lowercase()) {
                None => Some(true),
                Some(v) if v.is_empty() => None,
                Some(v) if ["on", "true", "yes"].contains(&v.as_str()) => Some(true),
                Some(v) if ["off", "false", "no"].contains(&v.as_str()) => Some(false),
                Some(v) => {
                    return Err(invalid(
                        "MISSING_ENABLED",
                        v,
                        "on or off (or empty: refuse items without Enabled)",
                    ));
                }
            },
        };
        let discovery =
            Discovery::from_vars(&get).map_err(|e| ConfigError::Discovery(e.to_string()))?;
        let defaults = RunConfig::default();
        let run = RunConfig {
            default_tz,
            allowed,
            settings: Settings {
                warn_before: Duration::minutes(number("WARN_MINUTES", 10)?),
                sequence_timeout: Duration::minutes(number("SEQUENCE_TIMEOUT_MINUTES", 60)?),
                ..Settings::default()
            },
            dry_run: flag("DRY_RUN")?,
            budget: StdDuration::from_secs(number(
                "RUN_BUDGET_SECONDS",
                defaults.budget.as_secs() as i64,
            )? as u64),
            poll_every: StdDuration::from_secs(number(
                "POLL_SECONDS",
                defaults.poll_every.as_secs() as i64,
            )? as u64),
            chat_deadline: StdDuration::from_secs(number(
                "CHAT_DEADLINE_SECONDS",
                defaults.chat_deadline.as_secs() as i64,
            )? as u64),
            tick_every: match number("TICK_MINUTES", 0)? {
                0 => None,
                n => Some(Duration::minutes(n)),
            },
        };
        if run.budget <= run.chat_deadline {
            return Err(ConfigError::BudgetBelowChat {
                budget: run.budget.as_secs(),
                chat: run.chat_deadline.as_secs(),
            });
        }

        let (webhooks, mut problems) = configs(&var);
        let language =
            Language::parse(&get("NOTIFY_LANGUAGE").unwrap_or_default()).unwrap_or_else(|e| {
                problems.push(format!("NOTIFY_LANGUAGE: {e}; messages are in English"));
                Language::En
            });
        let timeout = match number("WEBHOOK_TIMEOUT_SECONDS", 5) {
            Ok(n) if n > 0 => n as u64,
            Ok(_) | Err(_) => {
                problems.push("WEBHOOK_TIMEOUT_SECONDS is not a positive number; 5 s".into());
                5
            }
        };
        let chat = ChatConfig {
            webhooks,
            problems,
            language,
            timeout: StdDuration::from_secs(timeout),
        };

        let bot = BotSettings {
            slack_signing_secret: SecretSource::from_vars(&var, "SLACK_SIGNING_SECRET")?,
            jandi_token: SecretSource::from_vars(&var, "JANDI_TOKEN")?,
            allowed_users: get("BOT_ALLOWED_USERS").map(|v| {
                v.split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect()
            }),
        };

        let wakeup = match (
            get("WAKEUP_GROUP"),
            get("WAKEUP_ROLE_ARN"),
            get("SCHEDULER_FUNCTION_ARN"),
        ) {
            (Some(group), Some(role), Some(target)) => Some(WakeupSettings {
                group,
                role,
                target,
            }),
            (None, None, None) => None,
            _ => {
                return Err(ConfigError::AllOrNone(
                    "WAKEUP_GROUP, WAKEUP_ROLE_ARN and SCHEDULER_FUNCTION_ARN",
                ));
            }
        };

        let targets =
            parse_targets(&get("TARGETS").unwrap_or_default()).map_err(wrong("TARGETS"))?;
        let shards = match number("SHARDS", 1)? {
            0 => {
                return Err(invalid(
                    "SHARDS",
                    "0".into(),
                    "a whole number of at least 1",
                ));
            }
            n => u32::try_from(n)
                .map_err(|_| invalid("SHARDS", n.to_string(), "a number of shards below 2^32"))?,
        };

        Ok(Config {
            absent,
            discovery,
            targets,
            external_id: get("EXTERNAL_ID"),
            shards,
            wakeup,
            role,
            scheduler_function,
            tables,
            run,
            chat,
            bot,
            function_name: get("AWS_LAMBDA_FUNCTION_NAME"),
            event_bus: get("EVENT_BUS").map(|b| b.trim().to_string()),
            metrics: match get("METRICS").map(|m| m.trim().to_ascii_lowercase()) {
                None => true,
                Some(m) if m == "on" || m == "true" => true,
                Some(m) if m == "off" || m == "false" => false,
                Some(m) => return Err(invalid("METRICS", m, "on or off")),
            },
            history: match get("HISTORY_TABLE") {
                Some(name) => Some(crate::history::HistoryTable {
                    name: name.trim().to_string(),
                    days: match number("HISTORY_DAYS", i64::from(crate::history::DEFAULT_DAYS))? {
                        n @ 1..=3650 => n as u32,
                        n => return Err(invalid("HISTORY_DAYS", n.to_string(), "1 to 3650 days")),
                    },
                }),
                None => None,
            },
            summary: match get("SUMMARY_AT") {
                None => Some(crate::summary::SummaryRule::default()),
                Some(v) => crate::summary::SummaryRule::parse(&v).map_err(|_| {
                    invalid(
                        "SUMMARY_AT",
                        v.clone(),
                        "a weekday and a time such as \"mon 09:00\", or off",
                    )
                })?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_without_any_setting() {
        let c = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(c.tables, Tables::default());
        assert_eq!(c.run.default_tz, chrono_tz::UTC);
        assert!(!c.run.dry_run);
        assert!(c.chat.webhooks.is_empty() && c.chat.problems.is_empty());
        assert_eq!(c.function_name, None);
    }

    #[test]
    fn items_without_zone_or_enabled_are_refused_only_when_the_settings_are_set_empty() {
        let c = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(c.absent, Absent::default());
        let c =
            Config::from_vars(vars(&[("DEFAULT_TIME_ZONE", ""), ("MISSING_ENABLED", "")])).unwrap();
        assert_eq!(
            c.absent,
            Absent {
                zone: None,
                enabled: None
            }
        );
        let c = Config::from_vars(vars(&[
            ("DEFAULT_TIME_ZONE", "Asia/Seoul"),
            ("MISSING_ENABLED", "off"),
        ]))
        .unwrap();
        assert_eq!(c.absent.zone, Some(chrono_tz::Asia::Seoul));
        assert_eq!(c.absent.enabled, Some(false));
        let e = Config::from_vars(vars(&[("MISSING_ENABLED", "maybe")])).unwrap_err();
        assert!(e.to_string().starts_with("MISSING_ENABLED"), "{e}");
    }

    #[test]
    fn a_bad_setting_is_named_and_a_bad_chat_setting_only_turns_chat_off() {
        let e = Config::from_vars(vars(&[("WARN_MINUTES", "ten")])).unwrap_err();
        assert!(e.to_string().starts_with("WARN_MINUTES=\"ten\""), "{e}");
        let e = Config::from_vars(vars(&[("DEFAULT_TIME_ZONE", "Mars/Olympus")])).unwrap_err();
        assert!(e.to_string().starts_with("DEFAULT_TIME_ZONE"), "{e}");
        let e = Config::from_vars(vars(&[("FUNCTION_ROLE", "bot")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "FUNCTION_ROLE=bot needs SCHEDULER_FUNCTION_NAME"
        );
        let e = Config::from_vars(vars(&[("SHARDS", "0")])).unwrap_err();
        assert!(
            matches!(e, ConfigError::Invalid { name: "SHARDS", .. }),
            "{e}"
        );
        let c = Config::from_vars(vars(&[
            ("WEBHOOK_URL", "https://hooks.slack.com/services/T/B/X"),
            ("WEBHOOK_FORMAT", "irc"),
            ("NOTIFY_LANGUAGE", "tlh"),
            ("STATE_TABLE", "mine"),
        ]))
        .unwrap();
        assert!(c.chat.webhooks.is_empty());
        assert_eq!(c.chat.problems.len(), 2, "{:?}", c.chat.problems);
        assert_eq!(c.tables.state, "mine");
    }
}
