//! The run state in its table: one item per part (the run-wide part, one per
//! schedule), each with a version written conditionally, in transactions of whole
//! parts; a part too large for one item continues in further items.

use std::collections::HashMap;
use std::ops::Range;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use super::{DynamoStore, Item, service, text};
use crate::store::{Change, StateKey, StoreError, Versioned, Written, assemble};

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

/// The transaction items of one change to `table`: the head, conditional on the
/// version it was read at (on its absence for version 0), then its continuation
/// items, and deletions of the `previous` continuation items it no longer needs.
fn operations(
    table: &str,
    c: &Change,
    previous: u64,
    chunk: usize,
) -> Result<Vec<TransactWriteItem>, StoreError> {
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
    let mut ops = Vec::new();
    let pieces = c
        .json
        .as_deref()
        .map(|j| chunks(j, chunk))
        .unwrap_or_default();
    match pieces.split_first() {
        Some((head, rest)) => {
            let mut put = Put::builder()
                .table_name(table)
                .item("Id", AttributeValue::S(id.clone()))
                .item("State", AttributeValue::S(head.to_string()))
                .item("Version", AttributeValue::N((c.version + 1).to_string()))
                .item("Parts", AttributeValue::N(rest.len().to_string()))
                .condition_expression(&condition);
            if let Some(v) = &values {
                put = put.expression_attribute_values(":v", v.clone());
            }
            ops.push(
                TransactWriteItem::builder()
                    .put(put.build().map_err(invalid)?)
                    .build(),
            );
            for (k, piece) in rest.iter().enumerate() {
                let put = Put::builder()
                    .table_name(table)
                    .item("Id", AttributeValue::S(format!("{id}{PART}{}", k + 1)))
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

/// The changes, as runs of consecutive ones, that fit one transaction each: whole
/// changes (a head with its parts), at most `max` items, given each change's count.
fn transactions(sizes: &[usize], max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (k, n) in sizes.iter().enumerate() {
        if k > start && size + n > max {
            out.push(start..k);
            start = k;
            size = 0;
        }
        size += n;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Which changes of a cancelled transaction lost to another writer: those whose
/// head (their first item) failed its condition or met a concurrent transaction.
/// `reasons` are the cancellation codes, one per item, in order; `sizes` the items
/// of each change.
fn lost(reasons: &[Option<String>], sizes: &[usize]) -> Vec<usize> {
    let mut at = 0;
    let mut out = Vec::new();
    for (k, n) in sizes.iter().enumerate() {
        if matches!(
            reasons.get(at).and_then(Option::as_deref),
            Some("ConditionalCheckFailed" | "TransactionConflict")
        ) {
            out.push(k);
        }
        at += n;
    }
    out
}

/// One stored part of the state: its key, its version and its whole JSON.
type Part = (StateKey, u64, String);

/// The stored parts of the state table's items, with their continuation items
/// joined back, and how many continuation items each part has. Items of no part (an
/// older format) are left out.
fn read_parts(items: &[Item]) -> (Vec<Part>, HashMap<String, u64>) {
    let mut heads = Vec::new();
    let mut pieces: HashMap<String, String> = HashMap::new();
    for item in items {
        let (Some(id), Some(json)) = (text(item, "Id"), text(item, "State")) else {
            continue;
        };
        if id.contains(PART) {
            pieces.insert(id, json);
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
    let mut counts = HashMap::new();
    let mut parts = Vec::new();
    for (key, id, version, extra, mut json) in heads {
        for k in 1..=extra {
            json.push_str(
                pieces
                    .get(&format!("{id}{PART}{k}"))
                    .map_or("", String::as_str),
            );
        }
        counts.insert(id, extra);
        parts.push((key, version, json));
    }
    (parts, counts)
}

impl DynamoStore {
    /// The run state, read consistently, with the version of each part.
    pub(super) async fn read_state(&self) -> Result<Versioned, StoreError> {
        let table = &self.tables.state;
        let mut pages = self
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(item.map_err(|e| service(format!("read {table}"), &e))?);
        }
        let (parts, counts) = read_parts(&items);
        *self.part_counts.lock().await = counts;
        // The history's side items come with the same read.
        let side = items
            .iter()
            .filter_map(|item| Some((text(item, "Id")?, text(item, "Side")?)))
            .collect();
        *self.side.lock().unwrap_or_else(|p| p.into_inner()) = side;
        Ok(assemble(parts))
    }

    /// Writes the changes, each only if its part is still at the version it names;
    /// a change another run wrote first fails its whole transaction, which is sent
    /// again without it.
    pub(super) async fn write_changes(&self, changes: &[Change]) -> Result<Written, StoreError> {
        let table = &self.tables.state;
        let counts = self.part_counts.lock().await.clone();
        let mut planned = Vec::with_capacity(changes.len());
        for c in changes {
            let previous = counts.get(&state_id(&c.key)).copied().unwrap_or(0);
            planned.push((c, operations(table, c, previous, CHUNK)?));
        }
        let sizes: Vec<usize> = planned.iter().map(|(_, ops)| ops.len()).collect();
        let mut written = Written::default();
        for range in transactions(&sizes, MAX_TRANSACTION) {
            let mut attempt: Vec<&(&Change, Vec<TransactWriteItem>)> =
                planned[range].iter().collect();
            while !attempt.is_empty() {
                let items: Vec<TransactWriteItem> =
                    attempt.iter().flat_map(|(_, ops)| ops.clone()).collect();
                let sent = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                let e = match sent {
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
                    Err(e) => e,
                };
                let reasons: Vec<Option<String>> = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(t)) => t
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().map(str::to_string))
                        .collect(),
                    _ => Vec::new(),
                };
                let sizes: Vec<usize> = attempt.iter().map(|(_, ops)| ops.len()).collect();
                let lost = lost(&reasons, &sizes);
                if lost.is_empty() {
                    return Err(service(format!("write {table}"), &e));
                }
                for k in lost.into_iter().rev() {
                    let (c, _) = attempt.remove(k);
                    written.conflicts.insert(c.key.clone());
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: StateKey, version: u64, json: Option<&str>) -> Change {
        Change {
            key,
            version,
            json: json.map(str::to_string),
        }
    }

    /// The attributes a transaction item puts, or the key it deletes, by name.
    fn shape(op: &TransactWriteItem) -> (String, Item, Option<String>) {
        match (op.put(), op.delete()) {
            (Some(p), _) => (
                "put".into(),
                p.item().clone(),
                p.condition_expression().map(str::to_string),
            ),
            (_, Some(d)) => (
                "delete".into(),
                d.key().clone(),
                d.condition_expression().map(str::to_string),
            ),
            _ => ("none".into(), Item::new(), None),
        }
    }

    #[test]
    fn every_part_has_an_id_that_reads_back() {
        for key in [StateKey::Run, StateKey::Schedule("Dev #2".into())] {
            assert_eq!(state_key(&state_id(&key)), Some(key));
        }
        assert_eq!(state_key("something-older"), None);
    }

    #[test]
    fn a_change_becomes_a_conditional_write_of_its_head() {
        let new = operations("S", &change(StateKey::Run, 0, Some("{}")), 0, CHUNK).unwrap();
        let (verb, item, condition) = shape(&new[0]);
        assert_eq!(verb, "put");
        assert_eq!(item["Id"], AttributeValue::S("run".into()));
        assert_eq!(item["Version"], AttributeValue::N("1".into()));
        assert_eq!(item["Parts"], AttributeValue::N("0".into()));
        assert_eq!(condition.as_deref(), Some("attribute_not_exists(Id)"));

        let key = StateKey::Schedule("Dev".into());
        let next = operations("S", &change(key.clone(), 4, Some("{}")), 0, CHUNK).unwrap();
        let (_, item, condition) = shape(&next[0]);
        assert_eq!(item["Version"], AttributeValue::N("5".into()));
        assert_eq!(condition.as_deref(), Some("Version = :v"));
        assert_eq!(
            next[0]
                .put()
                .unwrap()
                .expression_attribute_values()
                .unwrap()[":v"],
            AttributeValue::N("4".into())
        );

        let gone = operations("S", &change(key, 4, None), 2, CHUNK).unwrap();
        let shapes: Vec<(String, Item, Option<String>)> = gone.iter().map(shape).collect();
        assert_eq!(shapes.len(), 3, "the head and its two continuation items");
        assert_eq!(shapes[0].0, "delete");
        assert_eq!(shapes[0].2.as_deref(), Some("Version = :v"));
        assert_eq!(
            shapes[2].1["Id"],
            AttributeValue::S("schedule#Dev#part#2".into())
        );
    }

    #[test]
    fn a_part_too_large_for_one_item_overflows_and_reads_back_whole() {
        // 25 bytes in pieces of 10, a two-byte character on a boundary.
        let json = "\"aaaaaaaaé-bbbbbbbbbbbbb\"";
        assert_eq!(chunks(json, 10).concat(), json);
        assert!(chunks(json, 10).iter().all(|p| p.len() <= 10));
        let ops = operations("S", &change(StateKey::Run, 1, Some(json)), 4, 10).unwrap();
        let puts: Vec<Item> = ops
            .iter()
            .filter_map(|o| o.put())
            .map(|p| p.item().clone())
            .collect();
        assert_eq!(puts.len(), 3);
        assert_eq!(puts[0]["Parts"], AttributeValue::N("2".into()));
        // It had four continuation items: the two it no longer needs go.
        let deleted: Vec<&AttributeValue> = ops
            .iter()
            .filter_map(|o| o.delete())
            .map(|d| &d.key()["Id"])
            .collect();
        assert_eq!(
            deleted,
            [
                &AttributeValue::S("run#part#3".into()),
                &AttributeValue::S("run#part#4".into())
            ]
        );
        // Read back in any order, the pieces join into the part.
        let mut items = puts;
        items.reverse();
        let (parts, counts) = read_parts(&items);
        assert_eq!(parts, [(StateKey::Run, 2, json.to_string())]);
        assert_eq!(counts["run"], 2);
    }

    #[test]
    fn a_change_too_large_for_any_transaction_is_refused_by_name() {
        let json = "x".repeat(101);
        let key = StateKey::Schedule("Huge".into());
        let e = operations("S", &change(key, 0, Some(&json)), 0, 1).unwrap_err();
        assert!(e.to_string().contains("the state of schedule Huge"), "{e}");
        assert!(e.to_string().contains("101 items"), "{e}");
    }

    #[test]
    fn transactions_hold_whole_changes_and_at_most_a_hundred_items() {
        assert_eq!(transactions(&[], 100), Vec::<Range<usize>>::new());
        assert_eq!(transactions(&[1; 250], 100), [0..100, 100..200, 200..250]);
        // A change is never split: 60 + 60 do not share one.
        assert_eq!(transactions(&[60, 60, 40], 100), [0..1, 1..3]);
        assert_eq!(transactions(&[100, 1], 100), [0..1, 1..2]);
    }

    #[test]
    fn the_changes_that_lost_are_those_whose_head_failed() {
        let reason = |r: &str| Some(r.to_string());
        // Three changes of 1, 3 and 1 items; the second's head failed its condition,
        // the third met a concurrent transaction, the first was only cancelled.
        let reasons = [
            reason("None"),
            reason("ConditionalCheckFailed"),
            reason("None"),
            reason("None"),
            reason("TransactionConflict"),
        ];
        assert_eq!(lost(&reasons, &[1, 3, 1]), [1, 2]);
        // A failure of a continuation item is no other writer's doing.
        let reasons = [reason("None"), reason("ValidationError")];
        assert!(lost(&reasons, &[2]).is_empty());
        assert!(lost(&[], &[1, 1]).is_empty());
    }
}
