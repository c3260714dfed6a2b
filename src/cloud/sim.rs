//! The simulated fleet ([`SimCloud`], a pure model in the core) behind the [`Cloud`]
//! trait, on a virtual clock shared with the run that drives it.

use std::sync::{Arc, Mutex};

pub use scheduler_core::sim::{FleetFile, SimCloud, SimInstance, SimPower};

use super::{Cloud, Look, Observation, ObserveError};
use crate::clock::{Clock, VirtualClock};
use crate::fleet::{Direction, Failure, Target};
use crate::schedule::window::MaintenanceWindow;

/// The simulated fleet behind the [`Cloud`] trait, on a virtual clock shared with
/// the run that drives it: the simulator runs the same run step as the function.
#[derive(Debug, Clone)]
pub struct SimFleet {
    cloud: Arc<Mutex<SimCloud>>,
    clock: VirtualClock,
    /// The SSM maintenance windows the simulated account has.
    windows: Arc<Vec<MaintenanceWindow>>,
}

impl SimFleet {
    /// `cloud`, observed and acted on at `clock`'s time.
    pub fn new(cloud: SimCloud, clock: VirtualClock) -> SimFleet {
        SimFleet {
            cloud: Arc::new(Mutex::new(cloud)),
            clock,
            windows: Arc::default(),
        }
    }

    /// The same fleet in an account with these SSM maintenance windows.
    pub fn with_windows(mut self, windows: Vec<MaintenanceWindow>) -> SimFleet {
        self.windows = Arc::new(windows);
        self
    }

    /// The simulated fleet itself, for what the [`Cloud`] trait does not ask (billing).
    pub fn with<T>(&self, f: impl FnOnce(&mut SimCloud) -> T) -> T {
        // Plain data: a panic elsewhere cannot leave it torn.
        let mut cloud = self.cloud.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut cloud)
    }
}

impl Cloud for SimFleet {
    /// The whole simulated fleet, whatever kinds are asked for: it is all in
    /// memory, and handing out the one shared copy keeps long simulations fast.
    async fn observe(&self, _look: &Look) -> Result<Observation, ObserveError> {
        let now = self.clock.now();
        Ok(self.with(|c| Observation {
            instances: c.snapshot(now),
            unreachable: Vec::new(),
            index: Some(c.index()),
        }))
    }

    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure> {
        let now = self.clock.now();
        self.with(|c| c.act_on(now, direction, targets))
            .into_iter()
            .map(|(id, error)| Failure { id, error })
            .collect()
    }

    async fn maintenance_windows(&self) -> Result<Vec<MaintenanceWindow>, ObserveError> {
        Ok(self.windows.as_ref().clone())
    }
}
