//! The catalog: every valid schedule of the tables, and one named error for each
//! broken one, with the narrowing a run applies (shards, allowed tag values, windows).

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;
use serde::Serialize;

use super::validation::build_schedule;
use super::{ExceptionItem, GroupItem, Schedule, ScheduleError, ScheduleItem, TagPatterns, window};
use crate::fleet::Kind;

/// The items of the three schedule tables (or a folder of schedule files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items {
    /// Schedule items.
    pub schedules: Vec<ScheduleItem>,
    /// Group items.
    pub groups: Vec<GroupItem>,
    /// Exception items.
    pub exceptions: Vec<ExceptionItem>,
    /// Files that could not be read as schedule files, by the schedule (or file) name.
    pub errors: Vec<ScheduleError>,
}

impl Items {
    /// Validates the items into a catalog; items that could not even be read are
    /// reported with the catalog's own errors.
    pub fn catalog(&self, default_tz: chrono_tz::Tz) -> Catalog {
        let mut catalog =
            Catalog::build(&self.schedules, &self.groups, &self.exceptions, default_tz);
        // A schedule with an unreadable group or exception item is incomplete: skip it.
        catalog
            .schedules
            .retain(|s| !self.errors.iter().any(|e| e.schedule == s.name));
        catalog.errors.extend(self.errors.iter().cloned());
        catalog.errors.sort();
        catalog.errors.dedup();
        catalog
    }
}

/// Every schedule that passed validation, and one error for every one that did not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// Valid schedules, by name.
    pub schedules: Vec<Schedule>,
    /// Problems found; a schedule named here is not in `schedules`.
    pub errors: Vec<ScheduleError>,
    /// Problems that skip nothing (a part of a schedule ignored, a chat channel off):
    /// reported once, like errors, while everything else carries on.
    pub warnings: Vec<ScheduleError>,
    /// Tag values of valid schedules another run plans (another shard): their
    /// resources are not "tagged but unscheduled".
    pub elsewhere: BTreeSet<String>,
    /// Another run reports the problems of the whole catalog; this one keeps quiet
    /// about them and leaves the run-wide state as it is.
    pub quiet: bool,
    /// Tag values of valid schedules this deployment may not act on (see
    /// [`Catalog::restrict`]), with the schedule's name: their resources are not
    /// "tagged but unscheduled", their schedule's own error says why.
    pub refused: BTreeMap<String, String>,
}

impl Catalog {
    /// Builds the catalog from the three tables' items. `default_tz` applies to
    /// schedules without a `TimeZone`. A schedule with any problem (in itself, its
    /// groups or its exceptions) is left out and reported; the others are unaffected.
    pub fn build(
        schedules: &[ScheduleItem],
        groups: &[GroupItem],
        exceptions: &[ExceptionItem],
        default_tz: Tz,
    ) -> Catalog {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut groups_of: BTreeMap<&str, Vec<&GroupItem>> = BTreeMap::new();
        for g in groups {
            groups_of
                .entry(g.schedule_name.as_str())
                .or_default()
                .push(g);
        }
        let mut exceptions_of: BTreeMap<&str, Vec<&ExceptionItem>> = BTreeMap::new();
        for e in exceptions {
            exceptions_of
                .entry(e.schedule_name.as_str())
                .or_default()
                .push(e);
        }

        let mut seen = BTreeSet::new();
        let mut built = Vec::new();
        for item in schedules {
            let name = item.schedule_name.as_str();
            if !seen.insert(name) {
                errors.push(ScheduleError::new(name, "defined more than once"));
                continue;
            }
            let result = build_schedule(
                item,
                groups_of.get(name).map(Vec::as_slice).unwrap_or_default(),
                exceptions_of
                    .get(name)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                default_tz,
            );
            match result {
                Ok((s, ignored)) => {
                    warnings.extend(ignored.into_iter().map(|w| ScheduleError::new(name, w)));
                    built.push(s);
                }
                Err(e) => errors.push(e),
            }
        }
        // A name defined twice is ambiguous: neither definition is trusted.
        let twice: BTreeSet<String> = errors
            .iter()
            .filter(|e| e.problem == "defined more than once")
            .map(|e| e.schedule.clone())
            .collect();
        built.retain(|s| !twice.contains(&s.name));

        // Two schedules claiming the same instances would fight over them.
        let mut by_tag: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in &built {
            by_tag.entry(&s.tag_value).or_default().push(&s.name);
        }
        let mut clashing = BTreeSet::new();
        for (tag, names) in &by_tag {
            if names.len() > 1 {
                for name in names {
                    let others: Vec<_> = names.iter().filter(|n| *n != name).collect();
                    errors.push(ScheduleError::new(
                        *name,
                        format!("TagValue \"{tag}\" is also used by schedule {others:?}"),
                    ));
                    clashing.insert(name.to_string());
                }
            }
        }
        built.retain(|s| !clashing.contains(&s.name));

        for name in groups_of.keys().chain(exceptions_of.keys()) {
            if !seen.contains(name) {
                errors.push(ScheduleError::new(
                    *name,
                    "has server groups or exceptions but no schedule item",
                ));
            }
        }
        built.sort_by(|a, b| a.name.cmp(&b.name));
        for s in &mut built {
            s.digest = s.fingerprint();
        }
        errors.sort();
        errors.dedup();
        Catalog {
            schedules: built,
            errors,
            warnings,
            elsewhere: BTreeSet::new(),
            quiet: false,
            refused: BTreeMap::new(),
        }
    }

    /// The valid schedule called `name`.
    pub fn get(&self, name: &str) -> Option<&Schedule> {
        // A built catalog is sorted by name; one put together by hand may not be, and
        // is searched in full when the halving finds nothing.
        match self
            .schedules
            .binary_search_by(|s| s.name.as_str().cmp(name))
        {
            Ok(k) => self.schedules.get(k),
            Err(_) => self.schedules.iter().find(|s| s.name == name),
        }
    }

    /// The valid schedule called `name`, or why there is none: the one answer to "no
    /// such schedule" everywhere (the planner, the operations, the bot, the CLI).
    pub fn find(&self, name: &str) -> Result<&Schedule, UnknownSchedule> {
        if let Some(s) = self.get(name) {
            return Ok(s);
        }
        Err(match self.errors.iter().find(|e| e.schedule == name) {
            Some(e) => UnknownSchedule::Broken(e.clone()),
            None => UnknownSchedule::Missing(name.to_string()),
        })
    }

    /// Keeps the schedules `keep` accepts, for a run that plans only those; the
    /// others' tag values are remembered, and unless `report` the run stays quiet
    /// about the catalog's problems (another run reports them).
    pub fn narrow(&mut self, keep: impl Fn(&Schedule) -> bool, report: bool) {
        let (kept, others): (Vec<Schedule>, Vec<Schedule>) = std::mem::take(&mut self.schedules)
            .into_iter()
            .partition(|s| keep(s));
        self.elsewhere
            .extend(others.into_iter().map(|s| s.tag_value));
        self.schedules = kept;
        self.quiet = !report;
    }

    /// The kinds of resource some group of a valid schedule takes: the only ones
    /// worth listing.
    pub fn kinds_in_use(&self) -> Vec<Kind> {
        // Every run asks, and a catalog has thousands of groups of a few filters: one
        // walk collects the filters, rather than one walk per kind not in use.
        let mut filters: Vec<crate::schedule::KindFilter> = Vec::new();
        for g in self.schedules.iter().flat_map(|s| &s.groups) {
            if !filters.contains(&g.kind) {
                filters.push(g.kind);
            }
        }
        Kind::ALL
            .into_iter()
            .filter(|k| filters.iter().any(|f| f.admits(*k)))
            .collect()
    }

    /// Leaves out the schedules whose tag value this deployment may not act on,
    /// each reported with the reason.
    pub fn restrict(&mut self, allowed: &TagPatterns) {
        let (kept, refused): (Vec<Schedule>, Vec<Schedule>) = std::mem::take(&mut self.schedules)
            .into_iter()
            .partition(|s| allowed.allows(&s.tag_value));
        self.schedules = kept;
        for s in refused {
            self.refused.insert(s.tag_value.clone(), s.name.clone());
            self.errors.push(ScheduleError::new(
                &s.name,
                format!(
                    "TagValue \"{}\" is not one this deployment may act on (allowed: {allowed})",
                    s.tag_value
                ),
            ));
        }
        self.errors.sort();
    }

    /// The names of the maintenance windows some schedule uses.
    pub fn window_names(&self) -> BTreeSet<&str> {
        self.schedules
            .iter()
            .flat_map(|s| s.maintenance_windows.iter().map(String::as_str))
            .collect()
    }

    /// Gives each schedule the windows it names, from `known` (as SSM lists them,
    /// by name or id). A name that is not there, or whose schedule cannot be read,
    /// is a warning naming the schedule and the window: the schedule's own periods
    /// still run.
    pub fn attach_windows(&mut self, known: &[window::MaintenanceWindow]) {
        for s in &mut self.schedules {
            s.windows.clear();
            for name in &s.maintenance_windows {
                let found = known.iter().find(|w| w.name == *name || w.id == *name);
                match found.map(|w| window::Window::parse(name, w)) {
                    Some(Ok(w)) => s.windows.push(w),
                    Some(Err(e)) => self.warnings.push(ScheduleError::new(
                        &s.name,
                        format!("MaintenanceWindows \"{name}\": {e}; it is left out"),
                    )),
                    None => self.warnings.push(ScheduleError::new(
                        &s.name,
                        format!(
                            "MaintenanceWindows \"{name}\": no SSM maintenance window has this name or id; it is left out"
                        ),
                    )),
                }
            }
            s.digest = s.fingerprint();
        }
    }

    /// Marks the force-starts the planner finished as cleared, as the store does.
    pub fn clear_force_start(&mut self, names: &[String]) {
        for s in &mut self.schedules {
            if names.contains(&s.name) {
                s.force_start = false;
                s.digest = s.fingerprint();
            }
        }
    }
}

/// Why a schedule asked for by name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum UnknownSchedule {
    /// There is no schedule of that name.
    #[error("schedule \"{0}\" does not exist")]
    Missing(String),
    /// It exists but does not validate.
    #[error("{0}; it is skipped until it is fixed")]
    Broken(ScheduleError),
}
