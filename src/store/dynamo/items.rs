//! The three tables of the original tool: schedule, server group and exception
//! items, read as they are (a malformed item names its schedule and attribute and
//! is skipped alone), written with conditions, and brought in line with the schedule
//! files (`schedctl sync`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{NaiveDate, NaiveTime};
use serde::de::DeserializeOwned;

use super::{DynamoStore, Item, service, text};
use crate::fleet::Direction;
use crate::schedule::{ExceptionItem, GroupItem, ScheduleError, ScheduleItem};
use crate::store::sync::Diff;
use crate::store::{Items, StoreError};

/// The most items one BatchWriteItem takes.
const BATCH: usize = 25;

/// When an exception written by the tools may age out of the table (its TTL
/// attribute `ExpiresAt`): 30 days after its date, so recent history stays readable.
fn expires_at(date: NaiveDate) -> AttributeValue {
    let at = (date + chrono::Duration::days(30))
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    AttributeValue::N(at.to_string())
}

/// The key of `item` in `table`, whose key attributes are `names`.
pub(super) fn key_of(table: &str, names: &[String], item: &Item) -> Result<Item, StoreError> {
    names
        .iter()
        .map(|n| {
            item.get(n)
                .cloned()
                .map(|v| (n.clone(), v))
                .ok_or_else(|| StoreError::Service {
                    what: format!("address an item of {table}"),
                    message: format!("the item has no key attribute {n}"),
                })
        })
        .collect()
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
        match decode::<T>(item) {
            Ok(v) => out.push(v),
            Err(problem) => {
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

/// An item as `T`, or what is wrong with it, naming the attribute.
fn decode<T: DeserializeOwned>(item: Item) -> Result<T, String> {
    let value = serde_dynamo::AttributeValue::M(serde_dynamo::Item::from(item).into());
    let deserializer = serde_dynamo::Deserializer::from_attribute_value(value);
    serde_path_to_error::deserialize::<_, T>(deserializer).map_err(|e| {
        let at = e.path().to_string();
        if at == "." || at.is_empty() {
            e.inner().to_string()
        } else {
            format!("{at}: {}", e.inner())
        }
    })
}

/// `value` as an item.
fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Service {
        what: "encode an item".into(),
        message: e.to_string(),
    })
}

/// Whether the raw exception `item` is the exception of `schedule` on the date and
/// of the type `key` (as [`ExceptionItem::key_text`] writes them): what it is about,
/// read as the catalog reads it, whatever its spelling in the table.
fn is_exception(item: &Item, schedule: &str, key: &(String, String)) -> bool {
    decode::<ExceptionItem>(item.clone())
        .is_ok_and(|e| e.schedule_name == schedule && e.key_text() == *key)
}

/// The new exception item: the tools' shape, with its expiry.
fn new_exception(
    schedule: &str,
    date: NaiveDate,
    direction: Direction,
    value: Option<NaiveTime>,
) -> Result<Item, StoreError> {
    let mut item = encode(&ExceptionItem::new(schedule, date, direction, value))?;
    item.insert("ExpiresAt".into(), expires_at(date));
    Ok(item)
}

/// `items` with only the last of each key (the values of `keys`): one batch may not
/// hold the same key twice, and the last write of a key is the one that would have
/// stood had they been written one after another. Order is kept.
fn last_of_each_key(items: Vec<Item>, keys: &[String]) -> Vec<Item> {
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
    let mut items: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    kept.into_iter()
        .filter_map(|k| items.get_mut(k).and_then(Option::take))
        .collect()
}

impl DynamoStore {
    /// Every schedule, group and exception item; unreadable ones in [`Items::errors`].
    pub(super) async fn load_items(&self) -> Result<Items, StoreError> {
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

    async fn schedule_item(&self, schedule: &str) -> Result<Item, StoreError> {
        self.scan(&self.tables.schedules)
            .await?
            .into_iter()
            .find(|i| text(i, "ScheduleName").as_deref() == Some(schedule))
            .ok_or_else(|| StoreError::UnknownSchedule(schedule.to_string()))
    }

    /// Sets the schedule's `ForceStart`, as an operator editing the table does (the
    /// scheduler itself only clears it, through [`crate::store::Store`]).
    pub async fn set_force_start(&self, schedule: &str) -> Result<(), StoreError> {
        self.set_flag(schedule, true).await
    }

    pub(super) async fn set_flag(&self, schedule: &str, value: bool) -> Result<(), StoreError> {
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

    /// Writes (or replaces) the exception of `schedule` on `date` for `direction`:
    /// the item already about that date and direction, however spelled, is updated
    /// if nobody changed it since it was read; otherwise a new one is put under a
    /// key derived from what it is about, so that two people adding it at once
    /// collide instead of adding two.
    pub(super) async fn write_exception(
        &self,
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
        value: Option<NaiveTime>,
    ) -> Result<(), StoreError> {
        let table = &self.tables.exceptions;
        let key = (date.to_string(), direction.to_string());
        let existing = self
            .scan(table)
            .await?
            .into_iter()
            .find(|i| is_exception(i, schedule, &key));
        let what = format!("the {direction} exception of {schedule} on {date}");
        let result = match existing {
            Some(item) => {
                let key = self.key_of(table, &item).await?;
                let mut update = self
                    .client
                    .update_item()
                    .table_name(table)
                    .set_key(Some(key))
                    .update_expression("SET ExceptionValue = :new, ExpiresAt = :expires")
                    .expression_attribute_values(
                        ":new",
                        AttributeValue::S(ExceptionItem::time_text(value)),
                    )
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
                let key_names = self.key_names(table).await?;
                let condition = key_names
                    .first()
                    .map_or("attribute_not_exists(ExceptionUuid)".to_string(), |k| {
                        format!("attribute_not_exists({k})")
                    });
                self.client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(new_exception(schedule, date, direction, value)?))
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

    /// Writes items into the three schedule tables (exceptions get a key derived from
    /// what they are about, so writing the same files twice changes nothing).
    pub async fn put_items(&self, items: &Items) -> Result<(), StoreError> {
        let t = &self.tables;
        let mut by_table: Vec<(&str, Vec<Item>)> = vec![
            (t.schedules.as_str(), Vec::new()),
            (t.groups.as_str(), Vec::new()),
            (t.exceptions.as_str(), Vec::new()),
        ];
        for s in &items.schedules {
            by_table[0].1.push(encode(s)?);
        }
        for g in &items.groups {
            by_table[1].1.push(encode(g)?);
        }
        for e in &items.exceptions {
            let mut e = e.clone();
            if e.exception_uuid.is_none() {
                e.exception_uuid = Some(e.derived_uuid());
            }
            by_table[2].1.push(encode(&e)?);
        }
        for (table, items) in by_table {
            if items.is_empty() {
                continue;
            }
            let keys = self.key_names(table).await?;
            for chunk in last_of_each_key(items, &keys).chunks(BATCH) {
                self.write_batch(table, chunk).await?;
            }
        }
        Ok(())
    }

    /// One BatchWriteItem of at most [`BATCH`] puts; what it leaves unprocessed
    /// (throttled) is sent again after a pause.
    async fn write_batch(&self, table: &str, chunk: &[Item]) -> Result<(), StoreError> {
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
        if requests.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Service {
                what: format!("write {table}"),
                message: format!("{} items were left unprocessed", requests.len()),
            })
        }
    }

    /// Carries out a [`Diff`]: writes, then deletions (a pruned schedule takes its
    /// groups and exceptions with it). Exceptions keep the key they have.
    pub async fn apply(&self, d: &Diff) -> Result<(), StoreError> {
        let t = &self.tables;
        let raw_exceptions = self.scan(&t.exceptions).await?;
        let mut puts = Items {
            schedules: d.put_schedules.clone(),
            groups: d.put_groups.clone(),
            ..Items::default()
        };
        for e in &d.put_exceptions {
            let mut e = e.clone();
            let key = e.key_text();
            e.exception_uuid = raw_exceptions
                .iter()
                .find(|i| is_exception(i, &e.schedule_name, &key))
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
                    .any(|(ds, date, kind)| is_exception(&item, ds, &(date.clone(), kind.clone())));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn original_items_read_and_a_broken_one_is_named_and_skipped_alone() {
        let raw = vec![
            item(&[
                ("ScheduleName", s("Dev")),
                ("StartTime", s("09:00")),
                ("Enabled", AttributeValue::Bool(true)),
            ]),
            item(&[("ScheduleName", s("Odd")), ("Enabled", s("maybe"))]),
            item(&[("StartTime", s("09:00"))]),
        ];
        let mut errors = Vec::new();
        let read: Vec<ScheduleItem> = read_items("Schedule", raw, &mut errors);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].start_time.as_deref(), Some("09:00"));
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].schedule, "Odd");
        assert!(
            errors[0].to_string().contains("Enabled") && errors[0].to_string().contains("maybe"),
            "{}",
            errors[0]
        );
        assert!(errors[1].schedule.starts_with("(table Schedule"));
        assert!(errors[1].to_string().contains("no ScheduleName"));
    }

    #[test]
    fn a_new_exception_is_the_tools_item_with_its_expiry() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let i = new_exception(
            "Dev",
            date,
            Direction::Stop,
            NaiveTime::from_hms_opt(23, 30, 0),
        )
        .unwrap();
        assert_eq!(i["ExceptionUuid"], s("Dev:2026-12-24:stop"));
        assert_eq!(i["ScheduleName"], s("Dev"));
        assert_eq!(i["ExceptionDate"], s("2026-12-24"));
        assert_eq!(i["ExceptionType"], s("stop"));
        assert_eq!(i["ExceptionValue"], s("23:30"));
        // 30 days after its date, at midnight UTC.
        assert_eq!(i["ExpiresAt"], AttributeValue::N("1800662400".into()));
        let back: ExceptionItem = decode(i).unwrap();
        assert!(back.is("Dev", date, Direction::Stop));
    }

    #[test]
    fn an_exception_is_found_however_the_table_spells_its_date_and_type() {
        // The drifted copy compared the date as stored: an item written by hand
        // with spaces around its date got a second, conflicting item beside it.
        let hand_written = item(&[
            ("ExceptionUuid", s("414faf09-0000")),
            ("ScheduleName", s("Dev")),
            ("ExceptionDate", s(" 2026-12-24 ")),
            ("ExceptionType", s("Stop")),
            ("ExceptionValue", s("20:00")),
        ]);
        let key = ("2026-12-24".to_string(), "stop".to_string());
        assert!(is_exception(&hand_written, "Dev", &key));
        assert!(!is_exception(&hand_written, "Prod", &key));
        assert!(!is_exception(
            &hand_written,
            "Dev",
            &("2026-12-24".to_string(), "start".to_string())
        ));
    }

    #[test]
    fn a_batch_keeps_the_last_write_of_each_key_in_order() {
        let keys = ["ScheduleName".to_string(), "GroupName".to_string()];
        let group = |s_: &str, g: &str, kind: &str| {
            item(&[
                ("ScheduleName", s(s_)),
                ("GroupName", s(g)),
                ("InstanceType", s(kind)),
            ])
        };
        let kept = last_of_each_key(
            vec![
                group("Dev", "DB", "RDS"),
                group("Dev", "API", "EC2"),
                group("Dev", "DB", "EC2"),
            ],
            &keys,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0]["GroupName"], s("API"));
        assert_eq!(kept[1]["InstanceType"], s("EC2"));
    }

    #[test]
    fn an_item_is_addressed_by_the_keys_its_table_has() {
        let names = ["ExceptionUuid".to_string()];
        let i = item(&[("ExceptionUuid", s("u-1")), ("ScheduleName", s("Dev"))]);
        assert_eq!(key_of("ScheduleException", &names, &i).unwrap().len(), 1);
        let e = key_of("ScheduleException", &names, &item(&[])).unwrap_err();
        assert!(
            e.to_string().contains("no key attribute ExceptionUuid"),
            "{e}"
        );
    }
}
