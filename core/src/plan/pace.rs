//! How long groups take, learned from what the scheduler saw, and what follows from
//! it: when a group is expected to be ready, and, for a schedule that must be
//! ready by its start time, how early each group must start.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::fleet::{Direction, Instance, Kind};
use crate::schedule::{KindFilter, Schedule};

/// Samples kept per group and direction: enough for a robust estimate, few enough
/// that a change of instance type shows within a fortnight of working days.
const KEEP: usize = 10;

/// The slack a `ready-by` schedule keeps on top of its learned durations.
pub const READY_BY_MARGIN: Duration = Duration::minutes(3);

/// How long a group's recent starts and stops took, in seconds, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    /// Seconds from the start request to the whole group being up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start: Vec<u32>,
    /// Seconds from the stop request to the whole group being down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<u32>,
}

impl Durations {
    /// Keeps one observation, forgetting the oldest beyond [`KEEP`].
    pub fn record(&mut self, direction: Direction, seconds: u32) {
        let samples = match direction {
            Direction::Start => &mut self.start,
            Direction::Stop => &mut self.stop,
        };
        samples.push(seconds);
        if samples.len() > KEEP {
            samples.remove(0);
        }
    }

    /// The 90th percentile of the samples: a robust "how long it usually takes at
    /// worst", that one slow morning does not dominate once there are a few.
    pub fn estimate(&self, direction: Direction) -> Option<u32> {
        let samples = match direction {
            Direction::Start => &self.start,
            Direction::Stop => &self.stop,
        };
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        let k = (sorted.len() * 9).div_ceil(10).max(1) - 1;
        Some(sorted[k])
    }
}

/// How long a resource of `kind` usually takes, until the scheduler has seen it.
pub fn default_seconds(kind: Kind, direction: Direction) -> u32 {
    match (kind, direction) {
        (Kind::Ec2, Direction::Start) => 90,
        (Kind::Ec2, Direction::Stop) => 60,
        (Kind::Rds | Kind::Aurora, Direction::Start) => 600,
        (Kind::Rds | Kind::Aurora, Direction::Stop) => 300,
        (Kind::Asg, Direction::Start) => 300,
        (Kind::Asg, Direction::Stop) => 120,
        (Kind::Ecs, Direction::Start) => 120,
        (Kind::Ecs, Direction::Stop) => 60,
        (Kind::Eks, Direction::Start) => 600,
        (Kind::Eks, Direction::Stop) => 300,
    }
}

/// The estimate for a group: what was learned, or else the slowest default of its
/// members' kinds (of the kinds it takes, when it has no members).
pub fn estimate(
    learned: Option<&Durations>,
    filter: KindFilter,
    members: &[&Instance],
    direction: Direction,
) -> Duration {
    if let Some(seconds) = learned.and_then(|d| d.estimate(direction)) {
        return Duration::seconds(i64::from(seconds));
    }
    let kinds: Vec<Kind> = if members.is_empty() {
        Kind::ALL
            .into_iter()
            .filter(|k| filter.admits(*k))
            .collect()
    } else {
        members.iter().map(|i| i.kind).collect()
    };
    let seconds = kinds
        .into_iter()
        .map(|k| default_seconds(k, direction))
        .max()
        .unwrap_or(0);
    Duration::seconds(i64::from(seconds))
}

/// For each group (in the schedule's order), how long from its start until every
/// group after it in the chain is ready: its own duration plus the longest path
/// through the groups that depend on it. The largest is the critical path.
pub fn paths(schedule: &Schedule, durations: &[Duration]) -> Vec<Duration> {
    let n = schedule.groups.len();
    let mut path = durations.to_vec();
    // Groups are in dependency order: dependents come later, so walk backwards.
    for g in (0..n).rev() {
        let name = &schedule.groups[g].name;
        let longest = (g + 1..n)
            .filter(|h| schedule.groups[*h].depends_on.contains(name))
            .map(|h| path[h])
            .max()
            .unwrap_or_else(Duration::zero);
        path[g] = durations[g] + longest;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_a_high_percentile_of_recent_runs() {
        let mut d = Durations::default();
        assert_eq!(d.estimate(Direction::Start), None);
        for s in [420, 430, 425, 900, 421, 422, 424, 419, 423, 426] {
            d.record(Direction::Start, s);
        }
        // One slow morning (900) in ten does not set the estimate.
        assert_eq!(d.estimate(Direction::Start), Some(430));
        for _ in 0..10 {
            d.record(Direction::Start, 60);
        }
        assert_eq!(d.start.len(), KEEP);
        assert_eq!(d.estimate(Direction::Start), Some(60));
    }
}
