//! One run, I/O only: load → observe → plan → commit → act → the bookkeeping after
//! acting, pass after pass while the core says to look again and the budget allows;
//! then the wake-up, and the chat.
//!
//! The state is committed with a conditional write *before* acting, so when two runs
//! overlap only the one whose write lands acts; the other stops without touching
//! anything. Every decision between the I/O steps is the core's
//! ([`crate::plan::steps`]). The Lambda function, `schedctl` and the simulator all run
//! this loop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::cloud::{Cloud, Look, ObserveError};
use crate::fleet::{Direction, Failure, Instance, Target};
use crate::handoff::{Command, Shard};
use crate::notify::deliver::Notifier;
use crate::notify::{Context, InstanceInfo, Message, compose_for};
use crate::plan::steps::{Next, Steps, World};
use crate::plan::{Action, Event, Plan, Request, RunState, Settings, Unseen, What};
use crate::schedule::{Catalog, ScheduleError, TagPatterns};
use crate::store::{Store, StoreError, Versioned, commit};
use crate::wakeup::Wakeups;

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
    /// How often the regular tick runs (`TICK_MINUTES`), on the clock's whole
    /// multiples of it: a wake-up is set only for what is due before the next tick.
    pub tick_every: Option<chrono::Duration>,
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
            tick_every: None,
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
    /// When something is next due, as the last pass planned it.
    pub next_look: Option<DateTime<Utc>>,
    /// The wake-up the run asked for, if it needed one before the next tick.
    pub wakeup: Option<DateTime<Utc>>,
    /// The schedules whose start or stop began in this run (the chat says
    /// "starting" once per start, however many runs carry it on).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub began: BTreeMap<String, Direction>,
}

impl RunReport {
    /// Whether any event is an error.
    pub fn has_errors(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e.what, What::Error { .. }))
    }

    /// Takes in what one pass did and decided.
    fn absorb(&mut self, p: &mut Plan) {
        self.actions.append(&mut p.actions);
        self.events.append(&mut p.events);
        for (name, direction) in std::mem::take(&mut p.began) {
            self.began.insert(name, direction);
        }
        self.next_look = p.next_look;
    }

    /// Says that the run ended before its work was done, after what it did.
    fn stopped_early(&mut self, now: DateTime<Utc>, e: &RunError) {
        tracing::error!(action = "error", "the run stopped early: {e}");
        self.events.push(Event {
            at: now.fixed_offset(),
            schedule: "(run)".into(),
            what: What::Error {
                message: format!(
                    "the run stopped early: {e}; what it did is above, and the next run carries on from what was saved"
                ),
            },
        });
    }
}

/// The places and kinds an observation could not list, as the core takes them.
fn unseen_of(seen: &crate::cloud::Observation) -> Vec<Unseen> {
    seen.unreachable
        .iter()
        .map(|u| Unseen {
            place: u.place.clone(),
            kind: u.kind,
            error: u.error.clone(),
        })
        .collect()
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

pub use crate::plan::{Scope, shard_of};

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
    /// Where one-time wake-ups go.
    pub wakeups: Wakeups,
    /// How a tick shares its schedules among invocations.
    pub shards: Shards,
}

/// How many invocations share a tick's schedules, and how to start them.
#[derive(Debug, Clone, Default)]
pub struct Shards {
    /// How many (1 or 0: no sharding).
    pub count: u32,
    /// This function, invoked asynchronously once per shard.
    pub invoke: Option<crate::handoff::LambdaHandoff>,
}

impl<C: Cloud, S: Store, K: Clock> Runner<C, S, K> {
    /// Loads the catalog, with what is wrong with the chat setup as warnings of it.
    /// The accounts and Regions that could not be observed are reported by the run
    /// itself.
    pub async fn catalog(&self) -> Result<Catalog, RunError> {
        let mut catalog = self.store.load_catalog(self.config.default_tz).await?;
        catalog.restrict(&self.config.allowed);
        catalog.warnings.extend(
            self.notifier
                .problems
                .iter()
                .map(|p| ScheduleError::new("(chat)", p.clone())),
        );
        // The maintenance windows as the last run read them (no SSM call here), so
        // that status, the times of a day and previews show them.
        if !catalog.window_names().is_empty() {
            let state = self.store.load_state().await?;
            if let Some(kept) = &state.state.run.windows {
                catalog.attach_windows(&kept.windows);
            }
        }
        Ok(catalog)
    }

    /// One run at the clock's time, of every schedule; `requests` are operators' asks.
    pub async fn run(&self, requests: &[Request]) -> Result<RunReport, RunError> {
        self.run_in(&Scope::All, requests).await
    }

    /// Gives the schedules that name maintenance windows the windows: as the run
    /// state keeps them, or read from SSM when that is an hour old (what was read is
    /// returned, for the first commit to keep). A failed read keeps what was kept,
    /// and is said.
    async fn attach_windows(
        &self,
        catalog: &mut Arc<crate::schedule::Catalog>,
        state: &RunState,
    ) -> Option<crate::plan::WindowCache> {
        if catalog.window_names().is_empty() {
            return None;
        }
        let now = self.clock.now();
        let kept = state.run.windows.as_ref();
        let mut read = None;
        if crate::plan::WindowCache::stale(kept, now) {
            match self.cloud.maintenance_windows().await {
                Ok(windows) => {
                    read = Some(crate::plan::WindowCache {
                        read_at: now,
                        windows,
                    })
                }
                Err(e) => {
                    tracing::warn!(action = "windows", "{e}");
                    Arc::make_mut(catalog).warnings.push(ScheduleError::new(
                        "(maintenance windows)",
                        format!("{e}; the windows last read are used"),
                    ));
                }
            }
        }
        if let Some(known) = read.as_ref().or(kept) {
            Arc::make_mut(catalog).attach_windows(&known.windows);
        }
        read
    }

    /// One run of the schedules of `scope`: load, then pass by pass observe, plan
    /// (the core's [`Steps`]), commit, act; sleep when the core says to look again
    /// within the budget; then ask for a wake-up and tell the chat, always, even when a
    /// later step failed (the error is said too, and returned).
    pub async fn run_in(&self, scope: &Scope, requests: &[Request]) -> Result<RunReport, RunError> {
        let started = self.clock.now();
        let mut report = RunReport {
            dry_run: self.config.dry_run,
            ..RunReport::default()
        };
        // Real time bounds the requests to the tables and the fleet (the clock is
        // virtual in tests and the simulator).
        let work_until = work_deadline(&self.config);
        let _bounded = crate::store::Bounded::until(&self.store, work_until);
        let mut catalog = self
            .store
            .load_catalog_shared(self.config.default_tz)
            .await?;
        let mut stored = self.store.checkout_state().await?;
        let mut history =
            crate::history::Recorder::begin(&self.store, scope, &stored.state, self.config.dry_run)
                .measuring(self.notifier.outlets.metrics.is_on());
        let mut windows_read = self.attach_windows(&mut catalog, &stored.state).await;
        let notes = self.notes();
        let settings = Settings {
            poll_every: chrono::Duration::from_std(self.config.poll_every)
                .unwrap_or(self.config.settings.poll_every),
            ..self.config.settings
        };
        let mut look = Look {
            kinds: kinds_in_use(&catalog),
            places: self.places(scope, &catalog, &stored),
            within: None,
        };
        let mut steps = Steps::new(scope.clone(), requests, self.config.dry_run);
        let mut infos: BTreeMap<String, InstanceInfo> = BTreeMap::new();
        let follow_for = self.config.budget.saturating_sub(self.config.chat_deadline);
        let mut failure: Option<RunError> = None;
        loop {
            let now = self.clock.now();
            report.at.get_or_insert(now);
            report.passes += 1;
            look.within = Some(look_time(work_until));
            let seen = match self.cloud.observe(&look).await {
                Ok(seen) => seen,
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            };
            let unseen = unseen_of(&seen);
            let world = World {
                catalog: &catalog,
                settings: &settings,
                allowed: Some(&self.config.allowed),
                notes: &notes,
            };
            let fleet = &seen.instances;
            let mut p = steps.pass(
                now,
                world,
                fleet,
                seen.index.as_deref(),
                &unseen,
                &stored.state,
            );
            if let Some(read) = windows_read.take() {
                p.state.run.windows = Some(read);
            }
            // Commit before acting: a schedule another run wrote first is that run's
            // to act on, and this run leaves it alone.
            let lost = match commit(&self.store, &mut stored, &p).await {
                Ok(lost) => lost,
                Err(e) => {
                    failure = Some(e.into());
                    break;
                }
            };
            if !lost.is_empty() {
                tracing::warn!(
                    action = "skip",
                    schedules = ?lost,
                    "another run committed these schedules first; this run leaves them to it"
                );
                report.superseded = true;
            }
            steps.committed(&mut p, &lost);
            remember_names(&mut infos, &p, fleet, seen.index.as_deref(), &catalog);
            let failures = if steps.acts() {
                self.act(&p.actions).await
            } else {
                for a in &p.actions {
                    log_action(a, true);
                }
                Vec::new()
            };
            p.after_act(now, &catalog, fleet, &failures);
            history.pass(now, &catalog, &seen, &unseen, &p, &failures);
            self.clear_force_starts(&mut catalog, &mut p, steps.acts(), now)
                .await;
            if !failures.is_empty() {
                // Keep what the cloud refused: these parts were just written by this
                // run, so only a run that overtook it since can have changed them.
                if let Err(e) = commit(&self.store, &mut stored, &p).await {
                    failure = Some(e.into());
                }
            }
            for e in &p.events {
                log_event(e);
            }
            report.absorb(&mut p);
            if failure.is_some() {
                break;
            }
            let now = self.clock.now();
            let elapsed = (now - started).to_std().unwrap_or_default();
            let real_left = work_until.saturating_duration_since(std::time::Instant::now());
            let left =
                chrono::Duration::from_std(follow_for.saturating_sub(elapsed).min(real_left))
                    .unwrap_or_else(|_| chrono::Duration::zero());
            match steps.next(&p, &lost, now, left) {
                Next::Done => break,
                Next::Reload => match self.store.load_state().await {
                    Ok(fresh) => stored = fresh,
                    Err(e) => {
                        failure = Some(e.into());
                        break;
                    }
                },
                Next::At(at) => {
                    let wait = (at - now).to_std().unwrap_or_default();
                    self.clock.sleep(wait.max(StdDuration::from_secs(1))).await;
                }
            }
        }
        let measures = history.measures(|| {
            crate::pricing::PriceBook::from_side(
                &self.notifier.outlets.home_region,
                &self.store.side_items(),
            )
        });
        history.flush(&self.store).await;
        if let Some(e) = failure.take() {
            if report.actions.is_empty() && report.events.is_empty() {
                // Nothing was done or decided: nothing to tell but the error.
                self.store.checkin_state(stored);
                return Err(e);
            }
            report.stopped_early(self.clock.now(), &e);
            failure = Some(e);
        }
        report.events.sort_by_key(|e| e.at);
        self.set_wakeup(scope, &mut report, &mut stored).await;
        self.store.checkin_state(stored);
        self.notify(&mut report, infos).await;
        if !report.dry_run {
            let at = report.at.unwrap_or(started);
            self.notifier
                .outlets
                .publish_measured(at, &report.events, &measures)
                .await;
        }
        if failure.is_none() && !self.config.dry_run {
            let weekly = crate::report::weekly::Weekly {
                cloud: &self.cloud,
                store: &self.store,
                notifier: &self.notifier,
                clock: &self.clock,
                chat_deadline: self.config.chat_deadline,
            };
            crate::report::weekly::send_due(weekly, &catalog, scope).await;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Clears the `ForceStart` flags the pass finished with, in the catalog this run
    /// keeps and (when the run acts) in the table; a flag that cannot be cleared is
    /// an error of its schedule.
    async fn clear_force_starts(
        &self,
        catalog: &mut Arc<Catalog>,
        p: &mut Plan,
        acts: bool,
        now: DateTime<Utc>,
    ) {
        if p.clear_force_start.is_empty() {
            return;
        }
        Arc::make_mut(catalog).clear_force_start(&p.clear_force_start);
        if !acts {
            return;
        }
        for name in p.clear_force_start.clone() {
            if let Err(e) = self.store.clear_force_start(&name).await {
                p.note_error(now, catalog, &name, format!("cannot clear ForceStart: {e}"));
            }
        }
    }

    /// The deployment's own problems that skip nothing (a chat channel that is off).
    fn notes(&self) -> Vec<ScheduleError> {
        self.notifier
            .problems
            .iter()
            .map(|p| ScheduleError::new("(chat)", p.clone()))
            .collect()
    }

    /// A run of part of the schedules looks only where they live, once that is known
    /// for all of them.
    fn places(
        &self,
        scope: &Scope,
        catalog: &Catalog,
        stored: &Versioned,
    ) -> Option<BTreeSet<String>> {
        if matches!(scope, Scope::All) {
            return None;
        }
        catalog
            .schedules
            .iter()
            .filter(|s| scope.includes(&s.name))
            .map(|s| {
                stored
                    .state
                    .schedules
                    .get(&s.name)
                    .and_then(|st| st.places.clone())
            })
            .collect::<Option<Vec<_>>>()
            .map(|known| known.into_iter().flatten().collect())
    }

    /// An event about `ids` (they reached a state): a full run when one of them is
    /// part of a chain in progress, or a database the scheduler stopped; nothing
    /// otherwise, for the price of reading the state. Events are wake-ups only:
    /// missing, late or repeated ones change nothing but timing.
    pub async fn wake(&self, ids: &[String]) -> Result<Option<RunReport>, RunError> {
        let stored = self.store.checkout_state().await?;
        // An id may come with its place (`id@account/region`) or without.
        let wanted = EventIds::new(ids);
        let relevant: BTreeSet<String> = stored
            .state
            .schedules
            .iter()
            .filter(|(_, s)| {
                s.sequence
                    .as_ref()
                    .is_some_and(|q| wanted.in_keys(&q.acted))
                    || wanted.in_keys(&s.stopped)
            })
            .map(|(name, _)| name.clone())
            .collect();
        self.store.checkin_state(stored);
        if relevant.is_empty() {
            tracing::debug!(action = "event", ?ids, "not part of anything in progress");
            return Ok(None);
        }
        // Only the schedules the event is about: the tick looks after the rest.
        self.run_in(&Scope::Only(relevant), &[]).await.map(Some)
    }

    /// Asks for a wake-up when the next look falls before the next regular tick
    /// (rounded up to the whole minute, as EventBridge Scheduler keeps time), unless
    /// the same one was asked for already.
    async fn set_wakeup(
        &self,
        scope: &Scope,
        report: &mut RunReport,
        stored: &mut crate::store::Versioned,
    ) {
        let (Some(at), Some(tick)) = (report.next_look, self.config.tick_every) else {
            return;
        };
        if !self.wakeups.enabled() || self.config.dry_run || tick <= chrono::Duration::zero() {
            return;
        }
        let minute = chrono::Duration::minutes(1);
        let at = ceil_to(at, minute);
        let next_tick = ceil_to(self.clock.now() + chrono::Duration::seconds(1), tick);
        if at >= next_tick {
            return;
        }
        // A shard wakes itself; any other run wakes a whole run.
        let (name, command) = match scope {
            Scope::Shard { index, count } => (
                format!("{}-{index}", crate::wakeup::NEXT_LOOK),
                Command::Run {
                    now: None,
                    shard: Some(Shard {
                        index: *index,
                        count: *count,
                    }),
                },
            ),
            _ => (
                crate::wakeup::NEXT_LOOK.to_string(),
                Command::Run {
                    now: None,
                    shard: None,
                },
            ),
        };
        if stored.state.run.wakeups.get(&name) == Some(&at) {
            return;
        }
        let input = match serde_json::to_string(&command) {
            Ok(input) => input,
            Err(e) => {
                tracing::error!(action = "wakeup", "cannot encode the wake-up: {e}");
                return;
            }
        };
        match self.wakeups.set(&name, at, &input).await {
            Ok(()) => {
                report.wakeup = Some(at);
                let mut run = stored.state.run.clone();
                run.wakeups.insert(name, at);
                let record = Plan {
                    state: RunState {
                        run,
                        ..RunState::default()
                    },
                    ..Plan::default()
                };
                if let Err(e) = commit(&self.store, stored, &record).await {
                    tracing::warn!(action = "wakeup", "wake-up set but not recorded: {e}");
                }
            }
            Err(e) => tracing::error!(action = "wakeup", "{e}"),
        }
    }

    /// Tells the chat what the run did, within the chat deadline. A chat outage is
    /// logged by the notifier and changes nothing of the run's result.
    async fn notify(&self, report: &mut RunReport, instances: BTreeMap<String, InstanceInfo>) {
        let ctx = Context {
            instances,
            language: self.notifier.language,
            function_name: self.notifier.function_name.clone(),
        };
        let mut messages = compose_for(&report.events, &report.began, &ctx);
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

/// The kinds `catalog` uses. Every run asks, the answer walks every group, and a
/// process's runs share one catalog while the tables do not change: it is kept for
/// the catalog last asked about, held weakly so that no other catalog can take its
/// address (and a changed one, being copied first, never has it).
fn kinds_in_use(catalog: &Arc<Catalog>) -> Vec<crate::fleet::Kind> {
    type Kept = Option<(std::sync::Weak<Catalog>, Vec<crate::fleet::Kind>)>;
    static LAST: std::sync::Mutex<Kept> = std::sync::Mutex::new(None);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((kept, kinds)) = last.as_ref()
        && std::ptr::eq(kept.as_ptr(), Arc::as_ptr(catalog))
    {
        return kinds.clone();
    }
    let kinds = catalog.kinds_in_use();
    *last = Some((Arc::downgrade(catalog), kinds.clone()));
    kinds
}

/// The resource ids an event gives: each with its place (`id@account/region`) or
/// without. Matched against every schedule's state, whose keys carry the place of
/// every resource outside the function's own. An event may name one resource or
/// hundreds, and a state hold a few keys or thousands: a few ids are looked up, many
/// are hashed and the keys walked.
struct EventIds<'a> {
    /// Hashed with Fx rather than SipHash: an event is matched against every key of
    /// every schedule's state, and these ids come from AWS, not from an adversary.
    set: rustc_hash::FxHashSet<&'a str>,
    /// Each id, and `id@` (the start of its keys with a place) when it has none.
    each: Vec<(&'a str, Option<String>)>,
}

impl<'a> EventIds<'a> {
    fn new(ids: &'a [String]) -> Self {
        EventIds {
            set: ids.iter().map(String::as_str).collect(),
            each: ids
                .iter()
                .map(|id| (id.as_str(), (!id.contains('@')).then(|| format!("{id}@"))))
                .collect(),
        }
    }

    /// Whether `keys` hold one of the resources, in its own place or another.
    fn in_keys<V>(&self, keys: &BTreeMap<String, V>) -> bool {
        if keys.is_empty() {
            return false;
        }
        // Two lookups an id, or a hash or two a key: whichever is fewer.
        if self.each.len() * 8 > keys.len() {
            return keys.keys().any(|k| {
                self.set.contains(k.as_str())
                    || k.bytes()
                        .rposition(|b| b == b'@')
                        .is_some_and(|at| self.set.contains(&k[..at]))
            });
        }
        self.each.iter().any(|(id, placed)| {
            keys.contains_key(*id)
                || placed.as_deref().is_some_and(|prefix| {
                    keys.range::<str, _>((
                        std::ops::Bound::Included(prefix),
                        std::ops::Bound::Unbounded,
                    ))
                    .next()
                    .is_some_and(|(k, _)| k.starts_with(prefix))
                })
        })
    }
}

/// Keeps how the chat names what `p` acts on. An action's targets carry its
/// schedule's tag, so the fleet index finds them among that schedule's resources;
/// the whole fleet is walked only without an index.
fn remember_names(
    infos: &mut BTreeMap<String, InstanceInfo>,
    p: &Plan,
    fleet: &[Instance],
    index: Option<&crate::plan::FleetIndex>,
    catalog: &Catalog,
) {
    if p.actions.is_empty() {
        return;
    }
    let mut by_id: rustc_hash::FxHashMap<&str, &Instance> = Default::default();
    let index = index.filter(|x| x.fits(fleet));
    for a in &p.actions {
        match (index, catalog.get(&a.schedule)) {
            (Some(x), Some(s)) => by_id.extend(
                x.tagged(fleet, &s.tag_value)
                    .into_iter()
                    .map(|i| (i.id.as_str(), i)),
            ),
            _ => {
                by_id = fleet.iter().map(|i| (i.id.as_str(), i)).collect();
                break;
            }
        }
    }
    for t in p.actions.iter().flat_map(|a| &a.targets) {
        if let Some(i) = by_id.get(t.id.as_str()) {
            infos.insert(
                i.id.clone(),
                InstanceInfo {
                    name: i.name().to_string(),
                    kind: i.kind.to_string(),
                    zone: i.zone.clone(),
                    shown_id: i.home.as_ref().map(|_| i.shown_id()),
                },
            );
        }
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

/// `t` rounded up to a whole multiple of `step` since the epoch.
fn ceil_to(t: DateTime<Utc>, step: chrono::Duration) -> DateTime<Utc> {
    let step = step.num_seconds().max(1);
    let secs = t.timestamp();
    let up = secs.div_euclid(step) * step
        + if secs.rem_euclid(step) == 0 && t.timestamp_subsec_nanos() == 0 {
            0
        } else {
            step
        };
    DateTime::from_timestamp(up, 0).unwrap_or(t)
}

/// However small the budget, a run has this long for the tables and the fleet: a run
/// that cannot read them does nothing at all.
const AT_LEAST: StdDuration = StdDuration::from_secs(10);

/// The real instant by which a run starting now must be done with the tables and
/// the fleet: its budget less the chat's share.
fn work_deadline(config: &RunConfig) -> std::time::Instant {
    let work = config.budget.saturating_sub(config.chat_deadline);
    std::time::Instant::now() + work.max(AT_LEAST)
}

/// How long a look may take: three quarters of the real time left, the rest kept
/// for committing and acting on what it found.
fn look_time(until: std::time::Instant) -> StdDuration {
    let left = until.saturating_duration_since(std::time::Instant::now());
    left - left / 4
}

#[cfg(test)]
mod tests {
    use super::EventIds;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[test]
    fn the_kinds_kept_for_a_catalog_are_its_own() {
        use crate::fleet::Kind;
        let catalog = |group: &str| {
            let mut items = crate::schedule::Items::default();
            crate::schedule::file::parse_into(
                &format!(
                    r#"{{"ScheduleName":"Dev","StartTime":"09:00","StopTime":"18:00","Groups":[{group}]}}"#
                ),
                &mut items,
            )
            .unwrap();
            Arc::new(items.catalog(chrono_tz::UTC))
        };
        let rds = catalog(r#"{"GroupName":"DB","InstanceType":"RDS"}"#);
        assert_eq!(super::kinds_in_use(&rds), [Kind::Rds, Kind::Aurora]);
        assert_eq!(super::kinds_in_use(&rds), [Kind::Rds, Kind::Aurora]);
        // Another catalog, and the same one changed after it was asked about.
        let ecs = catalog(r#"{"GroupName":"web","InstanceType":"ECS"}"#);
        assert_eq!(super::kinds_in_use(&ecs), [Kind::Ecs]);
        let mut changed = Arc::clone(&ecs);
        drop(ecs);
        Arc::make_mut(&mut changed).schedules[0].groups[0].kind = crate::schedule::KindFilter::Eks;
        assert_eq!(super::kinds_in_use(&changed), [Kind::Eks]);
        assert_eq!(changed.kinds_in_use(), [Kind::Eks]);
    }

    #[test]
    fn an_events_ids_find_their_resources_with_or_without_their_place() {
        let keys: BTreeMap<String, ()> = ["i-1", "i-1-x", "i-2@111111111111/eu-west-1", "i-20"]
            .map(|k| (k.to_string(), ()))
            .into();
        // Many keys beside few ids (looked up), and few keys beside many ids (walked):
        // the same answers.
        let many: BTreeMap<String, ()> = (0..100)
            .map(|k| (format!("j-{k}"), ()))
            .chain(keys.clone())
            .collect();
        let padding: Vec<String> = (0..40).map(|k| format!("x-{k}")).collect();
        for keys in [&keys, &many] {
            for ids in [&[][..], &padding[..]] {
                let found = |id: &str| {
                    let mut all = ids.to_vec();
                    all.push(id.to_string());
                    EventIds::new(&all).in_keys(keys)
                };
                assert!(found("i-1"));
                assert!(found("i-20"));
                assert!(found("i-2"), "without its place");
                assert!(found("i-2@111111111111/eu-west-1"));
                assert!(!found("i-2@222222222222/eu-west-1"), "another place");
                assert!(!found("i-3"));
                assert!(!found("i-"));
                assert!(!found("i-1@111111111111/eu-west-1"), "kept without a place");
            }
        }
        assert!(!EventIds::new(&padding).in_keys(&BTreeMap::<String, ()>::new()));
    }
}
