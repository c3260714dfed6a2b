//! The weekly summary in chat: after a run has told the chat what it did, each
//! schedule whose summary is due (the core's rule, [`scheduler_core::summary`]:
//! Monday 09:00 in the schedule's zone unless `SUMMARY_AT` says otherwise) gets one
//! message with last week's hours and money. A summary goes out once however many
//! runs see it due (a conditional write claims it), reads the history only then, asks
//! the cloud only then what the history does not keep (the vCPU and memory of Fargate
//! tasks, the EBS volumes of EC2 instances), and fetches only prices missing or older
//! than 30 days. Nothing here fails the run.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{add_volumes, ask_inventory, build, stale_prices};
use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::cloud::inventory::OfCloud;
use crate::history::known_from;
use crate::notify::deliver::Notifier;
use crate::plan::Scope;
use crate::pricing::{PriceBook, refresh};
use crate::schedule::Catalog;
use crate::store::Store;

/// The side item recording the last week summarised for `schedule`.
pub fn summary_id(schedule: &str) -> String {
    format!("summary#{schedule}")
}

/// Where a run's weekly summaries come from and go: its cloud (Fargate task sizes,
/// EBS volumes), its store, its chat (whose outlets say when summaries are due and
/// where prices come from) and its clock.
#[derive(Debug, Clone, Copy)]
pub struct Weekly<'a, C, S, K> {
    /// The cloud, asked only when a summary goes out.
    pub cloud: &'a C,
    /// The store, with its history.
    pub store: &'a S,
    /// The chat.
    pub notifier: &'a Notifier,
    /// The run's clock.
    pub clock: &'a K,
    /// How long the chat may take.
    pub chat_deadline: std::time::Duration,
}

/// Sends the weekly summary of each of `catalog`'s schedules in `scope` that is owed
/// at the clock's `now`; returns the schedules summarised.
pub async fn send_due<C: Cloud, S: Store, K: Clock>(
    weekly: Weekly<'_, C, S, K>,
    catalog: &Catalog,
    scope: &Scope,
) -> Vec<String> {
    let Weekly {
        cloud,
        store,
        notifier,
        clock,
        chat_deadline,
    } = weekly;
    let outlets = &notifier.outlets;
    let Some(rule) = outlets.summary else {
        return Vec::new();
    };
    if !store.keeps_history() {
        return Vec::new();
    }
    let now = clock.now();
    let side = store.side_items();
    let mut sent = Vec::new();
    let mut book: Option<PriceBook> = None;
    for s in catalog.schedules.iter().filter(|s| scope.includes(&s.name)) {
        let id = summary_id(&s.name);
        let last = side
            .get(&id)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc));
        let Some(week) = rule.owed(s.tz, now, last) else {
            continue;
        };
        let due = week.to.to_rfc3339_opts(SecondsFormat::Secs, true);
        match store.claim(&id, &due).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(action = "summary", schedule = %s.name, "cannot claim the weekly summary: {e}");
                continue;
            }
        }
        let mut entries = match store.read_history(&s.name, week.from).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(action = "summary", schedule = %s.name, "cannot read the history: {e}");
                continue;
            }
        };
        // What the history knows now of this schedule: the side items as this run
        // wrote them.
        let mut known = known_from(&store.side_items());
        known.retain(|name, _| *name == s.name);
        let book = book.get_or_insert_with(|| PriceBook::from_side(&outlets.home_region, &side));
        let one = Catalog {
            schedules: vec![s.clone()],
            ..Catalog::default()
        };
        // A history that began within the week (a new deployment, a new schedule)
        // cannot tell that week's hours: its first summary is the next one.
        let report = build(&one, &entries, &known, book, week.from, week.to);
        let covered = report.schedules.first().is_some_and(|r| {
            r.groups
                .iter()
                .flat_map(|g| &g.resources)
                .any(|x| x.spans.first().is_some_and(|span| span.from <= week.from))
        });
        if !covered {
            tracing::info!(action = "summary", schedule = %s.name, "no weekly summary: the history began within the week");
            continue;
        }
        let volumes = ask_inventory(&mut known, &mut entries, &OfCloud(cloud)).await;
        if let Some(list) = &outlets.prices {
            let stale = stale_prices(book, &known, &volumes, now);
            if !stale.is_empty() {
                book.add(refresh(store, list, &stale, now).await);
            }
        }
        let mut report = build(&one, &entries, &known, book, week.from, week.to);
        add_volumes(&mut report, &volumes, book);
        let Some(r) = report.schedules.first() else {
            continue;
        };
        let message = super::message::compose(r, notifier.language);
        notifier.send(&[message], clock, chat_deadline).await;
        sent.push(s.name.clone());
    }
    sent
}
