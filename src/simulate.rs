//! `schedctl simulate`: the real planner against the simulated fleet, tick by tick
//! on a virtual clock, and a report of what happened.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cloud::sim::{FleetFile, SimCloud};
use crate::plan::{Event, RunState, Settings, What, plan};
use crate::schedule::{Catalog, SCHEDULE_TAG};

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
    /// Ticks run.
    pub ticks: u64,
    /// Instances that belong to a valid schedule.
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

/// Runs the planner at every tick of `span`, acting on `fleet`. A `ForceStart` flag
/// is cleared when the planner says so, as the DynamoDB adapter does.
pub fn simulate(mut catalog: Catalog, fleet: FleetFile, span: Span, settings: Settings) -> Report {
    let mut settings = settings;
    settings.first_run_lookback = span.tick;
    let names: BTreeMap<String, String> = fleet
        .instances
        .iter()
        .filter_map(|i| i.tags.get("Name").map(|n| (i.id.clone(), n.clone())))
        .collect();
    let tags: BTreeSet<&str> = catalog
        .schedules
        .iter()
        .map(|s| s.tag_value.as_str())
        .collect();
    let managed: Vec<String> = fleet
        .instances
        .iter()
        .filter(|i| {
            i.tags
                .get(SCHEDULE_TAG)
                .is_some_and(|t| tags.contains(t.as_str()))
        })
        .map(|i| i.id.clone())
        .collect();
    let mut cloud = SimCloud::new(fleet, span.from);
    let mut state = RunState::default();
    let mut events = Vec::new();
    let mut ticks = 0u64;
    let mut now = span.from;
    while now <= span.to {
        ticks += 1;
        let observed = cloud.observe(now);
        let p = plan(now, &catalog, observed, &state, &[], &settings);
        events.extend(p.events);
        let mut state_next = p.state;
        for action in &p.actions {
            let ids: Vec<String> = action.targets.iter().map(|t| t.id.clone()).collect();
            let failures = cloud.act(now, action.direction, &ids);
            let tz = catalog
                .get(&action.schedule)
                .map_or(chrono_tz::UTC, |s| s.tz);
            for (id, error) in failures {
                state_next.record_refused(&action.schedule, &id);
                let name = names.get(&id).map_or(id.clone(), |n| format!("{n} ({id})"));
                events.push(Event {
                    at: now.with_timezone(&tz).fixed_offset(),
                    schedule: action.schedule.clone(),
                    what: What::Error {
                        message: format!(
                            "group {}: {} of {name} failed: {error}",
                            action.group, action.direction
                        ),
                    },
                });
            }
        }
        for name in &p.clear_force_start {
            if let Some(s) = catalog.schedules.iter_mut().find(|s| &s.name == name) {
                s.force_start = false;
            }
        }
        state = state_next;
        now += span.tick;
    }
    // Events dated back to the instant a state was reached sort before the tick that saw it.
    events.sort_by_key(|e| e.at);

    let end = span.to;
    let running: i64 = managed.iter().map(|id| cloud.billed_seconds(id, end)).sum();
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

/// `3m 05s`, `1h 02m`.
pub fn human_seconds(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .events
            .iter()
            .map(|e| e.schedule.len())
            .max()
            .unwrap_or(8);
        for e in &self.events {
            let (word, detail) = match &e.what {
                What::Start { group, instances } | What::Stop { group, instances } => {
                    let list: Vec<String> = instances.iter().map(|i| self.named(i)).collect();
                    let word = if matches!(e.what, What::Start { .. }) {
                        "start"
                    } else {
                        "stop"
                    };
                    (word, format!("{group}: {}", list.join(", ")))
                }
                What::Ready { group } => ("ready", format!("{group} is up")),
                What::Stopped { group } => ("stopped", format!("{group} is down")),
                What::ScheduleReady { seconds } => (
                    "ready",
                    format!(
                        "every group is up, {} after the start",
                        human_seconds(*seconds)
                    ),
                ),
                What::ScheduleStopped { seconds } => (
                    "stopped",
                    format!(
                        "every group is down, {} after the stop",
                        human_seconds(*seconds)
                    ),
                ),
                What::Warn {
                    stop_at,
                    minutes_left,
                    groups,
                } => (
                    "warn",
                    format!(
                        "{} running will stop at {} ({minutes_left} min left)",
                        groups.join(", "),
                        stop_at.format("%H:%M")
                    ),
                ),
                What::Error { message } => ("ERROR", message.clone()),
            };
            writeln!(
                f,
                "{}  {:<width$}  {:<7}  {detail}",
                e.at.format("%a %Y-%m-%d %H:%M:%S %:z"),
                e.schedule,
                word
            )?;
        }
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
