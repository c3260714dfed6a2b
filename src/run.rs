//! One run: load → observe → plan → commit → act, then follow the dependency chain
//! while the time budget lasts.
//!
//! The state is committed with a conditional write *before* acting, so when two runs
//! overlap only the one whose write lands acts; the other stops without touching
//! anything.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Serialize;

use std::collections::BTreeMap;

use crate::cloud::{Cloud, Instance};
use crate::notify::deliver::Notifier;
use crate::notify::{Context, InstanceInfo, Message, compose};
use crate::plan::{Action, Event, Plan, Request, Settings, What, plan};
use crate::schedule::{Catalog, Direction};
use crate::store::{Store, StoreError};

/// The clock, behind a trait so that runs can be driven at chosen instants.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d`.
    async fn sleep(&self, d: StdDuration);
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    async fn sleep(&self, d: StdDuration) {
        tokio::time::sleep(d).await;
    }
}

/// How runs behave.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Zone of schedules without a `TimeZone`.
    pub default_tz: chrono_tz::Tz,
    /// The planner's knobs.
    pub settings: Settings,
    /// Log and report, but start and stop nothing.
    pub dry_run: bool,
    /// How long one invocation keeps following a dependency chain before leaving the
    /// rest to the next scheduled run.
    pub budget: StdDuration,
    /// Pause between looks at a chain in progress.
    pub poll_every: StdDuration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            default_tz: chrono_tz::UTC,
            settings: Settings::default(),
            dry_run: false,
            budget: StdDuration::from_secs(120),
            poll_every: StdDuration::from_secs(15),
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
    /// True when another run committed first, so this one did nothing.
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
    Observe(#[from] crate::cloud::ObserveError),
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
    /// The schedule bot's secrets and allow-list.
    pub bot: crate::chatbot::BotConfig,
}

impl<C: Cloud, S: Store, K: Clock> Runner<C, S, K> {
    /// Loads the catalog.
    pub async fn catalog(&self) -> Result<Catalog, RunError> {
        Ok(self.store.load().await?.catalog(self.config.default_tz))
    }

    /// What a run at `at` would do, from the stored state and the fleet as it is now;
    /// changes nothing.
    pub async fn preview(&self, at: DateTime<Utc>) -> Result<Plan, RunError> {
        let catalog = self.catalog().await?;
        let state = self.store.load_state().await?;
        let fleet = self.cloud.observe().await?;
        Ok(plan(
            at,
            &catalog,
            &fleet,
            &state.state,
            &[],
            &self.config.settings,
        ))
    }

    /// The fleet as it is now.
    pub async fn observe(&self) -> Result<Vec<Instance>, RunError> {
        Ok(self.cloud.observe().await?)
    }

    /// One run. `at` replaces the clock's time (for demos and replays: later passes
    /// advance from it by the real time elapsed); `requests` are operators' asks.
    pub async fn run(
        &self,
        at: Option<DateTime<Utc>>,
        requests: &[Request],
    ) -> Result<RunReport, RunError> {
        let started = self.clock.now();
        let now_at = |clock_now: DateTime<Utc>| at.map_or(clock_now, |a| a + (clock_now - started));
        let mut report = RunReport {
            dry_run: self.config.dry_run,
            ..RunReport::default()
        };
        let mut catalog = self.catalog().await?;
        let stored = self.store.load_state().await?;
        let (mut state, mut version) = (stored.state, stored.version);
        let mut requests = requests.to_vec();
        let mut infos: BTreeMap<String, InstanceInfo> = BTreeMap::new();
        loop {
            let now = now_at(self.clock.now());
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
            for t in p.actions.iter().flat_map(|a| &a.targets) {
                if let Some(i) = fleet.iter().find(|i| i.id == t.id) {
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
                        "another run committed first; this run acts on nothing"
                    );
                    report.superseded = true;
                    return Ok(report);
                }
                Err(e) => return Err(e.into()),
            }
            for e in &p.events {
                log_event(e);
            }
            let failures = if self.config.dry_run {
                for a in &p.actions {
                    log_action(a, true);
                }
                Vec::new()
            } else {
                self.act(&p.actions, now, &catalog).await
            };
            for (schedule, id, _) in &failures {
                p.state.record_refused(schedule, id);
            }
            let refused = !failures.is_empty();
            let failures = failures.into_iter().map(|(_, _, event)| event);
            for name in &p.clear_force_start {
                if let Some(s) = catalog.schedules.iter_mut().find(|s| &s.name == name) {
                    s.force_start = false;
                }
                if self.config.dry_run {
                    continue;
                }
                if let Err(e) = self.store.clear_force_start(name).await {
                    let event =
                        error_event(now, &catalog, name, format!("cannot clear ForceStart: {e}"));
                    log_event(&event);
                    report.events.push(event);
                }
            }
            report.actions.append(&mut p.actions);
            report.events.append(&mut p.events);
            report.events.extend(failures);
            state = p.state;

            let chain_open = state.schedules.values().any(|s| s.sequence.is_some());
            let elapsed = (self.clock.now() - started).to_std().unwrap_or_default();
            if !chain_open
                || self.config.dry_run
                || elapsed + self.config.poll_every > self.config.budget
            {
                // Keep what the cloud refused for the next run.
                if refused {
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

    /// Tells the chat what the run did. A chat outage is logged by the notifier and
    /// changes nothing of the run's result.
    async fn notify(&self, report: &mut RunReport, instances: BTreeMap<String, InstanceInfo>) {
        let ctx = Context {
            instances,
            language: self.notifier.language,
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
        };
        let mut messages = compose(&report.events, &ctx);
        if self.config.dry_run {
            for m in &mut messages {
                m.title = format!("[dry run] {}", m.title);
            }
        }
        self.notifier.send(&messages).await;
        report.messages = messages;
    }

    /// Carries out the actions concurrently (they are of independent groups: the
    /// planner only emits a group whose dependencies are settled); returns the
    /// schedule, instance and an error event for each instance that failed.
    async fn act(
        &self,
        actions: &[Action],
        now: DateTime<Utc>,
        catalog: &Catalog,
    ) -> Vec<(String, String, Event)> {
        let results = join_all(actions.iter().map(|a| async move {
            log_action(a, false);
            (a, self.cloud.act(a.direction, &a.targets).await)
        }))
        .await;
        let mut events = Vec::new();
        for (a, failures) in results {
            for f in failures {
                let message = format!(
                    "group {}: {} of {} failed: {}",
                    a.group, a.direction, f.id, f.error
                );
                tracing::error!(
                    schedule = %a.schedule,
                    group = %a.group,
                    instance = %f.id,
                    action = %a.direction,
                    error = %f.error,
                    "{message}"
                );
                events.push((
                    a.schedule.clone(),
                    f.id.clone(),
                    error_event(now, catalog, &a.schedule, message),
                ));
            }
        }
        events
    }

    /// Sets today's (in the schedule's zone) exception for `direction`.
    pub async fn set_today(
        &self,
        schedule: &str,
        direction: Direction,
        value: Option<chrono::NaiveTime>,
        at: Option<DateTime<Utc>>,
    ) -> Result<chrono::NaiveDate, RunError> {
        let catalog = self.catalog().await?;
        let s = catalog
            .get(schedule)
            .ok_or_else(|| StoreError::UnknownSchedule(schedule.to_string()))?;
        let today = at
            .unwrap_or_else(|| self.clock.now())
            .with_timezone(&s.tz)
            .date_naive();
        self.store
            .set_exception(schedule, today, direction, value)
            .await?;
        Ok(today)
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
