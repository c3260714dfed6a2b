//! The three schedule tables of the original tool, read as they are, and a state
//! table of this project's own.
//!
//! Reads are whole-table paginated scans (one listing per table per run, never one
//! request per schedule). Writes are conditional, so two runs, or two people, never
//! silently overwrite each other.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, NaiveTime};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::{Items, Store, StoreError, Versioned};
use crate::fleet::Direction;
use crate::plan::RunState;
use crate::schedule::{ExceptionItem, GroupItem, ScheduleError, ScheduleItem};

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

/// When an exception written by the tools may age out of the table (its TTL
/// attribute `ExpiresAt`): 30 days after its date, so recent history stays readable.
fn expires_at(date: NaiveDate) -> AttributeValue {
    let at = (date + chrono::Duration::days(30))
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    AttributeValue::N(at.to_string())
}

/// The key of the one state item.
const STATE_ID: &str = "run-state";

/// DynamoDB behind [`Store`].
#[derive(Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    /// Key attribute names per table, read once with DescribeTable: the original
    /// tables' key schemas are not fixed, so items are addressed by what the table says.
    keys: Mutex<HashMap<String, Vec<String>>>,
}

fn service<E>(what: impl Into<String>, e: &E) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error,
{
    StoreError::Service {
        what: what.into(),
        message: crate::cloud::aws::error_text(e),
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

impl DynamoStore {
    /// A store on `client` with these tables.
    pub fn new(client: Client, tables: Tables) -> DynamoStore {
        DynamoStore {
            client,
            tables,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The table names in use.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

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

    async fn key_of(&self, table: &str, item: &Item) -> Result<Item, StoreError> {
        let names = self.key_names(table).await?;
        names
            .into_iter()
            .map(|n| {
                item.get(&n)
                    .cloned()
                    .map(|v| (n.clone(), v))
                    .ok_or_else(|| StoreError::Service {
                        what: format!("address an item of {table}"),
                        message: format!("the item has no key attribute {n}"),
                    })
            })
            .collect()
    }

    async fn schedule_item(&self, schedule: &str) -> Result<Item, StoreError> {
        self.scan(&self.tables.schedules)
            .await?
            .into_iter()
            .find(|i| text(i, "ScheduleName").as_deref() == Some(schedule))
            .ok_or_else(|| StoreError::UnknownSchedule(schedule.to_string()))
    }

    async fn set_flag(&self, schedule: &str, value: bool) -> Result<(), StoreError> {
        let table = &self.tables.schedules;
        let item = self.schedule_item(schedule).await?;
        let key = self.key_of(table, &item).await?;
        self.client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression("SET ForceStart = :v")
            .condition_expression("ScheduleName = :name")
            .expression_attribute_values(":v", AttributeValue::Bool(value))
            .expression_attribute_values(":name", AttributeValue::S(schedule.to_string()))
            .send()
            .await
            .map_err(|e| service(format!("set ForceStart of {schedule}"), &e))?;
        Ok(())
    }
}

/// Reads items of one kind; an item that does not fit is reported under its schedule.
fn read_items<T: DeserializeOwned>(
    table: &str,
    raw: Vec<Item>,
    errors: &mut Vec<ScheduleError>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raw.len());
    for item in raw {
        let name = text(&item, "ScheduleName").unwrap_or_default();
        match serde_dynamo::from_item::<_, T>(item) {
            Ok(v) => out.push(v),
            Err(e) => errors.push(ScheduleError::new(
                name,
                format!("an item of table {table} cannot be read: {e}"),
            )),
        }
    }
    out
}

impl Store for DynamoStore {
    async fn load(&self) -> Result<Items, StoreError> {
        let t = &self.tables;
        let (schedules, groups, exceptions) = tokio::join!(
            self.scan(&t.schedules),
            self.scan(&t.groups),
            self.scan(&t.exceptions)
        );
        let mut errors = Vec::new();
        let schedules: Vec<ScheduleItem> = read_items(&t.schedules, schedules?, &mut errors);
        let groups: Vec<GroupItem> = read_items(&t.groups, groups?, &mut errors);
        let exceptions: Vec<ExceptionItem> = read_items(&t.exceptions, exceptions?, &mut errors);
        Ok(Items {
            schedules,
            groups,
            exceptions,
            errors,
        })
    }

    async fn load_state(&self) -> Result<Versioned, StoreError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.state)
            .key("Id", AttributeValue::S(STATE_ID.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service(format!("read {}", self.tables.state), &e))?;
        let Some(item) = got.item() else {
            return Ok(Versioned::default());
        };
        let version = item
            .get("Version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // A state that no longer reads (an older format) is started afresh, not fatal.
        let state = text(item, "State")
            .and_then(|s| serde_json::from_str::<RunState>(&s).ok())
            .unwrap_or_default();
        Ok(Versioned { state, version })
    }

    async fn save_state(&self, state: &RunState, version: u64) -> Result<u64, StoreError> {
        let table = &self.tables.state;
        let json = serde_json::to_string(state).map_err(|e| StoreError::Service {
            what: "encode the run state".into(),
            message: e.to_string(),
        })?;
        let next = version + 1;
        let mut put = self
            .client
            .put_item()
            .table_name(table)
            .item("Id", AttributeValue::S(STATE_ID.into()))
            .item("State", AttributeValue::S(json))
            .item("Version", AttributeValue::N(next.to_string()));
        put = if version == 0 {
            put.condition_expression("attribute_not_exists(Id)")
        } else {
            put.condition_expression("Version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        match put.send().await {
            Ok(_) => Ok(next),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict("the run state".into()))
            }
            Err(e) => Err(service(format!("write {table}"), &e)),
        }
    }

    async fn clear_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, false).await
    }

    async fn set_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, true).await
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
        let table = &self.tables.exceptions;
        let date_text = date.format("%Y-%m-%d").to_string();
        let value_text = value.map_or("None".to_string(), |t| t.format("%H:%M").to_string());
        let existing = self.scan(table).await?.into_iter().find(|i| {
            text(i, "ScheduleName").as_deref() == Some(schedule)
                && text(i, "ExceptionDate").as_deref() == Some(&date_text)
                && text(i, "ExceptionType")
                    .is_some_and(|t| t.eq_ignore_ascii_case(&direction.to_string()))
        });
        let what = format!("the {direction} exception of {schedule} on {date_text}");
        let result = match existing {
            Some(item) => {
                let key = self.key_of(table, &item).await?;
                let mut update = self
                    .client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key))
                    .update_expression("SET ExceptionValue = :new, ExpiresAt = :expires")
                    .expression_attribute_values(":new", AttributeValue::S(value_text))
                    .expression_attribute_values(":expires", expires_at(date));
                // Only if nobody changed it since it was read.
                update = match item.get("ExceptionValue") {
                    Some(old) => update
                        .condition_expression("ExceptionValue = :old")
                        .expression_attribute_values(":old", old.clone()),
                    None => update.condition_expression("attribute_not_exists(ExceptionValue)"),
                };
                update.send().await.map(|_| ()).map_err(|e| {
                    let conflict = e
                        .as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception());
                    (conflict, service(format!("write {what}"), &e))
                })
            }
            None => {
                // A key derived from what the exception is about: two people adding the
                // same exception at once collide on it instead of adding two.
                let id = format!("{schedule}:{date_text}:{direction}");
                let key_names = self.key_names(table).await?;
                let condition = key_names
                    .first()
                    .map_or("attribute_not_exists(ExceptionUuid)".to_string(), |k| {
                        format!("attribute_not_exists({k})")
                    });
                self.client
                    .put_item()
                    .table_name(table)
                    .item("ExceptionUuid", AttributeValue::S(id))
                    .item("ScheduleName", AttributeValue::S(schedule.into()))
                    .item("ExceptionDate", AttributeValue::S(date_text.clone()))
                    .item("ExceptionType", AttributeValue::S(direction.to_string()))
                    .item("ExceptionValue", AttributeValue::S(value_text))
                    .item("ExpiresAt", expires_at(date))
                    .condition_expression(condition)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        let conflict = e
                            .as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception());
                        (conflict, service(format!("write {what}"), &e))
                    })
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err((true, _)) => Err(StoreError::Conflict(what)),
            Err((false, e)) => Err(e),
        }
    }
}

impl DynamoStore {
    /// Creates the four tables with the original tool's key schemas (on-demand
    /// billing), for a local emulator or a first deployment without the template.
    /// Tables that exist already are left as they are.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let t = &self.tables;
        let layouts: [(&str, &[&str]); 4] = [
            (&t.schedules, &["ScheduleName"]),
            (&t.groups, &["ScheduleName", "GroupName"]),
            (&t.exceptions, &["ExceptionUuid"]),
            (&t.state, &["Id"]),
        ];
        for (table, keys) in layouts {
            let mut create = self
                .client
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest);
            for (k, name) in keys.iter().enumerate() {
                let key_type = if k == 0 {
                    KeyType::Hash
                } else {
                    KeyType::Range
                };
                let schema = KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(key_type)
                    .build();
                let definition = AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ScalarAttributeType::S)
                    .build();
                let (Ok(schema), Ok(definition)) = (schema, definition) else {
                    continue;
                };
                create = create.key_schema(schema).attribute_definitions(definition);
            }
            match create.send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_in_use_exception()) => {}
                Err(e) => return Err(service(format!("create {table}"), &e)),
            }
        }
        Ok(())
    }

    /// Writes items into the three schedule tables (exceptions get a key derived from
    /// what they are about, so writing the same files twice changes nothing).
    pub async fn put_items(&self, items: &Items) -> Result<(), StoreError> {
        let t = &self.tables;
        let encode = |e: serde_dynamo::Error| StoreError::Service {
            what: "encode an item".into(),
            message: e.to_string(),
        };
        let mut writes: Vec<(&str, Item)> = Vec::new();
        for s in &items.schedules {
            writes.push((&t.schedules, serde_dynamo::to_item(s).map_err(encode)?));
        }
        for g in &items.groups {
            writes.push((&t.groups, serde_dynamo::to_item(g).map_err(encode)?));
        }
        for e in &items.exceptions {
            let mut e = e.clone();
            e.exception_uuid.get_or_insert_with(|| {
                format!(
                    "{}:{}:{}",
                    e.schedule_name,
                    e.exception_date,
                    e.exception_type.to_ascii_lowercase()
                )
            });
            writes.push((&t.exceptions, serde_dynamo::to_item(&e).map_err(encode)?));
        }
        for (table, item) in writes {
            self.client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| service(format!("write {table}"), &e))?;
        }
        Ok(())
    }

    /// The client, for tools that edit items directly.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl DynamoStore {
    /// Carries out a [`super::sync::Diff`]: writes, then deletions (a pruned schedule
    /// takes its groups and exceptions with it). Exceptions keep the key they have.
    pub async fn apply(&self, d: &super::sync::Diff) -> Result<(), StoreError> {
        let t = &self.tables;
        let raw_exceptions = self.scan(&t.exceptions).await?;
        let same_exception = |i: &Item, s: &str, date: &str, kind: &str| {
            text(i, "ScheduleName").as_deref() == Some(s)
                && text(i, "ExceptionDate").as_deref().map(str::trim) == Some(date)
                && text(i, "ExceptionType").is_some_and(|k| k.trim().eq_ignore_ascii_case(kind))
        };
        let mut puts = Items {
            schedules: d.put_schedules.clone(),
            groups: d.put_groups.clone(),
            ..Items::default()
        };
        for e in &d.put_exceptions {
            let mut e = e.clone();
            e.exception_uuid = raw_exceptions
                .iter()
                .find(|i| {
                    same_exception(
                        i,
                        &e.schedule_name,
                        e.exception_date.trim(),
                        e.exception_type.trim(),
                    )
                })
                .and_then(|i| text(i, "ExceptionUuid"));
            puts.exceptions.push(e);
        }
        self.put_items(&puts).await?;

        let mut deletes: Vec<(&str, Item)> = Vec::new();
        if !d.delete_schedules.is_empty() || !d.delete_groups.is_empty() {
            let pruned = |s: &str| d.delete_schedules.iter().any(|p| p == s);
            for item in self.scan(&t.schedules).await? {
                if text(&item, "ScheduleName").is_some_and(|s| pruned(&s)) {
                    deletes.push((&t.schedules, item));
                }
            }
            for item in self.scan(&t.groups).await? {
                let (s, g) = (
                    text(&item, "ScheduleName").unwrap_or_default(),
                    text(&item, "GroupName").unwrap_or_default(),
                );
                if pruned(&s) || d.delete_groups.iter().any(|(ds, dg)| *ds == s && *dg == g) {
                    deletes.push((&t.groups, item));
                }
            }
        }
        for item in raw_exceptions {
            let s = text(&item, "ScheduleName").unwrap_or_default();
            let gone = d.delete_schedules.contains(&s)
                || d.delete_exceptions
                    .iter()
                    .any(|(ds, date, kind)| same_exception(&item, ds, date, kind));
            if gone {
                deletes.push((&t.exceptions, item));
            }
        }
        for (table, item) in deletes {
            let key = self.key_of(table, &item).await?;
            self.client
                .delete_item()
                .table_name(table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| service(format!("delete from {table}"), &e))?;
        }
        Ok(())
    }
}
