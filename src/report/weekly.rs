//! The weekly summary in chat: after a run has told the chat what it did, each
//! schedule whose summary is due (the core's rule, [`scheduler_core::summary`]:
//! Monday 09:00 in the schedule's zone unless `SUMMARY_AT` says otherwise) gets one
//! message with last week's hours and money. A summary goes out once however many
//! runs see it due (a conditional write claims it), reads the history only then, and
//! fetches only prices missing or older than 30 days. Nothing here fails the run.

use chrono::{DateTime, SecondsFormat, Utc};

use super::build;
use crate::clock::Clock;
use crate::cloud::Cloud;
use crate::history::known_from;
use crate::plan::Scope;
use crate::pricing::{PriceBook, refresh};
use crate::run::Runner;
use crate::schedule::Catalog;
use crate::store::Store;

/// The side item recording the last week summarised for `schedule`.
pub fn summary_id(schedule: &str) -> String {
    format!("summary#{schedule}")
}

/// Sends the weekly summary of each of `catalog`'s schedules in `scope` that is owed
/// at the runner's `now`; returns the schedules summarised.
pub async fn send_due<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    catalog: &Catalog,
    scope: &Scope,
) -> Vec<String> {
    let outlets = &runner.notifier.outlets;
    let Some(rule) = outlets.summary else {
        return Vec::new();
    };
    if !runner.store.keeps_history() || runner.config.dry_run {
        return Vec::new();
    }
    let now = runner.clock.now();
    let side = runner.store.side_items();
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
        match runner.store.claim(&id, &due).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(action = "summary", schedule = %s.name, "cannot claim the weekly summary: {e}");
                continue;
            }
        }
        let entries = match runner.store.read_history(&s.name, week.from).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(action = "summary", schedule = %s.name, "cannot read the history: {e}");
                continue;
            }
        };
        // What the history knows now: the side items as this run wrote them.
        let known = known_from(&runner.store.side_items());
        let book = book.get_or_insert_with(|| PriceBook::from_side(&outlets.home_region, &side));
        let one = Catalog {
            schedules: vec![s.clone()],
            ..Catalog::default()
        };
        let mut report = build(&one, &entries, &known, book, week.from, week.to);
        // A history that began within the week (a new deployment, a new schedule)
        // cannot tell that week's hours: its first summary is the next one.
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
        if let Some(list) = &outlets.prices {
            let seen = known
                .get(&s.name)
                .into_iter()
                .flat_map(|m| m.iter().map(|(id, seen)| (id.as_str(), seen)));
            let stale = book.stale(seen, now);
            if !stale.is_empty() {
                book.add(refresh(&runner.store, list, &stale, now).await);
                report = build(&one, &entries, &known, book, week.from, week.to);
            }
        }
        let Some(r) = report.schedules.first() else {
            continue;
        };
        let message = crate::notify::summary::compose(r, runner.notifier.language);
        runner
            .notifier
            .send(&[message], &runner.clock, runner.config.chat_deadline)
            .await;
        sent.push(s.name.clone());
    }
    sent
}
