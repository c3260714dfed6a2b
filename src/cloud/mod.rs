//! The fleet as observed and acted on: the [`Cloud`] trait, AWS behind it in
//! production ([`aws::AwsCloud`]) and a simulated fleet on a virtual clock
//! ([`sim::SimCloud`]).

pub mod aws;
pub mod sim;

use std::sync::Arc;

use crate::fleet::{Direction, Failure, Instance, Target};

/// The fleet could not be observed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {what}: {message}")]
pub struct ObserveError {
    /// Which listing failed.
    pub what: &'static str,
    /// The service's error.
    pub message: String,
}

/// Observes and acts on the fleet.
#[allow(async_fn_in_trait)]
pub trait Cloud {
    /// Every instance that carries the `ScheduleName` tag key, whatever its value.
    /// Shared, so that a simulated fleet observed every pass need not be copied.
    async fn observe(&self) -> Result<Arc<Vec<Instance>>, ObserveError>;
    /// Starts or stops `targets`; returns those that failed. One failure never stops
    /// the others.
    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure>;
}
