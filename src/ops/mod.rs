//! One vocabulary for every door. The Lambda payload, the chat words and `schedctl`'s
//! arguments are parsers into one [`Request`], applied in one place, [`apply`], whose
//! [`Answer`] prints as text for people ([`Display`](std::fmt::Display)) and as JSON
//! for scripts ([`Serialize`]). A door does nothing else: parse, apply (or, for work
//! that takes longer than its caller waits, [`hand_off`] to the scheduler), print.
//! The bot alone hands a force over with [`hand_off_from_bot`], which notes it as the
//! bot's for the history without changing what is handed over.
//!
//! The operations are also callable one by one ([`status`], [`extend`], [`force`],
//! [`preview`], [`day_times`], [`exceptions`], [`set_exception`],
//! [`delete_exception`], [`import_holidays`]), each returning its typed answer.

mod change;
mod look;
mod request;

use std::fmt;

use serde::Serialize;

use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::handoff::Handoff;
use crate::history::Origin;
use crate::holidays::HolidayError;
use crate::invocation::{Command, Shard, Unreadable};
use crate::run::{RunError, RunReport, Runner, Scope};
use crate::schedule::{Catalog, Schedule, UnknownSchedule};
use crate::store::Store;

pub use change::{
    ExceptionChange, Extended, HolidayImport, delete_exception, extend, force, import_holidays,
    set_exception,
};
pub use look::{
    DayTimes, ExceptionRow, Exceptions, GroupStatus, InstanceStatus, Preview, Status, day_times,
    exceptions, preview, status,
};
pub use request::{Day, Request};

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
    /// A holiday calendar that does not give dates.
    #[error(transparent)]
    Holidays(#[from] HolidayError),
    /// The request could not be handed to the scheduler function.
    #[error("{0}")]
    HandOff(String),
    /// The request is not one the scheduler function takes from a hand-off.
    #[error("{0} cannot be handed to the scheduler; it is answered here")]
    NotHandedOver(&'static str),
}

impl From<crate::store::StoreError> for OpError {
    fn from(e: crate::store::StoreError) -> Self {
        OpError::Run(RunError::Store(e))
    }
}

/// Why an invocation failed; the message is what the caller sees.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not an invocation this function understands.
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// The operation was refused or could not be carried out.
    #[error(transparent)]
    Op(#[from] OpError),
}

impl From<RunError> for HandlerError {
    fn from(e: RunError) -> Self {
        HandlerError::Op(OpError::Run(e))
    }
}

impl From<Unreadable> for HandlerError {
    fn from(e: Unreadable) -> Self {
        HandlerError::BadPayload(e.to_string())
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::BadPayload(_) => "BadPayload",
            HandlerError::Op(OpError::Unknown(_)) => "UnknownSchedule",
            HandlerError::Op(
                OpError::Invalid(_) | OpError::Holidays(_) | OpError::NotHandedOver(_),
            ) => "Refused",
            HandlerError::Op(OpError::Run(_) | OpError::HandOff(_)) => "RunFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

/// What an operation answered: one of the typed answers, printed as its own text
/// and serialised as its own JSON (no wrapper), so every door shows the same thing.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// What a run did.
    Run(RunReport),
    /// A sharded tick: the shards handed to their own invocations.
    Shards(ShardsStarted),
    /// An event about nothing in progress: nothing was run.
    Ignored(Ignored),
    /// What a run at an instant would do.
    Preview(Preview),
    /// A schedule's groups, instances and states.
    Status(Status),
    /// A schedule's times on a date.
    DayTimes(DayTimes),
    /// Today's stop moved.
    Extended(Extended),
    /// An exception written or deleted.
    ExceptionChange(ExceptionChange),
    /// A schedule's exceptions.
    Exceptions(Exceptions),
    /// Holidays imported, or that would be.
    Holidays(HolidayImport),
    /// A request handed to the scheduler function.
    HandedOff(HandedOff),
}

impl Answer {
    /// The answer as JSON.
    pub fn json(&self) -> serde_json::Value {
        // Plain data of strings, numbers and timestamps: serialising cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Run(a) => a.fmt(f),
            Answer::Shards(a) => a.fmt(f),
            Answer::Ignored(a) => a.fmt(f),
            Answer::Preview(a) => a.fmt(f),
            Answer::Status(a) => a.fmt(f),
            Answer::DayTimes(a) => a.fmt(f),
            Answer::Extended(a) => a.fmt(f),
            Answer::ExceptionChange(a) => a.fmt(f),
            Answer::Exceptions(a) => a.fmt(f),
            Answer::Holidays(a) => a.fmt(f),
            Answer::HandedOff(a) => a.fmt(f),
        }
    }
}

/// A sharded tick: each shard's run handed to an invocation of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardsStarted {
    /// How many shards there are.
    pub shards: u32,
    /// The shards whose invocation was queued.
    pub invoked: Vec<u32>,
}

impl fmt::Display for ShardsStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} of {} shards handed to their own runs",
            self.invoked.len(),
            self.shards
        )
    }
}

/// An event about resources no chain waits for: nothing was run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    /// The resources the event was about.
    pub ignored: Vec<String>,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: not part of anything in progress",
            self.ignored.join(", ")
        )
    }
}

/// A request handed to the scheduler function, which tells the chat how it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandedOff {
    /// The schedule.
    pub schedule: String,
    /// The command's action (`force-start`, `force-stop`).
    pub action: String,
}

impl fmt::Display for HandedOff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} handed to the scheduler; this channel hears how it goes",
            self.schedule, self.action
        )
    }
}

/// Carries out `request`: the one place every door's request is answered.
pub async fn apply<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    request: Request,
) -> Result<Answer, OpError> {
    Ok(match request {
        Request::Run => tick(runner).await?,
        Request::RunShard(Shard { index, count }) => {
            Answer::Run(runner.run_in(&Scope::Shard { index, count }, &[]).await?)
        }
        Request::Wake(ids) => match runner.wake(&ids).await? {
            Some(report) => Answer::Run(report),
            None => Answer::Ignored(Ignored { ignored: ids }),
        },
        Request::Preview(at) => Answer::Preview(preview(runner, at).await?),
        Request::Force {
            schedule,
            direction,
        } => Answer::Run(force(runner, &schedule, direction).await?),
        Request::Extend { schedule, until } => {
            Answer::Extended(extend(runner, &schedule, until).await?)
        }
        Request::Status { schedule } => Answer::Status(status(runner, &schedule).await?),
        Request::DayTimes { schedule, day } => {
            Answer::DayTimes(look::times(runner, &schedule, day).await?)
        }
        Request::Exceptions { schedule, from, to } => {
            Answer::Exceptions(look::listed(runner, &schedule, from, to).await?)
        }
        Request::SetException {
            schedule,
            date,
            direction,
            value,
        } => {
            Answer::ExceptionChange(set_exception(runner, &schedule, date, direction, value).await?)
        }
        Request::DeleteException {
            schedule,
            date,
            direction,
        } => Answer::ExceptionChange(delete_exception(runner, &schedule, date, direction).await?),
        Request::ImportHolidays {
            schedule,
            calendar,
            from,
            to,
            dry_run,
        } => {
            Answer::Holidays(change::import(runner, &schedule, &calendar, from, to, dry_run).await?)
        }
    })
}

/// Hands `request` to the scheduler function through `handoff` once its schedule is
/// known to be valid, and answers at once: the transport for work that takes longer
/// than the asker waits (a force-start follows its chain for minutes). The scheduler
/// function applies the same request and tells the chat how it went.
pub async fn hand_off<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    handoff: &H,
    request: Request,
) -> Result<Answer, OpError> {
    send(runner, handoff, request, None).await
}

/// [`hand_off`] for the chat bot, on behalf of `user`: a force is first noted beside
/// the run state as the bot's ([`Origin`], side item `origin#SCHEDULE`), so that the
/// history records its changes as the bot's (cause `bot`) while the payload handed
/// over stays the one every door sends. A note that cannot be written is logged and
/// the force still goes; the history then records it as an operator's (`forced`).
pub async fn hand_off_from_bot<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    handoff: &H,
    request: Request,
    user: &str,
) -> Result<Answer, OpError> {
    send(runner, handoff, request, Some(user)).await
}

/// [`hand_off`], noting a force as asked through the bot by `bot_user` when given.
async fn send<C: Cloud, S: Store, K: Clock, H: Handoff>(
    runner: &Runner<C, S, K>,
    handoff: &H,
    request: Request,
    bot_user: Option<&str>,
) -> Result<Answer, OpError> {
    let command = request
        .command()
        .ok_or_else(|| OpError::NotHandedOver(request.name()))?;
    let schedule = request.schedule().unwrap_or_default().to_string();
    if !schedule.is_empty() {
        check(runner, &schedule).await?;
    }
    // Only once the schedule is known: a refused request leaves no note. Just before
    // handing over, so that the run it begins follows the note within minutes.
    if let (Some(user), Request::Force { direction, .. }) = (bot_user, &request) {
        let origin = Origin::bot(runner.clock.now(), *direction, user);
        note_origin(runner, &schedule, &origin).await;
    }
    handoff.hand_off(&command).await.map_err(OpError::HandOff)?;
    Ok(Answer::HandedOff(HandedOff {
        schedule,
        action: command.action().to_string(),
    }))
}

/// Writes `origin` as the note of `schedule`'s latest force. Never fails: the note
/// only names who asked, and the force matters more than its name in the history.
async fn note_origin<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    schedule: &str,
    origin: &Origin,
) {
    match runner
        .store
        .claim(&crate::history::origin_id(schedule), &origin.to_string())
        .await
    {
        Ok(true) => {}
        // Another force of the schedule was noted later (the same instant, or a
        // clock behind): that one is the latest.
        Ok(false) => tracing::warn!(
            action = "bot",
            schedule,
            "a later force is noted already; the history may not name this one the bot's"
        ),
        Err(e) => tracing::error!(
            action = "bot",
            schedule,
            "the force goes on, but the history will record it as forced, not the bot's: {e}"
        ),
    }
}

/// A regular run: every schedule here, or, with shards, one asynchronous invocation
/// of this function per shard.
async fn tick<C: Cloud, S: Store, K: Clock>(runner: &Runner<C, S, K>) -> Result<Answer, OpError> {
    let count = runner.shards.count;
    let Some(invoke) = runner.shards.invoke.as_ref().filter(|_| count > 1) else {
        return Ok(Answer::Run(runner.run(&[]).await?));
    };
    let mut invoked = Vec::new();
    for index in 0..count {
        match invoke.hand_off(&Command::run_shard(index, count)).await {
            Ok(()) => invoked.push(index),
            Err(e) => tracing::error!(action = "shard", shard = index, "{e}"),
        }
    }
    Ok(Answer::Shards(ShardsStarted {
        shards: count,
        invoked,
    }))
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
