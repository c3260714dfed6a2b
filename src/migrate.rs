//! Moving from the original Python tool: its three tables are read unchanged, but a
//! few of their items mean something else here. This module says what, per schedule,
//! and which setting removes each difference (`schedctl migrate --check`), and reads
//! the items that leave out `TimeZone` or `Enabled` as the deployment says
//! ([`read_absent`], in every load of the tables).
//!
//! The original ran every schedule in Asia/Seoul (it set the process's `TZ`), read a
//! missing `Enabled` as off and any non-empty string (`"false"` too) as on, knew the
//! days `all`, `weekdays` and lists such as `mon,wed,fri`, acted within 59 minutes
//! after a time on an active day only, and stopped every group of a schedule at once.

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;

use crate::schedule::absent::Absent;
use crate::schedule::{Days, parse_date, parse_time};
use crate::store::StoreError;
pub use crate::store::absent::read_absent;
use crate::store::dynamo::Tables;

/// The zone the original tool ran every schedule in.
pub const ORIGINAL_ZONE: Tz = chrono_tz::Asia::Seoul;

/// The original tool's three tables, item by item, as plain JSON values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Original {
    /// Items of the schedule table.
    pub schedules: Vec<Value>,
    /// Items of the server group table.
    pub groups: Vec<Value>,
    /// Items of the exception table.
    pub exceptions: Vec<Value>,
}

impl Original {
    /// Scans the three tables (read-only).
    pub async fn load(
        client: &aws_sdk_dynamodb::Client,
        tables: &Tables,
    ) -> Result<Original, StoreError> {
        let scan = |table: String| async move {
            let mut out = Vec::new();
            let mut pages = client
                .scan()
                .table_name(&table)
                .into_paginator()
                .items()
                .send();
            while let Some(item) = pages.next().await {
                let item = item.map_err(|e| StoreError::Service {
                    what: format!("scan {table}"),
                    message: crate::cloud::aws::error_text(&e),
                })?;
                let value: Value =
                    serde_dynamo::from_item(item).map_err(|e| StoreError::Service {
                        what: format!("read an item of {table}"),
                        message: e.to_string(),
                    })?;
                out.push(value);
            }
            Ok::<_, StoreError>(out)
        };
        let (schedules, groups, exceptions) = tokio::join!(
            scan(tables.schedules.clone()),
            scan(tables.groups.clone()),
            scan(tables.exceptions.clone())
        );
        Ok(Original {
            schedules: schedules?,
            groups: groups?,
            exceptions: exceptions?,
        })
    }
}

/// One thing a schedule does differently here than in the original tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What differs.
    pub what: String,
    /// The setting or edit that removes the difference, if one does.
    pub fix: Option<String>,
}

/// The differences of one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleCheck {
    /// The schedule.
    pub schedule: String,
    /// What differs; empty when it runs here exactly as it did.
    pub differences: Vec<Difference>,
}

/// `schedctl migrate --check`: every schedule of the original tables, with what would
/// differ under the deployment's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The settings compared with: `DEFAULT_TIME_ZONE` (none: refused).
    pub default_time_zone: Option<String>,
    /// `MISSING_ENABLED` (none: refused).
    pub missing_enabled: Option<bool>,
    /// Per schedule, by name.
    pub schedules: Vec<ScheduleCheck>,
}

impl Check {
    /// Whether any schedule differs.
    pub fn differs(&self) -> bool {
        self.schedules.iter().any(|s| !s.differences.is_empty())
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "compared with DEFAULT_TIME_ZONE={} MISSING_ENABLED={}",
            self.default_time_zone.as_deref().unwrap_or("(none)"),
            match self.missing_enabled {
                Some(true) => "on",
                Some(false) => "off",
                None => "(none)",
            }
        )?;
        for s in &self.schedules {
            if s.differences.is_empty() {
                writeln!(f, "{}: runs as in the original", s.schedule)?;
                continue;
            }
            writeln!(f, "{}:", s.schedule)?;
            for d in &s.differences {
                writeln!(f, "  - {}", d.what)?;
                if let Some(fix) = &d.fix {
                    writeln!(f, "    fix: {fix}")?;
                }
            }
        }
        let n = self
            .schedules
            .iter()
            .filter(|s| !s.differences.is_empty())
            .count();
        writeln!(
            f,
            "{n} of {} schedule(s) would run differently",
            self.schedules.len()
        )
    }
}

fn text<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str)
}

fn diff(what: impl Into<String>, fix: Option<&str>) -> Difference {
    Difference {
        what: what.into(),
        fix: fix.map(str::to_string),
    }
}

/// Whether the original tool knew this `DaysActive` (it compared it as written).
fn original_knows_days(days: &str) -> bool {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    days == "all"
        || days == "weekdays"
        || days
            .split(',')
            .all(|d| NAMES.contains(&d.trim().to_ascii_lowercase().as_str()))
}

/// What differs for each schedule of `original` under `absent` (the deployment's
/// `DEFAULT_TIME_ZONE` and `MISSING_ENABLED`). Pure: no I/O, no clock.
pub fn check(original: &Original, absent: &Absent) -> Check {
    let mut groups_of: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for g in &original.groups {
        if let Some(name) = text(g, "ScheduleName") {
            groups_of.entry(name).or_default().push(g);
        }
    }
    let mut exceptions_of: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for e in &original.exceptions {
        if let Some(name) = text(e, "ScheduleName") {
            exceptions_of.entry(name).or_default().push(e);
        }
    }
    let mut schedules = Vec::new();
    for item in &original.schedules {
        let Some(name) = text(item, "ScheduleName") else {
            continue;
        };
        let mut out = Vec::new();
        zone(item, absent, &mut out);
        enabled(item, absent, &mut out);
        if text(item, "TagValue").is_none_or(|t| t.trim().is_empty()) {
            out.push(diff(
                format!("has no TagValue: the original failed on it every run; this scheduler takes resources tagged ScheduleName={name}"),
                Some("set TagValue on the item if other resources are meant"),
            ));
        }
        let days = text(item, "DaysActive");
        match days {
            None => out.push(diff(
                "has no DaysActive: the original failed on it every run; this scheduler refuses it",
                Some("set DaysActive (all, weekdays, or a list such as mon,wed,fri)"),
            )),
            Some(d) if !original_knows_days(d) => {
                let reading = Days::parse(d).map_or_else(
                    |e| format!("refuses it ({e})"),
                    |days| format!("reads it as {days}"),
                );
                out.push(diff(
                    format!("DaysActive \"{d}\": the original never matched it and never acted; this scheduler {reading}"),
                    Some("Enabled=false keeps it idle, as it was"),
                ));
            }
            Some(_) => {}
        }
        let start =
            text(item, "StartTime").and_then(|t| parse_time(Some(t), "StartTime").ok().flatten());
        let stop =
            text(item, "StopTime").and_then(|t| parse_time(Some(t), "StopTime").ok().flatten());
        if let (Some(start), Some(stop)) = (start, stop)
            && stop <= start
            && days.is_some_and(|d| d.trim() != "all")
        {
            out.push(diff(
                format!(
                    "stops ({}) before it starts ({}): the original stopped on active days only (a period started on the last active day ran until the next active day's stop); this scheduler stops the morning after each active day",
                    stop.format("%H:%M"),
                    start.format("%H:%M")
                ),
                None,
            ));
        }
        let groups = groups_of.get(name).cloned().unwrap_or_default();
        for g in &groups {
            let group = text(g, "GroupName").unwrap_or("?");
            match text(g, "InstanceType") {
                Some("EC2" | "RDS") => {}
                Some(other) => out.push(diff(
                    format!("group {group} has InstanceType \"{other}\": the original left it alone; this scheduler reads it (ASG, ECS, EKS) or refuses it"),
                    Some("remove the group, or give it InstanceType EC2 or RDS"),
                )),
                None => out.push(diff(
                    format!("group {group} has no InstanceType: the original failed on it; this scheduler takes every kind tagged for it"),
                    Some("set InstanceType EC2 or RDS on the group"),
                )),
            }
        }
        if groups.iter().any(|g| {
            g.get("Dependency").is_some_and(|d| {
                d.as_array().is_some_and(|a| !a.is_empty())
                    || d.as_str().is_some_and(|s| !s.trim().is_empty())
            })
        }) {
            out.push(diff(
                "stops its groups in reverse dependency order, each after the groups that depend on it are down; the original stopped every group at once",
                None,
            ));
        }
        if let Some(days) = days.and_then(|d| Days::parse(d).ok()) {
            for e in exceptions_of.get(name).into_iter().flatten() {
                let value = text(e, "ExceptionValue").unwrap_or("None");
                let date = text(e, "ExceptionDate").and_then(|d| parse_date(d).ok());
                if let Some(date) = date
                    && !value.eq_ignore_ascii_case("none")
                    && !days.contains(chrono::Datelike::weekday(&date))
                {
                    out.push(diff(
                        format!(
                            "exception {} {} {value} falls on a day that is not active: the original ignored it; this scheduler acts on it",
                            date,
                            text(e, "ExceptionType").unwrap_or("?")
                        ),
                        Some("delete the exception if it should stay without effect"),
                    ));
                }
            }
        }
        schedules.push(ScheduleCheck {
            schedule: name.to_string(),
            differences: out,
        });
    }
    schedules.sort_by(|a, b| a.schedule.cmp(&b.schedule));
    Check {
        default_time_zone: absent.zone.map(|z| z.name().to_string()),
        missing_enabled: absent.enabled,
        schedules,
    }
}

fn zone(item: &Value, absent: &Absent, out: &mut Vec<Difference>) {
    const FIX: &str = "DEFAULT_TIME_ZONE=Asia/Seoul (the template's DefaultTimeZone), or TimeZone=Asia/Seoul on the item";
    match text(item, "TimeZone").filter(|z| !z.trim().is_empty()) {
        Some(z) if z.trim() != ORIGINAL_ZONE.name() => out.push(diff(
            format!("has TimeZone {z}: the original ignored it and acted in Asia/Seoul; this scheduler acts in {z}"),
            Some("TimeZone=Asia/Seoul on the item keeps the original's instants"),
        )),
        Some(_) => {}
        None => match absent.zone {
            None => out.push(diff(
                "has no TimeZone and no default zone is set: this scheduler refuses it (the original acted in Asia/Seoul)",
                Some(FIX),
            )),
            Some(z) if z != ORIGINAL_ZONE => out.push(diff(
                format!("has no TimeZone: this scheduler acts in {} (DEFAULT_TIME_ZONE), the original in Asia/Seoul", z.name()),
                Some(FIX),
            )),
            Some(_) => {}
        },
    }
}

fn enabled(item: &Value, absent: &Absent, out: &mut Vec<Difference>) {
    const FIX: &str =
        "MISSING_ENABLED=off (the template's MissingEnabled), or Enabled=false on the item";
    match item.get("Enabled") {
        None | Some(Value::Null) => match absent.enabled {
            None => out.push(diff(
                "has no Enabled: this scheduler refuses it (the original read it as off)",
                Some(FIX),
            )),
            Some(true) => out.push(diff(
                "has no Enabled: this scheduler runs it (MISSING_ENABLED=on); the original never did",
                Some(FIX),
            )),
            Some(false) => {}
        },
        Some(Value::String(s)) => {
            let ours = matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1");
            let original = !s.is_empty();
            if ours != original {
                out.push(diff(
                    format!("has Enabled \"{s}\" (a string): the original read any non-empty string as on; this scheduler reads it as {}", if ours { "on" } else { "off" }),
                    Some("Enabled as a boolean (true or false) on the item"),
                ));
            }
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_json::json;
    use std::collections::HashMap;

    type Item = HashMap<String, AttributeValue>;

    const STRICT: Absent = Absent {
        zone: None,
        enabled: None,
    };
    const AS_ORIGINAL: Absent = Absent {
        zone: Some(ORIGINAL_ZONE),
        enabled: Some(false),
    };

    fn original() -> Original {
        Original {
            schedules: vec![
                json!({"ScheduleName":"Development","TagValue":"Development","DaysActive":"weekdays","Enabled":true,"StartTime":"09:30","StopTime":"22:00","ForceStart":false}),
                json!({"ScheduleName":"Staging","TagValue":"Staging","DaysActive":"mon,wed,fri","StartTime":"10:00","StopTime":"None","ForceStart":false}),
            ],
            groups: vec![
                json!({"ScheduleName":"Development","GroupName":"RDB","InstanceType":"RDS","Dependency":[]}),
                json!({"ScheduleName":"Development","GroupName":"API","InstanceType":"EC2","Dependency":["RDB"]}),
            ],
            exceptions: vec![],
        }
    }

    fn whats(check: &Check, schedule: &str) -> Vec<String> {
        check
            .schedules
            .iter()
            .find(|s| s.schedule == schedule)
            .map(|s| s.differences.iter().map(|d| d.what.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn without_settings_the_zone_and_enabled_differences_are_named_with_their_fix() {
        let c = check(&original(), &STRICT);
        let dev = whats(&c, "Development");
        assert!(dev.iter().any(|d| d.contains("no TimeZone")), "{dev:?}");
        let text = c.to_string();
        assert!(text.contains("fix: DEFAULT_TIME_ZONE=Asia/Seoul"), "{text}");
        assert!(
            whats(&c, "Staging")
                .iter()
                .any(|d| d.contains("no Enabled"))
        );
        assert!(text.contains("fix: MISSING_ENABLED=off"), "{text}");
    }

    #[test]
    fn with_the_documented_settings_only_the_stop_order_remains() {
        let c = check(&original(), &AS_ORIGINAL);
        assert_eq!(
            whats(&c, "Development"),
            [
                "stops its groups in reverse dependency order, each after the groups that depend on it are down; the original stopped every group at once"
            ]
        );
        assert!(whats(&c, "Staging").is_empty());
    }

    #[test]
    fn a_utc_default_is_named_as_nine_hours_away_from_the_original() {
        let utc = Absent {
            zone: Some(chrono_tz::UTC),
            ..AS_ORIGINAL
        };
        let dev = whats(&check(&original(), &utc), "Development");
        assert!(
            dev.iter()
                .any(|d| d.contains("acts in UTC (DEFAULT_TIME_ZONE), the original in Asia/Seoul")),
            "{dev:?}"
        );
    }

    #[test]
    fn string_flags_unknown_days_and_inactive_day_exceptions_are_named() {
        let mut o = original();
        o.schedules.push(json!({"ScheduleName":"Batch","TagValue":"Batch","DaysActive":"mon-fri","Enabled":"false","StartTime":"22:00","StopTime":"06:00"}));
        o.exceptions.push(json!({"ExceptionUuid":"1","ScheduleName":"Staging","ExceptionDate":"2026-12-22","ExceptionType":"start","ExceptionValue":"11:00"}));
        let c = check(&o, &AS_ORIGINAL);
        let batch = whats(&c, "Batch");
        assert!(
            batch.iter().any(|d| d.contains("Enabled \"false\"")),
            "{batch:?}"
        );
        assert!(
            batch.iter().any(|d| d.contains("DaysActive \"mon-fri\"")),
            "{batch:?}"
        );
        assert!(
            batch
                .iter()
                .any(|d| d.contains("stops (06:00) before it starts (22:00)")),
            "{batch:?}"
        );
        let staging = whats(&c, "Staging");
        assert!(
            staging.iter().any(|d| d.contains("2026-12-22 start 11:00")),
            "{staging:?}"
        );
    }

    #[test]
    fn items_without_zone_or_enabled_are_refused_or_read_as_the_deployment_says() {
        let item = |pairs: &[(&str, AttributeValue)]| -> Item {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        let raw = vec![
            item(&[("ScheduleName", AttributeValue::S("A".into()))]),
            item(&[
                ("ScheduleName", AttributeValue::S("B".into())),
                ("TimeZone", AttributeValue::S("Asia/Seoul".into())),
                ("Enabled", AttributeValue::Bool(true)),
            ]),
        ];
        let mut errors = Vec::new();
        let kept = read_absent(&STRICT, raw.clone(), &mut errors);
        assert_eq!(kept.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].schedule, "A");
        let mut errors = Vec::new();
        let kept = read_absent(&AS_ORIGINAL, raw, &mut errors);
        assert!(errors.is_empty());
        assert_eq!(kept[0].get("Enabled"), Some(&AttributeValue::Bool(false)));
    }
}
