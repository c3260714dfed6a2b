//! Where schedules and the run state live: files in `schedules/`, and DynamoDB in
//! production.

pub mod absent;
pub mod dynamo;
pub mod files;
pub mod memory;
pub mod sync;

/// Holiday calendars moved to [`crate::holidays`] (they are a calendar parser, not
/// storage); kept here at their old path.
pub use crate::holidays;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::fleet::Direction;
use crate::plan::{Plan, RunState};
use crate::schedule::Catalog;
pub use crate::schedule::Items;
use scheduler_core::history::Entry;

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

/// One separately stored part of the run state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKey {
    /// The run-wide part.
    Run,
    /// One schedule's part.
    Schedule(String),
}

impl std::fmt::Display for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateKey::Run => f.write_str("the run-wide state"),
            StateKey::Schedule(name) => write!(f, "the state of schedule {name}"),
        }
    }
}

/// The run state with the version each part was read at, for conditional writes.
#[derive(Debug, Clone, Default)]
pub struct Versioned {
    /// The state.
    pub state: RunState,
    /// The version of each stored part; a part not listed has none yet (0).
    pub versions: BTreeMap<StateKey, u64>,
}

/// A part of the state to write if it is still at `version` (0: if it does not
/// exist), or to delete when `json` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Which part.
    pub key: StateKey,
    /// The version it was read at.
    pub version: u64,
    /// Its new content, JSON; `None` to delete it.
    pub json: Option<String>,
}

/// What a write of changes did.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// The new version of each part written (0 for a deleted one).
    pub versions: BTreeMap<StateKey, u64>,
    /// The parts another run changed first: nothing of them was written.
    pub conflicts: BTreeSet<StateKey>,
}

/// Writes the parts of `next` that differ from `stored`, each only if nobody wrote it
/// since it was read, and brings `stored` up to date with what was written. Returns
/// the parts another run wrote first: their schedules are that run's to act on.
pub async fn save_state<S: Store>(
    store: &S,
    stored: &mut Versioned,
    next: &RunState,
) -> Result<BTreeSet<StateKey>, StoreError> {
    let gone: Vec<String> = stored
        .state
        .schedules
        .keys()
        .filter(|name| !next.schedules.contains_key(*name))
        .cloned()
        .collect();
    write_parts(store, stored, next, gone.iter()).await
}

/// Writes what a pass of a run changed: the schedules' parts that differ from
/// `stored`, the deletions of [`Plan::removed`], and the run-wide part if it changed,
/// each only if nobody wrote it since it was read; brings `stored` up to date with
/// what was written. Returns the schedules another run wrote first: they are its to
/// act on.
pub async fn commit<S: Store>(
    store: &S,
    stored: &mut Versioned,
    plan: &Plan,
) -> Result<BTreeSet<String>, StoreError> {
    let conflicts = write_parts(store, stored, &plan.state, plan.removed.iter()).await?;
    Ok(conflicts
        .into_iter()
        .filter_map(|k| match k {
            StateKey::Schedule(name) => Some(name),
            StateKey::Run => None,
        })
        .collect())
}

/// The one diff-and-write of both: the parts of `next` that differ from `stored`, and
/// the deletion of each schedule of `gone` that `stored` has.
async fn write_parts<'a, S: Store>(
    store: &S,
    stored: &mut Versioned,
    next: &RunState,
    gone: impl Iterator<Item = &'a String>,
) -> Result<BTreeSet<StateKey>, StoreError> {
    let encode = |e: serde_json::Error| StoreError::Service {
        what: "encode the run state".into(),
        message: e.to_string(),
    };
    let version = |k: &StateKey| stored.versions.get(k).copied().unwrap_or(0);
    let mut changes: Vec<Change> = next
        .changes_from(&stored.state)
        .map_err(encode)?
        .into_iter()
        .map(|c| {
            let key = c.schedule.map_or(StateKey::Run, StateKey::Schedule);
            Change {
                version: version(&key),
                json: Some(c.json),
                key,
            }
        })
        .collect();
    for name in gone {
        if stored.state.schedules.contains_key(name) {
            let key = StateKey::Schedule(name.clone());
            changes.push(Change {
                version: version(&key),
                json: None,
                key,
            });
        }
    }
    if changes.is_empty() {
        return Ok(BTreeSet::new());
    }
    let written = store.write_state(&changes).await?;
    for (key, v) in written.versions {
        let schedule = match &key {
            StateKey::Run => None,
            StateKey::Schedule(name) => Some(name.as_str()),
        };
        stored.state.adopt(next, schedule);
        stored.versions.insert(key, v);
    }
    Ok(written.conflicts)
}

/// Reads the stored parts back into a state: `parts` are (key, version, JSON). A part
/// that no longer reads (an older format) is started afresh rather than failing runs.
pub fn assemble(parts: Vec<(StateKey, u64, String)>) -> Versioned {
    let mut out = Versioned::default();
    for (key, version, json) in parts {
        match &key {
            StateKey::Run => {
                out.state.run = serde_json::from_str(&json).unwrap_or_default();
            }
            StateKey::Schedule(name) => {
                let part = serde_json::from_str(&json).unwrap_or_default();
                out.state.schedules.insert(name.clone(), part);
            }
        }
        out.versions.insert(key, version);
    }
    out
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
    /// The validated schedules, shared: a store that keeps the catalog it built hands
    /// out the same one while its items do not change, so a run of a large catalog
    /// copies nothing. Default: [`Store::load_catalog`].
    async fn load_catalog_shared(
        &self,
        default_tz: chrono_tz::Tz,
    ) -> Result<Arc<Catalog>, StoreError> {
        Ok(Arc::new(self.load_catalog(default_tz).await?))
    }
    /// The run state left by earlier runs.
    async fn load_state(&self) -> Result<Versioned, StoreError>;
    /// The run state for a run of this process: a store may hand out the state it
    /// kept from this process's last run, brought up to date part by part (by
    /// version), rather than read and decode every part again. Give it back with
    /// [`Store::checkin_state`]. Default: [`Store::load_state`].
    async fn checkout_state(&self) -> Result<Versioned, StoreError> {
        self.load_state().await
    }
    /// Gives back the state a run ended with, for the next run of this process.
    /// Default: forgets it.
    fn checkin_state(&self, state: Versioned) {
        let _ = state;
    }
    /// Writes each change if its part is still at the version it names; a part another
    /// run wrote first is reported in [`Written::conflicts`] and not written. Use
    /// [`save_state`] rather than calling this directly.
    async fn write_state(&self, changes: &[Change]) -> Result<Written, StoreError>;
    /// Sets the schedule's `ForceStart` to false.
    async fn clear_force_start(&self, schedule: &str) -> Result<(), StoreError>;
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
    /// Tells the store the real instant by which every request of the run in
    /// progress must be answered (`None`: no deadline but each request's own
    /// limits). A store whose requests cannot hang ignores it. Use [`Bounded`],
    /// which clears it however the run ends.
    fn set_deadline(&self, deadline: Option<std::time::Instant>) {
        let _ = deadline;
    }

    // The history of what ran ([`crate::history`]): off unless the store keeps one.

    /// Whether this store keeps a history of what ran (a history table is set).
    fn keeps_history(&self) -> bool {
        false
    }
    /// The side items the last state read found beside the run state.
    fn side_items(&self) -> SideItems {
        SideItems::new()
    }
    /// Writes history entries and side items together, batched: one request for up
    /// to 25 items.
    async fn record(&self, entries: &[Entry], side: &[(String, String)]) -> Result<(), StoreError> {
        let _ = (entries, side);
        Ok(())
    }
    /// Every history entry of `schedule` at or after `from`, in time order.
    async fn read_history(
        &self,
        schedule: &str,
        from: DateTime<Utc>,
    ) -> Result<Vec<Entry>, StoreError> {
        let _ = (schedule, from);
        Ok(Vec::new())
    }
    /// Sets side item `id` to `value` only if it is absent or holds a value that
    /// sorts before `value`; `false` when another writer got there first (a weekly
    /// summary goes out once however many runs see it due; the bot's note of a force
    /// never replaces a later one).
    async fn claim(&self, id: &str, value: &str) -> Result<bool, StoreError> {
        let _ = (id, value);
        Ok(true)
    }
}

/// Where the history of what ran is kept in DynamoDB, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTable {
    /// The table (`HISTORY_TABLE`).
    pub name: String,
    /// Days an entry is kept (`HISTORY_DAYS`, default 400): its TTL.
    pub days: u32,
}

/// Items the state table holds beside the run state, by id: what the history last
/// saw of each schedule (`seen#NAME`), when each weekly summary last went out
/// (`summary#NAME`), cached prices (`price#...`), who asked for each schedule's latest
/// force (`origin#NAME`, written by the chat bot). They come with the state's own read,
/// at no extra request, and the run state never reads them.
pub type SideItems = BTreeMap<String, String>;

/// A store's deadline for as long as this lives: cleared when dropped, so a run that
/// ends early (an error, a `?`) does not leave later requests bounded by it.
#[derive(Debug)]
pub struct Bounded<'a, S: Store>(&'a S);

impl<'a, S: Store> Bounded<'a, S> {
    /// Bounds `store`'s requests by `deadline` until the value is dropped.
    pub fn until(store: &'a S, deadline: std::time::Instant) -> Bounded<'a, S> {
        store.set_deadline(Some(deadline));
        Bounded(store)
    }
}

impl<S: Store> Drop for Bounded<'_, S> {
    fn drop(&mut self) {
        self.0.set_deadline(None);
    }
}
