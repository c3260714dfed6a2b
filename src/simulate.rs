//! `schedctl simulate`: the function's own run step ([`Runner::run`]) against a
//! simulated fleet and an in-memory store, on a virtual clock: one invocation every
//! tick, each following its dependency chains within the same budget as the deployed
//! function, and a report of what happened.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::clock::{Clock, VirtualClock};
use crate::cloud::sim::{FleetFile, SimCloud, SimFleet};
use crate::fleet::Instance;
use crate::notify::deliver::Notifier;
use crate::notify::human_seconds;
use crate::plan::{Event, What};
use crate::run::{RunConfig, Runner};
use crate::schedule::window::MaintenanceWindow;
use crate::store::Items;
use crate::store::memory::MemoryStore;
use crate::wakeup::Wakeups;

/// A fleet file as `schedctl simulate` reads it: the instances, and the SSM
/// maintenance windows of the simulated account under `maintenance_windows` (each
/// as SSM describes it: `id`, `name`, `schedule`, `duration_hours`, `time_zone`,
/// `enabled`).
pub fn read_fleet(text: &str) -> Result<(FleetFile, Vec<MaintenanceWindow>), String> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let windows = match value
        .as_object_mut()
        .and_then(|o| o.remove("maintenance_windows"))
    {
        Some(w) => serde_json::from_value(w).map_err(|e| format!("maintenance_windows: {e}"))?,
        None => Vec::new(),
    };
    let fleet = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok((fleet, windows))
}

/// The span and pace of a simulation.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// First tick.
    pub from: DateTime<Utc>,
    /// No tick after this.
    pub to: DateTime<Utc>,
    /// Time between ticks.
    pub tick: Duration,
}

/// What a simulation found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every event, in time order.
    pub events: Vec<Event>,
    /// Totals.
    pub summary: Summary,
    /// Instance names by id, for the text report.
    #[serde(skip)]
    names: BTreeMap<String, String>,
}

/// Why the simulated function was invoked, and how often.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Invocations {
    /// By the regular tick.
    pub ticks: u64,
    /// By state-change events.
    pub events: u64,
    /// Of those, events about nothing in progress, ended after reading the state.
    pub ignored_events: u64,
    /// By the wake-ups the function asked for.
    pub wakeups: u64,
}

/// Totals of a simulation.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Ticks run.
    pub ticks: u64,
    /// Every invocation, by cause.
    pub invocations: Invocations,
    /// Instances that belong to a group of a valid schedule.
    pub instances: usize,
    /// Their billed hours.
    pub running_hours: f64,
    /// Their hours had they run all the time.
    pub always_on_hours: f64,
    /// `1 - running / always_on`, in percent.
    pub saving_percent: f64,
    /// Every start that brought all its groups up: when it began and how long it took.
    pub starts: Vec<StartTook>,
    /// Every stop that brought all its groups down, likewise.
    pub stops: Vec<StartTook>,
}

/// How long one start took until every group was ready.
#[derive(Debug, Clone, Serialize)]
pub struct StartTook {
    /// The schedule.
    pub schedule: String,
    /// When the start began, in the schedule's offset.
    pub began: DateTime<chrono::FixedOffset>,
    /// Seconds until every group was ready.
    pub seconds: i64,
}

/// What wakes the simulated function besides its tick, as in a deployment.
#[derive(Debug, Clone, Copy)]
pub struct Wakes {
    /// State-change events (EC2 state changes, RDS events) as the template's rules
    /// deliver them; `false` models a deployment without the rules.
    pub events: bool,
    /// How long after an instance reaches a state its event arrives.
    pub event_delay: Duration,
    /// One-time wake-ups (EventBridge Scheduler) at the instant the plan asks for.
    pub wakeups: bool,
}

impl Default for Wakes {
    fn default() -> Self {
        Wakes {
            events: true,
            event_delay: Duration::seconds(5),
            wakeups: true,
        }
    }
}

/// Runs the deployed function's run step against `fleet` over `span`: invoked every
/// tick, and (as `wakes` says) on state-change events and at the wake-ups it asks
/// for, one invocation at a time, with the function's settings in `config`.
pub fn simulate(
    items: Items,
    fleet: FleetFile,
    span: Span,
    config: RunConfig,
    wakes: Wakes,
) -> Report {
    simulate_with_windows(items, fleet, Vec::new(), span, config, wakes)
}

/// [`simulate`] in an account that has these SSM maintenance windows, for schedules
/// whose `MaintenanceWindows` name them (a fleet file's `maintenance_windows`).
pub fn simulate_with_windows(
    items: Items,
    fleet: FleetFile,
    windows: Vec<MaintenanceWindow>,
    span: Span,
    config: RunConfig,
    wakes: Wakes,
) -> Report {
    let store = MemoryStore::new(items.clone());
    simulate_in(items, fleet, windows, span, config, wakes, store).0
}

/// [`simulate_with_windows`], keeping the history the deployed function keeps, and
/// the report of the simulated span built from it ([`crate::report`]): hours, money
/// at `prices` (and `SchedulerHourlyCost` tags), overrides and chain timings, and
/// the picture behind `simulate --svg`. Recording costs time at every pass, so plain
/// simulations do without.
pub fn simulate_with_report(
    items: Items,
    fleet: FleetFile,
    windows: Vec<MaintenanceWindow>,
    span: Span,
    config: RunConfig,
    wakes: Wakes,
    prices: &crate::pricing::PriceBook,
) -> (Report, crate::report::Report) {
    let catalog = items.catalog(config.default_tz);
    let store = MemoryStore::new(items.clone()).with_history();
    let (report, store) = simulate_in(items, fleet, windows, span, config, wakes, store);
    let known = crate::history::known_from(&crate::store::Store::side_items(&store));
    let money = crate::report::build(
        &catalog,
        &store.history(),
        &known,
        prices,
        span.from,
        span.to,
    );
    (report, money)
}

fn simulate_in(
    items: Items,
    fleet: FleetFile,
    windows: Vec<MaintenanceWindow>,
    span: Span,
    config: RunConfig,
    wakes: Wakes,
    store: MemoryStore,
) -> (Report, MemoryStore) {
    let mut config = config;
    config.settings.first_run_lookback = span.tick;
    config.tick_every = Some(span.tick);
    let names: BTreeMap<String, String> = fleet
        .instances
        .iter()
        .filter_map(|i| i.tags.get("Name").map(|n| (i.id.clone(), n.clone())))
        .collect();
    let catalog = items.catalog(config.default_tz);
    let clock = VirtualClock::at(span.from);
    let cloud = SimFleet::new(SimCloud::new(fleet, span.from), clock.clone()).with_windows(windows);
    // Only what a schedule's group takes is scheduled; the rest is not counted.
    let managed: Vec<String> = cloud.with(|c| {
        let seen: Vec<Instance> = c.observe(span.from).to_vec();
        let by_tag: HashMap<&str, &crate::schedule::Schedule> = catalog
            .schedules
            .iter()
            .map(|s| (s.tag_value.as_str(), s))
            .collect();
        seen.iter()
            .filter(|i| {
                i.tags
                    .get(crate::schedule::SCHEDULE_TAG)
                    .and_then(|t| by_tag.get(t.as_str()))
                    .is_some_and(|s| s.group_of_instance(i).is_some())
            })
            .map(|i| i.id.clone())
            .collect()
    });
    let runner = Runner {
        cloud: cloud.clone(),
        store,
        clock: clock.clone(),
        config,
        notifier: Notifier::default(),
        wakeups: if wakes.wakeups {
            Wakeups::Simulated
        } else {
            Wakeups::Off
        },
        shards: Default::default(),
    };
    let mut events = Vec::new();
    let mut counts = Invocations::default();
    let mut next_tick = span.from;
    let mut wake_at: Option<DateTime<Utc>> = None;
    // State-change events not yet delivered, by delivery time; and those already
    // queued, so an instance's arrival is announced once.
    let mut deliveries: BTreeMap<DateTime<Utc>, Vec<String>> = BTreeMap::new();
    let mut announced: HashSet<(String, DateTime<Utc>)> = HashSet::new();
    let mut progress = Progress::new(span);
    loop {
        let next_event = deliveries.keys().next().copied();
        let Some(at) = [Some(next_tick), next_event, wake_at]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        if at > span.to {
            break;
        }
        progress.at(at);
        // A run that outlasted the next wake delays it, as a busy function does.
        if clock.now() < at {
            clock.set(at);
        }
        let full = at == next_tick || wake_at == Some(at);
        if at == next_tick {
            counts.ticks += 1;
            next_tick += span.tick;
        }
        if wake_at == Some(at) {
            counts.wakeups += 1;
            wake_at = None;
        }
        let mut ids = Vec::new();
        while let Some(entry) = deliveries.first_entry() {
            if *entry.key() > at {
                break;
            }
            ids.extend(entry.remove());
        }
        // Every adapter here is in memory: the future never waits on anything real.
        let outcome = if full {
            futures::executor::block_on(runner.run(&[])).map(Some)
        } else {
            counts.events += 1;
            futures::executor::block_on(runner.wake(&ids))
        };
        match outcome {
            Ok(Some(report)) => {
                if let Some(w) = report.wakeup {
                    wake_at = Some(w);
                }
                events.extend(report.events);
            }
            Ok(None) => counts.ignored_events += 1,
            Err(e) => events.push(Event {
                at: clock.now().fixed_offset(),
                schedule: "(simulation)".into(),
                what: What::Error {
                    message: e.to_string(),
                },
            }),
        }
        if wakes.events {
            for (id, reached) in cloud.with(|c| c.arrivals()) {
                if announced.insert((id.clone(), reached)) {
                    deliveries
                        .entry(reached + wakes.event_delay)
                        .or_default()
                        .push(id);
                }
            }
        }
    }
    progress.done();
    // Events dated back to the instant a state was reached sort before the pass that saw it.
    events.sort_by_key(|e| e.at);

    let end = span.to;
    let running: i64 = cloud.with(|c| c.billed_seconds(&managed, end));
    let always_on = managed.len() as i64 * (end - span.from).num_seconds();
    let took = |ready: bool| -> Vec<StartTook> {
        events
            .iter()
            .filter_map(|e| match e.what {
                What::ScheduleReady { seconds } if ready => Some((e, seconds)),
                What::ScheduleStopped { seconds } if !ready => Some((e, seconds)),
                _ => None,
            })
            .map(|(e, seconds)| StartTook {
                schedule: e.schedule.clone(),
                began: e.at - Duration::seconds(seconds),
                seconds,
            })
            .collect()
    };
    let (starts, stops) = (took(true), took(false));
    let report = Report {
        events,
        summary: Summary {
            ticks: counts.ticks,
            invocations: counts,
            instances: managed.len(),
            running_hours: running as f64 / 3600.0,
            always_on_hours: always_on as f64 / 3600.0,
            saving_percent: if always_on > 0 {
                100.0 * (1.0 - running as f64 / always_on as f64)
            } else {
                0.0
            },
            starts,
            stops,
        },
        names,
    };
    (report, runner.store)
}

impl Report {
    /// One JSON object per line, in time order.
    pub fn jsonl(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            // Serialising plain data with string keys cannot fail.
            out.push_str(&serde_json::to_string(e).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    fn named(&self, id: &str) -> String {
        match self.names.get(id) {
            Some(n) => format!("{n} ({id})"),
            None => id.to_string(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::notify::write_timeline(f, &self.events, &|id| self.named(id))?;
        let width = self
            .events
            .iter()
            .map(|e| e.schedule.len())
            .max()
            .unwrap_or(8);
        let s = &self.summary;
        writeln!(f)?;
        let i = &s.invocations;
        writeln!(
            f,
            "Summary: {} invocations ({} ticks, {} state-change events of which {} about nothing in progress, {} wake-ups)",
            i.ticks + i.events + i.wakeups,
            i.ticks,
            i.events,
            i.ignored_events,
            i.wakeups
        )?;
        writeln!(
            f,
            "  {} scheduled instances ran {:.1} instance-hours of {:.1} always-on: {:.1}% saved",
            s.instances, s.running_hours, s.always_on_hours, s.saving_percent
        )?;
        for (title, list) in [
            ("from each start until every group was up", &s.starts),
            ("from each stop until every group was down", &s.stops),
        ] {
            if list.is_empty() {
                continue;
            }
            writeln!(f, "  {title}:")?;
            for t in list {
                writeln!(
                    f,
                    "    {}  {:<width$}  {:>8}  (until {})",
                    t.began.format("%a %Y-%m-%d %H:%M:%S %:z"),
                    t.schedule,
                    human_seconds(t.seconds),
                    (t.began + Duration::seconds(t.seconds)).format("%H:%M:%S")
                )?;
            }
        }
        Ok(())
    }
}

/// How far a long simulation has got, on standard error when it is a terminal: a
/// week of a large fleet takes seconds, and silence would look like a hang.
struct Progress {
    span: Span,
    shown: Option<std::time::Instant>,
    on: bool,
}

impl Progress {
    fn new(span: Span) -> Progress {
        use std::io::IsTerminal;
        Progress {
            span,
            shown: None,
            on: std::io::stderr().is_terminal() && span.to - span.from > Duration::days(1),
        }
    }

    /// Shows the simulated instant `at`, at most a few times a second.
    fn at(&mut self, at: DateTime<Utc>) {
        if !self.on || self.shown.is_some_and(|t| t.elapsed().as_millis() < 250) {
            return;
        }
        self.shown = Some(std::time::Instant::now());
        let whole = (self.span.to - self.span.from).num_seconds().max(1);
        let part = (at - self.span.from).num_seconds();
        eprint!(
            "\rsimulating {}  {:>3}%",
            at.format("%Y-%m-%d %H:%M"),
            part * 100 / whole
        );
    }

    fn done(&mut self) {
        if self.on && self.shown.is_some() {
            eprint!("\r{:40}\r", "");
        }
    }
}
