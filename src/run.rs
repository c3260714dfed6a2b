//! One run: load → observe → plan → commit → act → the bookkeeping after acting,
//! then follow the dependency chain while the time budget lasts, and tell the chat.
//!
//! The state is committed with a conditional write *before* acting, so when two runs
//! overlap only the one whose write lands acts; the other stops without touching
//! anything. The Lambda function, `schedctl` and the simulator all run this loop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::cloud::{Cloud, ObserveError};
use crate::fleet::{Direction, Failure, Instance, Target};
use crate::notify::deliver::Notifier;
use crate::notify::{Context, InstanceInfo, Message, compose};
use crate::plan::{Action, Event, Plan, Request, Settings, What, plan};
use crate::schedule::{Catalog, ScheduleError, TagPatterns};
use crate::store::{StateKey, Store, StoreError, save_state};

/// How runs behave.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Zone of schedules without a `TimeZone`.
    pub default_tz: chrono_tz::Tz,
    /// The `ScheduleName` tag values this deployment may act on.
    pub allowed: TagPatterns,
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
            allowed: TagPatterns::default(),
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
        catalog.restrict(&self.config.allowed);
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
        let mut stored = self.store.load_state().await?;
        let mut requests = requests.to_vec();
        let mut infos: BTreeMap<String, InstanceInfo> = BTreeMap::new();
        let follow_for = self.config.budget.saturating_sub(self.config.chat_deadline);
        let mut superseded_passes = 0;
        loop {
            let now = self.clock.now();
            report.at.get_or_insert(now);
            report.passes += 1;
            let fleet = self.cloud.observe().await?;
            let mut p = plan(
                now,
                &catalog,
                &fleet,
                &stored.state,
                &requests,
                &self.config.settings,
            );
            if self.config.dry_run {
                // Nothing acts, so no chain progresses: keep only what a dry run can
                // know (transitions seen, warnings sent, errors reported).
                for s in p.state.schedules.values_mut() {
                    s.sequence = None;
                }
            }
            // Commit before acting: a schedule another run wrote first is that run's
            // to act on, and this run leaves it alone.
            let lost = save_state(&self.store, &mut stored, &p.state).await?;
            let lost: BTreeSet<String> = lost
                .into_iter()
                .filter_map(|k| match k {
                    StateKey::Schedule(name) => Some(name),
                    StateKey::Run => None,
                })
                .collect();
            if !lost.is_empty() {
                tracing::warn!(
                    action = "skip",
                    schedules = ?lost,
                    "another run committed these schedules first; this run leaves them to it"
                );
                report.superseded = true;
                p.drop_schedules(&lost);
            }
            // A request for a schedule another run took is still to be done.
            requests.retain(|r| {
                let (Request::ForceStart(n) | Request::ForceStop(n)) = r;
                lost.contains(n)
            });
            remember_names(&mut infos, &p, &fleet);
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
            if !failures.is_empty() {
                // Keep what the cloud refused: these parts were just written by this
                // run, so only a run that overtook it since can have changed them.
                save_state(&self.store, &mut stored, &p.state).await?;
            }
            for e in &p.events {
                log_event(e);
            }
            report.actions.append(&mut p.actions);
            report.events.append(&mut p.events);

            let elapsed = (self.clock.now() - started).to_std().unwrap_or_default();
            if !lost.is_empty() && superseded_passes < 3 && elapsed < follow_for {
                // A superseded step is not a lost one: look again at once, from the
                // state the other run left.
                superseded_passes += 1;
                stored = self.store.load_state().await?;
                continue;
            }
            let chain_open = stored
                .state
                .schedules
                .values()
                .any(|s| s.sequence.is_some());
            if !chain_open || self.config.dry_run || elapsed + self.config.poll_every > follow_for {
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

    /// Carries out the actions of a pass, all starts in one call and all stops in
    /// another, so that the cloud adapter can batch them across schedules (they are
    /// of independent groups: the planner only emits a group whose dependencies are
    /// settled); returns each instance the cloud refused, with its error.
    async fn act(&self, actions: &[Action]) -> Vec<Failure> {
        let targets = |direction: Direction| -> Vec<Target> {
            actions
                .iter()
                .filter(|a| a.direction == direction)
                .flat_map(|a| a.targets.iter().cloned())
                .collect()
        };
        for a in actions {
            log_action(a, false);
        }
        let (starts, stops) = (targets(Direction::Start), targets(Direction::Stop));
        let (mut failures, stopped) = futures::join!(
            async {
                if starts.is_empty() {
                    Vec::new()
                } else {
                    self.cloud.act(Direction::Start, &starts).await
                }
            },
            async {
                if stops.is_empty() {
                    Vec::new()
                } else {
                    self.cloud.act(Direction::Stop, &stops).await
                }
            }
        );
        failures.extend(stopped);
        for f in &failures {
            let action = actions
                .iter()
                .find(|a| a.targets.iter().any(|t| t.id == f.id));
            tracing::error!(
                schedule = action.map_or("", |a| a.schedule.as_str()),
                group = action.map_or("", |a| a.group.as_str()),
                instance = %f.id,
                action = action.map_or("act", |a| if a.direction == Direction::Start { "start" } else { "stop" }),
                error = %f.error,
                "{} failed: {}",
                f.id,
                f.error
            );
        }
        failures
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
