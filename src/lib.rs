//! An instance scheduler for AWS: starts and stops EC2 instances, RDS databases and
//! Aurora clusters on schedules written in local time, in dependency order, with
//! per-date exceptions.
//!
//! ```text
//!  EventBridge tick / manual invoke / chat bot / schedctl
//!            │
//!            ▼
//!  lambda · chatbot · schedctl  ──parse──>  ops::Request ──apply──>  ops::Answer (text, JSON)
//!  run: load (store) → observe (cloud) → plan → commit → act (cloud) → after_act → notify
//!                                          ▲
//!              plan(now, catalog, fleet, state, requests) -> Plan   ← pure
//! ```
//!
//! - [`fleet`]: the shared vocabulary (directions, kinds, power states, instances).
//! - [`schedule`]: the stored items and the validated [`schedule::Catalog`].
//! - [`calendar`]: when starts and stops fall, in local time.
//! - [`plan`]: the decision, a pure function of its inputs, and the bookkeeping after acting.
//! - [`clock`], [`cloud`], [`store`], [`notify`], [`secrets`]: the adapters.
//! - [`run`]: one run, from loading to telling the chat; [`ops`]: the one vocabulary
//!   of requests every door parses into, and the one place they are answered.
//! - [`config`]: every setting, read once; [`connect`]: the adapters built from it.
//! - [`invocation`]: what the functions are invoked with; [`lambda`], [`chatbot`]:
//!   the handlers, parsers into [`ops::Request`]; [`handoff`]: one function handing
//!   a command to the scheduler; [`wakeup`]: one-time wake-ups.
//! - [`holidays`]: holiday calendars as dates.
//! - [`simulate`]: the same run step on a virtual clock and a simulated fleet.
//! - [`stack`]: a deployment found by its stack; [`migrate`]: reading the original tool's items.
#![warn(missing_docs)]

// The core crate's modules, at the paths they have always had here.
pub use scheduler_core::{calendar, fleet, plan, schedule, summary};

pub mod chatbot;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod connect;
pub mod handoff;
pub mod history;
pub mod holidays;
pub mod invocation;
pub mod lambda;
pub mod migrate;
pub mod notify;
pub mod ops;
pub mod outlets;
pub mod pricing;
pub mod report;
pub mod run;
pub mod secrets;
pub mod simulate;
pub mod stack;
pub mod store;
pub mod suggest;
pub mod wakeup;
