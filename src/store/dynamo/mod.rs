//! The three schedule tables of the original tool, read as they are, and a state
//! table of this project's own.
//!
//! Reads are whole-table paginated scans (one listing per table per run, never one
//! request per schedule). Writes are conditional, so two runs, or two people, never
//! silently overwrite each other.
//!
//! - [`items`]: the three tables' items (read, written, synced);
//! - [`state`]: the run state's items, versions, transactions and overflow parts;
//! - [`admin`]: creating the tables;
//! - `history`: the history of what ran, and the state table's side items.

mod admin;
mod history;
mod items;
mod state;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, NaiveTime};
use tokio::sync::Mutex;

use super::{Change, Items, Store, StoreError, Versioned, Written};
use crate::fleet::Direction;
use crate::schedule::absent::Absent;

/// One DynamoDB item: attribute names and values.
type Item = HashMap<String, AttributeValue>;

/// Table names; each can point at an existing table of the original tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Schedule items (`SCHEDULE_TABLE`, default `Schedule`).
    pub schedules: String,
    /// Server group items (`GROUP_TABLE`, default `ScheduleServerGroup`).
    pub groups: String,
    /// Exception items (`EXCEPTION_TABLE`, default `ScheduleException`).
    pub exceptions: String,
    /// This project's run state (`STATE_TABLE`, default `ScheduleState`).
    pub state: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            schedules: "Schedule".into(),
            groups: "ScheduleServerGroup".into(),
            exceptions: "ScheduleException".into(),
            state: "ScheduleState".into(),
        }
    }
}

/// DynamoDB behind [`Store`].
#[derive(Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    /// Key attribute names per table, read once with DescribeTable: the original
    /// tables' key schemas are not fixed, so items are addressed by what the table says.
    keys: Mutex<HashMap<String, Vec<String>>>,
    /// How many continuation items each state part had when last read or written, so
    /// a part that shrinks deletes the ones it no longer needs.
    part_counts: Mutex<HashMap<String, u64>>,
    /// What schedule items without `TimeZone` or `Enabled` mean here.
    absent: Absent,
    /// The run's deadline, which every request of `client` keeps.
    deadline: crate::cloud::aws::Deadline,
    /// The history table, when one is kept ([`DynamoStore::with_history`]).
    history: Option<super::HistoryTable>,
    /// The side items the last state read found (see [`super::SideItems`]).
    side: std::sync::Mutex<super::SideItems>,
}

/// The same client, its every request bounded by a deadline the run sets
/// ([`Store::set_deadline`]): none outlasts the run's budget.
fn bounded(client: Client) -> (Client, crate::cloud::aws::Deadline) {
    let deadline = crate::cloud::aws::Deadline::for_requests();
    let config = client.config().to_builder().interceptor(deadline.clone());
    (Client::from_conf(config.build()), deadline)
}

/// A service error, saying what was being done.
fn service<E>(what: impl Into<String>, e: &E) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    StoreError::Service {
        what: what.into(),
        message: crate::cloud::aws::error_text(e),
    }
}

/// A string attribute of an item.
fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

impl DynamoStore {
    /// A store on `client` with these tables.
    pub fn new(client: Client, tables: Tables) -> DynamoStore {
        let (client, deadline) = bounded(client);
        DynamoStore {
            client,
            tables,
            keys: Mutex::new(HashMap::new()),
            part_counts: Mutex::new(HashMap::new()),
            absent: Absent::default(),
            deadline,
            history: None,
            side: std::sync::Mutex::new(super::SideItems::new()),
        }
    }

    /// The same store, keeping a history of what ran in `history` (`HISTORY_TABLE`).
    pub fn with_history(mut self, history: super::HistoryTable) -> DynamoStore {
        self.history = Some(history);
        self
    }

    /// The history table, if one is kept.
    pub fn history_table(&self) -> Option<&super::HistoryTable> {
        self.history.as_ref()
    }

    /// The same store, reading schedule items without `TimeZone` or `Enabled` as the
    /// deployment says ([`crate::store::absent::read_absent`]).
    pub fn with_absent(mut self, absent: Absent) -> DynamoStore {
        self.absent = absent;
        self
    }

    /// The table names in use.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The client, for tools that edit items directly.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every item of `table`, page by page.
    async fn scan(&self, table: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut items = self
            .client
            .scan()
            .table_name(table)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            out.push(item.map_err(|e| service(format!("scan {table}"), &e))?);
        }
        Ok(out)
    }

    /// The key attribute names of `table`, as it says (read once).
    async fn key_names(&self, table: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = self.keys.lock().await;
        if let Some(k) = keys.get(table) {
            return Ok(k.clone());
        }
        let described = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| service(format!("describe {table}"), &e))?;
        let names: Vec<String> = described
            .table()
            .map(|t| {
                t.key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_string())
                    .collect()
            })
            .unwrap_or_default();
        keys.insert(table.to_string(), names.clone());
        Ok(names)
    }

    /// The key of `item` in `table`.
    async fn key_of(&self, table: &str, item: &Item) -> Result<Item, StoreError> {
        let names = self.key_names(table).await?;
        items::key_of(table, &names, item)
    }
}

impl Store for DynamoStore {
    async fn load(&self) -> Result<Items, StoreError> {
        self.load_items().await
    }

    async fn load_state(&self) -> Result<Versioned, StoreError> {
        self.read_state().await
    }

    async fn write_state(&self, changes: &[Change]) -> Result<Written, StoreError> {
        self.write_changes(changes).await
    }

    async fn clear_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, false).await
    }

    fn set_deadline(&self, deadline: Option<std::time::Instant>) {
        self.deadline.set(deadline);
    }

    fn keeps_history(&self) -> bool {
        self.history.is_some()
    }

    fn side_items(&self) -> super::SideItems {
        self.side.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn record(
        &self,
        entries: &[scheduler_core::history::Entry],
        side: &[(String, String)],
    ) -> Result<(), StoreError> {
        history::record(self, entries, side).await?;
        // A process that runs again reads them again; meanwhile they are these.
        let mut kept = self.side.lock().unwrap_or_else(|p| p.into_inner());
        kept.extend(side.iter().cloned());
        Ok(())
    }

    async fn read_history(
        &self,
        schedule: &str,
        from: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<scheduler_core::history::Entry>, StoreError> {
        history::read(self, schedule, from).await
    }

    async fn claim(&self, id: &str, value: &str) -> Result<bool, StoreError> {
        history::claim(self, id, value).await
    }

    async fn delete_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
    ) -> Result<(), StoreError> {
        let d = super::sync::Diff {
            delete_exceptions: vec![(
                schedule.to_string(),
                date.to_string(),
                direction.to_string(),
            )],
            ..super::sync::Diff::default()
        };
        self.apply(&d).await
    }

    async fn set_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
        value: Option<NaiveTime>,
    ) -> Result<(), StoreError> {
        self.write_exception(schedule, date, direction, value).await
    }
}
