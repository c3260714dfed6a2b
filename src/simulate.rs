//! `schedctl simulate`: the function's own run step ([`Runner::run`]) against a
//! simulated fleet and an in-memory store, on a virtual clock: one invocation every
//! tick, each following its dependency chains within the same budget as the deployed
//! function, and a report of what happened.

use std::collections::BTreeMap;
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
use crate::store::Items;
use crate::store::memory::MemoryStore;

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

/// Totals of a simulation.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Invocations of the function (ticks).
    pub ticks: u64,
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

/// Invokes the run step at every tick of `span`, acting on `fleet`, with the
/// deployed function's settings in `config`.
pub fn simulate(items: Items, fleet: FleetFile, span: Span, config: RunConfig) -> Report {
    let mut config = config;
    config.settings.first_run_lookback = span.tick;
    let names: BTreeMap<String, String> = fleet
        .instances
        .iter()
        .filter_map(|i| i.tags.get("Name").map(|n| (i.id.clone(), n.clone())))
        .collect();
    let catalog = items.catalog(config.default_tz);
    let clock = VirtualClock::at(span.from);
    let cloud = SimFleet::new(SimCloud::new(fleet, span.from), clock.clone());
    // Only what a schedule's group takes is scheduled; the rest is not counted.
    let managed: Vec<String> = cloud.with(|c| {
        let seen: Vec<Instance> = c.observe(span.from).to_vec();
        seen.iter()
            .filter(|i| {
                catalog
                    .schedules
                    .iter()
                    .any(|s| s.group_of_instance(i).is_some())
            })
            .map(|i| i.id.clone())
            .collect()
    });
    let runner = Runner {
        cloud: cloud.clone(),
        store: MemoryStore::new(items),
        clock: clock.clone(),
        config,
        notifier: Notifier::default(),
    };
    let mut events = Vec::new();
    let mut ticks = 0u64;
    let mut tick_at = span.from;
    while tick_at <= span.to {
        // A run that outlasted the tick delays the next one, as Lambda does with one
        // invocation at a time.
        if clock.now() < tick_at {
            clock.set(tick_at);
        }
        ticks += 1;
        // Every adapter here is in memory: the future never waits on anything real.
        match futures::executor::block_on(runner.run(&[])) {
            Ok(report) => events.extend(report.events),
            Err(e) => events.push(Event {
                at: clock.now().fixed_offset(),
                schedule: "(simulation)".into(),
                what: What::Error {
                    message: e.to_string(),
                },
            }),
        }
        tick_at += span.tick;
    }
    // Events dated back to the instant a state was reached sort before the pass that saw it.
    events.sort_by_key(|e| e.at);

    let end = span.to;
    let running: i64 = cloud.with(|c| managed.iter().map(|id| c.billed_seconds(id, end)).sum());
    let always_on = managed.len() as i64 * (end - span.from).num_seconds();
    let starts = events
        .iter()
        .filter_map(|e| match e.what {
            What::ScheduleReady { seconds } => Some(StartTook {
                schedule: e.schedule.clone(),
                began: e.at - Duration::seconds(seconds),
                seconds,
            }),
            _ => None,
        })
        .collect();
    Report {
        events,
        summary: Summary {
            ticks,
            instances: managed.len(),
            running_hours: running as f64 / 3600.0,
            always_on_hours: always_on as f64 / 3600.0,
            saving_percent: if always_on > 0 {
                100.0 * (1.0 - running as f64 / always_on as f64)
            } else {
                0.0
            },
            starts,
        },
        names,
    }
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
        writeln!(f, "Summary ({} ticks)", s.ticks)?;
        writeln!(
            f,
            "  {} scheduled instances ran {:.1} instance-hours of {:.1} always-on: {:.1}% saved",
            s.instances, s.running_hours, s.always_on_hours, s.saving_percent
        )?;
        if !s.starts.is_empty() {
            writeln!(f, "  time from each start until every group was ready:")?;
            for t in &s.starts {
                writeln!(
                    f,
                    "    {}  {:<width$}  {}",
                    t.began.format("%a %Y-%m-%d %H:%M %:z"),
                    t.schedule,
                    human_seconds(t.seconds)
                )?;
            }
        }
        Ok(())
    }
}
