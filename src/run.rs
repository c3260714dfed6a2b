//! One run: load → observe → plan → commit → act → the bookkeeping after acting,
//! then follow the dependency chain while the time budget lasts, and tell the chat.
//!
//! The state is committed with a conditional write *before* acting, so when two runs
//! overlap only the one whose write lands acts; the other stops without touching
//! anything. The Lambda function, `schedctl` and the simulator all run this loop.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Serialize;

use crate::clock::Clock;
use crate::cloud::{Cloud, ObserveError};
use crate::fleet::{Failure, Instance};
use crate::notify::deliver::Notifier;
use crate::notify::{Context, InstanceInfo, Message, compose};
use crate::plan::{Action, Event, Plan, Request, Settings, What, plan};
use crate::schedule::{Catalog, ScheduleError};
use crate::store::{Store, StoreError};

/// How runs behave.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Zone of schedules without a `TimeZone`.
    pub default_tz: chrono_tz::Tz,
    /// The planner's knobs.
    pub settings: Settings,
    /// Log and report, but start and stop nothing.
    pub dry_run: bool,
    /// How long one invocation may take in all, chat included: it keeps following a
    /// dependency chain until only `chat_deadline` is left, and leaves the rest of the
    /// chain to the next run.
    pub budget: StdDuration,
    /// Pause between looks at a chain in progress.
    pub poll_every: StdDuration,
    /// The longest the chat messages of a run may take, retries included.
    pub chat_deadline: StdDuration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            default_tz: chrono_tz::UTC,
            settings: Settings::default(),
            dry_run: false,
            budget: StdDuration::from_secs(120),
            poll_every: StdDuration::from_secs(15),
            chat_deadline: StdDuration::from_secs(20),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// The instant the run planned for (first pass).
    pub at: Option<DateTime<Utc>>,
    /// Passes made (1 plus the follow-ups of a chain).
    pub passes: u32,
    /// Actions carried out (or, in a dry run, that would have been).
    pub actions: Vec<Action>,
    /// Everything that happened, in order.
    pub events: Vec<Event>,
    /// True when another run committed first, so this one stopped acting.
    pub superseded: bool,
    /// True in a dry run.
    pub dry_run: bool,
    /// The chat messages the run sent (or tried to).
    pub messages: Vec<Message>,
}

impl RunReport {
    /// Whether any event is an error.
    pub fn has_errors(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e.what, What::Error { .. }))
    }
}

/// A run could not happen at all (the store or the fleet could not be read).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading or writing the tables failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Listing the fleet failed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
}

/// The adapters a run needs, built once per process.
#[derive(Debug)]
pub struct Runner<C, S, K> {
    /// The fleet.
    pub cloud: C,
    /// The tables.
    pub store: S,
    /// The clock.
    pub clock: K,
    /// Behaviour.
    pub config: RunConfig,
    /// The chat channels.
    pub notifier: Notifier,
}

impl<C: Cloud, S: Store, K: Clock> Runner<C, S, K> {
    /// Loads the catalog, with what is wrong with the chat setup as warnings of it.
    pub async fn catalog(&self) -> Result<Catalog, RunError> {
        let mut catalog = self.store.load_catalog(self.config.default_tz).await?;
        catalog.warnings.extend(
            self.notifier
                .problems
                .iter()
                .map(|p| ScheduleError::new("(chat)", p.clone())),
        );
        Ok(catalog)
    }

    /// One run at the clock's time; `requests` are operators' asks.
    pub async fn run(&self, requests: &[Request]) -> Result<RunReport, RunError> {
        let started = self.clock.now();
        let mut report = RunReport {
            dry_run: self.config.dry_run,
            ..RunReport::default()
        };
        let mut catalog = self.catalog().await?;
        let stored = self.store.load_state().await?;
        let (mut state, mut version) = (stored.state, stored.version);
        let mut requests = requests.to_vec();
        let mut infos: BTreeMap<String, InstanceInfo> = BTreeMap::new();
        let follow_for = self.config.budget.saturating_sub(self.config.chat_deadline);
        loop {
            let now = self.clock.now();
            report.at.get_or_insert(now);
            report.passes += 1;
            let fleet = self.cloud.observe().await?;
            let mut p = plan(
                now,
                &catalog,
                &fleet,
                &state,
                &requests,
                &self.config.settings,
            );
            requests.clear();
            remember_names(&mut infos, &p, &fleet);
            if self.config.dry_run {
                // Nothing acts, so no chain progresses: keep only what a dry run can
                // know (last run, warnings sent, errors reported).
                for s in p.state.schedules.values_mut() {
                    s.sequence = None;
                }
            }
            match self.store.save_state(&p.state, version).await {
                Ok(v) => version = v,
                Err(StoreError::Conflict(_)) => {
                    tracing::warn!(
                        action = "skip",
                        "another run committed first; this run acts on nothing more"
                    );
                    report.superseded = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
            let failures = if self.config.dry_run {
                for a in &p.actions {
                    log_action(a, true);
                }
                Vec::new()
            } else {
                self.act(&p.actions).await
            };
            p.after_act(now, &catalog, &fleet, &failures);
            catalog.clear_force_start(&p.clear_force_start);
            if !self.config.dry_run {
                for name in &p.clear_force_start {
                    if let Err(e) = self.store.clear_force_start(name).await {
                        p.events.push(error_event(
                            now,
                            &catalog,
                            name,
                            format!("cannot clear ForceStart: {e}"),
                        ));
                    }
                }
            }
            for e in &p.events {
                log_event(e);
            }
            report.actions.append(&mut p.actions);
            report.events.append(&mut p.events);
            state = p.state;

            let chain_open = state.schedules.values().any(|s| s.sequence.is_some());
            let elapsed = (self.clock.now() - started).to_std().unwrap_or_default();
            if !chain_open || self.config.dry_run || elapsed + self.config.poll_every > follow_for {
                // Keep what the cloud refused for the next run.
                if !failures.is_empty() {
                    match self.store.save_state(&state, version).await {
                        Ok(_) | Err(StoreError::Conflict(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                break;
            }
            self.clock.sleep(self.config.poll_every).await;
        }
        report.events.sort_by_key(|e| e.at);
        self.notify(&mut report, infos).await;
        Ok(report)
    }

    /// Tells the chat what the run did, within the chat deadline. A chat outage is
    /// logged by the notifier and changes nothing of the run's result.
    async fn notify(&self, report: &mut RunReport, instances: BTreeMap<String, InstanceInfo>) {
        let ctx = Context {
            instances,
            language: self.notifier.language,
            function_name: self.notifier.function_name.clone(),
        };
        let mut messages = compose(&report.events, &ctx);
        if self.config.dry_run {
            for m in &mut messages {
                m.title = format!("[dry run] {}", m.title);
            }
        }
        self.notifier
            .send(&messages, &self.clock, self.config.chat_deadline)
            .await;
        report.messages = messages;
    }

    /// Carries out the actions concurrently (they are of independent groups: the
    /// planner only emits a group whose dependencies are settled); returns each
    /// instance the cloud refused, with its error.
    async fn act(&self, actions: &[Action]) -> Vec<Failure> {
        let results = join_all(actions.iter().map(|a| async move {
            log_action(a, false);
            (a, self.cloud.act(a.direction, &a.targets).await)
        }))
        .await;
        let mut out = Vec::new();
        for (a, failures) in results {
            for f in failures {
                tracing::error!(
                    schedule = %a.schedule,
                    group = %a.group,
                    instance = %f.id,
                    action = %a.direction,
                    error = %f.error,
                    "{} of {} failed: {}",
                    a.direction,
                    f.id,
                    f.error
                );
                out.push(f);
            }
        }
        out
    }
}

/// Keeps the names, kinds and zones of the instances a plan acts on, for the chat.
fn remember_names(infos: &mut BTreeMap<String, InstanceInfo>, p: &Plan, fleet: &[Instance]) {
    if p.actions.is_empty() {
        return;
    }
    let by_id: HashMap<&str, &Instance> = fleet.iter().map(|i| (i.id.as_str(), i)).collect();
    for t in p.actions.iter().flat_map(|a| &a.targets) {
        if let Some(i) = by_id.get(t.id.as_str()) {
            infos.insert(
                i.id.clone(),
                InstanceInfo {
                    name: i.name().to_string(),
                    kind: i.kind.to_string(),
                    zone: i.zone.clone(),
                },
            );
        }
    }
}

fn error_event(now: DateTime<Utc>, catalog: &Catalog, schedule: &str, message: String) -> Event {
    let tz = catalog.get(schedule).map_or(chrono_tz::UTC, |s| s.tz);
    Event {
        at: now.with_timezone(&tz).fixed_offset(),
        schedule: schedule.to_string(),
        what: What::Error { message },
    }
}

fn log_action(a: &Action, dry_run: bool) {
    for t in &a.targets {
        tracing::info!(
            schedule = %a.schedule,
            group = %a.group,
            instance = %t.id,
            kind = %t.kind,
            action = %a.direction,
            dry_run,
            "{} {}",
            a.direction,
            t.id
        );
    }
}

fn log_event(e: &Event) {
    match &e.what {
        What::Error { message } => {
            tracing::error!(schedule = %e.schedule, action = "error", "{message}")
        }
        What::Start { .. } | What::Stop { .. } => {}
        other => {
            let fields = serde_json::to_string(other).unwrap_or_default();
            tracing::info!(schedule = %e.schedule, action = "event", event = %fields, "{}", fields);
        }
    }
}
