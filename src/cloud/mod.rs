//! The fleet as observed and acted on: the [`Cloud`] trait, AWS behind it in
//! production ([`aws::AwsCloud`]) and a simulated fleet on a virtual clock
//! ([`sim::SimCloud`]).

pub mod aws;
pub mod inventory;
pub mod sim;

use crate::schedule::window::MaintenanceWindow;
use std::collections::BTreeMap;
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
    /// The accounts and Regions that could not be observed, and the kinds whose
    /// listing did not finish there, and why: their resources (or some of them) are
    /// missing from `instances`.
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

/// An account and Region that could not be observed, or one kind of resource there
/// whose listing did not finish (too slow for the time the run had, or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// `account/region`, as the resources' ids carry it (`id@account/region`).
    pub place: String,
    /// The kind whose listing did not finish; `None` for the whole place. What that
    /// listing did return is in the observation; what it did not is missing.
    pub kind: Option<Kind>,
    /// Why, naming the place (and the kind).
    pub error: String,
}

impl Unreachable {
    /// A place that could not be observed at all.
    pub fn place(place: impl Into<String>, error: impl Into<String>) -> Unreachable {
        Unreachable {
            place: place.into(),
            kind: None,
            error: error.into(),
        }
    }
}

/// What a look at the fleet is for: the kinds of resource some schedule takes, and,
/// for a run that plans part of the schedules, the accounts and Regions they use
/// (`None`: every one), and how long it may take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    /// The kinds to list.
    pub kinds: Vec<Kind>,
    /// The places to look in, by label (`""` for the function's own); `None` for all.
    pub places: Option<std::collections::BTreeSet<String>>,
    /// How much real time the whole look may take, from when it begins: a listing
    /// still going then stops, and what it listed comes back with an
    /// [`Unreachable`] naming its kind and place. `None`: no limit but each
    /// request's own (see `aws::limits`).
    pub within: Option<std::time::Duration>,
}

impl Look {
    /// These kinds, everywhere.
    pub fn kinds(kinds: Vec<Kind>) -> Look {
        Look {
            kinds,
            places: None,
            within: None,
        }
    }

    /// The same look, taking at most `within` of real time.
    pub fn within(mut self, within: std::time::Duration) -> Look {
        self.within = Some(within);
        self
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
    /// carries the `ScheduleName` tag key, whatever its value, within the time the
    /// look allows. A place or a kind whose listing failed or did not finish in time
    /// is named in [`Observation::unreachable`], beside what was listed. `Err` when
    /// nothing could be observed at all.
    async fn observe(&self, look: &Look) -> Result<Observation, ObserveError>;
    /// Starts or stops `targets`; returns those that failed. One failure never stops
    /// the others.
    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure>;
    /// The SSM maintenance windows of the function's own account and Region, for
    /// schedules that name them. A cloud without them has none.
    async fn maintenance_windows(&self) -> Result<Vec<MaintenanceWindow>, ObserveError> {
        Ok(Vec::new())
    }
    /// What the weekly summary asks besides the history, once a week: the CPU units
    /// and memory (MiB) of the ECS services' tasks `(resource id, task)`, by resource
    /// id ([`inventory::Inventory::task_sizes`]). A cloud without them knows none.
    async fn task_sizes(&self, services: &[(String, String)]) -> BTreeMap<String, (u32, u32)> {
        let _ = services;
        BTreeMap::new()
    }
    /// The EBS volumes attached to the EC2 instances `ids`, by instance id
    /// ([`inventory::Inventory::volumes`]). A cloud without them knows none.
    async fn volumes(&self, ids: &[String]) -> BTreeMap<String, Vec<inventory::Volume>> {
        let _ = ids;
        BTreeMap::new()
    }
}
