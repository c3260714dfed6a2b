//! The decision: given this moment, the schedules, the observed fleet and what
//! earlier runs left behind, what should happen now?
//!
//! [`plan`] is a pure function. It acts on *transitions*, not windows: the starts and
//! stops that fell since the previous run (so a late run catches up, and the last
//! transition of a long gap wins), and between transitions it leaves instances alone.
//! A transition opens a [`Sequence`] that walks the groups in dependency order over
//! as many runs as it takes: a group starts once every group it depends on is ready,
//! and stops once every group depending on it has stopped.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

mod pace;

pub use pace::{Durations, READY_BY_MARGIN, default_seconds};

use crate::calendar::{self, Transition};
use crate::fleet::{Direction, Failure, Instance, Kind, Power, Target};
use crate::schedule::{Catalog, SCHEDULE_TAG, Schedule, StartMode};

/// Knobs of the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long before a stop the first warning goes out; a second, last one goes out
    /// in the second half of this lead.
    pub warn_before: Duration,
    /// How long a start or stop may take before the scheduler gives up on it and
    /// reports what is not ready.
    pub sequence_timeout: Duration,
    /// How far back the very first run looks for transitions.
    pub first_run_lookback: Duration,
    /// The longest gap a late run catches up on; older transitions are forgotten.
    pub max_catch_up: Duration,
    /// How long AWS lets a stopped RDS database or Aurora cluster stay stopped before
    /// it starts it by itself (seven days), less an hour of slack.
    pub aws_restart_after: Duration,
    /// How far ahead the planner looks for the next instant it must look again at
    /// (a transition, a warning): beyond it, the regular tick comes first anyway.
    pub look_ahead: Duration,
    /// The longest a `ready-by` start may begin before its time.
    pub max_lead: Duration,
    /// How soon to look again at a group that is past its expected readiness.
    pub recheck: Duration,
    /// How long after acting on an instance the planner waits before calling an
    /// unchanged state a failure (the services take a moment to report a change).
    pub settle: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            warn_before: Duration::minutes(10),
            sequence_timeout: Duration::minutes(60),
            first_run_lookback: Duration::minutes(5),
            max_catch_up: Duration::hours(24),
            settle: Duration::seconds(60),
            aws_restart_after: Duration::days(7) - Duration::hours(1),
            look_ahead: Duration::minutes(15),
            max_lead: Duration::hours(6),
            recheck: Duration::seconds(30),
        }
    }
}

/// Something an operator asked for in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Start the schedule now, in dependency order, whatever its times and `Enabled`.
    ForceStart(String),
    /// Stop the schedule now, in reverse dependency order.
    ForceStop(String),
}

/// What the scheduler remembers between runs: the run-wide part, and one part per
/// schedule, each stored (and written, conditionally) on its own so that the state has
/// no ceiling and two overlapping runs contend only for the schedules both touch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// Per schedule, by name.
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleState>,
    /// The run-wide part.
    #[serde(default)]
    pub run: RunWide,
}

/// What the scheduler remembers across schedules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunWide {
    /// Problems already reported (broken schedules, ignored exceptions, chat channels
    /// off), so each is announced once, not every run.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reported_errors: BTreeSet<String>,
    /// Per `ScheduleName` tag value, a digest of the resources that carry it but are
    /// not scheduled (and why), as last reported: reported again only when it changes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reported_misfits: BTreeMap<String, String>,
    /// The one-time wake-ups last asked for, by name (one per shard), so that none
    /// is asked for twice.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub wakeups: BTreeMap<String, DateTime<Utc>>,
}

/// What the scheduler remembers about one schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// Every transition up to this instant has been acted on; the next run acts on
    /// those after it. Absent until the schedule is first seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed: Option<DateTime<Utc>>,
    /// The start or stop in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Sequence>,
    /// Warnings sent about the coming stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<Warning>,
    /// Databases and clusters the last stop stopped, and when. AWS starts such a
    /// resource by itself after seven days stopped; one seen up that long after the
    /// scheduler stopped it is stopped again, one seen up sooner was started by a
    /// person and is left alone. Cleared by the next start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stopped: BTreeMap<String, DateTime<Utc>>,
    /// How long each group's recent starts and stops took, as observed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub durations: BTreeMap<String, Durations>,
    /// The sizes the scheduler scaled resources down from, by id, as also kept on
    /// the resources themselves: whichever survives is restored.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub saved: BTreeMap<String, crate::fleet::Capacity>,
    /// The accounts and Regions its resources were last seen in (`""` for the
    /// function's own); unknown until they were first looked up. While one of them
    /// cannot be observed, the schedule waits rather than act on half a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub places: Option<BTreeSet<String>>,
    /// The ready-by time whose start already began early, so that the start
    /// transition itself does not begin it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_by_started: Option<DateTime<Utc>>,
}

/// A start or stop walking the groups in order, possibly over several runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    /// Start or stop.
    pub direction: Direction,
    /// When it began.
    pub began: DateTime<Utc>,
    /// Whether an operator forced it (force-start, force-stop).
    pub forced: bool,
    /// Instances acted on, and when; each is acted on at most once per sequence.
    /// Stored by instant (`{"2026-…Z": ["i-1", "i-2"]}`): a start of thousands of
    /// instances at once takes one timestamp, not thousands.
    #[serde(default, with = "by_instant")]
    pub acted: BTreeMap<String, DateTime<Utc>>,
    /// Groups reported ready (or stopped).
    #[serde(default)]
    pub done: BTreeSet<String>,
    /// Groups reported as failed.
    #[serde(default)]
    pub failed: BTreeSet<String>,
    /// Instances the cloud refused to act on (an error on the request): failed at
    /// once, without waiting for `settle`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub refused: BTreeSet<String>,
    /// When the last group reported in `done` got there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<DateTime<Utc>>,
    /// For a `ready-by` start, when every group must be up: each group starts once
    /// its dependencies are up and no earlier than its path needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_by: Option<DateTime<Utc>>,
}

/// `acted` grouped by instant when stored.
mod by_instant {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        acted: &BTreeMap<String, DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut grouped: BTreeMap<DateTime<Utc>, Vec<&str>> = BTreeMap::new();
        for (id, at) in acted {
            grouped.entry(*at).or_default().push(id);
        }
        grouped.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, D::Error> {
        let grouped = BTreeMap::<DateTime<Utc>, Vec<String>>::deserialize(d)?;
        Ok(grouped
            .into_iter()
            .flat_map(|(at, ids)| ids.into_iter().map(move |id| (id, at)))
            .collect())
    }
}

/// Warnings sent about one coming stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The stop they are about.
    pub stop_at: DateTime<Utc>,
    /// How many went out (at most two).
    pub sent: u8,
    /// Minutes left when the last one went out.
    pub minutes_left: i64,
}

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

/// The result of [`plan`]: what to do, what to say, and what to remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Starts and stops to carry out, in order.
    pub actions: Vec<Action>,
    /// Everything that happened or was decided, for people.
    pub events: Vec<Event>,
    /// Schedules whose `ForceStart` flag is to be cleared.
    pub clear_force_start: Vec<String>,
    /// The state for the next run.
    pub state: RunState,
    /// The next instant something is due (a transition, a warning, a group expected
    /// ready, an early start, a timeout), within the look-ahead: when the scheduler
    /// must look again, whatever the regular tick.
    pub next_look: Option<DateTime<Utc>>,
}

impl Plan {
    /// Notes that something is due at `at`.
    fn look_at(&mut self, at: DateTime<Utc>) {
        self.next_look = Some(self.next_look.map_or(at, |t| t.min(at)));
    }
}

impl Plan {
    /// Puts `schedules` back as `previous` left them, doing and saying nothing of
    /// them: part of their fleet could not be observed, and acting on the rest could
    /// break their order (a group that cannot be seen looks empty, so "up"). Their
    /// transitions stay unconsumed, for a run that sees everything.
    pub fn hold(&mut self, schedules: &BTreeSet<String>, previous: &RunState) {
        self.drop_schedules(schedules);
        for name in schedules {
            match previous.schedules.get(name) {
                Some(kept) => {
                    self.state.schedules.insert(name.clone(), kept.clone());
                }
                None => {
                    self.state.schedules.remove(name);
                }
            }
        }
    }

    /// Leaves out what the plan would do and say about `schedules`: another run
    /// committed them first, so they are its business.
    pub fn drop_schedules(&mut self, schedules: &BTreeSet<String>) {
        self.actions.retain(|a| !schedules.contains(&a.schedule));
        self.events.retain(|e| !schedules.contains(&e.schedule));
        self.clear_force_start.retain(|s| !schedules.contains(s));
    }

    /// The bookkeeping after the plan's actions were carried out, shared by every
    /// caller of [`plan`]: each instance the cloud refused (`failures`, with the
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
        let mut refused: BTreeMap<(usize, String), Vec<(String, String)>> = BTreeMap::new();
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
                .push((label, f.error.clone()));
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
                .map(|(label, error)| format!("{label} ({error})"))
                .collect();
            let message = failure_message(schedule, &group, direction, &list.join(", "));
            self.events.push(Event {
                at: now.with_timezone(&schedule.tz).fixed_offset(),
                schedule: schedule_name,
                what: What::Error { message },
            });
        }
    }
}

/// What a group that did not start or stop means for the rest of its schedule.
fn failure_message(schedule: &Schedule, group: &str, direction: Direction, who: &str) -> String {
    let mut message = failure_text(schedule, group, direction, who);
    // The best-known cause of an instance that will not start, and its fix.
    if direction == Direction::Start
        && (who.contains("KMS") || who.contains("Client.InternalError"))
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

/// Decides what happens at `now`. Pure: same inputs, same plan.
pub fn plan(
    now: DateTime<Utc>,
    catalog: &Catalog,
    fleet: &[Instance],
    state: &RunState,
    requests: &[Request],
    settings: &Settings,
) -> Plan {
    let mut out = Plan::default();
    out.state.run.reported_misfits = state.run.reported_misfits.clone();
    out.state.run.wakeups = state.run.wakeups.clone();
    if catalog.quiet {
        out.state.run = state.run.clone();
    }
    // A run that plans part of the catalog keeps the rest of the state as it is.
    if catalog.quiet || !catalog.elsewhere.is_empty() {
        for (name, kept) in &state.schedules {
            if catalog.get(name).is_none() {
                out.state.schedules.insert(name.clone(), kept.clone());
            }
        }
    }

    // Broken schedules: announce each problem once, keep their state for when they
    // are mended.
    for e in catalog.errors.iter().filter(|_| !catalog.quiet) {
        let text = e.to_string();
        if !state.run.reported_errors.contains(&text) {
            out.events.push(Event {
                at: now.fixed_offset(),
                schedule: e.schedule.clone(),
                what: What::Error {
                    message: format!("{}; the schedule is skipped until it is fixed", e.problem),
                },
            });
        }
        out.state.run.reported_errors.insert(text);
        if let Some(kept) = state.schedules.get(&e.schedule) {
            out.state.schedules.insert(e.schedule.clone(), kept.clone());
        }
    }
    // Problems that skip nothing: announced once, like errors.
    for w in catalog.warnings.iter().filter(|_| !catalog.quiet) {
        let text = w.to_string();
        if !state.run.reported_errors.contains(&text) {
            let tz = catalog.get(&w.schedule).map_or(chrono_tz::UTC, |s| s.tz);
            out.events.push(Event {
                at: now.with_timezone(&tz).fixed_offset(),
                schedule: w.schedule.clone(),
                what: What::Error {
                    message: w.problem.clone(),
                },
            });
        }
        out.state.run.reported_errors.insert(text);
    }
    for r in requests {
        let (Request::ForceStart(name) | Request::ForceStop(name)) = r;
        if let Err(why) = catalog.find(name) {
            out.events.push(Event {
                at: now.fixed_offset(),
                schedule: name.clone(),
                what: What::Error {
                    message: format!("cannot {}: {why}", request_verb(r)),
                },
            });
        }
    }
    if !catalog.quiet {
        report_misfits(now, catalog, fleet, &mut out);
    }

    // Most runs of a large catalog touch few schedules: index the fleet only when one
    // of them needs its instances.
    let by_tag: OnceCell<HashMap<&str, Vec<&Instance>>> = OnceCell::new();
    let members_of = |tag: &str| -> &[&Instance] {
        let index = by_tag.get_or_init(|| {
            let mut index: HashMap<&str, Vec<&Instance>> = HashMap::new();
            for i in fleet {
                if i.power == Power::Gone {
                    continue;
                }
                if let Some(tag) = i.tags.get(SCHEDULE_TAG) {
                    index.entry(tag.as_str()).or_default().push(i);
                }
            }
            index
        });
        index.get(tag).map_or(&[][..], Vec::as_slice)
    };

    // Where each schedule's resources live, so that while an account or Region
    // cannot be observed, a run knows which schedules it would cut in half.
    let mut places: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for i in fleet {
        if let Some(tag) = i.tags.get(SCHEDULE_TAG) {
            places.entry(tag.as_str()).or_default().insert(i.place());
        }
    }

    for schedule in &catalog.schedules {
        let previous = state.schedules.get(&schedule.name);
        // A schedule seen for the first time looks back a little; one seen before
        // catches up from where it left off, within the limit.
        let since = previous
            .and_then(|p| p.consumed)
            .unwrap_or(now - settings.first_run_lookback)
            .max(now - settings.max_catch_up);
        let members = || members_of(schedule.tag_value.as_str());
        let mut run = ScheduleRun {
            schedule,
            now,
            settings,
            state: previous.cloned().unwrap_or_default(),
            out: &mut out,
            groups: Vec::new(),
        };
        run.decide(since, requests, members);
        let mut kept = run.state;
        kept.places = Some(
            places
                .get(schedule.tag_value.as_str())
                .map(|p| p.iter().map(|p| p.to_string()).collect())
                .unwrap_or_default(),
        );
        out.state.schedules.insert(schedule.name.clone(), kept);
    }
    out
}

/// What the scheduler expects of a group: how long a start and a stop take, learned
/// from the runs it saw or, before it saw any, the defaults of its kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Seconds a start takes.
    pub start_seconds: i64,
    /// Seconds a stop takes.
    pub stop_seconds: i64,
    /// How many starts and stops the estimates rest on (0: the defaults).
    pub observed: usize,
}

/// The estimates for each group of `schedule`, whose instances per group are
/// `members`, from what `state` learned.
pub fn expectations(
    schedule: &Schedule,
    state: Option<&ScheduleState>,
    members: &[Vec<&Instance>],
) -> Vec<Expected> {
    schedule
        .groups
        .iter()
        .zip(members)
        .map(|(g, members)| {
            let learned = state.and_then(|s| s.durations.get(&g.name));
            let estimate = |d| pace::estimate(learned, g.kind, members, d).num_seconds();
            Expected {
                start_seconds: estimate(Direction::Start),
                stop_seconds: estimate(Direction::Stop),
                observed: learned.map_or(0, |l| l.start.len() + l.stop.len()),
            }
        })
        .collect()
}

/// A resource that carries the `ScheduleName` tag but that no schedule takes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Misfit {
    /// The resource's id.
    pub id: String,
    /// How people know it: `name (id)`.
    pub label: String,
    /// Its `ScheduleName` tag value.
    pub tag: String,
    /// Why it is not scheduled, in words that say how to fix it.
    pub reason: String,
}

/// Every resource that carries the `ScheduleName` tag but is not scheduled: its tag
/// names no schedule, its group tag is missing or names no group, or its kind is not
/// what its group takes. Resources of a broken schedule are not listed (the
/// schedule's own error says why).
pub fn misfits(catalog: &Catalog, fleet: &[Instance]) -> Vec<Misfit> {
    let by_tag: HashMap<&str, &Schedule> = catalog
        .schedules
        .iter()
        .map(|s| (s.tag_value.as_str(), s))
        .collect();
    let mut out = Vec::new();
    for i in fleet {
        let Some(tag) = i.tags.get(SCHEDULE_TAG) else {
            continue;
        };
        if i.power == Power::Gone {
            continue;
        }
        let reason = match by_tag.get(tag.as_str()) {
            None if catalog.errors.iter().any(|e| &e.schedule == tag) => continue,
            None if catalog.elsewhere.contains(tag) => continue,
            None => format!("its ScheduleName \"{tag}\" is the TagValue of no schedule"),
            Some(s) => match s.unscheduled_because(i) {
                None => continue,
                Some(why) => why,
            },
        };
        out.push(Misfit {
            id: i.id.clone(),
            label: i.label(),
            tag: tag.clone(),
            reason,
        });
    }
    out
}

/// The most misfits one message lists by name.
const MISFITS_LISTED: usize = 20;

/// Reports the resources that are tagged but not scheduled, per tag value, when what
/// there is to say differs from what was said last.
fn report_misfits(now: DateTime<Utc>, catalog: &Catalog, fleet: &[Instance], out: &mut Plan) {
    let mut by_tag: BTreeMap<String, Vec<Misfit>> = BTreeMap::new();
    for m in misfits(catalog, fleet) {
        by_tag.entry(m.tag.clone()).or_default().push(m);
    }
    let mut reported = BTreeMap::new();
    for (tag, list) in by_tag {
        let digest = digest(list.iter().map(|m| (m.id.as_str(), m.reason.as_str())));
        if out.state.run.reported_misfits.get(&tag) != Some(&digest) {
            let schedule = catalog
                .schedules
                .iter()
                .find(|s| s.tag_value == tag)
                .map_or_else(|| (tag.clone(), chrono_tz::UTC), |s| (s.name.clone(), s.tz));
            let mut lines: Vec<String> = list
                .iter()
                .take(MISFITS_LISTED)
                .map(|m| format!("{}: {}", m.label, m.reason))
                .collect();
            if list.len() > MISFITS_LISTED {
                lines.push(format!("and {} more", list.len() - MISFITS_LISTED));
            }
            out.events.push(Event {
                at: now.with_timezone(&schedule.1).fixed_offset(),
                schedule: schedule.0,
                what: What::Error {
                    message: format!(
                        "{} tagged ScheduleName={tag} not scheduled (left alone): {}",
                        if list.len() == 1 {
                            "1 resource".to_string()
                        } else {
                            format!("{} resources", list.len())
                        },
                        lines.join("; ")
                    ),
                },
            });
        }
        reported.insert(tag, digest);
    }
    out.state.run.reported_misfits = reported;
}

/// A short stable digest of what was reported, to tell whether it changed.
fn digest<'a>(lines: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    // FNV-1a: stable across builds and versions, unlike the standard library's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (a, b) in lines {
        for byte in a.bytes().chain([0]).chain(b.bytes()).chain([0]) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn request_verb(r: &Request) -> &'static str {
    match r {
        Request::ForceStart(_) => "force-start",
        Request::ForceStop(_) => "force-stop",
    }
}

/// One schedule's part of a run.
struct ScheduleRun<'a> {
    schedule: &'a Schedule,
    now: DateTime<Utc>,
    settings: &'a Settings,
    state: ScheduleState,
    out: &'a mut Plan,
    /// The schedule's instances per group, in the schedule's group order.
    groups: Vec<Vec<&'a Instance>>,
}

impl<'a> ScheduleRun<'a> {
    fn decide(
        &mut self,
        since: DateTime<Utc>,
        requests: &[Request],
        members: impl FnOnce() -> &'a [&'a Instance],
    ) {
        let s = self.schedule;
        let ready_by = s.start_mode == StartMode::ReadyBy;
        let horizon = self.now + self.settings.warn_before.max(self.settings.look_ahead);
        // A ready-by start begins before its time: look as far ahead as it may.
        let until = if ready_by {
            horizon + self.settings.max_lead
        } else {
            horizon
        };
        let coming = calendar::transitions(s, since.min(self.now), until);
        let mut members = Some(members);
        let lead = if ready_by
            && coming
                .iter()
                .any(|t| t.direction == Direction::Start && t.at > self.now)
        {
            self.load_members(&mut members);
            Some(self.lead())
        } else {
            None
        };
        // When each transition is due: a ready-by start its lead before its time.
        let due = |t: &Transition| match (t.direction, lead) {
            (Direction::Start, Some(lead)) => t.at - lead,
            _ => t.at,
        };
        let started_early = self.state.ready_by_started;
        let (past, future): (Vec<&Transition>, Vec<&Transition>) = coming
            .iter()
            .filter(|t| !(t.direction == Direction::Start && Some(t.at) == started_early))
            .partition(|t| due(t) <= self.now);
        let mut past = past;
        past.sort_by_key(|t| (due(t), t.direction == Direction::Start));
        for t in &future {
            if due(t) <= horizon {
                self.out.look_at(due(t));
            }
        }

        let request = requests.iter().rev().find_map(|r| match r {
            Request::ForceStart(n) if *n == s.name => Some(Direction::Start),
            Request::ForceStop(n) if *n == s.name => Some(Direction::Stop),
            _ => None,
        });
        // Transitions up to now are this run's: the next run starts after them.
        if !past.is_empty() || request.is_some() || self.state.consumed.is_none() {
            self.state.consumed = Some(self.now);
        }
        let running_forced_start = self
            .state
            .sequence
            .as_ref()
            .is_some_and(|q| q.forced && q.direction == Direction::Start);
        let trigger = if let Some(direction) = request {
            Some((direction, true, None))
        } else if let Some(last) = past.last() {
            let early =
                (last.direction == Direction::Start && last.at > self.now).then_some(last.at);
            Some((
                last.direction,
                false,
                early.or_else(|| {
                    (ready_by && last.direction == Direction::Start).then_some(last.at)
                }),
            ))
        } else if s.force_start && !running_forced_start {
            Some((Direction::Start, true, None))
        } else {
            None
        };

        if let Some((direction, forced, ready_time)) = trigger {
            // A stop ends any force-start, or the flag would start everything again.
            if direction == Direction::Stop && s.force_start {
                self.out.clear_force_start.push(s.name.clone());
            }
            if direction == Direction::Start {
                self.state.stopped.clear();
            }
            if ready_time.is_some_and(|t| t > self.now) {
                self.state.ready_by_started = ready_time;
            }
            self.state.sequence = Some(Sequence {
                direction,
                began: self.now,
                forced,
                acted: BTreeMap::new(),
                done: BTreeSet::new(),
                failed: BTreeSet::new(),
                refused: BTreeSet::new(),
                settled_at: None,
                ready_by: ready_time,
            });
        } else if !s.enabled && self.state.sequence.as_ref().is_some_and(|q| !q.forced) {
            // Disabling a schedule abandons what its times had begun.
            self.state.sequence = None;
        }
        // A ready-by time long past needs no remembering.
        if self
            .state
            .ready_by_started
            .is_some_and(|t| t < self.now - self.settings.max_catch_up)
        {
            self.state.ready_by_started = None;
        }

        let next_stop = future
            .iter()
            .filter(|t| t.at <= horizon)
            .find(|t| t.direction == Direction::Stop)
            .map(|t| t.at);
        if self.state.sequence.is_none() && next_stop.is_none() && self.state.stopped.is_empty() {
            self.state.warning = None;
            return;
        }
        self.load_members(&mut members);
        if self.state.sequence.is_none() {
            self.stop_what_aws_restarted();
        }
        if let Some(sequence) = self.state.sequence.take() {
            self.out
                .look_at(sequence.began + self.settings.sequence_timeout);
            self.state.sequence = match sequence.direction {
                Direction::Start => self.advance_start(sequence),
                Direction::Stop => self.advance_stop(sequence),
            };
        }
        self.warn(next_stop);
    }

    /// The schedule's instances per group, looked up once, when first needed.
    fn load_members(&mut self, members: &mut Option<impl FnOnce() -> &'a [&'a Instance]>) {
        if let Some(members) = members.take() {
            self.groups = self.schedule.members(members().iter().copied());
        }
    }

    /// Each group's estimated duration in `direction`.
    fn estimates(&self, direction: Direction) -> Vec<Duration> {
        self.schedule
            .groups
            .iter()
            .zip(&self.groups)
            .map(|(g, members)| {
                pace::estimate(
                    self.state.durations.get(&g.name),
                    g.kind,
                    members,
                    direction,
                )
            })
            .collect()
    }

    /// How long before its ready-by time a start must begin: the critical path of
    /// the learned durations, and the margin.
    fn lead(&self) -> Duration {
        let paths = pace::paths(self.schedule, &self.estimates(Direction::Start));
        let critical = paths.into_iter().max().unwrap_or_else(Duration::zero);
        (critical + READY_BY_MARGIN).min(self.settings.max_lead)
    }

    /// Records how long group `g` took in this sequence, from its first action to
    /// `at`, and that it got there.
    fn learn(&mut self, q: &Sequence, g: usize, members: &[&Instance], at: DateTime<Utc>) {
        let acted = members.iter().filter_map(|i| q.acted.get(&i.id)).min();
        if let Some(acted) = acted {
            let seconds = (at - *acted).num_seconds().max(0);
            self.state
                .durations
                .entry(self.schedule.groups[g].name.clone())
                .or_default()
                .record(q.direction, u32::try_from(seconds).unwrap_or(u32::MAX));
        }
    }

    /// Looks again when the groups acted on but not there yet are expected there.
    fn expect(&mut self, q: &Sequence, members: &[&Instance], estimate: Duration) {
        let acted = members.iter().filter_map(|i| q.acted.get(&i.id)).min();
        if let Some(acted) = acted {
            let expected = *acted + estimate;
            let at = if expected > self.now {
                expected
            } else {
                self.now + self.settings.recheck
            };
            self.out.look_at(at);
        }
    }

    fn event(&mut self, at: DateTime<Utc>, what: What) {
        self.out.events.push(Event {
            at: at.with_timezone(&self.schedule.tz).fixed_offset(),
            schedule: self.schedule.name.clone(),
            what,
        });
    }

    /// What acting on `i` needs: for a resource that scales, the sizes to restore
    /// (on a start) or to remember (on a stop); for an EC2 instance of a hibernating
    /// group, whether to hibernate it.
    fn target(&mut self, direction: Direction, group: usize, i: &Instance) -> Target {
        let mut t = i.target();
        match direction {
            Direction::Start if i.kind.scales() => {
                t.capacity = i.saved.or_else(|| self.state.saved.get(&i.id).copied());
            }
            Direction::Stop if i.kind.scales() => {
                t.capacity = i.capacity.filter(|c| c.desired > 0);
                if let Some(c) = t.capacity {
                    self.state.saved.insert(i.id.clone(), c);
                }
            }
            Direction::Stop => {
                t.hibernate = self.schedule.groups[group].hibernate && i.hibernation;
            }
            Direction::Start => {}
        }
        t
    }

    fn act(&mut self, direction: Direction, group: usize, instances: Vec<&Instance>) {
        let targets: Vec<Target> = instances
            .iter()
            .map(|i| self.target(direction, group, i))
            .collect();
        let name = self.schedule.groups[group].name.clone();
        if direction == Direction::Stop && self.schedule.groups[group].hibernate {
            let plain: Vec<&Instance> = instances
                .iter()
                .copied()
                .filter(|i| i.kind == Kind::Ec2 && !i.hibernation)
                .collect();
            if !plain.is_empty() {
                let message = format!(
                    "group {name}: {} not configured for hibernation; stopped normally",
                    describe(&plain)
                );
                self.event(self.now, What::Notice { message });
            }
        }
        let group = name;
        let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
        self.out.actions.push(Action {
            direction,
            schedule: self.schedule.name.clone(),
            group: group.clone(),
            targets,
        });
        let what = match direction {
            Direction::Start => What::Start {
                group,
                instances: ids,
            },
            Direction::Stop => What::Stop {
                group,
                instances: ids,
            },
        };
        self.event(self.now, what);
    }

    /// When the last of `instances` reached its state, if the service says; else now.
    fn reached_at(&self, instances: &[&Instance]) -> DateTime<Utc> {
        instances
            .iter()
            .map(|i| i.since.filter(|t| *t <= self.now))
            .try_fold(DateTime::<Utc>::MIN_UTC, |latest, t| {
                t.map(|t| latest.max(t))
            })
            .unwrap_or(self.now)
    }

    /// Whether an instance acted on in this sequence has had time to change and has not.
    fn failed(&self, q: &Sequence, i: &Instance, unchanged: Power) -> bool {
        i.power == unchanged
            && (q.refused.contains(&i.id)
                || q.acted
                    .get(&i.id)
                    .is_some_and(|t| self.now - *t >= self.settings.settle))
    }

    fn advance_start(&mut self, mut q: Sequence) -> Option<Sequence> {
        let s = self.schedule;
        let n = s.groups.len();
        let index: HashMap<&str, usize> = s
            .groups
            .iter()
            .enumerate()
            .map(|(k, g)| (g.name.as_str(), k))
            .collect();
        // Per group: up (dependents may start), blocked (never will be in this sequence).
        let mut up = vec![false; n];
        let mut blocked = vec![false; n];
        let estimates = self.estimates(Direction::Start);
        let paths = pace::paths(s, &estimates);
        for g in 0..n {
            let members = self.groups[g].clone();
            let deps: Vec<usize> = s.groups[g]
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            let deps_up = deps.iter().all(|d| up[*d]);
            blocked[g] = deps.iter().any(|d| blocked[*d]);
            if members.iter().all(|i| i.power.is_up()) {
                up[g] = true;
                if members.iter().any(|i| q.acted.contains_key(&i.id))
                    && q.done.insert(s.groups[g].name.clone())
                {
                    let at = self.reached_at(&members);
                    q.settled_at = Some(q.settled_at.map_or(at, |t| t.max(at)));
                    self.learn(&q, g, &members, at);
                    self.event(
                        at,
                        What::Ready {
                            group: s.groups[g].name.clone(),
                        },
                    );
                }
                continue;
            }
            self.expect(&q, &members, estimates[g]);
            let failed: Vec<&Instance> = members
                .iter()
                .copied()
                .filter(|i| self.failed(&q, i, Power::Stopped))
                .collect();
            if !failed.is_empty() {
                blocked[g] = true;
                if q.failed.insert(s.groups[g].name.clone()) {
                    let message =
                        failure_message(s, &s.groups[g].name, Direction::Start, &describe(&failed));
                    self.event(self.now, What::Error { message });
                }
            }
            // A ready-by start begins each group no earlier than its path needs.
            let not_before = q
                .ready_by
                .map(|t| t - paths[g] - READY_BY_MARGIN)
                .filter(|t| *t > self.now);
            if let Some(t) = not_before
                && deps_up
                && !blocked[g]
            {
                self.out.look_at(t);
            }
            if deps_up && !blocked[g] && not_before.is_none() {
                let (to_start, sizeless): (Vec<&Instance>, Vec<&Instance>) = members
                    .iter()
                    .copied()
                    .filter(|i| i.power == Power::Stopped && !q.acted.contains_key(&i.id))
                    .filter(|i| !q.refused.contains(&i.id))
                    .partition(|i| {
                        !i.kind.scales()
                            || i.saved.is_some()
                            || self.state.saved.contains_key(&i.id)
                    });
                if !sizeless.is_empty() {
                    // Found at zero with no size remembered: restoring "zero" would
                    // start nothing, and guessing a size could cost money.
                    for i in &sizeless {
                        q.refused.insert(i.id.clone());
                    }
                    blocked[g] = true;
                    if q.failed.insert(s.groups[g].name.clone()) {
                        let who: Vec<String> = sizeless
                            .iter()
                            .map(|i| {
                                format!(
                                    "{} (at size 0 with no earlier size known: the scheduler did not stop it; set its size once by hand)",
                                    i.label()
                                )
                            })
                            .collect();
                        let message = failure_message(
                            s,
                            &s.groups[g].name,
                            Direction::Start,
                            &who.join(", "),
                        );
                        self.event(self.now, What::Error { message });
                    }
                }
                if !to_start.is_empty() {
                    for i in &to_start {
                        q.acted.insert(i.id.clone(), self.now);
                        self.state.saved.remove(&i.id);
                    }
                    self.out.look_at(self.now + estimates[g]);
                    self.act(Direction::Start, g, to_start);
                }
            }
        }
        let settled = (0..n).all(|g| up[g] || blocked[g]);
        if settled {
            let any_blocked = blocked.iter().any(|b| *b);
            if !any_blocked && !q.acted.is_empty() {
                let at = q.settled_at.unwrap_or(self.now);
                let seconds = (at - q.began).num_seconds();
                self.event(at, What::ScheduleReady { seconds });
            }
            if q.forced && self.schedule.force_start {
                self.out.clear_force_start.push(s.name.clone());
            }
            return None;
        }
        self.give_up_after_timeout(q, &up)
    }

    fn advance_stop(&mut self, mut q: Sequence) -> Option<Sequence> {
        let s = self.schedule;
        let n = s.groups.len();
        let estimates = self.estimates(Direction::Stop);
        let mut down = vec![false; n];
        let mut blocked = vec![false; n];
        for g in (0..n).rev() {
            let members = self.groups[g].clone();
            let name = s.groups[g].name.clone();
            let dependents: Vec<usize> = (g + 1..n)
                .filter(|d| s.groups[*d].depends_on.contains(&name))
                .collect();
            let dependents_down = dependents.iter().all(|d| down[*d]);
            blocked[g] = dependents.iter().any(|d| blocked[*d]);
            if members.iter().all(|i| i.power == Power::Stopped) {
                down[g] = true;
                for i in &members {
                    if matches!(i.kind, Kind::Rds | Kind::Aurora) && q.acted.contains_key(&i.id) {
                        self.state
                            .stopped
                            .entry(i.id.clone())
                            .or_insert(i.since.unwrap_or(self.now));
                    }
                }
                if members.iter().any(|i| q.acted.contains_key(&i.id))
                    && q.done.insert(name.clone())
                {
                    let at = self.reached_at(&members);
                    q.settled_at = Some(q.settled_at.map_or(at, |t| t.max(at)));
                    self.learn(&q, g, &members, at);
                    self.event(at, What::Stopped { group: name });
                }
                continue;
            }
            self.expect(&q, &members, estimates[g]);
            let failed: Vec<&Instance> = members
                .iter()
                .copied()
                .filter(|i| self.failed(&q, i, Power::Running))
                .collect();
            if !failed.is_empty() {
                blocked[g] = true;
                if q.failed.insert(name.clone()) {
                    let message = failure_message(s, &name, Direction::Stop, &describe(&failed));
                    self.event(self.now, What::Error { message });
                }
            }
            if dependents_down && !blocked[g] {
                let to_stop: Vec<&Instance> = members
                    .iter()
                    .copied()
                    .filter(|i| i.power == Power::Running && !q.acted.contains_key(&i.id))
                    .collect();
                if !to_stop.is_empty() {
                    for i in &to_stop {
                        q.acted.insert(i.id.clone(), self.now);
                    }
                    self.out.look_at(self.now + estimates[g]);
                    self.act(Direction::Stop, g, to_stop);
                }
            }
        }
        if (0..n).all(|g| down[g] || blocked[g]) {
            if !blocked.iter().any(|b| *b) && !q.acted.is_empty() {
                let at = q.settled_at.unwrap_or(self.now);
                let seconds = (at - q.began).num_seconds();
                self.event(at, What::ScheduleStopped { seconds });
            }
            return None;
        }
        self.give_up_after_timeout(q, &down)
    }

    /// Stops again the databases and clusters AWS started by itself after seven days
    /// stopped, while the schedule is in a stopped period; forgets those a person
    /// started (seen up sooner). A database whose dependents are up is left running
    /// and reported, since stopping it would break their order.
    fn stop_what_aws_restarted(&mut self) {
        if self.state.stopped.is_empty() {
            return;
        }
        let s = self.schedule;
        for g in 0..s.groups.len() {
            let mut restarted = Vec::new();
            for i in self.groups[g].clone() {
                let Some(at) = self.state.stopped.get(&i.id).copied() else {
                    continue;
                };
                match i.power {
                    Power::Stopped | Power::Stopping => {}
                    Power::Running | Power::Starting | Power::Busy
                        if self.now - at >= self.settings.aws_restart_after =>
                    {
                        // Wait for it to settle before stopping it.
                        if i.power == Power::Running {
                            restarted.push(i);
                        }
                    }
                    _ => {
                        self.state.stopped.remove(&i.id);
                    }
                }
            }
            if restarted.is_empty() {
                continue;
            }
            let group = s.groups[g].name.clone();
            let up: Vec<String> = s
                .dependents_of(&group)
                .into_iter()
                .filter(|d| {
                    s.groups
                        .iter()
                        .position(|x| &x.name == d)
                        .is_some_and(|k| self.groups[k].iter().any(|i| i.power.is_live()))
                })
                .collect();
            let names = describe(&restarted);
            if !up.is_empty() {
                for i in &restarted {
                    self.state.stopped.remove(&i.id);
                }
                let message = format!(
                    "group {group}: {names} was started by AWS after seven days stopped; left running, since {} depending on it is up",
                    up.join(", ")
                );
                self.event(self.now, What::Error { message });
                continue;
            }
            for i in &restarted {
                self.state.stopped.insert(i.id.clone(), self.now);
            }
            let message = format!(
                "group {group}: {names} was started by AWS after seven days stopped; stopping it again"
            );
            self.event(self.now, What::Notice { message });
            self.act(Direction::Stop, g, restarted);
        }
    }

    fn give_up_after_timeout(&mut self, q: Sequence, settled: &[bool]) -> Option<Sequence> {
        if self.now - q.began < self.settings.sequence_timeout {
            return Some(q);
        }
        let waiting: Vec<String> = self
            .schedule
            .groups
            .iter()
            .zip(settled)
            .filter(|(_, ok)| !**ok)
            .map(|(g, _)| g.name.clone())
            .collect();
        let message = format!(
            "{} did not finish within {} minutes; gave up on groups {}",
            q.direction,
            self.settings.sequence_timeout.num_minutes(),
            waiting.join(", ")
        );
        self.event(self.now, What::Error { message });
        if q.forced && q.direction == Direction::Start && self.schedule.force_start {
            self.out.clear_force_start.push(self.schedule.name.clone());
        }
        None
    }

    /// Warns about a coming stop: first when it enters the lead time, once more in the
    /// second half of it, and never when nothing of the schedule is up.
    fn warn(&mut self, next_stop: Option<DateTime<Utc>>) {
        let Some(stop_at) = next_stop else {
            self.state.warning = None;
            return;
        };
        if self
            .state
            .sequence
            .as_ref()
            .is_some_and(|q| q.direction == Direction::Stop)
        {
            return;
        }
        let up: Vec<String> = self
            .schedule
            .groups
            .iter()
            .zip(&self.groups)
            .filter(|(_, members)| members.iter().any(|i| i.power.is_live()))
            .map(|(g, _)| g.name.clone())
            .collect();
        if up.is_empty() {
            return;
        }
        let seconds_left = (stop_at - self.now).num_seconds();
        let minutes_left = (seconds_left + 59) / 60;
        let half = (self.settings.warn_before.num_seconds() + 1) / 2;
        if stop_at - self.now > self.settings.warn_before {
            // Not yet: the first warning is due when the stop enters the lead time.
            self.out.look_at(stop_at - self.settings.warn_before);
            return;
        }
        let previous = self.state.warning.take().filter(|w| w.stop_at == stop_at);
        if previous.as_ref().is_none_or(|w| w.sent < 2) && seconds_left > half {
            self.out.look_at(stop_at - Duration::seconds(half));
        }
        let send = match &previous {
            None => true,
            Some(w) => w.sent < 2 && seconds_left <= half && w.minutes_left * 60 > half,
        };
        if !send {
            self.state.warning = previous;
            return;
        }
        self.state.warning = Some(Warning {
            stop_at,
            sent: previous.map_or(1, |w| w.sent + 1),
            minutes_left,
        });
        self.event(
            self.now,
            What::Warn {
                stop_at: stop_at.with_timezone(&self.schedule.tz).fixed_offset(),
                minutes_left,
                groups: up,
            },
        );
    }
}

fn describe(instances: &[&Instance]) -> String {
    let names: Vec<String> = instances
        .iter()
        .map(|i| match &i.reason {
            Some(reason) => format!("{} ({reason})", i.label()),
            None => i.label(),
        })
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests;
