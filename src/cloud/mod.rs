//! What the scheduler sees of the fleet and asks of it: observed instances, and the
//! adapters that observe and act on them (a simulated fleet here; AWS in production).

pub mod aws;
pub mod sim;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kind of resource, which decides the API used to act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An EC2 instance.
    Ec2,
    /// An RDS DB instance (not part of an Aurora cluster).
    Rds,
    /// An Aurora DB cluster, started and stopped as a whole.
    Aurora,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Ec2 => "ec2",
            Kind::Rds => "rds",
            Kind::Aurora => "aurora",
        })
    }
}

/// The power state of an instance, folded from each service's own states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    /// Up and usable: EC2 `running`, RDS and Aurora `available`.
    Running,
    /// On its way up (`pending`, `starting`, ...).
    Starting,
    /// On its way down (`stopping`, `shutting-down`, ...).
    Stopping,
    /// Down and startable.
    Stopped,
    /// Up but not to be acted on now (RDS `backing-up`, `modifying`, ...): counts as
    /// ready for dependents, and a stop waits for it to settle.
    Busy,
    /// Gone or broken (terminated, deleted, failed): not part of any group.
    Gone,
}

/// One instance as observed at the start of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// The instance id, DB instance identifier or cluster identifier.
    pub id: String,
    /// Which service it belongs to.
    pub kind: Kind,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its power state.
    pub power: Power,
    /// When it entered that state, where the service tells (the simulator does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Availability zone, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl Instance {
    /// The `Name` tag, or the id.
    pub fn name(&self) -> &str {
        self.tags.get("Name").map_or(&self.id, String::as_str)
    }
}

/// An instance the cloud would not start or stop, and why (with the service's error
/// code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The instance.
    pub id: String,
    /// The service's error code and message.
    pub error: String,
}

/// The fleet could not be observed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {what}: {message}")]
pub struct ObserveError {
    /// Which listing failed.
    pub what: &'static str,
    /// The service's error.
    pub message: String,
}

/// Observes and acts on the fleet. Implementations: [`aws::AwsCloud`] in production.
#[allow(async_fn_in_trait)]
pub trait Cloud {
    /// Every instance that carries the `ScheduleName` tag key, whatever its value.
    async fn observe(&self) -> Result<Vec<Instance>, ObserveError>;
    /// Starts or stops `targets`; returns those that failed. One failure never stops
    /// the others.
    async fn act(
        &self,
        direction: crate::schedule::Direction,
        targets: &[crate::plan::Target],
    ) -> Vec<Failure>;
}
