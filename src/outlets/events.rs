//! EventBridge events, so that other tools can react to what the scheduler did:
//! `source` is `instance-scheduler`, the detail-type says what happened, and the
//! detail carries the schedule, the group, the instances and the seconds. Sent after
//! a run that did something, ten to a `PutEvents` call; an idle run sends none.
//!
//! | detail-type | when | detail beyond `schedule` and `at` |
//! | --- | --- | --- |
//! | `Group Starting` / `Group Stopping` | a group's resources were asked to start / stop | `group`, `instances` |
//! | `Group Ready` / `Group Stopped` | every resource of the group is up / down | `group` |
//! | `Schedule Started` / `Schedule Stopped` | every group is up / down | `seconds` it took |
//! | `Stop Warning` | the schedule's running servers stop soon | `stop_at`, `minutes_left`, `groups` |
//! | `Start Failed` / `Stop Failed` | a group did not start / stop | `group`, `message` |
//! | `Scheduler Notice` / `Scheduler Error` | anything else people are told | `message` |

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::fleet::Direction;
use crate::plan::{Event, What};

/// The events' `source`.
pub const SOURCE: &str = "instance-scheduler";

/// The most entries one `PutEvents` call takes.
const PER_CALL: usize = 10;

/// Events kept by [`EventBus::Recorded`]: (detail-type, detail).
pub type Sent = Arc<Mutex<Vec<(String, Value)>>>;

/// Where events go.
#[derive(Debug, Clone, Default)]
pub enum EventBus {
    /// Nowhere.
    #[default]
    Off,
    /// An EventBridge bus.
    Aws {
        /// The client.
        client: aws_sdk_eventbridge::Client,
        /// The bus's name or ARN (`default`).
        bus: String,
    },
    /// Kept in memory (detail-type, detail), for tests.
    Recorded(Sent),
}

impl EventBus {
    /// The bus named `bus` through `sdk`.
    pub fn aws(sdk: &aws_config::SdkConfig, bus: impl Into<String>) -> EventBus {
        EventBus::Aws {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus: bus.into(),
        }
    }

    /// A recorder, and a handle to what it recorded.
    pub fn recorder() -> (EventBus, Sent) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (EventBus::Recorded(log.clone()), log)
    }

    /// Publishes `events`: how many went out, or why not.
    pub async fn publish(&self, events: &[Event]) -> Result<usize, String> {
        let entries: Vec<(String, Value)> = events.iter().map(entry).collect();
        let count = entries.len();
        match self {
            _ if entries.is_empty() => Ok(0),
            EventBus::Off => Ok(0),
            EventBus::Recorded(log) => {
                log.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(entries);
                Ok(count)
            }
            EventBus::Aws { client, bus } => {
                let mut refused = 0;
                for chunk in entries.chunks(PER_CALL) {
                    let list: Vec<_> = chunk
                        .iter()
                        .map(|(kind, detail)| {
                            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                                .source(SOURCE)
                                .detail_type(kind)
                                .detail(detail.to_string())
                                .event_bus_name(bus)
                                .build()
                        })
                        .collect();
                    let out = client
                        .put_events()
                        .set_entries(Some(list))
                        .send()
                        .await
                        .map_err(|e| {
                            format!(
                                "cannot publish events to {bus}: {}",
                                crate::cloud::aws::error_text(&e)
                            )
                        })?;
                    refused += usize::try_from(out.failed_entry_count()).unwrap_or(0);
                }
                if refused > 0 {
                    return Err(format!("{refused} of {count} events were refused by {bus}"));
                }
                Ok(count)
            }
        }
    }
}

/// An event's detail-type and detail.
pub fn entry(e: &Event) -> (String, Value) {
    let mut detail = json!({"schedule": e.schedule, "at": e.at.to_rfc3339()});
    let kind = match &e.what {
        What::Start { group, instances } | What::Stop { group, instances } => {
            detail["group"] = json!(group);
            detail["instances"] = json!(instances);
            if matches!(e.what, What::Start { .. }) {
                "Group Starting"
            } else {
                "Group Stopping"
            }
        }
        What::Ready { group } => {
            detail["group"] = json!(group);
            "Group Ready"
        }
        What::Stopped { group } => {
            detail["group"] = json!(group);
            "Group Stopped"
        }
        What::ScheduleReady { seconds } => {
            detail["seconds"] = json!(seconds);
            "Schedule Started"
        }
        What::ScheduleStopped { seconds } => {
            detail["seconds"] = json!(seconds);
            "Schedule Stopped"
        }
        What::Warn {
            stop_at,
            minutes_left,
            groups,
        } => {
            detail["stop_at"] = json!(stop_at.to_rfc3339());
            detail["minutes_left"] = json!(minutes_left);
            detail["groups"] = json!(groups);
            "Stop Warning"
        }
        What::Notice { message } => {
            detail["message"] = json!(message);
            "Scheduler Notice"
        }
        What::Error { message } => {
            detail["message"] = json!(message);
            match e.failed_group() {
                Some((direction, group)) => {
                    detail["group"] = json!(group);
                    match direction {
                        Direction::Start => "Start Failed",
                        Direction::Stop => "Stop Failed",
                    }
                }
                None => "Scheduler Error",
            }
        }
    };
    (kind.to_string(), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(what: What) -> Event {
        Event {
            at: chrono::DateTime::parse_from_rfc3339("2026-11-30T09:00:00+09:00").unwrap(),
            schedule: "Dev".into(),
            what,
        }
    }

    #[test]
    fn each_event_has_its_documented_detail_type() {
        let cases = [
            (
                What::Start {
                    group: "DB".into(),
                    instances: vec!["db-1".into()],
                },
                "Group Starting",
            ),
            (What::Ready { group: "DB".into() }, "Group Ready"),
            (What::ScheduleReady { seconds: 615 }, "Schedule Started"),
            (What::ScheduleStopped { seconds: 90 }, "Schedule Stopped"),
            (
                What::Error {
                    message: "group APP: i-1 (InsufficientInstanceCapacity) did not start; no other group waits for it".into(),
                },
                "Start Failed",
            ),
            (
                What::Error {
                    message: "cannot clear ForceStart: timeout".into(),
                },
                "Scheduler Error",
            ),
        ];
        for (what, kind) in cases {
            let (got, detail) = entry(&event(what));
            assert_eq!(got, kind);
            assert_eq!(detail["schedule"], "Dev");
        }
        let (_, detail) = entry(&event(What::ScheduleReady { seconds: 615 }));
        assert_eq!(detail["seconds"], 615);
        let (_, detail) = entry(&event(What::Error {
            message: "group APP: i-1 (x) did not start; no other group waits for it".into(),
        }));
        assert_eq!(detail["group"], "APP");
    }
}
