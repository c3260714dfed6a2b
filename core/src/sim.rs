//! A simulated fleet on a virtual clock: instances take their boot and stop times,
//! an instance may be set to fail every start, as AWS does when it is out of
//! capacity, and a database or cluster stopped for seven days starts by itself, as
//! AWS does. It never reads the real clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::fleet::{Capacity, Direction, Instance, Kind, Power, Target};
use crate::plan::FleetIndex;

/// A fleet description, the `FLEET.json` of `schedctl simulate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    /// The instances.
    pub instances: Vec<SimInstance>,
}

/// One simulated instance as described in a fleet file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimInstance {
    /// Its id.
    pub id: String,
    /// `ec2`, `rds` or `aurora`.
    pub kind: Kind,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `running` or `stopped` at the start of the simulation.
    pub state: SimPower,
    /// Seconds from a start request to `running`.
    #[serde(default = "default_boot")]
    pub boot_seconds: u32,
    /// Seconds from a stop request to `stopped`.
    #[serde(default = "default_stop")]
    pub stop_seconds: u32,
    /// Every start request fails, as on insufficient capacity.
    #[serde(default)]
    pub start_fails: bool,
    /// Availability zone, for messages.
    #[serde(default)]
    pub zone: Option<String>,
    /// For a resource that scales (`asg`, `ecs`, `eks`): its sizes when running. One
    /// that starts stopped holds them as the scheduler's saved sizes (as if it had
    /// stopped it); without them it is at zero with nothing to restore.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// An EC2 instance configured for hibernation.
    #[serde(default)]
    pub hibernation: bool,
    /// What it is billed as (`{"class": "m5.large"}`), for the report's prices.
    #[serde(default)]
    pub size: Option<crate::fleet::Size>,
}

/// The two states a fleet file may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimPower {
    /// Up.
    Running,
    /// Down.
    Stopped,
}

fn default_boot() -> u32 {
    60
}
fn default_stop() -> u32 {
    30
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Settled {
        up: bool,
        since: Option<DateTime<Utc>>,
    },
    Moving {
        up: bool,
        until: DateTime<Utc>,
    },
}

/// Billed time of one instance: from a start request until a stop completes, as
/// AWS bills it.
#[derive(Debug, Clone, Copy, Default)]
struct Billing {
    seconds: i64,
    since: Option<DateTime<Utc>>,
}

/// The simulated fleet.
#[derive(Debug, Clone)]
pub struct SimCloud {
    instances: Vec<(SimInstance, Phase, Billing)>,
    index: BTreeMap<String, usize>,
    /// What `observe` returns, kept and updated in place: the fleet is observed every
    /// pass, and rebuilding (or copying) it dominated long simulations.
    view: Arc<Vec<Instance>>,
    /// When the simulation began: resources stopped then count as stopped since.
    from: DateTime<Utc>,
    /// Per instance (as `instances`), the sizes of one that scales: now, and kept on
    /// it (the saved-sizes tag) by the last stop.
    sizes: Vec<(Option<Capacity>, Option<Capacity>)>,
    /// The fleet indexed by `ScheduleName`: the simulated fleet keeps its tags, so
    /// one index serves every observation.
    tags: Arc<FleetIndex>,
    /// The instances on their way to a state: only they can change by themselves.
    moving: BTreeSet<usize>,
    /// When each stopped database or cluster would start by itself (AWS's seven
    /// days), soonest first; an entry whose instance moved since is stale and skipped.
    restarts: BTreeSet<(DateTime<Utc>, usize)>,
    /// The instances whose entry in `view` is out of date.
    dirty: Vec<usize>,
}

impl SimCloud {
    /// A fleet in the states its file gives, at the instant `from`.
    pub fn new(fleet: FleetFile, from: DateTime<Utc>) -> SimCloud {
        let instances: Vec<_> = fleet
            .instances
            .into_iter()
            .map(|i| {
                let up = i.state == SimPower::Running;
                let billing = Billing {
                    seconds: 0,
                    since: up.then_some(from),
                };
                (i, Phase::Settled { up, since: None }, billing)
            })
            .collect();
        let index = instances
            .iter()
            .enumerate()
            .map(|(k, (i, _, _))| (i.id.clone(), k))
            .collect();
        let sizes = instances
            .iter()
            .map(|(i, _, _)| match (i.kind.scales(), i.state) {
                (true, SimPower::Running) => (i.capacity, None),
                (true, SimPower::Stopped) => (Some(Capacity::ZERO), i.capacity),
                (false, _) => (None, None),
            })
            .collect();
        let view: Vec<Instance> = instances
            .iter()
            .map(|(i, _, _)| {
                let mut seen = Instance::new(&i.id, i.kind, i.tags.clone(), Power::Stopped);
                seen.zone = i.zone.clone();
                seen.hibernation = i.hibernation;
                seen.size = i.size.clone();
                seen
            })
            .collect();
        let restarts = instances
            .iter()
            .enumerate()
            .filter(|(_, (i, _, _))| {
                i.state == SimPower::Stopped && matches!(i.kind, Kind::Rds | Kind::Aurora)
            })
            .map(|(k, _)| (from + Duration::days(7), k))
            .collect();
        SimCloud {
            dirty: (0..instances.len()).collect(),
            instances,
            index,
            tags: Arc::new(FleetIndex::build(&view)),
            view: Arc::new(view),
            from,
            sizes,
            moving: BTreeSet::new(),
            restarts,
        }
    }

    /// The fleet indexed by `ScheduleName`, for every observation of it.
    pub fn index(&self) -> Arc<FleetIndex> {
        Arc::clone(&self.tags)
    }

    /// Brings the fleet to `now`: what was moving and got there, and the databases
    /// that AWS starts after seven days stopped. Only those can change by
    /// themselves, so a pass costs what moves, not the fleet.
    fn settle(&mut self, now: DateTime<Utc>) {
        let arrived: Vec<usize> = self
            .moving
            .iter()
            .copied()
            .filter(|k| matches!(self.instances[*k].1, Phase::Moving { until, .. } if until <= now))
            .collect();
        for k in arrived {
            self.moving.remove(&k);
            self.dirty.push(k);
            let (spec, phase, billing) = &mut self.instances[k];
            let Phase::Moving { up, until } = *phase else {
                continue;
            };
            *phase = Phase::Settled {
                up,
                since: Some(until),
            };
            if !up {
                if let Some(since) = billing.since.take() {
                    billing.seconds += (until - since).num_seconds();
                }
                if matches!(spec.kind, Kind::Rds | Kind::Aurora) {
                    self.restarts.insert((until + Duration::days(7), k));
                }
            }
        }
        // As AWS does: a database or cluster stopped for seven days starts by itself.
        while let Some(&(restart, k)) = self.restarts.first() {
            if restart > now {
                break;
            }
            self.restarts.pop_first();
            let (spec, phase, billing) = &mut self.instances[k];
            let Phase::Settled { up: false, since } = *phase else {
                continue;
            };
            if since.unwrap_or(self.from) + Duration::days(7) != restart {
                continue;
            }
            billing.since = Some(restart);
            let until = restart + Duration::seconds(i64::from(spec.boot_seconds));
            *phase = if until <= now {
                Phase::Settled {
                    up: true,
                    since: Some(until),
                }
            } else {
                self.moving.insert(k);
                Phase::Moving { up: true, until }
            };
            self.dirty.push(k);
        }
    }

    /// Seconds the instances `ids` were billed in all, from the start of the
    /// simulation to `until`. The fleet is settled once, not once per instance: a
    /// fleet of 20,000 would otherwise take 400 million steps.
    pub fn billed_seconds<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a String>,
        until: DateTime<Utc>,
    ) -> i64 {
        self.settle(until);
        ids.into_iter()
            .filter_map(|id| self.index.get(id))
            .map(|k| {
                let b = self.instances[*k].2;
                b.seconds + b.since.map_or(0, |s| (until - s).num_seconds().max(0))
            })
            .sum()
    }

    /// The fleet as seen at `now`.
    pub fn observe(&mut self, now: DateTime<Utc>) -> &[Instance] {
        self.snapshot(now);
        &self.view
    }

    /// The fleet as seen at `now`, shared: cheap to hand out, and updated in place
    /// next time when nobody holds it any more.
    pub fn snapshot(&mut self, now: DateTime<Utc>) -> Arc<Vec<Instance>> {
        self.settle(now);
        if !self.dirty.is_empty() {
            // In place when nobody holds the last one; a copy otherwise, whose other
            // entries are as current as these.
            let view = Arc::make_mut(&mut self.view);
            for k in self.dirty.drain(..) {
                let seen = &mut view[k];
                (seen.capacity, seen.saved) = self.sizes[k];
                (seen.power, seen.since) = match self.instances[k].1 {
                    Phase::Settled { up: true, since } => (Power::Running, since),
                    Phase::Settled { up: false, since } => (Power::Stopped, since),
                    Phase::Moving { up: true, .. } => (Power::Starting, None),
                    Phase::Moving { up: false, .. } => (Power::Stopping, None),
                };
            }
        }
        Arc::clone(&self.view)
    }

    /// The instances on their way to a state, and when they get there: what the
    /// state-change events of a deployment announce.
    pub fn arrivals(&self) -> Vec<(String, DateTime<Utc>)> {
        self.moving
            .iter()
            .filter_map(|k| match &self.instances[*k] {
                (spec, Phase::Moving { until, .. }, _) => Some((spec.id.clone(), *until)),
                (_, Phase::Settled { .. }, _) => None,
            })
            .collect()
    }

    /// Starts or stops instances at `now`; returns the ones that failed, with the
    /// error AWS would give.
    pub fn act(
        &mut self,
        now: DateTime<Utc>,
        direction: Direction,
        ids: &[String],
    ) -> Vec<(String, String)> {
        let targets: Vec<Target> = ids
            .iter()
            .map(|id| {
                let k = self.index.get(id).copied();
                let kind = k.map_or(Kind::Ec2, |k| self.instances[k].0.kind);
                let mut t = Instance::new(id, kind, BTreeMap::new(), Power::Stopped).target();
                t.capacity = k.and_then(|k| match direction {
                    Direction::Start => self.sizes[k].1,
                    Direction::Stop => self.sizes[k].0,
                });
                t
            })
            .collect();
        self.act_on(now, direction, &targets)
    }

    /// Starts or stops `targets` at `now`, with the sizes and hibernation they ask
    /// for; returns the ones that failed, with the error AWS would give.
    pub fn act_on(
        &mut self,
        now: DateTime<Utc>,
        direction: Direction,
        targets: &[Target],
    ) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        for target in targets {
            let id = &target.id;
            if let Some(k) = self.index.get(id).copied()
                && self.instances[k].0.kind.scales()
            {
                self.dirty.push(k);
                let sizes = &mut self.sizes[k];
                match (direction, target.capacity) {
                    (Direction::Start, Some(c)) => *sizes = (Some(c), sizes.1),
                    (Direction::Stop, c) => *sizes = (Some(Capacity::ZERO), c.or(sizes.0)),
                    (Direction::Start, None) => {
                        failures.push((id.clone(), "ValidationError: no sizes to set".into()));
                        continue;
                    }
                }
            }
            let Some(k) = self.index.get(id).copied() else {
                failures.push((id.clone(), "InvalidInstanceID.NotFound".to_string()));
                continue;
            };
            let (spec, phase, billing) = &mut self.instances[k];
            let up = direction == Direction::Start;
            let state_ok = matches!(*phase, Phase::Settled { up: current, .. } if current != up);
            if !state_ok {
                failures.push((id.clone(), "IncorrectInstanceState".to_string()));
                continue;
            }
            if up && spec.start_fails {
                failures.push((
                    id.clone(),
                    "InsufficientInstanceCapacity: there is no capacity for this instance type"
                        .to_string(),
                ));
                continue;
            }
            if up {
                billing.since = Some(now);
            }
            let seconds = if up {
                spec.boot_seconds
            } else {
                spec.stop_seconds
            };
            *phase = Phase::Moving {
                up,
                until: now + Duration::seconds(i64::from(seconds)),
            };
            self.moving.insert(k);
            self.dirty.push(k);
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud() -> SimCloud {
        let fleet: FleetFile = serde_json::from_str(
            r#"{"instances":[
                {"id":"i-1","kind":"ec2","state":"stopped","boot_seconds":90},
                {"id":"i-2","kind":"rds","state":"stopped","start_fails":true}]}"#,
        )
        .unwrap();
        SimCloud::new(fleet, DateTime::from_timestamp(1_800_000_000, 0).unwrap())
    }

    #[test]
    fn instances_take_their_boot_time() {
        let mut c = cloud();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(c.act(t0, Direction::Start, &["i-1".into()]).is_empty());
        assert_eq!(
            c.observe(t0 + Duration::seconds(89))[0].power,
            Power::Starting
        );
        let up = &c.observe(t0 + Duration::seconds(95))[0];
        assert_eq!(up.power, Power::Running);
        assert_eq!(up.since, Some(t0 + Duration::seconds(90)));
        assert!(
            c.act(
                t0 + Duration::seconds(100),
                Direction::Stop,
                &["i-1".into()]
            )
            .is_empty()
        );
        // Billed from the start request until the stop completes (30 s after it).
        assert_eq!(
            c.billed_seconds(&["i-1".to_string()], t0 + Duration::hours(1)),
            130
        );
    }

    #[test]
    fn failing_starts_leave_the_instance_stopped() {
        let mut c = cloud();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let failed = c.act(t0, Direction::Start, &["i-2".into()]);
        assert!(failed[0].1.starts_with("InsufficientInstanceCapacity"));
        assert_eq!(c.observe(t0 + Duration::hours(1))[1].power, Power::Stopped);
    }

    #[test]
    fn unknown_fields_in_a_fleet_file_are_rejected() {
        let r: Result<FleetFile, _> = serde_json::from_str(
            r#"{"instances":[{"id":"i","kind":"ec2","state":"stopped","boot":1}]}"#,
        );
        assert!(r.is_err());
    }
}
