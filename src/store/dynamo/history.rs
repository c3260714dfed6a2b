//! The history in DynamoDB: one item per schedule and pass with changes (partition
//! key `Schedule`, sort key `At`, the entry as JSON in `Entry`, expiring at
//! `ExpiresAt`), and the side items of the state table (`Id`, `Side`). A run writes
//! both with BatchWriteItem, 25 items a call (one call for up to twelve schedules
//! that changed at once); a report reads one schedule with Query; no run reads it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, PutRequest,
    ScalarAttributeType, TimeToLiveSpecification, WriteRequest,
};
use chrono::{DateTime, SecondsFormat, Utc};

use super::{DynamoStore, service, text};
use crate::store::StoreError;
use scheduler_core::history::Entry;

/// The most items one BatchWriteItem takes.
const BATCH: usize = 25;

/// The most bytes of one entry item (DynamoDB's item limit is 400 KB): a larger entry
/// (thousands of resources changing at once) is split over several items.
const ENTRY_BYTES: usize = 300_000;

/// An entry's sort key: when, then a digest of what, so that two passes at the same
/// instant (overlapping runs) keep both and the same entry written twice stays one.
fn sort_key(at: DateTime<Utc>, json: &str, part: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{}#{h:016x}#{part}",
        at.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// An entry as JSON items no larger than [`ENTRY_BYTES`].
fn pieces(e: &Entry) -> Result<Vec<String>, StoreError> {
    let encode = |e: serde_json::Error| StoreError::Service {
        what: "encode a history entry".into(),
        message: e.to_string(),
    };
    let whole = serde_json::to_string(e).map_err(encode)?;
    if whole.len() <= ENTRY_BYTES || e.changes.len() < 2 {
        return Ok(vec![whole]);
    }
    let parts = whole.len().div_ceil(ENTRY_BYTES) + 1;
    let per = e.changes.len().div_ceil(parts);
    e.changes
        .chunks(per)
        .enumerate()
        .map(|(k, changes)| {
            let part = Entry {
                changes: changes.to_vec(),
                marks: if k == 0 { e.marks.clone() } else { Vec::new() },
                ..e.clone()
            };
            serde_json::to_string(&part).map_err(encode)
        })
        .collect()
}

/// Writes `entries` to the history table and `side` to the state table, batched.
pub(super) async fn record(
    store: &DynamoStore,
    entries: &[Entry],
    side: &[(String, String)],
) -> Result<(), StoreError> {
    let Some(history) = store.history.as_ref() else {
        return Ok(());
    };
    let state = store.tables.state.clone();
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Service {
        what: format!("write {}", history.name),
        message: e.to_string(),
    };
    let mut writes: Vec<(String, WriteRequest)> = Vec::new();
    for e in entries {
        let expires = (e.at + chrono::Duration::days(i64::from(history.days))).timestamp();
        for (k, json) in pieces(e)?.into_iter().enumerate() {
            let put = PutRequest::builder()
                .item("Schedule", AttributeValue::S(e.schedule.clone()))
                .item("At", AttributeValue::S(sort_key(e.at, &json, k)))
                .item("Entry", AttributeValue::S(json))
                .item("ExpiresAt", AttributeValue::N(expires.to_string()))
                .build()
                .map_err(invalid)?;
            writes.push((
                history.name.clone(),
                WriteRequest::builder().put_request(put).build(),
            ));
        }
    }
    for (id, value) in side {
        let put = PutRequest::builder()
            .item("Id", AttributeValue::S(id.clone()))
            .item("Side", AttributeValue::S(value.clone()))
            .build()
            .map_err(invalid)?;
        writes.push((
            state.clone(),
            WriteRequest::builder().put_request(put).build(),
        ));
    }
    for chunk in writes.chunks(BATCH) {
        let mut pending: HashMap<String, Vec<WriteRequest>> = HashMap::new();
        for (table, w) in chunk {
            pending.entry(table.clone()).or_default().push(w.clone());
        }
        // What DynamoDB leaves unprocessed (throttled) is sent again after a pause.
        for attempt in 0..6 {
            if pending.is_empty() {
                break;
            }
            let out = store
                .client
                .batch_write_item()
                .set_request_items(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| service(format!("write {}", history.name), &e))?;
            pending = out.unprocessed_items().cloned().unwrap_or_default();
            pending.retain(|_, v| !v.is_empty());
            if !pending.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
        }
        if !pending.is_empty() {
            return Err(StoreError::Service {
                what: format!("write {}", history.name),
                message: format!(
                    "{} items were left unprocessed",
                    pending.values().map(Vec::len).sum::<usize>()
                ),
            });
        }
    }
    Ok(())
}

/// Every entry of `schedule` at or after `from`, in time order. An item that no
/// longer reads is skipped with a warning.
pub(super) async fn read(
    store: &DynamoStore,
    schedule: &str,
    from: DateTime<Utc>,
) -> Result<Vec<Entry>, StoreError> {
    let Some(history) = store.history.as_ref() else {
        return Ok(Vec::new());
    };
    let mut items = store
        .client
        .query()
        .table_name(&history.name)
        .key_condition_expression("#s = :s AND #at >= :from")
        .expression_attribute_names("#s", "Schedule")
        .expression_attribute_names("#at", "At")
        .expression_attribute_values(":s", AttributeValue::S(schedule.to_string()))
        .expression_attribute_values(
            ":from",
            AttributeValue::S(from.to_rfc3339_opts(SecondsFormat::Millis, true)),
        )
        .into_paginator()
        .items()
        .send();
    let mut out = Vec::new();
    while let Some(item) = items.next().await {
        let item = item.map_err(|e| service(format!("read {}", history.name), &e))?;
        let Some(json) = text(&item, "Entry") else {
            continue;
        };
        match serde_json::from_str::<Entry>(&json) {
            Ok(e) => out.push(e),
            Err(e) => tracing::warn!(action = "history", schedule, "an entry does not read: {e}"),
        }
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

/// Sets side item `id` to `value` unless it holds `value` or later already.
pub(super) async fn claim(store: &DynamoStore, id: &str, value: &str) -> Result<bool, StoreError> {
    let result = store
        .client
        .put_item()
        .table_name(&store.tables.state)
        .item("Id", AttributeValue::S(id.to_string()))
        .item("Side", AttributeValue::S(value.to_string()))
        .condition_expression("attribute_not_exists(Id) OR Side < :v")
        .expression_attribute_values(":v", AttributeValue::S(value.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(service(format!("write {id}"), &e)),
    }
}

/// Creates the history table (on-demand, `ExpiresAt` as its TTL) when one is kept and
/// it does not exist yet: for a local emulator or a first try without the template.
pub(super) async fn create_table(store: &DynamoStore) -> Result<(), StoreError> {
    let Some(history) = store.history.as_ref() else {
        return Ok(());
    };
    let key = |name: &str, kind: KeyType| {
        (
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build(),
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build(),
        )
    };
    let (Ok(hash), Ok(hash_def)) = key("Schedule", KeyType::Hash) else {
        return Ok(());
    };
    let (Ok(range), Ok(range_def)) = key("At", KeyType::Range) else {
        return Ok(());
    };
    let created = store
        .client
        .create_table()
        .table_name(&history.name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(hash)
        .key_schema(range)
        .attribute_definitions(hash_def)
        .attribute_definitions(range_def)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(service(format!("create {}", history.name), &e)),
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("ExpiresAt")
        .enabled(true)
        .build()
        .map_err(|e| StoreError::Service {
            what: format!("set the TTL of {}", history.name),
            message: e.to_string(),
        })?;
    store
        .client
        .update_time_to_live()
        .table_name(&history.name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| service(format!("set the TTL of {}", history.name), &e))?;
    Ok(())
}
