//! The instance scheduler's core: every decision, as pure functions of their inputs.
//!
//! "Given this moment, these schedules, exceptions and groups, the observed fleet and
//! the stored state, what happens now, and when must we look again?" is
//! [`plan::plan`]. Nothing here reads a clock, the environment, a file or the
//! network, and this crate depends on no AWS SDK and no async runtime, so that
//! purity is a compile error rather than a convention. The shell (the
//! `instance-scheduler` crate) loads, observes, commits, acts, sleeps and notifies.
//!
//! - [`fleet`]: the shared vocabulary (directions, kinds, power states, instances).
//! - [`schedule`]: the stored items, the schedule-file format and the validated
//!   [`schedule::Catalog`].
//! - [`calendar`]: when starts and stops fall, in local time.
//! - [`plan`]: the decision, and the bookkeeping after acting.
//! - [`sim`]: a simulated fleet with boot delays, for the simulator and tests.
//! - [`wallclock`]: local times as instants, across gaps and folds.
//! - [`history`]: what ran and who caused each change; [`summary`]: when the weekly
//!   summary is due; [`suggest`]: the daily pattern in a resource's metrics.
#![warn(missing_docs)]

pub mod calendar;
pub mod fleet;
pub mod history;
pub mod plan;
pub mod schedule;
pub mod sim;
pub mod suggest;
pub mod summary;
pub mod wallclock;
