//! From items to a validated [`Schedule`]: every check that rejects a schedule, each
//! with an error that names the field and the bad value.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::parse::{self, in_schedule};
use super::period::{Period, PeriodText};
use super::{
    DEFAULT_GROUP, ExceptionItem, Exceptions, GroupItem, KindFilter, Schedule, ScheduleError,
    ScheduleItem, ServerGroup, StartMode,
};
use crate::fleet::Direction;

/// The validated schedule, with the problems in it that were ignored.
pub(super) fn build_schedule(
    item: &ScheduleItem,
    groups: &[&GroupItem],
    exceptions: &[&ExceptionItem],
    default_tz: Tz,
) -> Result<(Schedule, Vec<String>), ScheduleError> {
    let name = item.schedule_name.trim();
    let err = in_schedule(&item.schedule_name);
    if name.is_empty() {
        return Err(ScheduleError::new("", "ScheduleName is empty"));
    }
    let own = Period::parse(
        "",
        PeriodText {
            days_active: item.days_active.as_deref(),
            month_days: item.month_days.as_deref(),
            months: item.months.as_deref(),
            start_time: item.start_time.as_deref(),
            stop_time: item.stop_time.as_deref(),
        },
    )
    .map_err(&err)?;
    let periods = periods_of(item).map_err(&err)?;
    let tz = match &item.time_zone {
        Some(z) if !z.trim().is_empty() => parse::time_zone(z).map_err(&err)?,
        _ => default_tz,
    };
    let tag_value = match item.tag_value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => item.schedule_name.clone(),
    };
    let (exceptions, ignored) = collect_exceptions(exceptions).map_err(&err)?;
    let schedule = Schedule {
        name: item.schedule_name.clone(),
        tag_value,
        days: match periods.split_first() {
            Some((first, rest)) => rest.iter().fold(first.days, |all, p| all.union(p.days)),
            None => own.days,
        },
        enabled: item.enabled,
        start: own.start,
        stop: own.stop,
        month_days: own.month_days,
        months: own.months,
        periods,
        force_start: item.force_start,
        enforced: item.enforced,
        maintenance_windows: item.maintenance_windows.clone().unwrap_or_default(),
        windows: Vec::new(),
        tz,
        start_mode: StartMode::parse(item.start_mode.as_deref()).map_err(&err)?,
        implicit_group: groups.is_empty(),
        groups: order_groups(groups).map_err(&err)?,
        exceptions,
        digest: String::new(),
    };
    Ok((schedule, ignored))
}

/// The entries of `Periods`, checked; empty without `Periods`. With them, the
/// schedule's own day and time fields must be absent, so that no field is silently
/// ignored.
fn periods_of(item: &ScheduleItem) -> Result<Vec<Period>, String> {
    let Some(list) = &item.periods else {
        return Ok(Vec::new());
    };
    let own: Vec<&str> = [
        ("DaysActive", &item.days_active),
        ("MonthDays", &item.month_days),
        ("Months", &item.months),
        ("StartTime", &item.start_time),
        ("StopTime", &item.stop_time),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(name, _)| name)
    .collect();
    if let Some((last, rest)) = own.split_last() {
        let names = if rest.is_empty() {
            last.to_string()
        } else {
            format!("{} and {last}", rest.join(", "))
        };
        let verb = if rest.is_empty() { "is" } else { "are" };
        return Err(format!(
            "{names} {verb} given beside Periods: with Periods, each period has its own day and time fields and the schedule has none (move them into the periods)"
        ));
    }
    if list.is_empty() {
        return Err("Periods is empty: give at least one period, or remove Periods to use the schedule's own DaysActive, StartTime and StopTime".into());
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            Period::parse(
                &format!("Periods[{}]", i + 1),
                PeriodText {
                    days_active: p.days_active.as_deref(),
                    month_days: p.month_days.as_deref(),
                    months: p.months.as_deref(),
                    start_time: p.start_time.as_deref(),
                    stop_time: p.stop_time.as_deref(),
                },
            )
        })
        .collect()
}

/// Validates the group graph and returns the groups in dependency order (Kahn's
/// algorithm, ties broken by name so the order is stable).
fn order_groups(items: &[&GroupItem]) -> Result<Vec<ServerGroup>, String> {
    if items.is_empty() {
        return Ok(vec![ServerGroup {
            name: DEFAULT_GROUP.into(),
            kind: KindFilter::Any,
            depends_on: Vec::new(),
            hibernate: false,
            optional: true,
        }]);
    }
    let mut groups: BTreeMap<&str, ServerGroup> = BTreeMap::new();
    for item in items {
        let name = item.group_name.trim();
        if name.is_empty() {
            return Err("a server group has an empty GroupName".into());
        }
        let kind = match item.instance_type.as_deref().map(str::trim) {
            None | Some("") => KindFilter::Any,
            Some(t) if t.eq_ignore_ascii_case("ec2") => KindFilter::Ec2,
            Some(t) if t.eq_ignore_ascii_case("rds") || t.eq_ignore_ascii_case("aurora") => {
                KindFilter::Rds
            }
            Some(t) if t.eq_ignore_ascii_case("asg") => KindFilter::Asg,
            Some(t) if t.eq_ignore_ascii_case("ecs") => KindFilter::Ecs,
            Some(t) if t.eq_ignore_ascii_case("eks") => KindFilter::Eks,
            Some(t) => {
                return Err(format!(
                    "group \"{name}\" has InstanceType \"{t}\" (expected EC2, RDS, ASG, ECS or EKS)"
                ));
            }
        };
        let mut depends_on = item.dependency.clone();
        depends_on.sort();
        depends_on.dedup();
        let group = ServerGroup {
            name: name.to_owned(),
            kind,
            depends_on,
            hibernate: item.hibernate,
            optional: item.optional,
        };
        if groups.insert(name, group).is_some() {
            return Err(format!("group \"{name}\" is defined more than once"));
        }
    }
    for g in groups.values() {
        for d in &g.depends_on {
            if d == &g.name {
                return Err(format!("group \"{}\" depends on itself", g.name));
            }
            if !groups.contains_key(d.as_str()) {
                return Err(format!(
                    "group \"{}\" depends on unknown group \"{d}\"",
                    g.name
                ));
            }
        }
    }
    let mut ordered: Vec<ServerGroup> = Vec::with_capacity(groups.len());
    let mut placed: BTreeSet<String> = BTreeSet::new();
    while ordered.len() < groups.len() {
        let ready: Vec<&str> = groups
            .iter()
            .filter(|(n, g)| {
                !placed.contains(**n) && g.depends_on.iter().all(|d| placed.contains(d))
            })
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = groups
                .keys()
                .copied()
                .filter(|n| !placed.contains(*n))
                .collect();
            return Err(format!(
                "dependency cycle among groups {}",
                cycle_in(&groups, &stuck).join(" -> ")
            ));
        }
        for n in ready {
            placed.insert(n.to_owned());
            ordered.push(groups[n].clone());
        }
    }
    Ok(ordered)
}

/// One cycle among `stuck` (groups none of which could be ordered), for the error.
fn cycle_in(groups: &BTreeMap<&str, ServerGroup>, stuck: &[&str]) -> Vec<String> {
    // Every stuck group has a stuck dependency, so walking them must revisit one.
    let mut path: Vec<&str> = vec![stuck[0]];
    loop {
        let here = path[path.len() - 1];
        let Some(next) = groups[here]
            .depends_on
            .iter()
            .find(|d| stuck.contains(&d.as_str()))
        else {
            return stuck.iter().map(|s| s.to_string()).collect();
        };
        if let Some(at) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.clone());
            return cycle;
        }
        path.push(next);
    }
}

/// The exceptions by date and direction, and what was ignored. Two different
/// values for the same date and direction cannot both hold: that date's exceptions
/// of that direction are ignored (the regular time applies) and reported, and the
/// rest of the schedule runs on.
fn collect_exceptions(items: &[&ExceptionItem]) -> Result<(Exceptions, Vec<String>), String> {
    let mut values: BTreeMap<(NaiveDate, Direction), BTreeSet<Option<NaiveTime>>> = BTreeMap::new();
    for e in items {
        let day = parse::date(&e.exception_date)?;
        let direction = match e.exception_type.trim().to_ascii_lowercase().as_str() {
            "start" => Direction::Start,
            "stop" => Direction::Stop,
            other => {
                return Err(format!(
                    "exception on {day} has ExceptionType \"{other}\" (expected start or stop)"
                ));
            }
        };
        let value = parse::time_of_day(e.exception_value.as_deref(), "ExceptionValue")
            .map_err(|p| format!("exception on {day} ({direction}): {p}"))?;
        values.entry((day, direction)).or_default().insert(value);
    }
    let mut out = BTreeMap::new();
    let mut ignored = Vec::new();
    for ((day, direction), set) in values {
        if set.len() == 1 {
            out.extend(set.into_iter().map(|v| ((day, direction), v)));
        } else {
            let shown: Vec<String> = set.into_iter().map(ExceptionItem::time_text).collect();
            ignored.push(format!(
                "{} different {direction} exceptions on {day} ({}); they are ignored and the regular {direction} time applies that day",
                shown.len(),
                shown.join(", ")
            ));
        }
    }
    Ok((out, ignored))
}
