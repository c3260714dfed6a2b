//! The fleet as observed and acted on: the [`Cloud`] trait, AWS behind it in
//! production ([`aws::AwsCloud`]) and a simulated fleet on a virtual clock
//! ([`sim::SimCloud`]).

pub mod aws;
pub mod sim;

use std::sync::Arc;

use crate::fleet::{Direction, Failure, Instance, Kind, Target};
use crate::plan::FleetIndex;

/// The fleet could not be observed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {what}: {message}")]
pub struct ObserveError {
    /// Which listing failed.
    pub what: &'static str,
    /// The service's error.
    pub message: String,
}

/// What a look at the fleet found.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Every resource of the kinds asked for that carries the `ScheduleName` tag key.
    /// Shared, so that a simulated fleet observed every pass need not be copied.
    pub instances: Arc<Vec<Instance>>,
    /// The accounts and Regions that could not be observed, and why: their
    /// resources are missing from `instances`.
    pub unreachable: Vec<Unreachable>,
    /// `instances` indexed by `ScheduleName`, when the observer keeps one (the
    /// simulated fleet, whose tags never change, builds it once); the planner builds
    /// it otherwise.
    pub index: Option<Arc<FleetIndex>>,
}

impl Observation {
    /// Everything was seen.
    pub fn whole(instances: Vec<Instance>) -> Observation {
        Observation {
            instances: Arc::new(instances),
            unreachable: Vec::new(),
            index: None,
        }
    }
}

/// An account and Region that could not be observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// `account/region`, as the resources' ids carry it (`id@account/region`).
    pub place: String,
    /// Why.
    pub error: String,
}

/// What a look at the fleet is for: the kinds of resource some schedule takes, and,
/// for a run that plans part of the schedules, the accounts and Regions they use
/// (`None`: every one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    /// The kinds to list.
    pub kinds: Vec<Kind>,
    /// The places to look in, by label (`""` for the function's own); `None` for all.
    pub places: Option<std::collections::BTreeSet<String>>,
}

impl Look {
    /// These kinds, everywhere.
    pub fn kinds(kinds: Vec<Kind>) -> Look {
        Look {
            kinds,
            places: None,
        }
    }

    /// Whether a place is to be looked in.
    pub fn includes(&self, place: &str) -> bool {
        self.places.as_ref().is_none_or(|p| p.contains(place))
    }
}

/// Observes and acts on the fleet.
#[allow(async_fn_in_trait)]
pub trait Cloud {
    /// Every resource of the kinds `look` asks for, in the places it asks for, that
    /// carries the `ScheduleName` tag key, whatever its value. `Err` when nothing
    /// could be observed at all.
    async fn observe(&self, look: &Look) -> Result<Observation, ObserveError>;
    /// Starts or stops `targets`; returns those that failed. One failure never stops
    /// the others.
    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure>;
}
