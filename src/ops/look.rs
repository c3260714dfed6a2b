//! The operations that read: a schedule's status, its times on a day, its
//! exceptions, and what a run at an instant would do. None of them changes anything.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use super::{Day, OpError, existing, valid};
use crate::calendar;
use crate::clock::Clock;
use crate::cloud::{Cloud, Look};
use crate::fleet::{Direction, Instance, Power};
use crate::notify::{human_seconds, write_timeline};
use crate::plan::{Action, Event, Expected, Misfit, expectations, misfits, plan};
use crate::run::{RunError, Runner};
use crate::schedule::Schedule;
use crate::store::Store;

/// `2026-12-21 09:30 +09:00`, or `none`.
fn instant(t: &Option<DateTime<FixedOffset>>) -> String {
    t.map_or_else(
        || "none".to_string(),
        |t| t.format("%Y-%m-%d %H:%M %:z").to_string(),
    )
}

/// One instance in a [`Status`].
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// Its id.
    pub id: String,
    /// Its `Name` tag, or the id.
    pub name: String,
    /// `ec2`, `rds`, `aurora`.
    pub kind: String,
    /// Its power state.
    pub state: Power,
    /// Availability zone.
    pub zone: Option<String>,
}

/// One group in a [`Status`].
#[derive(Debug, Clone, Serialize)]
pub struct GroupStatus {
    /// The group.
    pub group: String,
    /// Groups it waits for.
    pub depends_on: Vec<String>,
    /// Its instances.
    pub instances: Vec<InstanceStatus>,
    /// How long its starts and stops take, as learned.
    pub expected: Expected,
}

/// A schedule's groups, instances and states, and today's times.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The schedule.
    pub schedule: String,
    /// Whether its times act.
    pub enabled: bool,
    /// Whether a force-start is pending.
    pub force_start: bool,
    /// Its zone.
    pub time_zone: String,
    /// Its active days.
    pub days_active: String,
    /// Today, in its zone.
    pub today: NaiveDate,
    /// Today's start, if any.
    pub start: Option<DateTime<FixedOffset>>,
    /// The stop of today's period, if any.
    pub stop: Option<DateTime<FixedOffset>>,
    /// The next transitions (a week ahead, at most four), each with its cause.
    pub next: Vec<Upcoming>,
    /// The groups, in dependency order.
    pub groups: Vec<GroupStatus>,
    /// Resources that carry the schedule's tag but none of its groups takes, and
    /// why: left alone until their tags are fixed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unscheduled: Vec<Misfit>,
}

/// A start or stop to come, and what causes it (a period, an exception, a
/// maintenance window).
#[derive(Debug, Clone, Serialize)]
pub struct Upcoming {
    /// When, in the schedule's zone.
    pub at: DateTime<FixedOffset>,
    /// Start or stop.
    pub direction: Direction,
    /// Why: `period 1 (mon)`, `exception`, `window patching`.
    pub cause: String,
}

fn upcoming(s: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Upcoming> {
    calendar::transitions(s, after, until)
        .into_iter()
        .map(|t| Upcoming {
            at: t.at.with_timezone(&s.tz).fixed_offset(),
            direction: t.direction,
            cause: calendar::cause_text(s, t.cause),
        })
        .collect()
}

/// Lists the transitions with their causes when there is more to say than the day's
/// start and stop: a maintenance window, or one of several periods.
fn write_upcoming(f: &mut fmt::Formatter<'_>, list: &[Upcoming]) -> fmt::Result {
    let telling = list.iter().any(|u| {
        u.cause.starts_with("window")
            || u.cause
                .strip_prefix("period ")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
    });
    if !telling {
        return Ok(());
    }
    for u in list {
        writeln!(
            f,
            "  {} {} ({})",
            u.direction,
            u.at.format("%a %Y-%m-%d %H:%M"),
            u.cause
        )?;
    }
    Ok(())
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}, {}{}{}): today {} to {}",
            self.schedule,
            self.time_zone,
            self.days_active,
            if self.enabled { "" } else { ", disabled" },
            if self.force_start {
                ", force-start pending"
            } else {
                ""
            },
            instant(&self.start),
            instant(&self.stop)
        )?;
        write_upcoming(f, &self.next)?;
        for g in &self.groups {
            let list: Vec<String> = g
                .instances
                .iter()
                .map(|i| format!("{} {}", i.name, i.state))
                .collect();
            let after = if g.depends_on.is_empty() {
                String::new()
            } else {
                format!(" (after {})", g.depends_on.join(", "))
            };
            let e = &g.expected;
            writeln!(
                f,
                "  {}{after}: {}; starts in {}, stops in {} ({})",
                g.group,
                if list.is_empty() {
                    "no instances".to_string()
                } else {
                    list.join(", ")
                },
                human_seconds(e.start_seconds),
                human_seconds(e.stop_seconds),
                if e.observed == 0 {
                    "defaults, nothing observed yet".to_string()
                } else {
                    format!("learned from {} runs", e.observed)
                }
            )?;
        }
        for m in &self.unscheduled {
            writeln!(f, "  not scheduled: {}: {}", m.label, m.reason)?;
        }
        Ok(())
    }
}

/// The groups, instances and states of schedule `name`, and today's times.
pub async fn status<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
) -> Result<Status, OpError> {
    let (catalog, s) = valid(runner, name).await?;
    let fleet = runner
        .cloud
        .observe(&Look::kinds(catalog.kinds_in_use()))
        .await
        .map_err(RunError::from)?
        .instances;
    let now = runner.clock.now();
    let unscheduled = misfits(&catalog, &fleet)
        .into_iter()
        .filter(|m| m.tag == s.tag_value)
        .collect();
    let today = s.today(now);
    let (start, stop) = calendar::day_times(&s, today);
    let members = s.members(fleet.iter());
    let state = runner.store.load_state().await?;
    let expected = expectations(&s, state.state.schedules.get(&s.name), &members);
    let groups = s
        .groups
        .iter()
        .zip(members)
        .zip(expected)
        .map(|((g, members), expected)| GroupStatus {
            group: g.name.clone(),
            depends_on: g.depends_on.clone(),
            instances: members.into_iter().map(instance_status).collect(),
            expected,
        })
        .collect();
    Ok(Status {
        schedule: s.name.clone(),
        enabled: s.enabled,
        force_start: s.force_start,
        time_zone: s.tz.name().to_string(),
        days_active: s.days.to_string(),
        today,
        start: start.map(|t| t.fixed_offset()),
        stop: stop.map(|t| t.fixed_offset()),
        next: upcoming(&s, now, now + chrono::Duration::days(7))
            .into_iter()
            .take(4)
            .collect(),
        groups,
        unscheduled,
    })
}

fn instance_status(i: &Instance) -> InstanceStatus {
    InstanceStatus {
        id: i.id.clone(),
        name: i.name().to_string(),
        kind: i.kind.to_string(),
        state: i.power,
        zone: i.zone.clone(),
    }
}

/// The times of a schedule on a date.
#[derive(Debug, Clone, Serialize)]
pub struct DayTimes {
    /// The schedule.
    pub schedule: String,
    /// The date, in its zone.
    pub date: NaiveDate,
    /// Its zone.
    pub time_zone: String,
    /// Its active days.
    pub days_active: String,
    /// The start that day, if any.
    pub start: Option<DateTime<FixedOffset>>,
    /// The stop of the period that begins that day, if any.
    pub stop: Option<DateTime<FixedOffset>>,
    /// Every start and stop that falls on that date, with its cause.
    pub transitions: Vec<Upcoming>,
}

impl fmt::Display for DayTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} on {} ({}, {}): start {}, stop {}",
            self.schedule,
            self.date,
            self.time_zone,
            self.days_active,
            instant(&self.start),
            instant(&self.stop)
        )?;
        write_upcoming(f, &self.transitions)
    }
}

/// The times of schedule `name` on `date` (today in its zone when `None`).
pub async fn day_times<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    date: Option<NaiveDate>,
) -> Result<DayTimes, OpError> {
    times(runner, name, date.into()).await
}

/// The times of schedule `name` on `day`.
pub(super) async fn times<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    day: Day,
) -> Result<DayTimes, OpError> {
    let (_, s) = valid(runner, name).await?;
    Ok(times_on(&s, day.date(s.tz, runner.clock.now())))
}

fn times_on(s: &Schedule, date: NaiveDate) -> DayTimes {
    let (start, stop) = calendar::day_times(s, date);
    DayTimes {
        schedule: s.name.clone(),
        date,
        time_zone: s.tz.name().to_string(),
        days_active: s.days.to_string(),
        start: start.map(|t| t.fixed_offset()),
        stop: stop.map(|t| t.fixed_offset()),
        transitions: upcoming(
            s,
            calendar::local_instant(s.tz, date, chrono::NaiveTime::MIN)
                - chrono::Duration::seconds(1),
            date.succ_opt()
                .map(|d| {
                    calendar::local_instant(s.tz, d, chrono::NaiveTime::MIN)
                        - chrono::Duration::seconds(1)
                })
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        ),
    }
}

/// What a run at an instant would do.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The instant.
    pub at: DateTime<Utc>,
    /// The actions it would take.
    pub actions: Vec<Action>,
    /// What it would report.
    pub events: Vec<Event>,
}

impl fmt::Display for Preview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "a run at {} would:", self.at.to_rfc3339())?;
        if self.events.is_empty() {
            writeln!(f, "  do nothing")?;
        }
        write_timeline(f, &self.events, &|id| id.to_string())
    }
}

/// What a run at `at` would do, from the stored state and the fleet as it is now;
/// changes nothing.
pub async fn preview<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    at: DateTime<Utc>,
) -> Result<Preview, OpError> {
    let catalog = runner.catalog().await?;
    let state = runner.store.load_state().await?;
    let fleet = runner
        .cloud
        .observe(&Look::kinds(catalog.kinds_in_use()))
        .await
        .map_err(RunError::from)?
        .instances;
    let p = plan(
        at,
        &catalog,
        &fleet,
        &state.state,
        &[],
        &runner.config.settings,
    );
    Ok(Preview {
        at,
        actions: p.actions,
        events: p.events,
    })
}

/// One exception in an [`Exceptions`] listing.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionRow {
    /// The date.
    pub date: String,
    /// `start` or `stop`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `HH:MM` or `None`.
    pub value: String,
}

/// A schedule's exceptions between two dates.
#[derive(Debug, Clone, Serialize)]
pub struct Exceptions {
    /// The schedule.
    pub schedule: String,
    /// The exceptions, by date and type.
    pub exceptions: Vec<ExceptionRow>,
}

impl fmt::Display for Exceptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exceptions.is_empty() {
            return writeln!(f, "{}: no exceptions", self.schedule);
        }
        for e in &self.exceptions {
            writeln!(f, "{} {} {}", e.date, e.kind, e.value)?;
        }
        Ok(())
    }
}

/// The exceptions of schedule `name`, as stored, between `from` and `to` (inclusive).
pub async fn exceptions<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Exceptions, OpError> {
    listed(runner, name, from.map(Day::On), to).await
}

/// The exceptions of schedule `name` from `from` (today: in the schedule's zone, or
/// the default zone for a schedule that does not validate) to `to`.
pub(super) async fn listed<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    from: Option<Day>,
    to: Option<NaiveDate>,
) -> Result<Exceptions, OpError> {
    let catalog = existing(runner, name).await?;
    let tz = catalog.get(name).map_or(runner.config.default_tz, |s| s.tz);
    let from = from.map(|d| d.date(tz, runner.clock.now()));
    let items = runner.store.load().await?;
    let mut rows: Vec<ExceptionRow> = items
        .exceptions
        .iter()
        .filter(|e| e.schedule_name == name)
        .filter(|e| {
            let d = e.key().map(|(d, _)| d);
            from.is_none_or(|f| d.is_some_and(|d| d >= f))
                && to.is_none_or(|t| d.is_some_and(|d| d <= t))
        })
        .map(|e| {
            let (date, kind) = e.key_text();
            ExceptionRow {
                date,
                kind,
                value: e.value_text(),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.date, &a.kind).cmp(&(&b.date, &b.kind)));
    Ok(Exceptions {
        schedule: name.to_string(),
        exceptions: rows,
    })
}
