//! What a run tells beyond the chat: CloudWatch metrics as Embedded Metric Format
//! lines in the function's own log ([`metrics`]), and EventBridge events on a bus
//! ([`events`]), so that dashboards, alarms and other tools can follow the scheduler.
//! Both come from the run's own events; an idle run writes and sends nothing.

pub mod events;
pub mod metrics;

use std::sync::{Arc, Mutex};

pub use events::EventBus;

use chrono::{DateTime, Utc};

use crate::plan::Event;

/// Where metric lines go.
#[derive(Debug, Clone, Default)]
pub enum MetricSink {
    /// Nowhere.
    #[default]
    Off,
    /// Standard output: the Lambda function's log, where CloudWatch reads them.
    Stdout,
    /// Standard error (a local invocation, whose standard output is its answer).
    Stderr,
    /// Kept in memory, for tests.
    Recorded(Arc<Mutex<Vec<String>>>),
}

impl MetricSink {
    /// Whether the metrics go anywhere.
    pub fn is_on(&self) -> bool {
        !matches!(self, MetricSink::Off)
    }

    /// A recorder, and a handle to what it recorded.
    pub fn recorder() -> (MetricSink, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (MetricSink::Recorded(log.clone()), log)
    }

    fn write(&self, lines: &[String]) {
        match self {
            MetricSink::Off => {}
            MetricSink::Stdout => lines.iter().for_each(|l| println!("{l}")),
            MetricSink::Stderr => lines.iter().for_each(|l| eprintln!("{l}")),
            MetricSink::Recorded(log) => log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(lines.iter().cloned()),
        }
    }
}

/// The outlets of a deployment; all off by default (tests, the simulator).
#[derive(Debug, Clone, Default)]
pub struct Outlets {
    /// Metric lines.
    pub metrics: MetricSink,
    /// Events.
    pub events: EventBus,
    /// When the weekly summary goes out (`SUMMARY_AT`); `None`: never. It needs a
    /// history ([`crate::history`]).
    pub summary: Option<crate::summary::SummaryRule>,
    /// The Price List API, for the weekly summary's prices (never asked while a run
    /// acts); `None`: only cached prices and `SchedulerHourlyCost` tags.
    pub prices: Option<crate::pricing::PriceList>,
    /// The Region of resources whose ids name none (the function's own).
    pub home_region: String,
}

impl Outlets {
    /// Writes the metric lines of a run that began `at` and publishes its events.
    /// The caller leaves out a dry run, which did nothing; a bus that refuses is
    /// logged, and the run's result stands.
    pub async fn publish(&self, at: DateTime<Utc>, events: &[Event]) {
        self.publish_with_savings(at, events, &std::collections::BTreeMap::new())
            .await;
    }

    /// [`Outlets::publish`], with what each schedule saved in the stopped spans the
    /// run closed, as metrics.
    pub async fn publish_with_savings(
        &self,
        at: DateTime<Utc>,
        events: &[Event],
        savings: &std::collections::BTreeMap<String, crate::history::Saving>,
    ) {
        self.publish_measured(
            at,
            events,
            &metrics::Measures {
                savings: savings.clone(),
                ..metrics::Measures::default()
            },
        )
        .await;
    }

    /// [`Outlets::publish`], with what the run measured beyond its events (savings,
    /// ready-by lateness, resources running at its end), as metrics.
    pub async fn publish_measured(
        &self,
        at: DateTime<Utc>,
        events: &[Event],
        measures: &metrics::Measures,
    ) {
        if self.metrics.is_on() {
            self.metrics
                .write(&metrics::lines_measured(at, events, measures));
        }
        match self.events.publish(events).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(action = "events", count = n, "events published"),
            Err(e) => tracing::warn!(action = "events", "{e}"),
        }
    }
}
