//! What a plan says: the actions to carry out, the events for people, and the
//! bookkeeping after acting.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use super::state::RunState;
use crate::fleet::{Direction, Failure, Instance, Target};
use crate::schedule::{Catalog, Schedule};

/// Start or stop these instances of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Start or stop.
    pub direction: Direction,
    /// The schedule.
    pub schedule: String,
    /// The group.
    pub group: String,
    /// The instances, all carrying the schedule's and the group's tags.
    pub targets: Vec<Target>,
}

/// What happened, for the timeline, the log and chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// When, in the schedule's offset.
    pub at: DateTime<FixedOffset>,
    /// The schedule.
    pub schedule: String,
    /// What.
    #[serde(flatten)]
    pub what: What,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum What {
    /// A group's instances were asked to start.
    Start {
        /// The group.
        group: String,
        /// The instance ids.
        instances: Vec<String>,
    },
    /// A group's instances were asked to stop.
    Stop {
        /// The group.
        group: String,
        /// The instance ids.
        instances: Vec<String>,
    },
    /// Every instance of a group that was started is up.
    Ready {
        /// The group.
        group: String,
    },
    /// Every instance of a group that was stopped is down.
    Stopped {
        /// The group.
        group: String,
    },
    /// A whole start finished: every group is up.
    ScheduleReady {
        /// Seconds from the start's beginning to the last group ready.
        seconds: i64,
    },
    /// A whole stop finished: every group is down.
    ScheduleStopped {
        /// Seconds from the stop's beginning to the last group stopped.
        seconds: i64,
    },
    /// The schedule's running servers will stop soon.
    Warn {
        /// When they stop.
        stop_at: DateTime<FixedOffset>,
        /// Whole minutes left, rounded up.
        minutes_left: i64,
        /// Groups with servers up.
        groups: Vec<String>,
    },
    /// Something people should know that is not a fault (a database AWS started by
    /// itself was stopped again).
    Notice {
        /// What happened.
        message: String,
    },
    /// Something is wrong; what the scheduler did about it is in the message.
    Error {
        /// What is wrong.
        message: String,
    },
}

/// The result of [`plan`](super::plan): what to do, what to say, and what to remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Starts and stops to carry out, in order.
    pub actions: Vec<Action>,
    /// Everything that happened or was decided, for people.
    pub events: Vec<Event>,
    /// Schedules whose `ForceStart` flag is to be cleared.
    pub clear_force_start: Vec<String>,
    /// The state for the next run. From [`plan`](super::plan), the whole state; from
    /// [`decide`](super::decide), the run-wide part and the parts of the schedules
    /// this pass planned (the others are as they were), and [`Plan::removed`].
    pub state: RunState,
    /// The next instant something is due (a transition, a warning, a group expected
    /// ready, an early start, a timeout), within the look-ahead: when the scheduler
    /// must look again, whatever the regular tick.
    pub next_look: Option<DateTime<Utc>>,
    /// The schedules whose state is to be deleted (they no longer exist).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub removed: BTreeSet<String>,
    /// When this run should look again before it ends, if at all: what is due soon,
    /// or, while a start or stop is under way, sooner than expected (a group may be up
    /// before its learned time). The one "when to look again" rule of a run; the
    /// shell only sleeps until then when its budget allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<DateTime<Utc>>,
    /// The schedules whose start or stop took its first action in this pass (the
    /// chat says "starting" once per start, however many runs carry it on).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub began: BTreeMap<String, Direction>,
}

impl Plan {
    /// Notes that something is due at `at`.
    pub(crate) fn look_at(&mut self, at: DateTime<Utc>) {
        self.next_look = Some(self.next_look.map_or(at, |t| t.min(at)));
    }
}

impl Plan {
    /// Leaves out what the plan would do and say about `schedules`: another run
    /// committed them first, so they are its business.
    pub fn drop_schedules(&mut self, schedules: &BTreeSet<String>) {
        self.actions.retain(|a| !schedules.contains(&a.schedule));
        self.events.retain(|e| !schedules.contains(&e.schedule));
        self.clear_force_start.retain(|s| !schedules.contains(s));
        self.began.retain(|s, _| !schedules.contains(s));
    }

    /// Reports a problem of schedule `schedule` met while carrying the plan out.
    pub fn note_error(
        &mut self,
        now: DateTime<Utc>,
        catalog: &Catalog,
        schedule: &str,
        message: String,
    ) {
        let tz = catalog.get(schedule).map_or(chrono_tz::UTC, |s| s.tz);
        self.events.push(Event {
            at: now.with_timezone(&tz).fixed_offset(),
            schedule: schedule.to_string(),
            what: What::Error { message },
        });
    }

    /// This pass's outcome for a run: whether there is anything to carry out or say.
    pub fn is_quiet(&self) -> bool {
        self.actions.is_empty() && self.events.is_empty() && self.clear_force_start.is_empty()
    }

    /// The bookkeeping after the plan's actions were carried out, shared by every
    /// caller of [`plan`](super::plan): each instance the cloud refused (`failures`, with the
    /// service's error) is recorded in the state, so the next plan treats it as failed
    /// at once and holds back what depends on it; and each group with a refusal is
    /// reported once, with the reasons and the groups held back.
    pub fn after_act(
        &mut self,
        now: DateTime<Utc>,
        catalog: &Catalog,
        fleet: &[Instance],
        failures: &[Failure],
    ) {
        if failures.is_empty() {
            return;
        }
        let names: HashMap<&str, &Instance> = fleet.iter().map(|i| (i.id.as_str(), i)).collect();
        // Per (schedule, group): the refused instances and why.
        let mut refused: BTreeMap<(usize, String), Vec<(String, &Failure)>> = BTreeMap::new();
        for f in failures {
            let Some(k) = self
                .actions
                .iter()
                .position(|a| a.targets.iter().any(|t| t.id == f.id))
            else {
                continue;
            };
            let a = &self.actions[k];
            if let Some(q) = self
                .state
                .schedules
                .get_mut(&a.schedule)
                .and_then(|s| s.sequence.as_mut())
            {
                q.refused.insert(f.id.clone());
            }
            let label = names.get(f.id.as_str()).map_or(f.id.clone(), |i| i.label());
            refused
                .entry((k, a.group.clone()))
                .or_default()
                .push((label, f));
        }
        for ((k, group), instances) in refused {
            let a = &self.actions[k];
            let (schedule_name, direction) = (a.schedule.clone(), a.direction);
            let Some(schedule) = catalog.get(&schedule_name) else {
                continue;
            };
            let Some(q) = self
                .state
                .schedules
                .get_mut(&schedule_name)
                .and_then(|s| s.sequence.as_mut())
            else {
                continue;
            };
            if !q.failed.insert(group.clone()) {
                continue;
            }
            let list: Vec<String> = instances
                .iter()
                .map(|(label, f)| format!("{label} ({})", f.error))
                .collect();
            let codes: Vec<&str> = instances.iter().map(|(_, f)| f.code()).collect();
            let message = failure_message(schedule, &group, direction, &list.join(", "), &codes);
            self.events.push(Event {
                at: now.with_timezone(&schedule.tz).fixed_offset(),
                schedule: schedule_name,
                what: What::Error { message },
            });
        }
    }
}

impl Event {
    /// The direction and group of a start or stop that failed, when this event is
    /// the planner's report of one (its message comes from the same file, so the
    /// two cannot drift): what tools outside the chat are told as `Start Failed`.
    pub fn failed_group(&self) -> Option<(Direction, &str)> {
        let What::Error { message } = &self.what else {
            return None;
        };
        let (group, rest) = message.strip_prefix("group ")?.split_once(": ")?;
        if rest.contains(" did not start; ") {
            Some((Direction::Start, group))
        } else if rest.contains(" did not stop; ") {
            Some((Direction::Stop, group))
        } else {
            None
        }
    }
}

/// What a group that did not start or stop means for the rest of its schedule.
pub(crate) fn failure_message(
    schedule: &Schedule,
    group: &str,
    direction: Direction,
    who: &str,
    codes: &[&str],
) -> String {
    let mut message = failure_text(schedule, group, direction, who);
    // The best-known cause of an instance that will not start, and its fix: EC2
    // reports a volume it cannot decrypt as `Client.InternalError`, or as a KMS code.
    if direction == Direction::Start
        && codes
            .iter()
            .any(|c| *c == "Client.InternalError" || c.starts_with("KMS."))
    {
        message.push_str(
            " (an instance whose volumes use a customer-managed KMS key needs kms:CreateGrant \
             on that key: deploy with KmsKeyArns listing it)",
        );
    }
    message
}

fn failure_text(schedule: &Schedule, group: &str, direction: Direction, who: &str) -> String {
    match direction {
        Direction::Start => {
            let held = schedule.dependents_of(group);
            format!(
                "group {group}: {who} did not start; {}",
                if held.is_empty() {
                    "no other group waits for it".to_string()
                } else {
                    format!("holding back {}", held.join(", "))
                }
            )
        }
        Direction::Stop => {
            format!("group {group}: {who} did not stop; the groups it depends on are left running")
        }
    }
}
