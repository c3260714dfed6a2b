//! What the report learns from the cloud at report time only (`schedctl report`, and
//! the weekly summary, once a week), never while a run plans or acts: the vCPU and
//! memory of ECS task definitions, which price a Fargate task, and the EBS volumes
//! attached to EC2 instances, which keep billing while they are stopped. A run's
//! own requests never include these.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Cloud;

/// An EBS volume attached to an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Its id.
    pub id: String,
    /// Its type, as the Price List's `volumeApiName` names it (`gp3`, `io2`, ...).
    pub volume_type: String,
    /// Its size in GiB.
    pub gib: u32,
}

/// The ECS task sizes and EBS volumes of scheduled resources, asked at report time.
#[allow(async_fn_in_trait)]
pub trait Inventory {
    /// The CPU units (1,024 a vCPU) and memory (MiB) of each task definition
    /// (`family:revision`) of the ECS services `(resource id, task)`, by resource id.
    /// One `DescribeTaskDefinition` per distinct task; what cannot be read is left out.
    async fn task_sizes(&self, services: &[(String, String)]) -> BTreeMap<String, (u32, u32)>;
    /// The EBS volumes attached to the EC2 instances `ids` (as the scheduler knows
    /// them), by instance id: `DescribeVolumes` filtered by attachment, 200 instance
    /// ids a request. What cannot be read is left out.
    async fn volumes(&self, ids: &[String]) -> BTreeMap<String, Vec<Volume>>;
}

/// No cloud to ask: the report shows what the history knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInventory;

impl Inventory for NoInventory {
    async fn task_sizes(&self, _: &[(String, String)]) -> BTreeMap<String, (u32, u32)> {
        BTreeMap::new()
    }
    async fn volumes(&self, _: &[String]) -> BTreeMap<String, Vec<Volume>> {
        BTreeMap::new()
    }
}

/// Any [`Cloud`] as an inventory, through its own [`Cloud::task_sizes`] and
/// [`Cloud::volumes`]: what the weekly summary asks the run's cloud.
#[derive(Debug, Clone, Copy)]
pub struct OfCloud<'a, C>(pub &'a C);

impl<C: Cloud> Inventory for OfCloud<'_, C> {
    async fn task_sizes(&self, services: &[(String, String)]) -> BTreeMap<String, (u32, u32)> {
        Cloud::task_sizes(self.0, services).await
    }
    async fn volumes(&self, ids: &[String]) -> BTreeMap<String, Vec<Volume>> {
        Cloud::volumes(self.0, ids).await
    }
}

/// Instance ids a `DescribeVolumes` filter takes at once (EC2 allows 200 values a
/// filter).
pub const VOLUME_BATCH: usize = 200;
