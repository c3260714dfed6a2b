//! The typed operations people ask for: status, extend, force-start and force-stop,
//! preview, the times of a day, exception edits and holiday imports. The Lambda
//! handler, the schedule bot and `schedctl` all call these directly; each answer is a
//! value that prints as text for people ([`Display`](std::fmt::Display)) and as JSON
//! for scripts ([`Serialize`]).

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::calendar;
use crate::clock::Clock;
use crate::cloud::{Cloud, Look};
use crate::fleet::{Direction, Instance, Power};
use crate::notify::human_seconds;
use crate::notify::write_timeline;
use crate::plan::{Action, Event, Expected, Misfit, Request, expectations, misfits, plan};
use crate::run::{RunError, RunReport, Runner};
use crate::schedule::{Catalog, Schedule, UnknownSchedule};
use crate::store::Store;

/// Why an operation was not carried out; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The schedule does not exist or does not validate.
    #[error(transparent)]
    Unknown(#[from] UnknownSchedule),
    /// The request itself is wrong (a time already past, a malformed value).
    #[error("{0}")]
    Invalid(String),
    /// The tables or the fleet could not be read or written.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<crate::store::StoreError> for OpError {
    fn from(e: crate::store::StoreError) -> Self {
        OpError::Run(RunError::Store(e))
    }
}

/// The valid schedule `name`, or the one error for "no such schedule".
async fn valid<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
) -> Result<(Catalog, Schedule), OpError> {
    let catalog = runner.catalog().await?;
    let schedule = catalog.find(name)?.clone();
    Ok((catalog, schedule))
}

/// Checks that `name` is a valid schedule, changing nothing.
pub async fn check<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
) -> Result<(), OpError> {
    valid(runner, name).await.map(|_| ())
}

/// Checks that `name` exists, valid or not: exceptions of a broken schedule can still
/// be edited (that may be what mends it).
async fn existing<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
) -> Result<Catalog, OpError> {
    let catalog = runner.catalog().await?;
    match catalog.find(name) {
        Ok(_) | Err(UnknownSchedule::Broken(_)) => Ok(catalog),
        Err(e) => Err(e.into()),
    }
}

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn shown(t: Option<NaiveTime>) -> String {
    t.map_or_else(|| "None".to_string(), hhmm)
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
    /// The groups, in dependency order.
    pub groups: Vec<GroupStatus>,
    /// Resources that carry the schedule's tag but none of its groups takes, and
    /// why: left alone until their tags are fixed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unscheduled: Vec<Misfit>,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: &Option<DateTime<FixedOffset>>| {
            t.map_or_else(
                || "none".to_string(),
                |t| t.format("%Y-%m-%d %H:%M %:z").to_string(),
            )
        };
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
            time(&self.start),
            time(&self.stop)
        )?;
        for g in &self.groups {
            let list: Vec<String> = g
                .instances
                .iter()
                .map(|i| format!("{} {}", i.name, power_word(i.state)))
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

fn power_word(p: Power) -> &'static str {
    match p {
        Power::Running => "running",
        Power::Starting => "starting",
        Power::Stopping => "stopping",
        Power::Stopped => "stopped",
        Power::Busy => "busy",
        Power::Gone => "gone",
        Power::Failed => "failed",
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
}

impl fmt::Display for DayTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: &Option<DateTime<FixedOffset>>| {
            t.map_or_else(
                || "none".to_string(),
                |t| t.format("%Y-%m-%d %H:%M %:z").to_string(),
            )
        };
        writeln!(
            f,
            "{} on {} ({}, {}): start {}, stop {}",
            self.schedule,
            self.date,
            self.time_zone,
            self.days_active,
            time(&self.start),
            time(&self.stop)
        )
    }
}

/// The times of schedule `name` on `date` (today in its zone when `None`).
pub async fn day_times<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    date: Option<NaiveDate>,
) -> Result<DayTimes, OpError> {
    let (_, s) = valid(runner, name).await?;
    let date = date.unwrap_or_else(|| s.today(runner.clock.now()));
    let (start, stop) = calendar::day_times(&s, date);
    Ok(DayTimes {
        schedule: s.name.clone(),
        date,
        time_zone: s.tz.name().to_string(),
        days_active: s.days.to_string(),
        start: start.map(|t| t.fixed_offset()),
        stop: stop.map(|t| t.fixed_offset()),
    })
}

/// Today's stop moved.
#[derive(Debug, Clone, Serialize)]
pub struct Extended {
    /// The schedule.
    pub schedule: String,
    /// Today, in its zone.
    pub date: NaiveDate,
    /// The new stop, `HH:MM`.
    pub stop: String,
}

impl fmt::Display for Extended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: today's stop ({}) is now {}",
            self.schedule, self.date, self.stop
        )
    }
}

/// Moves today's stop (in the schedule's zone) to `until`. Refused when `until` is
/// not later than now plus the warning lead: an "extension" into the past would stop
/// the servers at once, and one just after midnight would cancel tonight's stop.
pub async fn extend<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    until: NaiveTime,
) -> Result<Extended, OpError> {
    let (_, s) = valid(runner, name).await?;
    let now = runner.clock.now();
    let today = s.today(now);
    let at = calendar::local_instant(s.tz, today, until);
    let earliest = now + runner.config.settings.warn_before;
    if at <= earliest {
        let local = now.with_timezone(&s.tz).format("%H:%M");
        return Err(OpError::Invalid(format!(
            "cannot extend {name} to {}: it is {local} in {} now, and a stop must be after {}",
            hhmm(until),
            s.tz.name(),
            earliest.with_timezone(&s.tz).format("%H:%M")
        )));
    }
    runner
        .store
        .set_exception(name, today, Direction::Stop, Some(until))
        .await?;
    Ok(Extended {
        schedule: name.to_string(),
        date: today,
        stop: hhmm(until),
    })
}

/// Starts (or stops) schedule `name` now, in dependency order; the run's report.
pub async fn force<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    direction: Direction,
) -> Result<RunReport, OpError> {
    valid(runner, name).await?;
    let request = match direction {
        Direction::Start => Request::ForceStart(name.to_string()),
        Direction::Stop => Request::ForceStop(name.to_string()),
    };
    Ok(runner.run(&[request]).await?)
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.events.is_empty() {
            writeln!(f, "nothing to do")?;
        }
        write_timeline(f, &self.events, &|id| id.to_string())?;
        if self.superseded {
            writeln!(f, "(another run committed first; this one stopped acting)")?;
        }
        Ok(())
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

/// An exception as written or deleted.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionChange {
    /// The schedule.
    pub schedule: String,
    /// The date, in its zone.
    pub date: NaiveDate,
    /// Start or stop.
    #[serde(rename = "type")]
    pub direction: Direction,
    /// The new time, `HH:MM` or `None`; absent when deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Whether it was deleted.
    pub deleted: bool,
}

impl fmt::Display for ExceptionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => writeln!(
                f,
                "{} {} {} = {v}",
                self.schedule, self.date, self.direction
            ),
            None => writeln!(
                f,
                "{} {} {}: deleted",
                self.schedule, self.date, self.direction
            ),
        }
    }
}

/// Sets the start or stop of schedule `name` on `date` to `value` (`None`: not that day).
pub async fn set_exception<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    date: NaiveDate,
    direction: Direction,
    value: Option<NaiveTime>,
) -> Result<ExceptionChange, OpError> {
    existing(runner, name).await?;
    runner
        .store
        .set_exception(name, date, direction, value)
        .await?;
    Ok(ExceptionChange {
        schedule: name.to_string(),
        date,
        direction,
        value: Some(shown(value)),
        deleted: false,
    })
}

/// Deletes the start or stop exception of schedule `name` on `date`.
pub async fn delete_exception<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    date: NaiveDate,
    direction: Direction,
) -> Result<ExceptionChange, OpError> {
    existing(runner, name).await?;
    runner.store.delete_exception(name, date, direction).await?;
    Ok(ExceptionChange {
        schedule: name.to_string(),
        date,
        direction,
        value: None,
        deleted: true,
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
    existing(runner, name).await?;
    let items = runner.store.load().await?;
    let mut rows: Vec<ExceptionRow> = items
        .exceptions
        .iter()
        .filter(|e| e.schedule_name == name)
        .filter(|e| {
            let d = crate::schedule::parse_date(&e.exception_date).ok();
            from.is_none_or(|f| d.is_some_and(|d| d >= f))
                && to.is_none_or(|t| d.is_some_and(|d| d <= t))
        })
        .map(|e| ExceptionRow {
            date: e.exception_date.trim().to_string(),
            kind: e.exception_type.trim().to_ascii_lowercase(),
            value: e
                .exception_value
                .clone()
                .unwrap_or_else(|| "None".to_string()),
        })
        .collect();
    rows.sort_by(|a, b| (&a.date, &a.kind).cmp(&(&b.date, &b.kind)));
    Ok(Exceptions {
        schedule: name.to_string(),
        exceptions: rows,
    })
}

/// Holidays imported (or, in a dry run, that would be).
#[derive(Debug, Clone, Serialize)]
pub struct HolidayImport {
    /// The schedule.
    pub schedule: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The dates that get a `start None` exception.
    pub start_none: Vec<NaiveDate>,
}

impl fmt::Display for HolidayImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would set" } else { "set" };
        for d in &self.start_none {
            writeln!(f, "{verb} {} {d} start = None", self.schedule)?;
        }
        Ok(())
    }
}

/// Imports the holidays of `text` (iCalendar or a JSON list of dates) between `from`
/// and `to` into schedule `name`, each as a `start None` exception on its local date
/// in the schedule's zone.
pub async fn import_holidays<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    text: &str,
    from: NaiveDate,
    to: NaiveDate,
    dry_run: bool,
) -> Result<HolidayImport, OpError> {
    let (_, s) = valid(runner, name).await?;
    let dates = crate::store::holidays::parse(text, s.tz, from, to)
        .map_err(|e| OpError::Invalid(e.to_string()))?;
    if !dry_run {
        for d in &dates {
            runner
                .store
                .set_exception(name, *d, Direction::Start, None)
                .await?;
        }
    }
    Ok(HolidayImport {
        schedule: name.to_string(),
        dry_run,
        start_none: dates,
    })
}
