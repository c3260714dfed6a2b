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

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, PutRequest, TransactWriteItem, WriteRequest};

use super::{Change, Items, StateKey, Store, StoreError, Versioned, Written, assemble};
use crate::fleet::Direction;
use crate::schedule::absent::Absent;
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

/// The most items one TransactWriteItems may hold.
const MAX_TRANSACTION: usize = 100;

/// The most bytes of a state part one item holds (DynamoDB's item limit is 400 KB,
/// names and numbers included); a larger part continues in further items.
const CHUNK: usize = 300_000;

/// Separates a part's key from its continuation number in an item's `Id`.
const PART: &str = "#part#";

/// The item `Id` of a state part.
fn state_id(key: &StateKey) -> String {
    match key {
        StateKey::Run => "run".to_string(),
        StateKey::Schedule(name) => format!("schedule#{name}"),
    }
}

/// The state part an item `Id` holds; `None` for items of no part (an older format).
fn state_key(id: &str) -> Option<StateKey> {
    if id == "run" {
        return Some(StateKey::Run);
    }
    id.strip_prefix("schedule#")
        .map(|name| StateKey::Schedule(name.to_string()))
}

/// `text` cut into pieces of at most `max` bytes, on character boundaries.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
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
}

/// The same client, its every request bounded by a deadline the run sets
/// ([`Store::set_deadline`]): none outlasts the run's budget.
fn bounded(client: Client) -> (Client, crate::cloud::aws::Deadline) {
    let deadline = crate::cloud::aws::Deadline::for_requests();
    let config = client.config().to_builder().interceptor(deadline.clone());
    (Client::from_conf(config.build()), deadline)
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
        let (client, deadline) = bounded(client);
        DynamoStore {
            client,
            tables,
            keys: Mutex::new(HashMap::new()),
            part_counts: Mutex::new(HashMap::new()),
            absent: Absent::default(),
            deadline,
        }
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

    /// The transaction items of one state change: the head, conditional on its
    /// version, then its continuation items, and deletions of continuation items it
    /// no longer needs.
    async fn operations(&self, c: &Change) -> Result<Vec<TransactWriteItem>, StoreError> {
        let table = &self.tables.state;
        let id = state_id(&c.key);
        let (condition, values) = if c.version == 0 {
            ("attribute_not_exists(Id)".to_string(), None)
        } else {
            (
                "Version = :v".to_string(),
                Some(AttributeValue::N(c.version.to_string())),
            )
        };
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Service {
            what: format!("write {table}"),
            message: e.to_string(),
        };
        let previous = self.part_counts.lock().await.get(&id).copied().unwrap_or(0);
        let mut ops = Vec::new();
        let pieces = c
            .json
            .as_deref()
            .map(|j| chunks(j, CHUNK))
            .unwrap_or_default();
        match c.json {
            Some(_) => {
                let mut put = Put::builder()
                    .table_name(table)
                    .item("Id", AttributeValue::S(id.clone()))
                    .item("State", AttributeValue::S(pieces[0].to_string()))
                    .item("Version", AttributeValue::N((c.version + 1).to_string()))
                    .item("Parts", AttributeValue::N((pieces.len() - 1).to_string()))
                    .condition_expression(&condition);
                if let Some(v) = &values {
                    put = put.expression_attribute_values(":v", v.clone());
                }
                ops.push(
                    TransactWriteItem::builder()
                        .put(put.build().map_err(invalid)?)
                        .build(),
                );
                for (k, piece) in pieces.iter().enumerate().skip(1) {
                    let put = Put::builder()
                        .table_name(table)
                        .item("Id", AttributeValue::S(format!("{id}{PART}{k}")))
                        .item("State", AttributeValue::S(piece.to_string()))
                        .build()
                        .map_err(invalid)?;
                    ops.push(TransactWriteItem::builder().put(put).build());
                }
            }
            None => {
                let mut delete = Delete::builder()
                    .table_name(table)
                    .key("Id", AttributeValue::S(id.clone()))
                    .condition_expression(&condition);
                if let Some(v) = &values {
                    delete = delete.expression_attribute_values(":v", v.clone());
                }
                ops.push(
                    TransactWriteItem::builder()
                        .delete(delete.build().map_err(invalid)?)
                        .build(),
                );
            }
        }
        let kept = pieces.len().saturating_sub(1) as u64;
        for k in kept + 1..=previous {
            let delete = Delete::builder()
                .table_name(table)
                .key("Id", AttributeValue::S(format!("{id}{PART}{k}")))
                .build()
                .map_err(invalid)?;
            ops.push(TransactWriteItem::builder().delete(delete).build());
        }
        if ops.len() > MAX_TRANSACTION {
            return Err(StoreError::Service {
                what: format!("write {}", c.key),
                message: format!(
                    "it needs {} items, more than one transaction holds",
                    ops.len()
                ),
            });
        }
        Ok(ops)
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

/// Reads items of one kind; an item that does not fit is reported under its schedule,
/// naming the attribute that is wrong.
fn read_items<T: DeserializeOwned>(
    table: &str,
    raw: Vec<Item>,
    errors: &mut Vec<ScheduleError>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(raw.len());
    for item in raw {
        let name = text(&item, "ScheduleName").filter(|n| !n.trim().is_empty());
        // An item without its schedule's name goes by what identifies it in its table.
        let owner = name.clone().unwrap_or_else(|| {
            let key = ["ExceptionUuid", "GroupName", "Id"]
                .iter()
                .find_map(|k| text(&item, k).map(|v| format!("{k} {v}")));
            format!(
                "(table {table}{})",
                key.map_or(String::new(), |k| format!(", item {k}"))
            )
        });
        let value = serde_dynamo::AttributeValue::M(serde_dynamo::Item::from(item).into());
        let deserializer = serde_dynamo::Deserializer::from_attribute_value(value);
        match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(v) => out.push(v),
            Err(e) => {
                let at = e.path().to_string();
                let problem = if at == "." || at.is_empty() {
                    e.inner().to_string()
                } else {
                    format!("{at}: {}", e.inner())
                };
                let problem = match name {
                    Some(_) => format!("an item of table {table} cannot be read: {problem}"),
                    None => format!("an item has no ScheduleName: {problem}"),
                };
                errors.push(ScheduleError::new(owner, problem));
            }
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
        let schedules = crate::store::absent::read_absent(&self.absent, schedules?, &mut errors);
        let schedules: Vec<ScheduleItem> = read_items(&t.schedules, schedules, &mut errors);
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
        let table = &self.tables.state;
        let mut items = self
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut heads = Vec::new();
        let mut chunks: HashMap<String, String> = HashMap::new();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| service(format!("read {table}"), &e))?;
            let (Some(id), Some(json)) = (text(&item, "Id"), text(&item, "State")) else {
                continue;
            };
            if id.contains(PART) {
                chunks.insert(id, json);
                continue;
            }
            let Some(key) = state_key(&id) else {
                continue;
            };
            let number = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            heads.push((key, id, number("Version"), number("Parts"), json));
        }
        let mut counts = self.part_counts.lock().await;
        let mut parts = Vec::new();
        for (key, id, version, extra, mut json) in heads {
            // A part too large for one item continues in `Parts` more.
            for k in 1..=extra {
                json.push_str(
                    chunks
                        .get(&format!("{id}{PART}{k}"))
                        .map_or("", String::as_str),
                );
            }
            counts.insert(id, extra);
            parts.push((key, version, json));
        }
        Ok(assemble(parts))
    }

    async fn write_state(&self, changes: &[Change]) -> Result<Written, StoreError> {
        let mut written = Written::default();
        let mut pending: Vec<&Change> = changes.iter().collect();
        // Each transaction holds whole changes (a head with its parts), at most
        // MAX_TRANSACTION items; a change another run wrote first fails its whole
        // transaction, which is sent again without it.
        while !pending.is_empty() {
            let mut batch: Vec<(&Change, Vec<TransactWriteItem>)> = Vec::new();
            let mut size = 0;
            while let Some(c) = pending.first() {
                let ops = self.operations(c).await?;
                if !batch.is_empty() && size + ops.len() > MAX_TRANSACTION {
                    break;
                }
                size += ops.len();
                batch.push((c, ops));
                pending.remove(0);
            }
            let mut attempt = batch;
            loop {
                if attempt.is_empty() {
                    break;
                }
                let items: Vec<TransactWriteItem> =
                    attempt.iter().flat_map(|(_, ops)| ops.clone()).collect();
                let sent = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                match sent {
                    Ok(_) => {
                        let mut counts = self.part_counts.lock().await;
                        for (c, ops) in &attempt {
                            let v = if c.json.is_some() { c.version + 1 } else { 0 };
                            written.versions.insert(c.key.clone(), v);
                            let extra = ops.iter().filter(|o| o.put().is_some()).count();
                            counts.insert(state_id(&c.key), extra.saturating_sub(1) as u64);
                        }
                        break;
                    }
                    Err(e) => {
                        let reasons: Vec<Option<String>> = e
                            .as_service_error()
                            .and_then(|s| match s {
                                TransactWriteItemsError::TransactionCanceledException(t) => Some(
                                    t.cancellation_reasons()
                                        .iter()
                                        .map(|r| r.code().map(str::to_string))
                                        .collect(),
                                ),
                                _ => None,
                            })
                            .unwrap_or_default();
                        if reasons.is_empty() {
                            return Err(service(format!("write {}", self.tables.state), &e));
                        }
                        // Which changes lost to another writer: their head's reason.
                        let mut at = 0;
                        let mut lost = Vec::new();
                        for (k, (_, ops)) in attempt.iter().enumerate() {
                            let code = reasons.get(at).cloned().flatten();
                            if matches!(
                                code.as_deref(),
                                Some("ConditionalCheckFailed" | "TransactionConflict")
                            ) {
                                lost.push(k);
                            }
                            at += ops.len();
                        }
                        if lost.is_empty() {
                            return Err(service(format!("write {}", self.tables.state), &e));
                        }
                        for k in lost.into_iter().rev() {
                            let (c, _) = attempt.remove(k);
                            written.conflicts.insert(c.key.clone());
                        }
                    }
                }
            }
        }
        Ok(written)
    }

    async fn clear_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, false).await
    }

    fn set_deadline(&self, deadline: Option<std::time::Instant>) {
        self.deadline.set(deadline);
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
        // BatchWriteItem takes 25 items a call; what it leaves unprocessed (throttled)
        // is sent again after a pause.
        let mut by_table: HashMap<&str, Vec<Item>> = HashMap::new();
        for (table, item) in writes {
            by_table.entry(table).or_default().push(item);
        }
        for (table, items) in by_table {
            // One batch may not hold the same key twice: the last write of a key wins,
            // as it would have one write after another.
            let keys = self.key_names(table).await?;
            let mut last: HashMap<Vec<String>, usize> = HashMap::new();
            for (k, item) in items.iter().enumerate() {
                let key: Vec<String> = keys
                    .iter()
                    .map(|n| text(item, n).unwrap_or_default())
                    .collect();
                last.insert(key, k);
            }
            let mut kept: Vec<usize> = last.into_values().collect();
            kept.sort_unstable();
            let items: Vec<Item> = kept.into_iter().map(|k| items[k].clone()).collect();
            for chunk in items.chunks(25) {
                let mut requests: Vec<WriteRequest> = chunk
                    .iter()
                    .filter_map(|item| {
                        let put = PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .ok()?;
                        Some(WriteRequest::builder().put_request(put).build())
                    })
                    .collect();
                for attempt in 0..8 {
                    if requests.is_empty() {
                        break;
                    }
                    let out = self
                        .client
                        .batch_write_item()
                        .request_items(table, requests.clone())
                        .send()
                        .await
                        .map_err(|e| service(format!("write {table}"), &e))?;
                    requests = out
                        .unprocessed_items()
                        .and_then(|u| u.get(table))
                        .cloned()
                        .unwrap_or_default();
                    if !requests.is_empty() {
                        tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                    }
                }
                if !requests.is_empty() {
                    return Err(StoreError::Service {
                        what: format!("write {table}"),
                        message: format!("{} items were left unprocessed", requests.len()),
                    });
                }
            }
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
