//! What ran: each scheduled resource's running and stopped spans, and who caused
//! each change, derived purely from what a run already has (the observed fleet, the
//! plan's actions and events, the state before and after), so that the shell only
//! writes it down.
//!
//! The rules, each pinned by a test below:
//! - A resource the scheduler acted on changed at the action's instant, caused by
//!   the schedule's regular time, by an **exception** (the transition fell on a date
//!   with an exception of its direction), or by a **force**-start or -stop: the
//!   chat **bot**'s when the note it left names the force ([`Origin`]), an
//!   operator's otherwise.
//! - A change the scheduler did not ask for was made by a **person** outside the
//!   scheduler; a database seen up again seven days after it stopped was started by
//!   **AWS**; an instance the scheduler started and then saw stopped while its start
//!   was still open **failed** to start.
//! - A resource first seen by the history starts with the cause **seen**; one that
//!   left the schedule (untagged, terminated) ends with **left**, and its time after
//!   that is not the schedule's.
//! - A span counts as *saved* while stopped, *spent* while running; running time
//!   outside the schedule's regular windows (its times without exceptions) is an
//!   override: a **force-start**, an **extend** (the day's times moved by an
//!   exception), or **by hand**. Running past the regular stop on a day without an
//!   exception is the stop chain's own pace, not an override.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar;
use crate::fleet::{Direction, Failure, Instance, Kind, Size};
use crate::plan::{Action, Event, RunState, Scope, Sequence, What};
use crate::schedule::{Catalog, Schedule};

mod origin;

pub use origin::{NotAnOrigin, ORIGIN_MINUTES, Origin};

/// The tag a resource may carry to give its own hourly price, in dollars (reserved,
/// spot or discounted capacity): it wins over the list price.
pub const HOURLY_COST_TAG: &str = "SchedulerHourlyCost";

/// Who or what caused a resource's change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The schedule's regular start or stop time.
    Schedule,
    /// A per-date exception moved or cancelled the day's time (a holiday, an extend).
    Exception,
    /// An operator's force-start or force-stop (the payload, `schedctl`, the
    /// `ForceStart` flag).
    Forced,
    /// The chat bot's force-start or force-stop, told from an operator's by the
    /// note the bot leaves before handing it over ([`Origin`]).
    Bot,
    /// AWS itself: a database started after seven days stopped.
    Aws,
    /// Someone outside the scheduler: a change it did not ask for.
    Person,
    /// A start the scheduler asked for did not take: the resource went back down.
    Failed,
    /// The state the resource was in when the history first saw it.
    Seen,
    /// The resource left the schedule (untagged, regrouped, terminated).
    Left,
}

impl Cause {
    /// Every cause, in the order reports list them.
    pub const ALL: [Cause; 9] = [
        Cause::Schedule,
        Cause::Exception,
        Cause::Forced,
        Cause::Bot,
        Cause::Aws,
        Cause::Person,
        Cause::Failed,
        Cause::Seen,
        Cause::Left,
    ];

    /// A short name for people.
    pub fn describe(self) -> &'static str {
        match self {
            Cause::Schedule => "the schedule",
            Cause::Exception => "an exception",
            Cause::Forced => "a force-start or -stop",
            Cause::Bot => "the bot",
            Cause::Aws => "AWS",
            Cause::Person => "a person",
            Cause::Failed => "a failed start",
            Cause::Seen => "before the history",
            Cause::Left => "left the schedule",
        }
    }

    /// The word used in JSON and pictures.
    pub fn word(self) -> &'static str {
        match self {
            Cause::Schedule => "schedule",
            Cause::Exception => "exception",
            Cause::Forced => "forced",
            Cause::Bot => "bot",
            Cause::Aws => "aws",
            Cause::Person => "person",
            Cause::Failed => "failed",
            Cause::Seen => "seen",
            Cause::Left => "left",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

fn one() -> u32 {
    1
}

/// A resource's state as the history last knew it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    /// Running (or on its way up) rather than stopped.
    pub up: bool,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Why.
    pub cause: Cause,
    /// Its group.
    pub group: String,
    /// Its kind.
    pub kind: Kind,
    /// How people know it (its `Name` tag), when it has one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What it is billed as, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    /// How many of it run when it runs: a resource that scales counts its desired
    /// size when last seen running; others 1.
    #[serde(default = "one")]
    pub count: u32,
    /// Its own hourly price in dollars, from the [`HOURLY_COST_TAG`] tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly: Option<String>,
    /// When the start or stop that caused it began (one force-start acts on many
    /// resources over several runs: this tells them together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub began: Option<DateTime<Utc>>,
}

/// What a resource was before a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Was {
    /// Since when.
    pub since: DateTime<Utc>,
    /// Why.
    pub cause: Cause,
    /// When the start or stop that caused it began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub began: Option<DateTime<Utc>>,
}

/// One resource's change of state: what it is now (since the change), and what it
/// was (absent when first seen), so that one record closes a span and opens the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The resource's id.
    pub id: String,
    /// Its state from now on (`since` is the change's instant).
    #[serde(flatten)]
    pub now: Seen,
    /// What it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub was: Option<Was>,
}

/// Something about a whole schedule, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mark", rename_all = "kebab-case")]
pub enum Mark {
    /// A start brought every group up.
    ChainUp {
        /// When the start began.
        began: DateTime<Utc>,
        /// Seconds until every group was up.
        seconds: i64,
        /// For a `ready-by` start, when every group was to be up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ready_by: Option<DateTime<Utc>>,
    },
    /// A stop brought every group down.
    ChainDown {
        /// When the stop began.
        began: DateTime<Utc>,
        /// Seconds until every group was down.
        seconds: i64,
    },
    /// Something failed (a start, a stop, a resource the scheduler could not act on).
    Failure {
        /// What the run reported.
        message: String,
    },
}

impl Mark {
    /// For a chain up of a `ready-by` start: its ready-by time, and how many seconds
    /// after it the last group was fully up (negative: that many seconds early). The
    /// one rule the report and the run's metrics both use.
    pub fn ready_by_late(&self) -> Option<(DateTime<Utc>, i64)> {
        match self {
            Mark::ChainUp {
                began,
                seconds,
                ready_by: Some(by),
            } => Some((
                *by,
                (*began + Duration::seconds(*seconds) - *by).num_seconds(),
            )),
            _ => None,
        }
    }
}

/// One entry of the history: what one pass of a run saw change in one schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The schedule.
    pub schedule: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The resources that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// What happened to the schedule as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<Mark>,
}

/// What the history knows now: per schedule, each resource's last known state.
pub type Known = BTreeMap<String, BTreeMap<String, Seen>>;

/// One pass of a run, as the history sees it.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    /// The pass's instant.
    pub now: DateTime<Utc>,
    /// The schedules it planned.
    pub catalog: &'a Catalog,
    /// Which of them it looked for (a run about some schedules observes only where
    /// they live: the others' resources are not gone).
    pub scope: &'a Scope,
    /// The fleet it observed.
    pub fleet: &'a [Instance],
    /// The accounts and Regions it could not observe: their resources are not gone.
    pub unseen: &'a [String],
    /// What it did (those another run took dropped).
    pub actions: &'a [Action],
    /// What the cloud refused.
    pub failures: &'a [Failure],
    /// What it reported.
    pub events: &'a [Event],
    /// The starts and stops open before the pass, by schedule.
    pub open: &'a BTreeMap<String, Sequence>,
    /// The state it committed.
    pub after: &'a RunState,
    /// Who asked for the latest force of each schedule, as noted beside the state
    /// (only the chat bot notes it): a forced sequence a note names is the bot's.
    pub origins: &'a BTreeMap<String, Origin>,
}

/// How long AWS lets a stopped database stay stopped, less an hour: one seen up that
/// long after it stopped was started by AWS, not a person.
const AWS_RESTART: i64 = 7 * 24 - 1;

/// The history's entries for one pass, with `known` brought up to date: one entry
/// per schedule in which something changed.
pub fn record(pass: &Pass, known: &mut Known) -> Vec<Entry> {
    let now = pass.now;
    let refused: BTreeSet<&str> = pass.failures.iter().map(|f| f.id.as_str()).collect();
    // What this pass did to each resource, and why.
    let mut acted: HashMap<&str, (bool, Cause, Option<DateTime<Utc>>)> = HashMap::new();
    for a in pass.actions {
        let Some(s) = pass.catalog.get(&a.schedule) else {
            continue;
        };
        let sequence = pass
            .after
            .schedules
            .get(&a.schedule)
            .and_then(|st| st.sequence.as_ref())
            .filter(|q| q.direction == a.direction);
        let cause = match (cause_of(s, sequence, a.direction), sequence) {
            (Cause::Forced, Some(q)) => pass
                .origins
                .get(&a.schedule)
                .and_then(|o| {
                    o.cause_of(
                        q,
                        known
                            .get(&a.schedule)
                            .into_iter()
                            .flat_map(BTreeMap::values),
                    )
                })
                .unwrap_or(Cause::Forced),
            (cause, _) => cause,
        };
        for t in &a.targets {
            if !refused.contains(t.id.as_str()) {
                acted.insert(
                    t.id.as_str(),
                    (
                        a.direction == Direction::Start,
                        cause,
                        sequence.map(|q| q.began),
                    ),
                );
            }
        }
    }
    let mut by_tag: HashMap<&str, Vec<&Instance>> = HashMap::new();
    for i in pass.fleet {
        if let Some(tag) = i.tags.get(crate::schedule::SCHEDULE_TAG) {
            by_tag.entry(tag.as_str()).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for s in pass
        .catalog
        .schedules
        .iter()
        .filter(|s| pass.scope.includes(&s.name))
    {
        let mut entry = Entry {
            schedule: s.name.clone(),
            at: now,
            changes: Vec::new(),
            marks: marks(s, pass),
        };
        let members = s.members(
            by_tag
                .get(s.tag_value.as_str())
                .into_iter()
                .flatten()
                .copied(),
        );
        let mine = known.entry(s.name.clone()).or_default();
        let mut present = BTreeSet::new();
        for (g, instances) in members.iter().enumerate() {
            for i in instances {
                present.insert(i.id.clone());
                let previous = mine.get(&i.id).cloned();
                let previous = previous.as_ref();
                let sequence = pass
                    .after
                    .schedules
                    .get(&s.name)
                    .and_then(|st| st.sequence.as_ref());
                let (up, cause, began, at) = match acted.get(i.id.as_str()) {
                    Some((up, cause, began)) => (*up, *cause, *began, now),
                    None => {
                        let up = i.power.is_live();
                        let at = previous
                            .and_then(|p| i.since.filter(|t| *t > p.since && *t <= now))
                            .unwrap_or(now);
                        let cause = match previous {
                            None => Cause::Seen,
                            Some(p) if p.up == up => p.cause,
                            // We started it, and it went down while the start was open.
                            Some(p)
                                if p.up
                                    && !up
                                    && sequence.is_some_and(|q| {
                                        q.direction == Direction::Start
                                            && q.acted.contains_key(&i.id)
                                    }) =>
                            {
                                Cause::Failed
                            }
                            Some(p)
                                if !p.up
                                    && up
                                    && matches!(i.kind, Kind::Rds | Kind::Aurora)
                                    && now - p.since >= Duration::hours(AWS_RESTART) =>
                            {
                                Cause::Aws
                            }
                            Some(_) => Cause::Person,
                        };
                        (up, cause, None, at)
                    }
                };
                let count = match (i.capacity, previous) {
                    (Some(c), _) if c.desired > 0 => c.desired as u32,
                    (Some(_), Some(p)) => p.count,
                    (Some(_), None) => i.saved.map_or(0, |c| c.desired.max(0) as u32),
                    (None, _) => 1,
                };
                let seen = Seen {
                    up,
                    since: at,
                    cause,
                    group: s.groups[g].name.clone(),
                    kind: i.kind,
                    name: i.tags.get("Name").cloned().unwrap_or_default(),
                    size: i
                        .size
                        .clone()
                        .or_else(|| previous.and_then(|p| p.size.clone())),
                    count,
                    hourly: i.tags.get(HOURLY_COST_TAG).cloned(),
                    began,
                };
                match previous {
                    Some(p) if p.up == up => {
                        // No change: keep what the history knew, with what it learned
                        // about the resource since (its size, its count while up).
                        mine.insert(
                            i.id.clone(),
                            Seen {
                                since: p.since,
                                cause: p.cause,
                                began: p.began,
                                ..seen
                            },
                        );
                    }
                    _ => {
                        let was = previous.map(|p| Was {
                            since: p.since,
                            cause: p.cause,
                            began: p.began,
                        });
                        entry.changes.push(Change {
                            id: i.id.clone(),
                            now: seen.clone(),
                            was,
                        });
                        mine.insert(i.id.clone(), seen);
                    }
                }
            }
        }
        // Resources of the schedule no longer in it: untagged, regrouped, gone. One in
        // a place that could not be observed is not gone.
        let left: Vec<String> = mine
            .iter()
            .filter(|(id, seen)| {
                !present.contains(*id)
                    && seen.cause != Cause::Left
                    && !pass.unseen.iter().any(|p| place_of(id) == p)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in left {
            let Some(p) = mine.get(&id).cloned() else {
                continue;
            };
            let seen = Seen {
                up: false,
                since: now,
                cause: Cause::Left,
                began: None,
                ..p.clone()
            };
            entry.changes.push(Change {
                id: id.clone(),
                now: seen.clone(),
                was: Some(Was {
                    since: p.since,
                    cause: p.cause,
                    began: p.began,
                }),
            });
            mine.insert(id, seen);
        }
        if !entry.changes.is_empty() || !entry.marks.is_empty() {
            out.push(entry);
        }
    }
    out
}

fn place_of(id: &str) -> &str {
    id.rsplit_once('@').map_or("", |(_, place)| place)
}

/// Why the scheduler acted in `direction` on a schedule: a force, or the transition
/// that opened `sequence`, which fell on a date with an exception or not. A force is
/// [`Cause::Forced`] here; [`record`] makes it the bot's when a note names it.
pub fn cause_of(s: &Schedule, sequence: Option<&Sequence>, direction: Direction) -> Cause {
    let Some(q) = sequence else {
        // A stop with no sequence: a database AWS restarted, stopped again in the
        // schedule's stopped period.
        return Cause::Schedule;
    };
    if q.forced {
        return Cause::Forced;
    }
    // A ready-by start names its transition; any other began at or after it.
    let at = q.ready_by.unwrap_or(q.began);
    let transition = calendar::transitions(s, at - Duration::hours(25), at)
        .into_iter()
        .rev()
        .find(|t| t.direction == direction);
    match transition {
        Some(t)
            if s.exceptions
                .contains_key(&(t.at.with_timezone(&s.tz).date_naive(), direction)) =>
        {
            Cause::Exception
        }
        _ => Cause::Schedule,
    }
}

/// The schedule-wide marks of a pass: chains that finished, and failures.
fn marks(s: &Schedule, pass: &Pass) -> Vec<Mark> {
    marks_of(&s.name, pass.events, pass.open)
}

/// The marks of `schedule` among a pass's `events`, given the starts and stops that
/// were `open` before the pass (a chain up of a `ready-by` start carries its
/// ready-by time).
pub fn marks_of(schedule: &str, events: &[Event], open: &BTreeMap<String, Sequence>) -> Vec<Mark> {
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.schedule == schedule) {
        let at = e.at.with_timezone(&Utc);
        match &e.what {
            What::ScheduleReady { seconds } => out.push(Mark::ChainUp {
                began: at - Duration::seconds(*seconds),
                seconds: *seconds,
                ready_by: open.get(schedule).and_then(|q| q.ready_by),
            }),
            What::ScheduleStopped { seconds } => out.push(Mark::ChainDown {
                began: at - Duration::seconds(*seconds),
                seconds: *seconds,
            }),
            What::Error { message } => out.push(Mark::Failure {
                message: message.clone(),
            }),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------- reading it back

/// A stretch of one resource's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    /// From.
    pub from: DateTime<Utc>,
    /// Until.
    pub to: DateTime<Utc>,
    /// Running rather than stopped.
    pub up: bool,
    /// What began it.
    pub cause: Cause,
    /// When the start or stop that began it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub began: Option<DateTime<Utc>>,
}

impl Span {
    /// Its length in hours.
    pub fn hours(&self) -> f64 {
        (self.to - self.from).num_seconds() as f64 / 3600.0
    }
}

/// One resource's time within a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    /// The schedule.
    pub schedule: String,
    /// The resource's id.
    pub id: String,
    /// What the history last knew of it (group, kind, name, size, count).
    pub seen: Seen,
    /// Its spans, in time order, within the window; time after it left the schedule
    /// is not among them.
    pub spans: Vec<Span>,
}

/// Where a resource's state changed: when, up or not, why, when its sequence began.
type Point = (DateTime<Utc>, bool, Cause, Option<DateTime<Utc>>);

/// Every resource's spans within `[from, to)`, from the history's entries (those at
/// or after `from`, in any order) and what the history knows now.
pub fn tracks(
    entries: &[Entry],
    known: &Known,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Track> {
    let mut changes: BTreeMap<(String, String), Vec<&Change>> = BTreeMap::new();
    for e in entries {
        for c in &e.changes {
            changes
                .entry((e.schedule.clone(), c.id.clone()))
                .or_default()
                .push(c);
        }
    }
    for (schedule, resources) in known {
        for id in resources.keys() {
            changes.entry((schedule.clone(), id.clone())).or_default();
        }
    }
    let mut out = Vec::new();
    for ((schedule, id), mut list) in changes {
        list.sort_by_key(|c| c.now.since);
        let now_known = known.get(&schedule).and_then(|m| m.get(&id));
        // The points where its state changed: (instant, up, cause, began).
        let mut points: Vec<Point> = Vec::new();
        if let Some(first) = list.first()
            && let Some(was) = &first.was
        {
            points.push((was.since, !first.now.up, was.cause, was.began));
        }
        for c in &list {
            // A change recorded twice (two overlapping runs) is one change.
            if points
                .last()
                .is_some_and(|p| p.1 == c.now.up && p.2 != Cause::Left)
                && c.now.cause != Cause::Left
            {
                continue;
            }
            points.push((c.now.since, c.now.up, c.now.cause, c.now.began));
        }
        if points.is_empty()
            && let Some(k) = now_known
        {
            points.push((k.since, k.up, k.cause, k.began));
        }
        let Some(seen) = list
            .last()
            .map(|c| c.now.clone())
            .or_else(|| now_known.cloned())
        else {
            continue;
        };
        let mut spans = Vec::new();
        for (k, (at, up, cause, began)) in points.iter().enumerate() {
            let end = points.get(k + 1).map_or(to, |p| p.0);
            let (a, b) = ((*at).max(from), end.min(to));
            if a >= b || *cause == Cause::Left {
                continue;
            }
            spans.push(Span {
                from: a,
                to: b,
                up: *up,
                cause: *cause,
                began: *began,
            });
        }
        if spans.is_empty() {
            continue;
        }
        out.push(Track {
            schedule,
            id,
            seen,
            spans,
        });
    }
    out
}

/// When the schedule alone (its regular times, without exceptions or forces) would
/// have had its servers up within `[from, to)`.
pub fn regular_windows(
    s: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut regular = s.clone();
    regular.exceptions.clear();
    regular.enabled = true;
    // A period may have begun up to a week before the window.
    let list = calendar::transitions(&regular, from - Duration::days(8), to);
    let mut out = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    for t in list {
        match t.direction {
            Direction::Start => {
                open.get_or_insert(t.at);
            }
            Direction::Stop => {
                if let Some(start) = open.take() {
                    out.push((start, t.at));
                }
            }
        }
    }
    if let Some(start) = open {
        out.push((start, to));
    }
    out.into_iter()
        .map(|(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| a < b)
        .collect()
}

/// How one resource's time was spent within a window, in hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Hours it was part of the schedule within the window (always-on would run them all).
    pub hours: f64,
    /// Hours running.
    pub running: f64,
    /// Hours the schedule alone would have run it (while it was part of it).
    pub scheduled: f64,
    /// Hours stopped, by what stopped it.
    pub stopped_by: BTreeMap<Cause, f64>,
    /// Hours running outside the regular windows after a force-start, by when the
    /// force-start began.
    pub forced: BTreeMap<DateTime<Utc>, f64>,
    /// Hours running outside the regular windows because an exception moved the
    /// day's times (an extend), by local date.
    pub extended: BTreeMap<NaiveDate, f64>,
    /// Hours running outside the regular windows after a person started it.
    pub by_hand: f64,
}

impl Usage {
    /// Hours stopped, whatever stopped it.
    pub fn stopped(&self) -> f64 {
        self.stopped_by.values().sum()
    }
}

/// How `track`'s time was spent, against `windows` (its schedule's [`regular_windows`]).
pub fn usage(s: &Schedule, track: &Track, windows: &[(DateTime<Utc>, DateTime<Utc>)]) -> Usage {
    let mut u = Usage::default();
    for span in &track.spans {
        let hours = span.hours();
        u.hours += hours;
        let inside: f64 = windows
            .iter()
            .map(|(a, b)| overlap(span.from, span.to, *a, *b))
            .sum();
        u.scheduled += inside;
        if !span.up {
            *u.stopped_by.entry(span.cause).or_default() += hours;
            continue;
        }
        u.running += hours;
        let outside = hours - inside;
        if outside <= 0.0 {
            continue;
        }
        match span.cause {
            Cause::Forced | Cause::Bot => {
                *u.forced.entry(span.began.unwrap_or(span.from)).or_default() += outside;
            }
            Cause::Schedule | Cause::Exception => {
                // The outside part of a scheduled span lies at its ends: a start moved
                // earlier, or a stop moved later; date it by the span's last
                // outside instant.
                let last_inside_end = windows
                    .iter()
                    .filter(|(a, b)| *a < span.to && *b > span.from)
                    .map(|(_, b)| *b)
                    .max();
                let at = match last_inside_end {
                    Some(end) if end < span.to => end,
                    _ => span.from,
                };
                let date = at.with_timezone(&s.tz).date_naive();
                // Only an exception moves the day's times. Without one, time past the
                // regular stop is the stop chain's own pace (a group stops after
                // those that depend on it): running, but no override.
                if [Direction::Start, Direction::Stop]
                    .iter()
                    .any(|d| s.exceptions.contains_key(&(date, *d)))
                {
                    *u.extended.entry(date).or_default() += outside;
                }
            }
            Cause::Person => u.by_hand += outside,
            _ => {}
        }
    }
    u
}

fn overlap(a0: DateTime<Utc>, a1: DateTime<Utc>, b0: DateTime<Utc>, b1: DateTime<Utc>) -> f64 {
    let (from, to) = (a0.max(b0), a1.min(b1));
    if from < to {
        (to - from).num_seconds() as f64 / 3600.0
    } else {
        0.0
    }
}

/// Hours within the window during which at least one of `tracks` was running: how
/// long the schedule "ran", whatever the number of its resources.
pub fn union_hours(tracks: &[&Track]) -> f64 {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = tracks
        .iter()
        .flat_map(|t| t.spans.iter().filter(|s| s.up).map(|s| (s.from, s.to)))
        .collect();
    spans.sort();
    let mut total = 0i64;
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (a, b) in spans {
        match current {
            Some((c0, c1)) if a <= c1 => current = Some((c0, c1.max(b))),
            Some((c0, c1)) => {
                total += (c1 - c0).num_seconds();
                current = Some((a, b));
            }
            None => current = Some((a, b)),
        }
    }
    if let Some((c0, c1)) = current {
        total += (c1 - c0).num_seconds();
    }
    total as f64 / 3600.0
}

#[cfg(test)]
mod tests;
