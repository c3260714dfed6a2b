//! The decision: given this moment, the schedules, the observed fleet and what
//! earlier runs left behind, what should happen now, and when must we look again?
//!
//! [`decide`] (and [`plan`], its shape for one whole catalog) is a pure function. It
//! acts on *transitions*, not windows: the starts and stops that fell since the
//! previous run (so a late run catches up, and the last transition of a long gap
//! wins), and between transitions it leaves instances alone. A transition opens a
//! [`Sequence`] that walks the groups in dependency order over as many runs as it
//! takes: a group starts once every group it depends on is ready, and stops once
//! every group depending on it has stopped.
//!
//! The rooms: [`state`](RunState) (what is remembered), the sequence (one walk for
//! both directions), warnings, misfits (resources tagged but not scheduled), the
//! [`FleetIndex`], [`pace`](Durations) (learned durations) and the output
//! ([`Plan`], [`Event`], [`Action`]). [`steps`] is a whole run, pass by pass, as the
//! shell drives it.

mod index;
mod misfit;
mod output;
mod pace;
mod sequence;
mod state;
pub mod steps;
mod warnings;

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use index::FleetIndex;
pub use misfit::{Misfit, misfits};
pub use output::{Action, Event, Plan, What};
pub use pace::{Durations, READY_BY_MARGIN, default_seconds};
pub use state::{PartChange, RunState, RunWide, ScheduleState, Sequence, Warning, WindowCache};

use index::Digest;
use sequence::ScheduleRun;

use crate::fleet::{Direction, Instance, Kind};
use crate::schedule::{Catalog, Schedule, ScheduleError, TagPatterns};

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
    /// While a start or stop is under way, how often a run looks again within its
    /// budget, sooner than expected (a group may be up before its learned time).
    pub poll_every: Duration,
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
            poll_every: Duration::seconds(15),
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

impl Request {
    /// The schedule asked about.
    pub fn schedule(&self) -> &str {
        let (Request::ForceStart(name) | Request::ForceStop(name)) = self;
        name
    }

    /// `force-start` or `force-stop`.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::ForceStart(_) => "force-start",
            Request::ForceStop(_) => "force-stop",
        }
    }

    /// The request for `direction` on `schedule`.
    pub fn force(direction: Direction, schedule: impl Into<String>) -> Request {
        match direction {
            Direction::Start => Request::ForceStart(schedule.into()),
            Direction::Stop => Request::ForceStop(schedule.into()),
        }
    }
}

/// Which schedules a run plans.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every schedule.
    #[default]
    All,
    /// Those of shard `index` of `count`: with state kept per schedule, shards run
    /// at once without contending. Shard 0 reports the catalog's problems.
    Shard {
        /// This shard, from 0.
        index: u32,
        /// How many there are.
        count: u32,
    },
    /// These schedules only (an event about them): each is planned, due or not.
    Only(BTreeSet<String>),
}

impl Scope {
    /// Whether schedule `name` is this run's.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Shard { index, count } => shard_of(name, *count) == *index,
            Scope::Only(names) => names.contains(name),
        }
    }

    /// Whether this run reports the problems of the whole catalog (one run does).
    pub fn reports(&self) -> bool {
        match self {
            Scope::All => true,
            Scope::Shard { index, .. } => *index == 0,
            Scope::Only(_) => false,
        }
    }
}

/// The shard a schedule belongs to: a stable hash of its name (FNV-1a), so every
/// invocation agrees without talking to the others.
pub fn shard_of(name: &str, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(count.max(1))) as u32
}

/// An account and Region (or one kind of resource in it) that could not be
/// observed: the schedules that may have resources there wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    /// `account/region` as ids carry it, `""` for the function's own.
    pub place: String,
    /// The kind whose listing did not finish; `None`: nothing there was seen.
    pub kind: Option<Kind>,
    /// Why.
    pub error: String,
}

/// Everything a pass decides from. [`Inputs::new`] gives a pass over the whole
/// catalog that plans every schedule, as [`plan`] does; the run sets the rest.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The instant planned for.
    pub now: DateTime<Utc>,
    /// The schedules.
    pub catalog: &'a Catalog,
    /// The fleet as observed.
    pub fleet: &'a [Instance],
    /// The fleet indexed, if the observer kept one ([`FleetIndex::build`] otherwise).
    pub index: Option<&'a FleetIndex>,
    /// What earlier runs left.
    pub state: &'a RunState,
    /// Operators' asks.
    pub requests: &'a [Request],
    /// The planner's knobs.
    pub settings: &'a Settings,
    /// Which schedules are this run's.
    pub scope: &'a Scope,
    /// The `ScheduleName` values this deployment may act on; a schedule with another
    /// `TagValue` is reported and left alone. `None`: any.
    pub allowed: Option<&'a TagPatterns>,
    /// Places (or kinds in them) that could not be observed.
    pub unseen: &'a [Unseen],
    /// Problems of the deployment that skip nothing (a chat channel off), said once.
    pub notes: &'a [ScheduleError],
    /// Act on nothing: no start or stop goes on over runs.
    pub dry_run: bool,
    /// Plan every schedule in scope, due or not (otherwise only those due, changed,
    /// asked for or under way).
    pub every: bool,
}

impl<'a> Inputs<'a> {
    /// A pass at `now` over the whole catalog, planning every schedule.
    pub fn new(
        now: DateTime<Utc>,
        catalog: &'a Catalog,
        fleet: &'a [Instance],
        state: &'a RunState,
        settings: &'a Settings,
    ) -> Inputs<'a> {
        Inputs {
            now,
            catalog,
            fleet,
            index: None,
            state,
            requests: &[],
            settings,
            scope: &Scope::All,
            allowed: None,
            unseen: &[],
            notes: &[],
            dry_run: false,
            every: true,
        }
    }
}

/// Decides what happens at `now`. Pure: same inputs, same plan. The returned
/// [`Plan::state`] is the whole state for the next run.
pub fn plan(
    now: DateTime<Utc>,
    catalog: &Catalog,
    fleet: &[Instance],
    state: &RunState,
    requests: &[Request],
    settings: &Settings,
) -> Plan {
    let mut inputs = Inputs::new(now, catalog, fleet, state, settings);
    inputs.requests = requests;
    let mut p = decide(&inputs);
    let mut whole = state.schedules.clone();
    for name in &p.removed {
        whole.remove(name);
    }
    whole.append(&mut p.state.schedules);
    p.state.schedules = whole;
    p
}

/// Decides one pass. Pure. [`Plan::state`] holds the run-wide part and the parts of
/// the schedules this pass planned (or first saw); every other schedule's part is as
/// it was, except those in [`Plan::removed`].
pub fn decide(i: &Inputs) -> Plan {
    decide_after(i, None).0
}

/// What a pass found of the schedules it did not plan because they were not due, for
/// the next pass of the same run: that pass visits only the others, as long as the
/// catalog and the parts of the state it skips are the ones this pass saw (within a
/// run they change only by its own passes, which plan what they change, until it
/// reads the state again).
#[derive(Debug, Clone)]
pub(crate) struct Skipped {
    /// The catalog seen (where its schedules are, and how many).
    catalog: (usize, usize),
    /// When the pass was.
    at: DateTime<Utc>,
    /// The earliest instant one of the skipped schedules is due.
    until: DateTime<Utc>,
    /// The schedules (by their place in the catalog) a pass must still visit.
    visit: Vec<usize>,
    /// The skipped schedules' own next looks, by their place in the catalog.
    looks: Vec<(usize, DateTime<Utc>)>,
}

impl Skipped {
    /// How many schedules a pass after this one visits.
    #[cfg(test)]
    pub(crate) fn visits(&self) -> usize {
        self.visit.len()
    }

    /// Whether a pass of `i` may visit only the schedules this one did not skip.
    fn holds_for(&self, i: &Inputs) -> bool {
        let catalog = (
            i.catalog.schedules.as_ptr() as usize,
            i.catalog.schedules.len(),
        );
        self.catalog == catalog
            && self.at <= i.now
            && i.now < self.until
            && !i.every
            && i.requests.is_empty()
            && !matches!(i.scope, Scope::Only(_))
    }
}

/// [`decide`], after a pass of the same run that found `skipped` not due; also what
/// this pass found not due, for the next.
pub(crate) fn decide_after(i: &Inputs, skipped: Option<&Skipped>) -> (Plan, Skipped) {
    let Inputs {
        now,
        catalog,
        fleet,
        state,
        requests,
        settings,
        scope,
        ..
    } = *i;
    let mut out = Plan::default();
    let quiet = catalog.quiet || !scope.reports();
    out.state.run = state.run.clone();
    if !quiet {
        // Said once while it lasts: a problem that went away may be said again.
        out.state.run.reported_errors.clear();
    }
    let index: Cow<FleetIndex> = match i.index.filter(|x| x.fits(fleet)) {
        Some(x) => Cow::Borrowed(x),
        None => Cow::Owned(FleetIndex::build(fleet)),
    };
    // Asked of every schedule, twice a pass: the default (`*`) is answered once.
    let allowed = i.allowed.filter(|a| !a.allows_all());
    let refused = |s: &Schedule| allowed.is_some_and(|a| !a.allows(&s.tag_value));

    // Problems that skip a schedule, then those that skip nothing: each said once.
    let mut problems: Vec<(String, String, bool)> = Vec::new();
    for e in &catalog.errors {
        problems.push((e.schedule.clone(), e.problem.clone(), true));
    }
    if let Some(allowed) = allowed {
        for s in catalog.schedules.iter().filter(|s| refused(s)) {
            problems.push((
                s.name.clone(),
                format!(
                    "TagValue \"{}\" is not one this deployment may act on (allowed: {allowed})",
                    s.tag_value
                ),
                true,
            ));
        }
    }
    for w in catalog.warnings.iter().chain(i.notes) {
        problems.push((w.schedule.clone(), w.problem.clone(), false));
    }
    let held = held(i);
    for u in i.unseen {
        problems.push(("(targets)".into(), unseen_message(u, &held), false));
    }
    for (schedule, problem, skips) in problems.into_iter().filter(|_| !quiet) {
        let text = ScheduleError::new(&schedule, &problem).to_string();
        let new = !state.run.reported_errors.contains(&text);
        if out.state.run.reported_errors.insert(text) && new {
            let tz = catalog.get(&schedule).map_or(chrono_tz::UTC, |s| s.tz);
            let message = if skips {
                format!("{problem}; the schedule is skipped until it is fixed")
            } else {
                problem
            };
            out.events.push(Event {
                at: now.with_timezone(&tz).fixed_offset(),
                schedule,
                what: What::Error { message },
            });
        }
    }
    for r in requests {
        let name = r.schedule();
        let why = match catalog.find(name) {
            Err(why) => Some(why.to_string()),
            Ok(s) if refused(s) => Some(format!(
                "schedule \"{name}\": its TagValue \"{}\" is not one this deployment may act on",
                s.tag_value
            )),
            Ok(_) => None,
        };
        if let Some(why) = why {
            out.events.push(Event {
                at: now.fixed_offset(),
                schedule: name.to_string(),
                what: What::Error {
                    message: format!("cannot {}: {why}", r.verb()),
                },
            });
        }
    }
    if !quiet {
        // Walking the whole fleet is needed only when the catalog's memberships or
        // the fleet's tags changed since the last check.
        let checked = misfit_digest(catalog, &index, i.allowed);
        if state.run.misfits_checked.as_ref() != Some(&checked) {
            misfit::report_misfits(now, catalog, fleet, &mut out);
            out.state.run.misfits_checked = Some(checked);
        }
    }

    let mut moving = false;
    let mut kept_parts = Sorted::new(&state.schedules);
    let earlier = skipped.filter(|k| k.holds_for(i));
    let mut next = Skipped {
        catalog: (catalog.schedules.as_ptr() as usize, catalog.schedules.len()),
        at: now,
        until: DateTime::<Utc>::MAX_UTC,
        visit: Vec::new(),
        looks: Vec::new(),
    };
    let visits: Box<dyn Iterator<Item = usize>> = match earlier {
        Some(k) => {
            // What the earlier pass skipped is still not due: its looks are said
            // again, and only the rest is visited.
            next.until = k.until;
            next.looks.clone_from(&k.looks);
            for (at, look) in &k.looks {
                if *look > now
                    && *look <= now + settings.look_ahead
                    && !held.contains(&catalog.schedules[*at].name)
                {
                    out.look_at(*look);
                }
            }
            Box::new(k.visit.iter().copied())
        }
        None => Box::new(0..catalog.schedules.len()),
    };
    for at in visits {
        let s = &catalog.schedules[at];
        // Looked up first, so that the walk also tells whether some part has no
        // schedule (below).
        let previous = match earlier {
            Some(_) => state.schedules.get(&s.name),
            None => kept_parts.get(&s.name),
        };
        if !scope.includes(&s.name) || refused(s) {
            continue;
        }
        if held.contains(&s.name) {
            if previous.is_none() {
                // First seen while part of it cannot be: its transitions are kept for
                // the first run that sees everything.
                out.state.schedules.insert(
                    s.name.clone(),
                    ScheduleState {
                        consumed: Some(now - settings.first_run_lookback),
                        ..ScheduleState::default()
                    },
                );
            }
            next.visit.push(at);
            continue;
        }
        let asked = requests.iter().any(|r| r.schedule() == s.name);
        let due = i.every
            || asked
            || matches!(scope, Scope::Only(_))
            || previous.is_none_or(|p| {
                p.sequence.is_some()
                    || p.due.is_none_or(|d| d <= now)
                    || p.planned_with.as_deref() != Some(s.digest.as_str())
            });
        if !due {
            // Not due: it has a part, with a due time to come.
            if let Some(p) = previous {
                if let Some(look) = p.look {
                    if look > now && look <= now + settings.look_ahead {
                        out.look_at(look);
                    }
                    next.looks.push((at, look));
                }
                if let Some(due) = p.due {
                    next.until = next.until.min(due);
                }
            }
            continue;
        }
        next.visit.push(at);
        // A schedule seen for the first time looks back a little; one seen before
        // catches up from where it left off, within the limit.
        let since = previous
            .and_then(|p| p.consumed)
            .unwrap_or(now - settings.first_run_lookback)
            .max(now - settings.max_catch_up);
        let mut run = ScheduleRun {
            schedule: s,
            now,
            settings,
            state: previous.cloned().unwrap_or_default(),
            out: &mut out,
            groups: Vec::new(),
            loaded: false,
            moving: false,
            keeps_no_sequence: i.dry_run,
        };
        let index = &index;
        run.decide(since, requests, || index.members(fleet, s));
        moving |= run.moving;
        let mut kept = run.state;
        kept.places = Some(index.places(&s.tag_value));
        kept.planned_with = Some(s.digest.clone());
        if i.dry_run {
            // Nothing acts, so no start or stop goes on: keep only what a dry run can
            // know (transitions seen, warnings sent, errors reported).
            kept.sequence = None;
        }
        out.state.schedules.insert(s.name.clone(), kept);
    }
    // The state of a schedule that no longer exists goes, when this run sees the
    // whole catalog (an earlier pass of the run has seen to it already).
    if earlier.is_none()
        && matches!(scope, Scope::All)
        && !catalog.quiet
        && catalog.elsewhere.is_empty()
    {
        // Every pass asks; nearly always nothing went, which the walk beside the
        // (sorted) schedules above already knows; a set only when it found a part
        // that no schedule asked for.
        if kept_parts.any_unasked() {
            let known: BTreeSet<&str> = catalog
                .schedules
                .iter()
                .map(|s| s.name.as_str())
                .chain(catalog.errors.iter().map(|e| e.schedule.as_str()))
                .collect();
            out.removed = state
                .schedules
                .keys()
                .filter(|n| !known.contains(n.as_str()))
                .cloned()
                .collect();
        }
    }
    if !i.dry_run {
        let poll = now + settings.poll_every;
        out.follow_up = match out.next_look {
            Some(t) if t <= poll => Some(t),
            _ if moving => Some(poll),
            _ => None,
        };
    }
    (out, next)
}

/// The parts of a sorted map looked up by keys that mostly come in the same order
/// (the catalog is sorted by name): each lookup walks on from the last, and a key
/// out of order is looked up in the map.
struct Sorted<'a, V> {
    map: &'a std::collections::BTreeMap<String, V>,
    walk: std::iter::Peekable<std::collections::btree_map::Iter<'a, String, V>>,
    last: Option<&'a str>,
    /// Whether the walk passed a key no lookup asked for, or fell back to the map: a
    /// part that may have no schedule.
    passed: bool,
}

impl<'a, V> Sorted<'a, V> {
    fn new(map: &'a std::collections::BTreeMap<String, V>) -> Self {
        Sorted {
            map,
            walk: map.iter().peekable(),
            last: None,
            passed: false,
        }
    }

    fn get(&mut self, key: &'a str) -> Option<&'a V> {
        if self.last.is_some_and(|l| l >= key) {
            self.passed = true;
            return self.map.get(key);
        }
        self.last = Some(key);
        while let Some((k, v)) = self.walk.peek() {
            match k.as_str().cmp(key) {
                std::cmp::Ordering::Less => {
                    self.passed = true;
                    self.walk.next();
                }
                std::cmp::Ordering::Equal => {
                    let v = *v;
                    self.walk.next();
                    return Some(v);
                }
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// Whether some key of the map was asked for by no lookup (or may not have been):
    /// `false` only when every key was found, in order.
    fn any_unasked(&mut self) -> bool {
        self.passed || self.walk.peek().is_some()
    }
}

/// The schedules in scope that must wait because a place (or a kind in it) they use
/// could not be observed: those seen there before, and those whose places are not
/// known yet (which could be).
fn held(i: &Inputs) -> BTreeSet<String> {
    if i.unseen.is_empty() {
        return BTreeSet::new();
    }
    i.catalog
        .schedules
        .iter()
        .filter(|s| i.scope.includes(&s.name))
        .filter(|s| {
            let places = i
                .state
                .schedules
                .get(&s.name)
                .and_then(|st| st.places.as_ref());
            i.unseen.iter().any(|u| {
                let kind_used = u
                    .kind
                    .is_none_or(|k| s.groups.iter().any(|g| g.kind.admits(k)));
                kind_used && places.is_none_or(|p| p.contains(&u.place))
            })
        })
        .map(|s| s.name.clone())
        .collect()
}

/// What a run says of a place it could not see, or of a kind whose listing did not
/// finish there (whose error already names the place and the kind), and who waits.
fn unseen_message(u: &Unseen, held: &BTreeSet<String>) -> String {
    let names: Vec<&str> = held.iter().map(String::as_str).collect();
    let waiting = if names.is_empty() {
        String::new()
    } else {
        format!(", and {} wait for it", names.join(", "))
    };
    if u.kind.is_some() {
        return format!("{}; what it did not list is left alone{waiting}", u.error);
    }
    let mut place = if u.place.is_empty() {
        "this account and Region".to_string()
    } else {
        u.place.clone()
    };
    if let Some(first) = place.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    format!(
        "{place} could not be observed ({}); its resources are left alone{waiting}",
        u.error
    )
}

/// A digest of what decides which resources are misfits: the catalog's schedules
/// and problems, and the fleet's memberships.
fn misfit_digest(catalog: &Catalog, index: &FleetIndex, allowed: Option<&TagPatterns>) -> String {
    let mut d = Digest::default();
    for s in &catalog.schedules {
        d.add(&s.digest);
    }
    for e in &catalog.errors {
        d.add(&e.schedule);
    }
    for t in catalog.refused.keys().chain(&catalog.elsewhere) {
        d.add(t);
    }
    d.add(&allowed.map(|a| a.to_string()).unwrap_or_default());
    d.add(index.digest());
    d.finish()
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

#[cfg(test)]
mod tests;
