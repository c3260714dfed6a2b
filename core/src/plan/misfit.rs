//! Resources that carry the `ScheduleName` tag but that no schedule takes, and why;
//! reported when what there is to say changes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::output::{Event, Plan, What};
use crate::fleet::{Instance, Power};
use crate::schedule::{Catalog, SCHEDULE_TAG, Schedule};

/// A resource that carries the `ScheduleName` tag but that no schedule takes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Misfit {
    /// The resource's id.
    pub id: String,
    /// How people know it: `name (id)`.
    pub label: String,
    /// Its `ScheduleName` tag value.
    pub tag: String,
    /// Why it is not scheduled, in words that say how to fix it.
    pub reason: String,
}

/// Every resource that carries the `ScheduleName` tag but is not scheduled: its tag
/// names no schedule, its group tag is missing or names no group, or its kind is not
/// what its group takes. Resources of a broken schedule are not listed (the
/// schedule's own error says why).
pub fn misfits(catalog: &Catalog, fleet: &[Instance]) -> Vec<Misfit> {
    let by_tag: HashMap<&str, &Schedule> = catalog
        .schedules
        .iter()
        .map(|s| (s.tag_value.as_str(), s))
        .collect();
    let mut out = Vec::new();
    for i in fleet {
        let Some(tag) = i.tags.get(SCHEDULE_TAG) else {
            continue;
        };
        if i.power == Power::Gone {
            continue;
        }
        let reason = match by_tag.get(tag.as_str()) {
            // A broken schedule's, or one this deployment may not act on: the
            // schedule's own error says why.
            None if catalog.errors.iter().any(|e| &e.schedule == tag) => continue,
            None if catalog.refused.contains_key(tag) => continue,
            None if catalog.elsewhere.contains(tag) => continue,
            None => format!("its ScheduleName \"{tag}\" is the TagValue of no schedule"),
            Some(s) => match s.unscheduled_because(i) {
                None => continue,
                Some(why) => why,
            },
        };
        out.push(Misfit {
            id: i.id.clone(),
            label: i.label(),
            tag: tag.clone(),
            reason,
        });
    }
    out
}

/// The most misfits one message lists by name.
const MISFITS_LISTED: usize = 20;

/// Reports the resources that are tagged but not scheduled, per tag value, when what
/// there is to say differs from what was said last.
pub(crate) fn report_misfits(
    now: DateTime<Utc>,
    catalog: &Catalog,
    fleet: &[Instance],
    out: &mut Plan,
) {
    let mut by_tag: BTreeMap<String, Vec<Misfit>> = BTreeMap::new();
    for m in misfits(catalog, fleet) {
        by_tag.entry(m.tag.clone()).or_default().push(m);
    }
    let mut reported = BTreeMap::new();
    for (tag, list) in by_tag {
        let digest = digest(list.iter().map(|m| (m.id.as_str(), m.reason.as_str())));
        if out.state.run.reported_misfits.get(&tag) != Some(&digest) {
            let schedule = catalog
                .schedules
                .iter()
                .find(|s| s.tag_value == tag)
                .map_or_else(|| (tag.clone(), chrono_tz::UTC), |s| (s.name.clone(), s.tz));
            let mut lines: Vec<String> = list
                .iter()
                .take(MISFITS_LISTED)
                .map(|m| format!("{}: {}", m.label, m.reason))
                .collect();
            if list.len() > MISFITS_LISTED {
                lines.push(format!("and {} more", list.len() - MISFITS_LISTED));
            }
            out.events.push(Event {
                at: now.with_timezone(&schedule.1).fixed_offset(),
                schedule: schedule.0,
                what: What::Error {
                    message: format!(
                        "{} tagged ScheduleName={tag} not scheduled (left alone): {}",
                        if list.len() == 1 {
                            "1 resource".to_string()
                        } else {
                            format!("{} resources", list.len())
                        },
                        lines.join("; ")
                    ),
                },
            });
        }
        reported.insert(tag, digest);
    }
    out.state.run.reported_misfits = reported;
}

/// A short stable digest of what was reported, to tell whether it changed.
pub(crate) fn digest<'a>(lines: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    // FNV-1a: stable across builds and versions, unlike the standard library's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (a, b) in lines {
        for byte in a.bytes().chain([0]).chain(b.bytes()).chain([0]) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
