//! Chat notifications: what a run says (composed purely from its report) and how it
//! reaches each chat (one file per format, delivered by [`deliver`]).
//!
//! One message per schedule per run at most, with its actions combined; errors come
//! in a message of their own; a run that changed nothing says nothing.

pub mod deliver;
pub mod formats;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset};
use serde::Serialize;

use crate::fleet::Direction;
use crate::invocation::Command;
use crate::plan::{Event, What};
use crate::schedule::ExceptionItem;

/// What a message is about, which decides its colour in every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Things went as planned.
    Ok,
    /// People should act (a stop is near).
    Warning,
    /// Something is wrong.
    Error,
}

impl Severity {
    /// The colour, `#RRGGBB`, the same in every format.
    pub fn colour(self) -> &'static str {
        match self {
            Severity::Ok => "#2EB67D",
            Severity::Warning => "#ECB22E",
            Severity::Error => "#E01E5A",
        }
    }
}

/// Language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English (the default).
    #[default]
    En,
    /// Korean.
    Ko,
}

impl Language {
    /// Parses `en` or `ko`.
    pub fn parse(text: &str) -> Result<Language, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "en" | "english" => Ok(Language::En),
            "ko" | "kr" | "korean" => Ok(Language::Ko),
            other => Err(format!("unknown language \"{other}\" (en or ko)")),
        }
    }
}

/// One titled line of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Short title (a group, "Warning", ...).
    pub title: String,
    /// The text.
    pub text: String,
}

/// One chat message, independent of the chat's format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The schedule it is about.
    pub schedule: String,
    /// Its meaning.
    pub severity: Severity,
    /// The headline.
    pub title: String,
    /// The details, one per line.
    pub fields: Vec<Field>,
}

/// What the composer knows of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    /// The `Name` tag, or the id.
    pub name: String,
    /// `ec2`, `rds` or `aurora`.
    pub kind: String,
    /// Availability zone.
    pub zone: Option<String>,
    /// The id as people see it, where it differs from the id (see
    /// [`Instance::shown_id`](crate::fleet::Instance::shown_id)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shown_id: Option<String>,
}

/// What is needed beyond the events to write messages.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Instances by id.
    pub instances: BTreeMap<String, InstanceInfo>,
    /// The language.
    pub language: Language,
    /// The function's name, for the extend command in warnings.
    pub function_name: Option<String>,
}

/// `3m 05s`, `1h 02m`.
pub fn human_seconds(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Writes `events` as a timeline for people, one line each: when (in the schedule's
/// offset), the schedule, a word, the detail; `name` turns an instance id into how
/// people know it.
pub fn write_timeline(
    f: &mut impl std::fmt::Write,
    events: &[Event],
    name: &dyn Fn(&str) -> String,
) -> std::fmt::Result {
    let width = events.iter().map(|e| e.schedule.len()).max().unwrap_or(8);
    for e in events {
        let (word, detail) = match &e.what {
            What::Start { group, instances } | What::Stop { group, instances } => {
                let list: Vec<String> = instances.iter().map(|i| name(i)).collect();
                let word = if matches!(e.what, What::Start { .. }) {
                    "start"
                } else {
                    "stop"
                };
                (word, format!("{group}: {}", list.join(", ")))
            }
            What::Ready { group } => ("ready", format!("{group} is up")),
            What::Stopped { group } => ("stopped", format!("{group} is down")),
            What::ScheduleReady { seconds } => (
                "ready",
                format!(
                    "every group is up, {} after the start",
                    human_seconds(*seconds)
                ),
            ),
            What::ScheduleStopped { seconds } => (
                "stopped",
                format!(
                    "every group is down, {} after the stop",
                    human_seconds(*seconds)
                ),
            ),
            What::Warn {
                stop_at,
                minutes_left,
                groups,
            } => (
                "warn",
                format!(
                    "{} running will stop at {} ({minutes_left} min left)",
                    groups.join(", "),
                    hhmm(stop_at)
                ),
            ),
            What::Notice { message } => ("notice", message.clone()),
            What::Error { message } => ("ERROR", message.clone()),
        };
        writeln!(
            f,
            "{}  {:<width$}  {:<7}  {detail}",
            e.at.format("%a %Y-%m-%d %H:%M:%S %:z"),
            e.schedule,
            word
        )?;
    }
    Ok(())
}

fn tr(lang: Language, en: &str, ko: &str) -> String {
    match lang {
        Language::En => en.to_string(),
        Language::Ko => ko.to_string(),
    }
}

/// The local time of day of `t`, `HH:MM`, written as every time of day is.
fn hhmm(t: &DateTime<FixedOffset>) -> String {
    ExceptionItem::time_text(Some(t.time()))
}

/// The messages for one run's events: per schedule, one for everything but errors and
/// one for errors. A run with a group's start says "starting".
pub fn compose(events: &[Event], ctx: &Context) -> Vec<Message> {
    let began: BTreeMap<String, Direction> = events
        .iter()
        .filter_map(|e| match e.what {
            What::Start { .. } => Some((e.schedule.clone(), Direction::Start)),
            What::Stop { .. } => Some((e.schedule.clone(), Direction::Stop)),
            _ => None,
        })
        .collect();
    compose_for(events, &began, ctx)
}

/// [`compose`], knowing which schedules' starts or stops `began` in this run: only
/// those say "starting" (or "stopping"); a run that carries on one another run began
/// says it is under way, so one start is announced once however many runs (ticks,
/// events, wake-ups, overlapping) take part in it.
pub fn compose_for(
    events: &[Event],
    began: &BTreeMap<String, Direction>,
    ctx: &Context,
) -> Vec<Message> {
    let lang = ctx.language;
    let mut by_schedule: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_schedule.entry(&e.schedule).or_default().push(e);
    }
    let mut out = Vec::new();
    for (schedule, events) in by_schedule {
        let mut fields = Vec::new();
        let mut errors = Vec::new();
        let mut severity = Severity::Ok;
        let mut headline: Option<String> = None;
        for e in events {
            let at = e.at.format("%H:%M:%S %:z").to_string();
            match &e.what {
                What::Start { group, instances } | What::Stop { group, instances } => {
                    let starting = matches!(e.what, What::Start { .. });
                    let list: Vec<String> = instances
                        .iter()
                        .map(|id| match ctx.instances.get(id) {
                            Some(i) => {
                                let zone =
                                    i.zone.as_ref().map_or(String::new(), |z| format!(", {z}"));
                                let shown = i.shown_id.as_ref().unwrap_or(id);
                                if i.name == *id {
                                    format!("{shown} ({}{zone})", i.kind)
                                } else {
                                    format!("{} ({shown}, {}{zone})", i.name, i.kind)
                                }
                            }
                            None => id.clone(),
                        })
                        .collect();
                    let verb = match (starting, lang) {
                        (true, Language::En) => "started",
                        (false, Language::En) => "stopped",
                        (true, Language::Ko) => "시작",
                        (false, Language::Ko) => "중지",
                    };
                    let fresh = began.get(schedule)
                        == Some(if starting {
                            &Direction::Start
                        } else {
                            &Direction::Stop
                        });
                    headline.get_or_insert_with(|| match (starting, fresh) {
                        (true, true) => tr(
                            lang,
                            &format!("{schedule}: starting"),
                            &format!("{schedule}: 시작 중"),
                        ),
                        (true, false) => tr(
                            lang,
                            &format!("{schedule}: start under way"),
                            &format!("{schedule}: 시작 진행 중"),
                        ),
                        (false, true) => tr(
                            lang,
                            &format!("{schedule}: stopping"),
                            &format!("{schedule}: 중지 중"),
                        ),
                        (false, false) => tr(
                            lang,
                            &format!("{schedule}: stop under way"),
                            &format!("{schedule}: 중지 진행 중"),
                        ),
                    });
                    fields.push(Field {
                        title: format!("{group} {verb} · {at}"),
                        text: list.join(", "),
                    });
                }
                What::Ready { group } => fields.push(Field {
                    title: format!("{group} · {at}"),
                    text: tr(lang, "all instances up", "모든 인스턴스 준비 완료"),
                }),
                What::Stopped { group } => fields.push(Field {
                    title: format!("{group} · {at}"),
                    text: tr(lang, "all instances stopped", "모든 인스턴스 중지 완료"),
                }),
                What::ScheduleReady { seconds } => {
                    headline = Some(tr(
                        lang,
                        &format!(
                            "{schedule} is up: every group ready in {}",
                            human_seconds(*seconds)
                        ),
                        &format!(
                            "{schedule} 준비 완료: 모든 그룹 {} 소요",
                            human_seconds(*seconds)
                        ),
                    ));
                }
                What::ScheduleStopped { seconds } => {
                    headline = Some(tr(
                        lang,
                        &format!(
                            "{schedule} is down: every group stopped in {}",
                            human_seconds(*seconds)
                        ),
                        &format!(
                            "{schedule} 중지 완료: 모든 그룹 {} 소요",
                            human_seconds(*seconds)
                        ),
                    ));
                }
                What::Warn {
                    stop_at,
                    minutes_left,
                    groups,
                } => {
                    severity = severity.max(Severity::Warning);
                    headline = Some(tr(
                        lang,
                        &format!(
                            "{schedule}: running servers stop at {} ({minutes_left} min left)",
                            hhmm(stop_at)
                        ),
                        &format!(
                            "{schedule}: 실행 중인 서버가 {}에 중지됩니다 ({minutes_left}분 남음)",
                            hhmm(stop_at)
                        ),
                    ));
                    fields.push(Field {
                        title: tr(lang, "Still running", "실행 중인 그룹"),
                        text: groups.join(", "),
                    });
                    let later = *stop_at + Duration::hours(1);
                    fields.push(Field {
                        title: tr(lang, "To extend today", "오늘 연장하려면"),
                        text: extend_command(schedule, &hhmm(&later), ctx),
                    });
                }
                What::Notice { message } => {
                    severity = severity.max(Severity::Warning);
                    headline.get_or_insert_with(|| {
                        tr(
                            lang,
                            &format!("{schedule}: a database was started by AWS"),
                            &format!("{schedule}: AWS가 데이터베이스를 시작함"),
                        )
                    });
                    fields.push(Field {
                        title: at,
                        text: message.clone(),
                    });
                }
                What::Error { message } => errors.push(Field {
                    title: at,
                    text: message.clone(),
                }),
            }
        }
        if !fields.is_empty() {
            out.push(Message {
                schedule: schedule.to_string(),
                severity,
                title: headline.unwrap_or_else(|| schedule.to_string()),
                fields,
            });
        }
        if !errors.is_empty() {
            out.push(Message {
                schedule: schedule.to_string(),
                severity: Severity::Error,
                title: tr(
                    lang,
                    &format!("{schedule}: {} problem(s)", errors.len()),
                    &format!("{schedule}: 문제 {}건", errors.len()),
                ),
                fields: errors,
            });
        }
    }
    out
}

/// The exact invocation that moves today's stop to `until`: the serialised command,
/// so that a schedule name with a quote in it still gives a payload that reads.
fn extend_command(schedule: &str, until: &str, ctx: &Context) -> String {
    let payload = Command::Extend {
        schedule: schedule.to_string(),
        until: until.to_string(),
    }
    .payload();
    let function = ctx.function_name.as_deref().unwrap_or("instance-scheduler");
    format!(
        "aws lambda invoke --function-name {function} --cli-binary-format raw-in-base64-out --payload '{payload}' /dev/stdout"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn event(t: &str, what: What) -> Event {
        Event {
            at: at(t),
            schedule: "Development".into(),
            what,
        }
    }

    fn ctx(language: Language) -> Context {
        Context {
            instances: BTreeMap::from([(
                "i-1".to_string(),
                InstanceInfo {
                    name: "api-1".into(),
                    kind: "ec2".into(),
                    zone: Some("ap-northeast-2a".into()),
                    shown_id: None,
                },
            )]),
            language,
            function_name: Some("scheduler".into()),
        }
    }

    #[test]
    fn a_run_that_changed_nothing_says_nothing() {
        assert!(compose(&[], &ctx(Language::En)).is_empty());
    }

    #[test]
    fn one_message_per_schedule_with_errors_apart() {
        let events = [
            event(
                "2026-12-21T09:30:00+09:00",
                What::Start {
                    group: "API".into(),
                    instances: vec!["i-1".into()],
                },
            ),
            event(
                "2026-12-21T09:31:00+09:00",
                What::Ready {
                    group: "API".into(),
                },
            ),
            event(
                "2026-12-21T09:31:00+09:00",
                What::ScheduleReady { seconds: 60 },
            ),
            event(
                "2026-12-21T09:31:00+09:00",
                What::Error {
                    message: "group X: start of i-9 failed: InsufficientInstanceCapacity".into(),
                },
            ),
        ];
        let m = compose(&events, &ctx(Language::En));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].severity, Severity::Ok);
        assert_eq!(m[0].title, "Development is up: every group ready in 1m 00s");
        assert_eq!(m[0].fields[0].text, "api-1 (i-1, ec2, ap-northeast-2a)");
        assert_eq!(m[1].severity, Severity::Error);
        assert!(m[1].fields[0].text.contains("InsufficientInstanceCapacity"));
    }

    #[test]
    fn warnings_say_when_and_how_to_extend_in_either_language() {
        let events = [event(
            "2026-12-21T21:50:00+09:00",
            What::Warn {
                stop_at: at("2026-12-21T22:00:00+09:00"),
                minutes_left: 10,
                groups: vec!["DB".into(), "API".into()],
            },
        )];
        let m = &compose(&events, &ctx(Language::En))[0];
        assert_eq!(m.severity, Severity::Warning);
        assert_eq!(
            m.title,
            "Development: running servers stop at 22:00 (10 min left)"
        );
        assert_eq!(m.fields[0].text, "DB, API");
        assert!(m.fields[1].text.contains(
            r#"--payload '{"action":"extend","schedule":"Development","until":"23:00"}'"#
        ));
        assert!(m.fields[1].text.contains("--function-name scheduler"));
        let ko = &compose(&events, &ctx(Language::Ko))[0];
        assert_eq!(
            ko.title,
            "Development: 실행 중인 서버가 22:00에 중지됩니다 (10분 남음)"
        );
    }
}
