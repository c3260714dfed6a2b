//! The record of what ran: each scheduled resource's running and stopped spans and
//! who caused each change (the rules are the core's, [`scheduler_core::history`]),
//! kept by the run ([`Recorder`]: one batched write per run that changed something)
//! and read back by the report and the weekly summary, never by a run.
//!
//! Where it lives: a history table (`HISTORY_TABLE`) holds one item per schedule and
//! pass with changes, expiring after `HISTORY_DAYS` (400 by default). What the
//! history last saw of each schedule's resources is a side item of the state table
//! (`seen#NAME`), read with the run state at no extra request; so is the note of who
//! asked for each schedule's latest force (`origin#NAME`, written by the chat bot), by
//! which the history tells the bot's forces from an operator's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

pub use scheduler_core::history::*;

use crate::fleet::{Failure, Instance};
use crate::plan::{Plan, RunState, Scope, Sequence, Unseen};
use crate::pricing::PriceBook;
use crate::schedule::Catalog;
pub use crate::store::HistoryTable;
use crate::store::{SideItems, Store};

/// What a schedule saved in stopped spans that ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Saving {
    /// Resource-hours stopped.
    pub hours: f64,
    /// Their list (or tagged) price in dollars; `None` when some are unpriced.
    pub dollars: Option<f64>,
}

/// Days an entry is kept unless `HISTORY_DAYS` says otherwise.
pub const DEFAULT_DAYS: u32 = 400;

/// The side item holding what the history last saw of a schedule.
pub fn seen_id(schedule: &str) -> String {
    format!("seen#{schedule}")
}

/// The side item holding the note of who asked for a schedule's latest force
/// ([`Origin`]): the chat bot writes it just before it hands a force over, and the
/// run that carries the force out reads it with its state.
pub fn origin_id(schedule: &str) -> String {
    format!("origin#{schedule}")
}

/// The notes of who asked for each schedule's latest force, by schedule, from the
/// side items a state read found. A note that does not read names nobody: its force
/// is recorded as an operator's.
pub fn origins_from(side: &SideItems) -> BTreeMap<String, Origin> {
    side.iter()
        .filter_map(|(id, note)| {
            let schedule = id.strip_prefix("origin#")?;
            match note.parse::<Origin>() {
                Ok(o) => Some((schedule.to_string(), o)),
                Err(e) => {
                    tracing::warn!(action = "history", schedule, "{e}");
                    None
                }
            }
        })
        .collect()
}

/// What a run measured beyond its events, per schedule
/// ([`Recorder::measures`]), for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measures {
    /// What each schedule saved in stopped spans this run closed.
    pub savings: BTreeMap<String, Saving>,
    /// Seconds late (negative: early) of each `ready-by` start that came up.
    pub ready_by_late: BTreeMap<String, i64>,
    /// Resources of each schedule observed running in the last pass that planned it.
    pub running: BTreeMap<String, usize>,
}

/// What the history knows now, from the side items a state read found.
pub fn known_from(side: &SideItems) -> Known {
    side.iter()
        .filter_map(|(id, json)| {
            let schedule = id.strip_prefix("seen#")?;
            // A side item that no longer reads starts that schedule's history afresh.
            let seen = serde_json::from_str(json).ok()?;
            Some((schedule.to_string(), seen))
        })
        .collect()
}

/// One run's record: what each pass changed, written once at the end; and, history
/// or not, what the run's metrics measure beyond its events (ready-by lateness, the
/// resources running at its end), from what the passes already have.
#[derive(Debug, Default)]
pub struct Recorder {
    on: bool,
    /// Measuring for the metrics (every run but a dry one, which writes none).
    measuring: bool,
    scope: Scope,
    known: Known,
    origins: BTreeMap<String, Origin>,
    open: BTreeMap<String, Sequence>,
    entries: Vec<Entry>,
    late: BTreeMap<String, i64>,
    running: BTreeMap<String, usize>,
}

impl Recorder {
    /// Starts recording a run of `scope` whose state was read as `state` (off when the
    /// store keeps no history, and in a dry run, which changes nothing).
    pub fn begin<S: Store>(store: &S, scope: &Scope, state: &RunState, dry_run: bool) -> Recorder {
        if dry_run {
            return Recorder::default();
        }
        let on = store.keeps_history();
        let side = if on {
            store.side_items()
        } else {
            SideItems::new()
        };
        Recorder {
            on,
            measuring: true,
            scope: scope.clone(),
            known: known_from(&side),
            origins: origins_from(&side),
            open: open_sequences(state),
            ..Recorder::default()
        }
    }

    /// The same recorder, taking measures only when they are `wanted` (the run's
    /// metrics go somewhere); the history itself is kept either way. Measuring looks
    /// at each planned schedule's resources on every pass, which a run whose metrics
    /// go nowhere (the simulator's) need not pay for.
    pub fn measuring(mut self, wanted: bool) -> Recorder {
        self.measuring &= wanted;
        self
    }

    /// Records one pass: the fleet it saw, what its plan did and reported.
    pub fn pass(
        &mut self,
        now: DateTime<Utc>,
        catalog: &Catalog,
        seen: &crate::cloud::Observation,
        unseen: &[Unseen],
        plan: &Plan,
        failures: &[Failure],
    ) {
        let fleet: &[Instance] = &seen.instances;
        if self.measuring {
            self.measure(catalog, fleet, seen.index.as_deref(), plan);
        }
        if !self.on {
            if self.measuring {
                self.open = open_sequences(&plan.state);
            }
            return;
        }
        let unseen: Vec<String> = unseen.iter().map(|u| u.place.clone()).collect();
        let pass = Pass {
            now,
            catalog,
            scope: &self.scope,
            fleet,
            unseen: &unseen,
            actions: &plan.actions,
            failures,
            events: &plan.events,
            open: &self.open,
            after: &plan.state,
            origins: &self.origins,
        };
        let entries = record(&pass, &mut self.known);
        self.entries.extend(entries);
        self.open = open_sequences(&plan.state);
    }

    /// Takes a pass's measures: the lateness of each `ready-by` start that came up
    /// (the history's own mark, [`Mark::ready_by_late`]), and how many resources of
    /// each schedule this pass planned were observed running. A schedule another pass
    /// planned keeps that pass's count; one that is not planned has nothing under way
    /// and writes no metric line. Only the planned schedules' resources are looked at
    /// (through the fleet's index): a pass costs what is due, not the fleet.
    fn measure(
        &mut self,
        catalog: &Catalog,
        fleet: &[Instance],
        index: Option<&crate::plan::FleetIndex>,
        plan: &Plan,
    ) {
        let ready: BTreeSet<&str> = plan
            .events
            .iter()
            .filter(|e| matches!(e.what, crate::plan::What::ScheduleReady { .. }))
            .map(|e| e.schedule.as_str())
            .collect();
        for name in ready {
            for m in marks_of(name, &plan.events, &self.open) {
                if let Some((_, late)) = m.ready_by_late() {
                    self.late.insert(name.to_string(), late);
                }
            }
        }
        let planned: Vec<&crate::schedule::Schedule> = plan
            .state
            .schedules
            .keys()
            .filter(|name| self.scope.includes(name))
            .filter_map(|name| catalog.get(name))
            .collect();
        if planned.is_empty() {
            return;
        }
        let index = match index.filter(|x| x.fits(fleet)) {
            Some(x) => std::borrow::Cow::Borrowed(x),
            None => std::borrow::Cow::Owned(crate::plan::FleetIndex::build(fleet)),
        };
        for s in planned {
            let members = index.members(fleet, s);
            let up = members.iter().flatten().filter(|i| i.power.is_up()).count();
            match self.running.get_mut(&s.name) {
                Some(n) => *n = up,
                None => {
                    self.running.insert(s.name.clone(), up);
                }
            }
        }
    }

    /// What the run's metrics measure beyond its events, with what each schedule
    /// saved at the `prices` (read only when something was recorded;
    /// [`Recorder::saved`]). No request.
    pub fn measures(&self, prices: impl FnOnce() -> PriceBook) -> Measures {
        Measures {
            savings: if self.entries.is_empty() {
                BTreeMap::new()
            } else {
                self.saved(&prices())
            },
            ready_by_late: self.late.clone(),
            running: self.running.clone(),
        }
    }

    /// What the run recorded.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What each schedule saved in the stopped spans this run ended (a resource
    /// started again): resource-hours, and dollars at `prices` where every one of
    /// them is priced. For the run's metrics; no request.
    pub fn saved(&self, prices: &PriceBook) -> BTreeMap<String, Saving> {
        let mut out: BTreeMap<String, Saving> = BTreeMap::new();
        for e in &self.entries {
            for c in &e.changes {
                let Some(was) = c.was.as_ref().filter(|_| c.now.up) else {
                    continue;
                };
                if matches!(was.cause, Cause::Seen | Cause::Left) {
                    continue;
                }
                let count = f64::from(c.now.count.max(1));
                let hours = (c.now.since - was.since).num_seconds().max(0) as f64 / 3600.0 * count;
                let s = out.entry(e.schedule.clone()).or_insert(Saving {
                    hours: 0.0,
                    dollars: Some(0.0),
                });
                s.hours += hours;
                s.dollars = match (s.dollars, prices.hourly(&c.id, &c.now)) {
                    (Some(d), Some((p, _))) => Some(d + hours * p),
                    _ => None,
                };
            }
        }
        out
    }

    /// Writes what the run recorded, with what the history now knows of the
    /// schedules that changed: one batched write, nothing when nothing changed. A
    /// failure is logged; it never fails the run.
    pub async fn flush<S: Store>(&mut self, store: &S) {
        if self.entries.is_empty() {
            return;
        }
        let touched: BTreeSet<&str> = self
            .entries
            .iter()
            .filter(|e| !e.changes.is_empty())
            .map(|e| e.schedule.as_str())
            .collect();
        let side: Vec<(String, String)> = touched
            .iter()
            .filter_map(|s| {
                let seen = self.known.get(*s)?;
                Some((seen_id(s), serde_json::to_string(seen).ok()?))
            })
            .collect();
        match store.record(&self.entries, &side).await {
            Ok(()) => self.entries.clear(),
            Err(e) => tracing::error!(
                action = "history",
                "the history of this run was not written: {e}"
            ),
        }
    }
}

fn open_sequences(state: &RunState) -> BTreeMap<String, Sequence> {
    // What was open is read only for a ready-by start's time (the chain-up mark's
    // `ready_by`): only those are kept, and without the resources they acted on, so
    // a pass does not copy every start under way.
    state
        .schedules
        .iter()
        .filter_map(|(name, s)| {
            let q = s.sequence.as_ref().filter(|q| q.ready_by.is_some())?;
            let slim = Sequence {
                direction: q.direction,
                began: q.began,
                forced: q.forced,
                acted: BTreeMap::new(),
                done: BTreeSet::new(),
                failed: BTreeSet::new(),
                refused: BTreeSet::new(),
                settled_at: q.settled_at,
                ready_by: q.ready_by,
            };
            Some((name.clone(), slim))
        })
        .collect()
}
