//! Where schedules and the run state live: files in `schedules/`, and DynamoDB in
//! production.

pub mod dynamo;
pub mod files;
pub mod holidays;
pub mod memory;
pub mod sync;

use chrono::{NaiveDate, NaiveTime};

use crate::fleet::Direction;
use crate::plan::RunState;
use crate::schedule::{Catalog, ExceptionItem, GroupItem, ScheduleError, ScheduleItem};

/// The items of the three schedule tables (or a folder of schedule files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items {
    /// Schedule items.
    pub schedules: Vec<ScheduleItem>,
    /// Group items.
    pub groups: Vec<GroupItem>,
    /// Exception items.
    pub exceptions: Vec<ExceptionItem>,
    /// Files that could not be read as schedule files, by the schedule (or file) name.
    pub errors: Vec<ScheduleError>,
}

impl Items {
    /// Validates the items into a catalog; items that could not even be read are
    /// reported with the catalog's own errors.
    pub fn catalog(&self, default_tz: chrono_tz::Tz) -> Catalog {
        let mut catalog =
            Catalog::build(&self.schedules, &self.groups, &self.exceptions, default_tz);
        // A schedule with an unreadable group or exception item is incomplete: skip it.
        catalog
            .schedules
            .retain(|s| !self.errors.iter().any(|e| e.schedule == s.name));
        catalog.errors.extend(self.errors.iter().cloned());
        catalog.errors.sort();
        catalog.errors.dedup();
        catalog
    }
}

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the item first; nothing was written.
    #[error("{0} was changed by someone else at the same time; nothing was written, try again")]
    Conflict(String),
    /// The named schedule does not exist.
    #[error("schedule \"{0}\" does not exist")]
    UnknownSchedule(String),
    /// The service failed.
    #[error("{what}: {message}")]
    Service {
        /// What was being done.
        what: String,
        /// The service's error.
        message: String,
    },
}

/// The run state with the version it was read at, for a conditional write.
#[derive(Debug, Clone, Default)]
pub struct Versioned {
    /// The state.
    pub state: RunState,
    /// Its version; 0 when there was none.
    pub version: u64,
}

/// Reads schedules and keeps the run state. Implementation: [`dynamo::DynamoStore`].
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Every schedule, group and exception item; unreadable items are reported in
    /// [`Items::errors`], never fatal.
    async fn load(&self) -> Result<Items, StoreError>;
    /// The validated schedules. A store that can tell its items have not changed may
    /// keep the catalog it built before.
    async fn load_catalog(&self, default_tz: chrono_tz::Tz) -> Result<Catalog, StoreError> {
        Ok(self.load().await?.catalog(default_tz))
    }
    /// The run state left by the previous run.
    async fn load_state(&self) -> Result<Versioned, StoreError>;
    /// Writes the state if it is still at `version`; [`StoreError::Conflict`] if another
    /// run wrote first. Returns the new version.
    async fn save_state(&self, state: &RunState, version: u64) -> Result<u64, StoreError>;
    /// Sets the schedule's `ForceStart` to false.
    async fn clear_force_start(&self, schedule: &str) -> Result<(), StoreError>;
    /// Sets the schedule's `ForceStart` to true.
    async fn set_force_start(&self, schedule: &str) -> Result<(), StoreError>;
    /// Deletes the exception of `schedule` on `date` for `direction`, if there is one.
    async fn delete_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
    ) -> Result<(), StoreError>;
    /// Writes (or replaces) the exception of `schedule` on `date` for `direction`.
    async fn set_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
        value: Option<NaiveTime>,
    ) -> Result<(), StoreError>;
}
