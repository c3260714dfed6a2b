//! The [`Request`]: everything anyone can ask of the scheduler, whichever door it
//! comes through, and the Lambda payload's parser into it.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::HandlerError;
use crate::fleet::Direction;
use crate::invocation::{Command, Invocation};
use crate::schedule::{ExceptionItem, parse_time};

/// A date as people give it: today in the schedule's zone, or a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// Today, in the schedule's zone (not UTC's date).
    Today,
    /// This date.
    On(NaiveDate),
}

impl Day {
    /// The date it names for a schedule in `tz`, at `now`.
    pub fn date(self, tz: Tz, now: DateTime<Utc>) -> NaiveDate {
        match self {
            Day::Today => now.with_timezone(&tz).date_naive(),
            Day::On(date) => date,
        }
    }
}

impl From<Option<NaiveDate>> for Day {
    /// A date given, or today when none is.
    fn from(date: Option<NaiveDate>) -> Day {
        date.map_or(Day::Today, Day::On)
    }
}

/// Everything anyone can ask: the Lambda payload, the chat's words and `schedctl`'s
/// arguments all parse into this, and [`super::apply`] answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A regular run of every schedule (the tick); shared among invocations when
    /// the deployment has shards.
    Run,
    /// A run of one shard's schedules.
    RunShard(crate::invocation::Shard),
    /// Resources reached a state (an event): a run of the schedules that wait for
    /// them, or nothing.
    Wake(Vec<String>),
    /// What a run at this instant would do, from the fleet as it is now; acts on
    /// nothing and records nothing.
    Preview(DateTime<Utc>),
    /// Start (or stop) the schedule now, in dependency order.
    Force {
        /// The schedule.
        schedule: String,
        /// Start or stop.
        direction: Direction,
    },
    /// Today's stop, in the schedule's zone, becomes `until`.
    Extend {
        /// The schedule.
        schedule: String,
        /// The new stop.
        until: NaiveTime,
    },
    /// The schedule's groups, instances, states and today's times.
    Status {
        /// The schedule.
        schedule: String,
    },
    /// The schedule's times on a day (`info`).
    DayTimes {
        /// The schedule.
        schedule: String,
        /// The day.
        day: Day,
    },
    /// The schedule's exceptions between two dates, as stored.
    Exceptions {
        /// The schedule.
        schedule: String,
        /// The first date; from the first there is when `None`.
        from: Option<Day>,
        /// The last date; to the last there is when `None`.
        to: Option<NaiveDate>,
    },
    /// The start or stop of a schedule on a date becomes `value` (`None`: not that day).
    SetException {
        /// The schedule.
        schedule: String,
        /// The date, in the schedule's zone.
        date: NaiveDate,
        /// Start or stop.
        direction: Direction,
        /// The new time, or none.
        value: Option<NaiveTime>,
    },
    /// The start or stop exception of a schedule on a date goes.
    DeleteException {
        /// The schedule.
        schedule: String,
        /// The date.
        date: NaiveDate,
        /// Start or stop.
        direction: Direction,
    },
    /// The holidays of a calendar (iCalendar or a JSON list of dates) become
    /// `start None` exceptions of the schedule.
    ImportHolidays {
        /// The schedule.
        schedule: String,
        /// The calendar's text.
        calendar: String,
        /// The first date.
        from: Day,
        /// The last date; a year after `from` when `None`.
        to: Option<NaiveDate>,
        /// Only say which dates; write nothing.
        dry_run: bool,
    },
}

impl Request {
    /// Whether it starts, stops or writes anything, and so needs a person allowed to
    /// change things (the bot's allow-list).
    pub fn changes_anything(&self) -> bool {
        match self {
            Request::Preview(_)
            | Request::Status { .. }
            | Request::DayTimes { .. }
            | Request::Exceptions { .. } => false,
            Request::ImportHolidays { dry_run, .. } => !dry_run,
            Request::Run
            | Request::RunShard(_)
            | Request::Wake(_)
            | Request::Force { .. }
            | Request::Extend { .. }
            | Request::SetException { .. }
            | Request::DeleteException { .. } => true,
        }
    }

    /// The schedule it is about, if it is about one.
    pub fn schedule(&self) -> Option<&str> {
        match self {
            Request::Run | Request::RunShard(_) | Request::Wake(_) | Request::Preview(_) => None,
            Request::Force { schedule, .. }
            | Request::Extend { schedule, .. }
            | Request::Status { schedule }
            | Request::DayTimes { schedule, .. }
            | Request::Exceptions { schedule, .. }
            | Request::SetException { schedule, .. }
            | Request::DeleteException { schedule, .. }
            | Request::ImportHolidays { schedule, .. } => Some(schedule),
        }
    }

    /// What it is called, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Run => "a run",
            Request::RunShard(_) => "a shard's run",
            Request::Wake(_) => "an event",
            Request::Preview(_) => "a preview",
            Request::Force {
                direction: Direction::Start,
                ..
            } => "a force-start",
            Request::Force {
                direction: Direction::Stop,
                ..
            } => "a force-stop",
            Request::Extend { .. } => "an extension",
            Request::Status { .. } => "a status",
            Request::DayTimes { .. } => "the times of a day",
            Request::Exceptions { .. } => "a list of exceptions",
            Request::SetException { .. } => "an exception",
            Request::DeleteException { .. } => "an exception's deletion",
            Request::ImportHolidays { .. } => "a holiday import",
        }
    }

    /// The scheduler function's command for this request, for a hand-off; `None`
    /// for a request no command carries.
    pub fn command(&self) -> Option<Command> {
        Some(match self {
            Request::Run => Command::run(),
            Request::RunShard(shard) => Command::run_shard(shard.index, shard.count),
            Request::Preview(at) => Command::Plan {
                at: at.fixed_offset(),
            },
            Request::Force {
                schedule,
                direction: Direction::Start,
            } => Command::ForceStart {
                schedule: schedule.clone(),
            },
            Request::Force {
                schedule,
                direction: Direction::Stop,
            } => Command::ForceStop {
                schedule: schedule.clone(),
            },
            Request::Extend { schedule, until } => Command::Extend {
                schedule: schedule.clone(),
                until: ExceptionItem::time_text(Some(*until)),
            },
            Request::Status { schedule } => Command::Status {
                schedule: schedule.clone(),
            },
            Request::Wake(_)
            | Request::DayTimes { .. }
            | Request::Exceptions { .. }
            | Request::SetException { .. }
            | Request::DeleteException { .. }
            | Request::ImportHolidays { .. } => return None,
        })
    }
}

impl TryFrom<Command> for Request {
    type Error = HandlerError;

    /// The Lambda payload's parser: a command is a request once its values read.
    fn try_from(command: Command) -> Result<Request, HandlerError> {
        Ok(match command {
            Command::Run {
                now: Some(at),
                shard: _,
            }
            | Command::Plan { at } => Request::Preview(at.to_utc()),
            Command::Run {
                now: None,
                shard: None,
            } => Request::Run,
            Command::Run {
                now: None,
                shard: Some(shard),
            } => Request::RunShard(
                shard
                    .checked()
                    .map_err(|e| HandlerError::BadPayload(e.to_string()))?,
            ),
            Command::ForceStart { schedule } => Request::Force {
                schedule,
                direction: Direction::Start,
            },
            Command::ForceStop { schedule } => Request::Force {
                schedule,
                direction: Direction::Stop,
            },
            Command::Extend { schedule, until } => Request::Extend {
                schedule,
                until: parse_time(Some(&until), "until")
                    .map_err(HandlerError::BadPayload)?
                    .ok_or_else(|| HandlerError::BadPayload("until must be HH:MM".into()))?,
            },
            Command::Status { schedule } => Request::Status { schedule },
        })
    }
}

impl Invocation {
    /// Reads a payload, saying what is wrong with one that is none of the three (see
    /// [`Invocation::read`]), as the handlers answer it.
    pub fn parse(payload: serde_json::Value) -> Result<Invocation, HandlerError> {
        Ok(Invocation::read(payload)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_a_command_carries_reads_back_as_itself() {
        let at = DateTime::parse_from_rfc3339("2026-12-21T09:30:00+09:00")
            .unwrap()
            .to_utc();
        for request in [
            Request::Run,
            Request::RunShard(crate::invocation::Shard { index: 1, count: 2 }),
            Request::Preview(at),
            Request::Force {
                schedule: "Dev".into(),
                direction: Direction::Start,
            },
            Request::Force {
                schedule: "Dev".into(),
                direction: Direction::Stop,
            },
            Request::Extend {
                schedule: "Dev".into(),
                until: NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
            },
            Request::Status {
                schedule: "Dev".into(),
            },
        ] {
            let command = request.command().unwrap();
            let payload = command.payload();
            let back: Command = serde_json::from_str(&payload).unwrap();
            assert_eq!(Request::try_from(back).unwrap(), request, "{payload}");
        }
    }

    #[test]
    fn a_shard_that_does_not_exist_is_a_bad_payload_not_a_run() {
        for (index, count) in [(5, 2), (0, 0)] {
            let e = Request::try_from(Command::run_shard(index, count)).unwrap_err();
            assert!(matches!(e, HandlerError::BadPayload(_)), "{e:?}");
            assert!(e.to_string().contains("does not exist"), "{e}");
        }
    }

    #[test]
    fn reading_changes_nothing_and_everything_else_needs_a_person_allowed() {
        let reads = [
            Request::Status {
                schedule: "Dev".into(),
            },
            Request::DayTimes {
                schedule: "Dev".into(),
                day: Day::Today,
            },
            Request::Exceptions {
                schedule: "Dev".into(),
                from: None,
                to: None,
            },
        ];
        assert!(reads.iter().all(|r| !r.changes_anything()));
        assert!(
            Request::Extend {
                schedule: "Dev".into(),
                until: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            }
            .changes_anything()
        );
    }
}
