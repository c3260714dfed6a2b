//! What the scheduler remembers between runs, per schedule and run-wide.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pace::Durations;
use crate::fleet::Direction;

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

/// A part of the state whose stored form is to change: which part, and its new JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartChange {
    /// The schedule whose part it is; `None`: the run-wide part.
    pub schedule: Option<String>,
    /// The part as stored, JSON.
    pub json: String,
}

impl RunState {
    /// The parts of `self` (a plan's state) that differ from `stored`, encoded: what
    /// writing it changes. Every pass of every run asks, so it is here, in the crate
    /// built for speed, rather than in the store's adapters.
    pub fn changes_from(&self, stored: &RunState) -> Result<Vec<PartChange>, serde_json::Error> {
        let mut changes = Vec::new();
        if self.run != stored.run {
            changes.push(PartChange {
                schedule: None,
                json: serde_json::to_string(&self.run)?,
            });
        }
        for (name, part) in &self.schedules {
            if stored.schedules.get(name) != Some(part) {
                changes.push(PartChange {
                    schedule: Some(name.clone()),
                    json: serde_json::to_string(part)?,
                });
            }
        }
        Ok(changes)
    }

    /// Takes `from`'s part of `schedule` (`None`: the run-wide part) as written, or
    /// forgets it when `from` has none.
    pub fn adopt(&mut self, from: &RunState, schedule: Option<&str>) {
        match schedule {
            None => self.run = from.run.clone(),
            Some(name) => match from.schedules.get(name) {
                Some(part) => match self.schedules.get_mut(name) {
                    Some(mine) => mine.clone_from(part),
                    None => {
                        self.schedules.insert(name.to_string(), part.clone());
                    }
                },
                None => {
                    self.schedules.remove(name);
                }
            },
        }
    }
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
    /// A digest of the catalog's memberships and of the fleet's tags the misfits were
    /// last checked against: while neither changes there is nothing new to say, and
    /// the check (a walk over the whole fleet) is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misfits_checked: Option<String>,
    /// The SSM maintenance windows as last read, and when: read again at most once
    /// an hour ([`WindowCache::stale`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowCache>,
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
    /// When the schedule next needs planning (its next transition, warning, early
    /// start or check), as the last plan of it found; a pass plans only the schedules
    /// that are due, changed, asked for or in the middle of a start or stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
    /// The first of those instants worth waking the function for (a transition, a
    /// warning with servers up), as opposed to a routine check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<DateTime<Utc>>,
    /// The digest of the schedule's definition that `due` was worked out from: an
    /// edited schedule is planned again at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_with: Option<String>,
    /// The problems of this schedule's start or stop already reported (an empty
    /// group its dependents wait for), so each is said once while it lasts.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reported: BTreeSet<String>,
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

/// The maintenance windows read from SSM, kept in the run state so that they are read
/// at most once an hour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCache {
    /// When they were read.
    pub read_at: DateTime<Utc>,
    /// What was read.
    pub windows: Vec<crate::schedule::window::MaintenanceWindow>,
}

impl WindowCache {
    /// How long what was read is used before it is read again.
    pub const KEEP_FOR: i64 = 60;

    /// Whether `cache` (none: never read) is to be read again at `now`.
    pub fn stale(cache: Option<&WindowCache>, now: DateTime<Utc>) -> bool {
        cache.is_none_or(|c| {
            now - c.read_at >= chrono::Duration::minutes(Self::KEEP_FOR) || now < c.read_at
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_parts_that_differ_are_written_and_adopted() {
        let part = |due: &str| ScheduleState {
            due: Some(due.parse().unwrap()),
            ..ScheduleState::default()
        };
        let mut stored = RunState::default();
        stored
            .schedules
            .insert("Dev".into(), part("2026-12-14T09:00:00Z"));
        stored
            .schedules
            .insert("Ops".into(), part("2026-12-14T08:00:00Z"));
        let mut next = stored.clone();
        next.schedules
            .insert("Ops".into(), part("2026-12-14T08:30:00Z"));
        next.run.misfits_checked = Some("0123456789abcdef".into());

        let changes = next.changes_from(&stored).unwrap();
        let which: Vec<Option<&str>> = changes.iter().map(|c| c.schedule.as_deref()).collect();
        assert_eq!(which, [None, Some("Ops")]);
        assert_eq!(
            serde_json::from_str::<ScheduleState>(&changes[1].json).unwrap(),
            next.schedules["Ops"]
        );

        stored.adopt(&next, Some("Ops"));
        stored.adopt(&next, None);
        assert_eq!(stored, next);
        assert!(next.changes_from(&stored).unwrap().is_empty());
        // A part the next state no longer has is forgotten.
        next.schedules.remove("Dev");
        stored.adopt(&next, Some("Dev"));
        assert_eq!(stored, next);
    }
}
