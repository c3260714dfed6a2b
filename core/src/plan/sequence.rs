//! One schedule's part of a pass: which transition or request applies, and the start
//! or stop that walks its groups in dependency order, one walk for both directions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::output::{Action, Event, Plan, What, failure_message};
use super::pace::{self, READY_BY_MARGIN};
use super::state::{ScheduleState, Sequence};
use super::{Request, Settings};
use crate::calendar::{self, Transition};
use crate::fleet::{Direction, Instance, Kind, Power, Target};
use crate::schedule::{GROUP_TAG, SCHEDULE_TAG, Schedule, StartMode};

/// How far ahead the next transition is looked for when none falls within the
/// look-ahead; a schedule with nothing in that span is looked at again after it.
const DUE_SEARCH: i64 = 8;

/// How often a schedule with databases it stopped is looked at between its
/// transitions, to tell one a person started (left alone) from one AWS started after
/// seven days (stopped again), when no start comes first.
const RESTART_CHECK: i64 = 60;

/// How far back, in days, an `Enforced` schedule's last transition is looked for: a
/// schedule that acted on none of them leaves its resources alone.
const ENFORCE_REACH: i64 = 400;

/// One schedule's part of a pass.
pub(crate) struct ScheduleRun<'a> {
    pub(crate) schedule: &'a Schedule,
    pub(crate) now: DateTime<Utc>,
    pub(crate) settings: &'a Settings,
    pub(crate) state: ScheduleState,
    pub(crate) out: &'a mut Plan,
    /// The schedule's instances per group, in the schedule's group order.
    pub(crate) groups: Vec<Vec<&'a Instance>>,
    /// Whether `groups` was looked up.
    pub(crate) loaded: bool,
    /// Whether a start or stop is under way with a group that may arrive sooner than
    /// expected, so that the run looks again within its budget.
    pub(crate) moving: bool,
    /// Whether the pass keeps no start or stop under way (a dry run): then when the
    /// schedule is next due is always set, even while one goes on in this plan.
    pub(crate) keeps_no_sequence: bool,
}

impl<'a> ScheduleRun<'a> {
    /// Plans the schedule at `now`: transitions since `since`, the operators'
    /// `requests`, the start or stop under way, warnings; and when it is next due.
    pub(crate) fn decide(
        &mut self,
        since: DateTime<Utc>,
        requests: &[Request],
        members: impl FnOnce() -> Vec<Vec<&'a Instance>>,
    ) {
        let s = self.schedule;
        // A maintenance window's opening is always a ready-by time: the resources are
        // to be up when it opens.
        let ready_by = s.start_mode == StartMode::ReadyBy || !s.windows.is_empty();
        let ready_for = |t: &Transition| {
            s.start_mode == StartMode::ReadyBy || matches!(t.cause, calendar::Cause::Window(_))
        };
        let horizon = self.now + self.settings.warn_before.max(self.settings.look_ahead);
        // A ready-by start begins before its time: look as far ahead as it may.
        let until = if ready_by {
            horizon + self.settings.max_lead
        } else {
            horizon
        };
        let coming = calendar::transitions(s, since.min(self.now), until);
        let mut members = Some(members);
        let lead = if coming
            .iter()
            .any(|t| t.direction == Direction::Start && t.at > self.now && ready_for(t))
        {
            self.load_members(&mut members);
            Some(self.lead())
        } else {
            None
        };
        // When each transition is due: a ready-by start its lead before its time.
        let due = |t: &Transition| match (t.direction, lead) {
            (Direction::Start, Some(lead)) if ready_for(t) => t.at - lead,
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
                    (ready_for(last) && last.direction == Direction::Start).then_some(last.at)
                }),
            ))
        } else if s.force_start && !running_forced_start {
            Some((Direction::Start, true, None))
        } else if s.enforced && s.enabled && self.state.sequence.is_none() {
            self.enforce(&mut members).map(|d| (d, false, None))
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

        // The next stop that will happen: one at the same instant as a start does not
        // (the start wins), so nobody is warned about it.
        let starts_at: BTreeSet<DateTime<Utc>> = coming
            .iter()
            .filter(|t| t.direction == Direction::Start)
            .map(|t| t.at)
            .collect();
        let next_stop = future
            .iter()
            .filter(|t| t.at <= horizon)
            .find(|t| t.direction == Direction::Stop && !starts_at.contains(&t.at))
            .map(|t| t.at);
        if self.state.sequence.is_some() || next_stop.is_some() || !self.state.stopped.is_empty() {
            self.load_members(&mut members);
            if self.state.sequence.is_none() {
                self.stop_what_aws_restarted();
            }
            if let Some(sequence) = self.state.sequence.take() {
                self.out
                    .look_at(sequence.began + self.settings.sequence_timeout);
                self.state.sequence = self.advance(sequence);
            }
            self.warn(next_stop);
        } else {
            self.state.warning = None;
        }
        // While a start or stop goes on, the schedule is planned on every pass and
        // when it is next due is read by none: the pass that ends it sets that. (A
        // search a day ahead on every pass of every chain under way, saved.)
        if self.state.sequence.is_some() && !self.keeps_no_sequence {
            return;
        }
        let next = future
            .iter()
            .find(|t| !(t.direction == Direction::Stop && starts_at.contains(&t.at)))
            .map(|t| (**t, due(t)));
        self.set_due(next, until, &mut members);
    }

    /// For an `Enforced` schedule between transitions: the direction that brings its
    /// resources back to the state of the last transition, when some (not
    /// protected, and not a start that already failed) were changed by hand; said
    /// in the chat, naming them.
    fn enforce(
        &mut self,
        members: &mut Option<impl FnOnce() -> Vec<Vec<&'a Instance>>>,
    ) -> Option<Direction> {
        let s = self.schedule;
        let last = calendar::last_at_or_before(s, self.now, Duration::days(ENFORCE_REACH))?;
        self.load_members(members);
        let off: Vec<&Instance> = self
            .groups
            .iter()
            .flatten()
            .filter(|i| match last.direction {
                Direction::Start => i.power == Power::Stopped && !start_failed(i),
                Direction::Stop => i.power == Power::Running,
            })
            .copied()
            .collect();
        if off.is_empty() {
            return None;
        }
        let local = last.at.with_timezone(&s.tz).format("%a %H:%M");
        let message = match last.direction {
            Direction::Start => format!(
                "Enforced: {} stopped outside the schedule, which has been running since {local}; starting again",
                describe(&off)
            ),
            Direction::Stop => format!(
                "Enforced: {} started outside the schedule, which has been stopped since {local}; stopping again",
                describe(&off)
            ),
        };
        self.event(self.now, What::Notice { message });
        Some(last.direction)
    }

    /// Works out when the schedule next needs planning (`due`), and the first of
    /// those instants worth waking the function for.
    fn set_due(
        &mut self,
        next: Option<(Transition, DateTime<Utc>)>,
        until: DateTime<Utc>,
        members: &mut Option<impl FnOnce() -> Vec<Vec<&'a Instance>>>,
    ) {
        let s = self.schedule;
        let next = next.or_else(|| {
            // Nothing within the window: the first transition after it. A ready-by
            // start may begin up to the longest lead before its time. It is nearly
            // always within a day (this runs on every pass of a start or stop), so
            // the day is searched first; the windows are `(after, until]`, so the
            // two searches cover the same instants as one.
            let day = until + Duration::days(1);
            calendar::transitions(s, until, day)
                .into_iter()
                .next()
                .or_else(|| {
                    calendar::transitions(s, day, until + Duration::days(DUE_SEARCH))
                        .into_iter()
                        .next()
                })
                .map(|t| {
                    let ready_for = s.start_mode == StartMode::ReadyBy
                        || matches!(t.cause, calendar::Cause::Window(_));
                    let due = match t.direction {
                        Direction::Start if ready_for => t.at - self.settings.max_lead,
                        _ => t.at,
                    };
                    (t, due.max(until))
                })
        });
        let mut due: Vec<DateTime<Utc>> = Vec::new();
        if let Some((t, at)) = next {
            due.push(at);
            if t.direction == Direction::Stop {
                // The warnings before it, when something would hear of them.
                self.load_members(members);
                if self.groups.iter().flatten().any(|i| i.power.is_live()) {
                    let half = Duration::seconds((self.settings.warn_before.num_seconds() + 1) / 2);
                    due.push(t.at - self.settings.warn_before);
                    due.push(t.at - half);
                }
            }
        }
        let look = due.iter().copied().filter(|t| *t > self.now).min();
        if let Some(first) = self.state.stopped.values().min() {
            let restart = *first + self.settings.aws_restart_after;
            due.push(restart);
            // The checks between tell a database a person started from one AWS
            // started; a start before AWS's seven days are up clears the list, so
            // then there is nothing to tell apart.
            if !next.is_some_and(|(t, _)| t.direction == Direction::Start && t.at <= restart) {
                due.push(self.now + Duration::minutes(RESTART_CHECK));
            }
        }
        if s.enforced && s.enabled {
            // Checked at every run; no reason to wake the function for it.
            due.push(self.now + Duration::seconds(1));
        }
        self.state.due = Some(
            due.into_iter()
                .filter(|t| *t > self.now)
                .min()
                .unwrap_or(self.now + Duration::days(DUE_SEARCH - 1)),
        );
        self.state.look = look;
    }

    /// One step of the start or stop under way, walking the groups in dependency
    /// order (a start) or in reverse (a stop): a group is acted on once every group
    /// it waits for (its dependencies, or its dependents) has arrived (up, or down),
    /// and none of them is blocked. Returns the sequence if it goes on.
    fn advance(&mut self, mut q: Sequence) -> Option<Sequence> {
        let s = self.schedule;
        let d = q.direction;
        let n = s.groups.len();
        let index: HashMap<&str, usize> = s
            .groups
            .iter()
            .enumerate()
            .map(|(k, g)| (g.name.as_str(), k))
            .collect();
        let estimates = self.estimates(d);
        let paths = pace::paths(s, &estimates);
        // Per group: arrived (the groups waiting for it may go on), blocked (never will
        // in this sequence).
        let mut arrived = vec![false; n];
        let mut blocked = vec![false; n];
        let fresh = q.acted.is_empty();
        let order: Vec<usize> = match d {
            Direction::Start => (0..n).collect(),
            Direction::Stop => (0..n).rev().collect(),
        };
        for g in order {
            let members = self.groups[g].clone();
            let name = s.groups[g].name.clone();
            let waits_for: Vec<usize> = match d {
                Direction::Start => s.groups[g]
                    .depends_on
                    .iter()
                    .filter_map(|x| index.get(x.as_str()).copied())
                    .collect(),
                Direction::Stop => (g + 1..n)
                    .filter(|h| s.groups[*h].depends_on.contains(&name))
                    .collect(),
            };
            let clear = waits_for.iter().all(|w| arrived[*w]);
            blocked[g] = waits_for.iter().any(|w| blocked[*w]);
            if members.is_empty() {
                arrived[g] = d == Direction::Stop || !self.empty_blocks(g);
                blocked[g] |= !arrived[g];
                continue;
            }
            self.state.reported.remove(&empty_key(&name));
            if members.iter().all(|i| has_arrived(i, d)) {
                arrived[g] = true;
                if d == Direction::Stop {
                    for i in &members {
                        if matches!(i.kind, Kind::Rds | Kind::Aurora)
                            && i.power == Power::Stopped
                            && q.acted.contains_key(&i.id)
                        {
                            self.state
                                .stopped
                                .entry(i.id.clone())
                                .or_insert(i.since.unwrap_or(self.now));
                        }
                    }
                }
                if members.iter().any(|i| q.acted.contains_key(&i.id))
                    && q.done.insert(name.clone())
                {
                    let at = self.reached_at(&members);
                    q.settled_at = Some(q.settled_at.map_or(at, |t| t.max(at)));
                    self.learn(&q, g, &members, at);
                    let what = match d {
                        Direction::Start => What::Ready { group: name },
                        Direction::Stop => What::Stopped { group: name },
                    };
                    self.event(at, what);
                }
                continue;
            }
            self.expect(&q, &members, estimates[g]);
            let failed: Vec<&Instance> = members
                .iter()
                .copied()
                .filter(|i| self.failed(&q, i))
                .collect();
            if !failed.is_empty() {
                blocked[g] = true;
                if q.failed.insert(name.clone()) {
                    let codes: Vec<&str> = failed.iter().filter_map(|i| i.reason_code()).collect();
                    let message = failure_message(s, &name, d, &describe(&failed), &codes);
                    self.event(self.now, What::Error { message });
                }
            }
            // A ready-by start begins each group no earlier than its path needs.
            let not_before = q
                .ready_by
                .filter(|_| d == Direction::Start)
                .map(|t| t - paths[g] - READY_BY_MARGIN)
                .filter(|t| *t > self.now);
            if let Some(t) = not_before
                && clear
                && !blocked[g]
            {
                self.out.look_at(t);
            }
            if !clear || blocked[g] || not_before.is_some() {
                continue;
            }
            let (ready, waiting): (Vec<&Instance>, Vec<&Instance>) = members
                .iter()
                .copied()
                .filter(|i| !has_arrived(i, d) && !q.acted.contains_key(&i.id))
                .filter(|i| !q.refused.contains(&i.id))
                .partition(|i| can_act(i, d));
            if !waiting.is_empty() {
                // Starting, or busy: acted on once it can be.
                self.out.look_at(self.now + self.settings.recheck);
            }
            let (to_act, sizeless): (Vec<&Instance>, Vec<&Instance>) =
                ready.into_iter().partition(|i| {
                    d == Direction::Stop
                        || !i.kind.scales()
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
                if q.failed.insert(name.clone()) {
                    let who: Vec<String> = sizeless
                        .iter()
                        .map(|i| {
                            format!(
                                "{} (at size 0 with no earlier size known: the scheduler did not stop it; set its size once by hand)",
                                i.label()
                            )
                        })
                        .collect();
                    let message = failure_message(s, &name, d, &who.join(", "), &[]);
                    self.event(self.now, What::Error { message });
                }
            }
            if !to_act.is_empty() {
                for i in &to_act {
                    q.acted.insert(i.id.clone(), self.now);
                    if d == Direction::Start {
                        self.state.saved.remove(&i.id);
                    }
                }
                if fresh {
                    self.out.began.insert(s.name.clone(), d);
                }
                self.out.look_at(self.now + estimates[g]);
                self.act(d, g, to_act);
            }
        }
        // Something acted on and not there yet may be there before it is expected.
        self.moving |= (0..n).any(|g| {
            !arrived[g]
                && !blocked[g]
                && self.groups[g]
                    .iter()
                    .filter_map(|i| q.acted.get(&i.id))
                    .min()
                    .is_some_and(|t| self.now < *t + estimates[g] * 3)
        });
        if (0..n).all(|g| arrived[g] || blocked[g]) {
            let any_blocked = blocked.iter().any(|b| *b);
            if !any_blocked && !q.acted.is_empty() {
                let at = q.settled_at.unwrap_or(self.now);
                let seconds = (at - q.began).num_seconds().max(0);
                let what = match d {
                    Direction::Start => What::ScheduleReady { seconds },
                    Direction::Stop => What::ScheduleStopped { seconds },
                };
                self.event(at, what);
            }
            if d == Direction::Start && q.forced && s.force_start {
                self.out.clear_force_start.push(s.name.clone());
            }
            return None;
        }
        self.give_up_after_timeout(q, &arrived)
    }

    /// Whether empty group `g` holds back the groups that depend on it, which it
    /// does unless it is optional or no dependent has resources of its own (a
    /// schedule nothing is tagged into yet is quiet); said once while it lasts.
    fn empty_blocks(&mut self, g: usize) -> bool {
        let s = self.schedule;
        let group = &s.groups[g];
        if group.optional {
            return false;
        }
        let dependents: Vec<String> = s
            .dependents_of(&group.name)
            .into_iter()
            .filter(|name| {
                s.groups
                    .iter()
                    .position(|x| &x.name == name)
                    .is_some_and(|i| !self.groups[i].is_empty())
            })
            .collect();
        if dependents.is_empty() {
            return false;
        }
        if self.state.reported.insert(empty_key(&group.name)) {
            let only = match group.kind {
                crate::schedule::KindFilter::Any => String::new(),
                k => format!(" (it takes {} only)", k.describe()),
            };
            let message = format!(
                "{} has no resources tagged {SCHEDULE_TAG}={}, {GROUP_TAG}={}{only}; {} {}. Tag its resources, or mark the group \"Optional\": true",
                group.name,
                s.tag_value,
                group.name,
                dependents.join(", "),
                if dependents.len() == 1 {
                    "waits"
                } else {
                    "wait"
                }
            );
            self.event(self.now, What::Error { message });
        }
        true
    }

    /// The schedule's instances per group, looked up once, when first needed.
    fn load_members(&mut self, members: &mut Option<impl FnOnce() -> Vec<Vec<&'a Instance>>>) {
        if let Some(members) = members.take() {
            self.groups = members();
            self.loaded = true;
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

    pub(crate) fn event(&mut self, at: DateTime<Utc>, what: What) {
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

    /// Whether `i` did not do what the sequence asked: the cloud refused it; or it is
    /// in a state it cannot be started from (RDS `incompatible-…`); or, on a start,
    /// EC2 says it stopped again and why (a KMS key it may not use: seen at the first
    /// look after the start, not only once `settle` has passed); or it has had time to
    /// change and has not.
    fn failed(&self, q: &Sequence, i: &Instance) -> bool {
        let unchanged = match q.direction {
            Direction::Start => matches!(i.power, Power::Stopped | Power::Failed),
            Direction::Stop => matches!(i.power, Power::Running | Power::Starting),
        };
        if !unchanged {
            return false;
        }
        if q.refused.contains(&i.id) || i.power == Power::Failed {
            return true;
        }
        q.acted.get(&i.id).is_some_and(|t| {
            self.now - *t >= self.settings.settle
                || (q.direction == Direction::Start && *t < self.now && start_failed(i))
        })
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
}

/// Whether `i` is where direction `d` takes it: up for a start; stopped for a stop,
/// or failed, which no stop can change.
fn has_arrived(i: &Instance, d: Direction) -> bool {
    match d {
        Direction::Start => i.power.is_up(),
        Direction::Stop => matches!(i.power, Power::Stopped | Power::Failed),
    }
}

/// Whether `i` can be acted on in direction `d` now: a start needs it stopped; a stop
/// takes what is running, and a resource that scales while it is still scaling up (a
/// service whose tasks cannot be placed is scaled to zero like any other). An EC2
/// instance still pending, or a database still starting or busy, is stopped once it
/// can be.
fn can_act(i: &Instance, d: Direction) -> bool {
    match d {
        Direction::Start => i.power == Power::Stopped,
        Direction::Stop => {
            i.power == Power::Running || (i.power == Power::Starting && i.kind.scales())
        }
    }
}

/// Whether EC2 says a stopped instance stopped for a reason other than being stopped
/// (by a person, the scheduler or its own shutdown): the start failed.
fn start_failed(i: &Instance) -> bool {
    i.kind == Kind::Ec2
        && i.reason.is_some()
        && !matches!(
            i.reason_code(),
            Some("Client.UserInitiatedShutdown" | "Client.InstanceInitiatedShutdown")
        )
}

/// The key under which an empty group's report is remembered.
fn empty_key(group: &str) -> String {
    format!("empty {group}")
}

pub(crate) fn describe(instances: &[&Instance]) -> String {
    let names: Vec<String> = instances
        .iter()
        .map(|i| match &i.reason {
            Some(reason) => format!("{} ({reason})", i.label()),
            None => i.label(),
        })
        .collect();
    names.join(", ")
}
