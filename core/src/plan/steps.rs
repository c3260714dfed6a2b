//! A whole run, pass by pass: the decisions a run makes between its I/O steps, so
//! that the shell only loads, observes, commits, acts, sleeps and tells the chat.
//!
//! ```text
//! shell:  observe ──> commit ──> act ──> sleep / reload / end ──> notify
//! core:   pass()      committed()        next()
//! ```
//!
//! A pass plans only what is due (see [`decide`]); a schedule another run committed
//! first is left to it, and its requests are carried over; a run looks again at once
//! when it was overtaken (a few times at most), and otherwise when [`Plan::follow_up`]
//! says, if its budget allows.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::{
    FleetIndex, Inputs, Plan, Request, RunState, Scope, Settings, Skipped, Unseen, decide_after,
};
use crate::fleet::Instance;
use crate::schedule::{Catalog, ScheduleError, TagPatterns};

/// How many times in a row a run looks again at once after another run committed
/// first (each time from the state the other left) before it leaves the rest to the
/// next run.
const SUPERSEDED_RETRIES: u32 = 3;

/// What a run does after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Look again at this instant (sleep until then).
    At(DateTime<Utc>),
    /// Another run committed some schedules first: read the state again and look
    /// again at once.
    Reload,
    /// The run is over; wake-ups, events and the tick take it from here.
    Done,
}

/// The part of a run that outlives a pass: the requests not yet carried out, how
/// often it was overtaken, and the schedules the last pass found not due (which the
/// next pass of the run need not visit again).
#[derive(Debug, Clone, Default)]
pub struct Steps {
    scope: Scope,
    requests: Vec<Request>,
    superseded: u32,
    dry_run: bool,
    skipped: std::cell::RefCell<Option<Skipped>>,
}

/// What a pass is planned from, besides the state and the fleet.
#[derive(Debug, Clone, Copy)]
pub struct World<'a> {
    /// The schedules.
    pub catalog: &'a Catalog,
    /// The planner's knobs.
    pub settings: &'a Settings,
    /// The `ScheduleName` values this deployment may act on.
    pub allowed: Option<&'a TagPatterns>,
    /// Problems of the deployment that skip nothing, said once.
    pub notes: &'a [ScheduleError],
}

impl Steps {
    /// A run of the schedules of `scope`, with operators' `requests`.
    pub fn new(scope: Scope, requests: &[Request], dry_run: bool) -> Steps {
        Steps {
            scope,
            requests: requests.to_vec(),
            superseded: 0,
            dry_run,
            skipped: Default::default(),
        }
    }

    /// Whether actions are carried out (or only logged and reported).
    pub fn acts(&self) -> bool {
        !self.dry_run
    }

    /// How many schedules the next pass visits, when the last pass let it skip the
    /// others (for tests).
    #[cfg(test)]
    pub(crate) fn visits(&self) -> Option<usize> {
        self.skipped.borrow().as_ref().map(|k| k.visits())
    }

    /// The schedules of this run.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Plans one pass at `now` of the schedules that are due.
    pub fn pass(
        &self,
        now: DateTime<Utc>,
        world: World,
        fleet: &[Instance],
        index: Option<&FleetIndex>,
        unseen: &[Unseen],
        state: &RunState,
    ) -> Plan {
        let inputs = Inputs {
            now,
            catalog: world.catalog,
            fleet,
            index,
            state,
            requests: &self.requests,
            settings: world.settings,
            scope: &self.scope,
            allowed: world.allowed,
            unseen,
            notes: world.notes,
            dry_run: self.dry_run,
            every: false,
        };
        let (plan, skipped) = decide_after(&inputs, self.skipped.borrow().as_ref());
        *self.skipped.borrow_mut() = Some(skipped);
        plan
    }

    /// After the commit: what the plan would do and say about the schedules another
    /// run committed first (`lost`) is left out, as it is that run's; the requests
    /// for them are still to be done, and the others are.
    pub fn committed(&mut self, plan: &mut Plan, lost: &BTreeSet<String>) {
        if !lost.is_empty() {
            // The state is read again: what was skipped may have changed.
            *self.skipped.get_mut() = None;
        }
        plan.drop_schedules(lost);
        self.requests.retain(|r| lost.contains(r.schedule()));
    }

    /// What to do after a pass at `now`, with `left` of the run's budget: look again
    /// at once after being overtaken, at the plan's follow-up when the budget allows,
    /// or end.
    pub fn next(
        &mut self,
        plan: &Plan,
        lost: &BTreeSet<String>,
        now: DateTime<Utc>,
        left: Duration,
    ) -> Next {
        if left <= Duration::zero() {
            return Next::Done;
        }
        if !lost.is_empty() && self.superseded < SUPERSEDED_RETRIES {
            // A superseded step is not a lost one: look again from the state the
            // other run left.
            self.superseded += 1;
            *self.skipped.get_mut() = None;
            return Next::Reload;
        }
        match plan.follow_up {
            Some(at) if at - now <= left => Next::At(at.max(now + Duration::seconds(1))),
            _ => Next::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_run_follows_up_within_its_budget_and_reloads_when_overtaken() {
        let now = at("2026-11-30T09:00:00Z");
        let mut steps = Steps::new(Scope::All, &[Request::ForceStart("Dev".into())], false);
        let mut plan = Plan {
            follow_up: Some(now + Duration::seconds(15)),
            ..Plan::default()
        };
        let lost = BTreeSet::from(["Dev".to_string()]);
        steps.committed(&mut plan, &lost);
        // The request for a schedule another run took is kept for the next pass.
        assert_eq!(steps.requests, [Request::ForceStart("Dev".into())]);
        for _ in 0..SUPERSEDED_RETRIES {
            assert_eq!(
                steps.next(&plan, &lost, now, Duration::seconds(60)),
                Next::Reload
            );
        }
        // Overtaken too often: the follow-up, then the budget, decide.
        assert_eq!(
            steps.next(&plan, &lost, now, Duration::seconds(60)),
            Next::At(now + Duration::seconds(15))
        );
        assert_eq!(
            steps.next(&plan, &BTreeSet::new(), now, Duration::seconds(10)),
            Next::Done
        );
        steps.committed(&mut plan, &BTreeSet::new());
        assert!(steps.requests.is_empty());
    }
}
