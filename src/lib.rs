//! An instance scheduler for AWS: starts and stops EC2 instances, RDS databases and
//! Aurora clusters on schedules written in local time, in dependency order, with
//! per-date exceptions.
//!
//! ```text
//!  EventBridge tick / manual invoke / schedctl
//!            │
//!            ▼
//!  run: load (store) → observe (cloud) → plan → act (cloud) → notify
//!                                         ▲
//!              plan(now, catalog, fleet, state, requests) -> Plan   ← pure
//! ```
//!
//! - [`schedule`]: the stored items and the validated [`schedule::Catalog`].
//! - [`calendar`]: when starts and stops fall, in local time.
//! - [`plan`]: the decision, a pure function of its inputs.
//! - [`cloud`]: the fleet as observed and acted on (a simulated one in [`cloud::sim`]).
//! - [`store`]: where schedules come from.
//! - [`run`]: one run, from loading to acting; [`lambda`]: the function's handler.
//! - [`notify`]: chat messages and their delivery.
//! - [`simulate`]: the planner run over a span of virtual time.
#![warn(missing_docs)]

pub mod calendar;
pub mod chatbot;
pub mod cloud;
pub mod lambda;
pub mod notify;
pub mod plan;
pub mod run;
pub mod schedule;
pub mod simulate;
pub mod store;
