//! An instance scheduler for AWS: starts and stops EC2 instances, RDS databases and
//! Aurora clusters on schedules written in local time, in dependency order, with
//! per-date exceptions.
//!
//! ```text
//!  EventBridge tick / manual invoke / chat bot / schedctl
//!            │
//!            ▼
//!  lambda · chatbot · schedctl  ──>  ops (typed operations)  ──>  run
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
//! - [`run`]: one run, from loading to telling the chat; [`ops`]: the operations people ask for.
//! - [`config`]: every setting, read once; [`lambda`], [`chatbot`]: the handlers.
//! - [`simulate`]: the same run step on a virtual clock and a simulated fleet.
//! - [`stack`]: a deployment found by its stack; [`migrate`]: reading the original tool's items.
#![warn(missing_docs)]

// The core crate's modules, at the paths they have always had here.
pub use scheduler_core::{calendar, fleet, plan, schedule};

pub mod chatbot;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod handoff;
pub mod holidays;
pub mod lambda;
pub mod migrate;
pub mod notify;
pub mod ops;
pub mod run;
pub mod secrets;
pub mod simulate;
pub mod stack;
pub mod store;
pub mod wakeup;
