//! The operations that change something: force a start or a stop, extend today,
//! edit exceptions, import holidays.

use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

use super::{Day, OpError, existing, valid};
use crate::calendar;
use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::fleet::Direction;
use crate::notify::write_timeline;
use crate::plan::Request as Ask;
use crate::run::{RunReport, Runner};
use crate::schedule::ExceptionItem;
use crate::store::Store;

/// `HH:MM`, the one way a time of day is written.
fn hhmm(t: NaiveTime) -> String {
    ExceptionItem::time_text(Some(t))
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
        return Err(OpError::Invalid(format!(
            "cannot extend {name} to {}: it is {} in {} now, and a stop must be after {}",
            hhmm(until),
            hhmm(now.with_timezone(&s.tz).time()),
            s.tz.name(),
            hhmm(earliest.with_timezone(&s.tz).time())
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
    let ask = match direction {
        Direction::Start => Ask::ForceStart(name.to_string()),
        Direction::Stop => Ask::ForceStop(name.to_string()),
    };
    Ok(runner.run(&[ask]).await?)
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
        value: Some(ExceptionItem::time_text(value)),
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
    import(runner, name, text, Day::On(from), Some(to), dry_run).await
}

/// [`import_holidays`] from `from` (today: in the schedule's zone) to `to` (a year
/// after `from` when `None`).
pub(super) async fn import<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    name: &str,
    text: &str,
    from: Day,
    to: Option<NaiveDate>,
    dry_run: bool,
) -> Result<HolidayImport, OpError> {
    let (_, s) = valid(runner, name).await?;
    let from = from.date(s.tz, runner.clock.now());
    let to = to.unwrap_or_else(|| from + chrono::Months::new(12));
    let dates = crate::holidays::parse(text, s.tz, from, to)?;
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
