//! `schedctl sync`: what must change in the tables for them to match the schedule
//! files (a pure diff), and `schedctl export`: the tables as schedule files.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::Items;
use super::files::{FileException, FileGroup};
use crate::schedule::{ExceptionItem, GroupItem, ScheduleItem};

/// The identity of an exception: schedule, date, type (its uuid is only a key), as
/// [`ExceptionItem::key_text`] writes them.
pub type ExceptionId = (String, String, String);

fn exception_id(e: &ExceptionItem) -> ExceptionId {
    let (date, kind) = e.key_text();
    (e.schedule_name.clone(), date, kind)
}

/// The writes that make the tables match the files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Schedule items to write (new or changed).
    pub put_schedules: Vec<ScheduleItem>,
    /// Group items to write.
    pub put_groups: Vec<GroupItem>,
    /// Exception items to write.
    pub put_exceptions: Vec<ExceptionItem>,
    /// Schedules to delete (with `--prune`), with their groups and exceptions.
    pub delete_schedules: Vec<String>,
    /// Groups to delete: (schedule, group).
    pub delete_groups: Vec<(String, String)>,
    /// Exceptions to delete.
    pub delete_exceptions: Vec<ExceptionId>,
    /// Items in the tables but not in the files, left because `--prune` was not given.
    pub kept: usize,
}

impl Diff {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.put_schedules.is_empty()
            && self.put_groups.is_empty()
            && self.put_exceptions.is_empty()
            && self.delete_schedules.is_empty()
            && self.delete_groups.is_empty()
            && self.delete_exceptions.is_empty()
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.put_schedules {
            writeln!(f, "~ schedule {}", s.schedule_name)?;
        }
        for g in &self.put_groups {
            writeln!(f, "~ group {}/{}", g.schedule_name, g.group_name)?;
        }
        for e in &self.put_exceptions {
            let (date, kind) = e.key_text();
            writeln!(
                f,
                "~ exception {} {date} {kind} = {}",
                e.schedule_name,
                e.value_text()
            )?;
        }
        for s in &self.delete_schedules {
            writeln!(f, "- schedule {s}")?;
        }
        for (s, g) in &self.delete_groups {
            writeln!(f, "- group {s}/{g}")?;
        }
        for (s, d, t) in &self.delete_exceptions {
            writeln!(f, "- exception {s} {d} {t}")?;
        }
        if self.is_empty() {
            writeln!(f, "no changes")?;
        }
        if self.kept > 0 {
            writeln!(
                f,
                "{} item(s) in the tables are not in the files; --prune deletes them",
                self.kept
            )?;
        }
        Ok(())
    }
}

/// What to write so that `tables` matches `files`. A schedule's `ForceStart` in the
/// tables is an operator's request in flight: the files never reset it.
pub fn diff(files: &Items, tables: &Items, prune: bool) -> Diff {
    let mut d = Diff::default();
    let table_schedules: BTreeMap<&str, &ScheduleItem> = tables
        .schedules
        .iter()
        .map(|s| (s.schedule_name.as_str(), s))
        .collect();
    for s in &files.schedules {
        let mut wanted = s.clone();
        if let Some(current) = table_schedules.get(s.schedule_name.as_str()) {
            wanted.force_start = current.force_start;
            if **current == wanted {
                continue;
            }
        }
        d.put_schedules.push(wanted);
    }
    let table_groups: BTreeMap<(&str, &str), &GroupItem> = tables
        .groups
        .iter()
        .map(|g| ((g.schedule_name.as_str(), g.group_name.as_str()), g))
        .collect();
    for g in &files.groups {
        if table_groups.get(&(g.schedule_name.as_str(), g.group_name.as_str())) != Some(&g) {
            d.put_groups.push(g.clone());
        }
    }
    let table_exceptions: BTreeMap<ExceptionId, String> = tables
        .exceptions
        .iter()
        .map(|e| (exception_id(e), e.value_text()))
        .collect();
    for e in &files.exceptions {
        if table_exceptions.get(&exception_id(e)) != Some(&e.value_text()) {
            d.put_exceptions.push(e.clone());
        }
    }

    let file_schedules: Vec<&str> = files
        .schedules
        .iter()
        .map(|s| s.schedule_name.as_str())
        .collect();
    let file_groups: Vec<(&str, &str)> = files
        .groups
        .iter()
        .map(|g| (g.schedule_name.as_str(), g.group_name.as_str()))
        .collect();
    let file_exceptions: Vec<ExceptionId> = files.exceptions.iter().map(exception_id).collect();
    let mut extra_schedules = Vec::new();
    let mut extra_groups = Vec::new();
    let mut extra_exceptions = Vec::new();
    for s in &tables.schedules {
        if !file_schedules.contains(&s.schedule_name.as_str()) {
            extra_schedules.push(s.schedule_name.clone());
        }
    }
    for g in &tables.groups {
        if !file_groups.contains(&(g.schedule_name.as_str(), g.group_name.as_str())) {
            extra_groups.push((g.schedule_name.clone(), g.group_name.clone()));
        }
    }
    for e in &tables.exceptions {
        let id = exception_id(e);
        if !file_exceptions.contains(&id) {
            extra_exceptions.push(id);
        }
    }
    if prune {
        d.delete_schedules = extra_schedules;
        d.delete_groups = extra_groups;
        d.delete_exceptions = extra_exceptions;
    } else {
        d.kept = extra_schedules.len() + extra_groups.len() + extra_exceptions.len();
    }
    d
}

/// The file a schedule is written to: its name in lower case with words joined by
/// `-` (`NightlyBatch` → `nightly-batch.json`), as the shipped files are named, so
/// that an export beside them replaces them instead of adding a second copy.
pub fn file_name(schedule: &str) -> String {
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in schedule.chars() {
        if c.is_ascii_alphanumeric() {
            let word_starts = c.is_ascii_uppercase()
                && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            if word_starts && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        previous = Some(c);
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "schedule".to_string()
    } else {
        out.to_string()
    }
}

/// The tables as schedule files: file name and JSON text, one per schedule.
pub fn export(items: &Items) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in &items.schedules {
        let mut doc = serde_json::to_value(s).unwrap_or_default();
        let groups: Vec<FileGroup> = items
            .groups
            .iter()
            .filter(|g| g.schedule_name == s.schedule_name)
            .map(|g| FileGroup {
                group_name: g.group_name.clone(),
                instance_type: g.instance_type.clone(),
                dependency: g.dependency.clone(),
                hibernate: g.hibernate,
                optional: g.optional,
            })
            .collect();
        let mut exceptions: Vec<FileException> = items
            .exceptions
            .iter()
            .filter(|e| e.schedule_name == s.schedule_name)
            .map(|e| FileException {
                exception_date: e.exception_date.clone(),
                exception_type: e.exception_type.clone(),
                exception_value: e.exception_value.clone(),
            })
            .collect();
        exceptions.sort_by(|a, b| {
            (&a.exception_date, &a.exception_type).cmp(&(&b.exception_date, &b.exception_type))
        });
        if let Some(map) = doc.as_object_mut() {
            map.insert(
                "Groups".into(),
                serde_json::to_value(groups).unwrap_or_default(),
            );
            map.insert(
                "Exceptions".into(),
                serde_json::to_value(exceptions).unwrap_or_default(),
            );
        }
        let mut file = file_name(&s.schedule_name);
        // Two names can fold to one file name ("Dev", "dev"): neither may overwrite.
        let base = file.clone();
        let mut n = 1;
        while out.iter().any(|(f, _)| *f == format!("{file}.json")) {
            n += 1;
            file = format!("{base}-{n}");
        }
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push((format!("{file}.json"), text + "\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::files::parse_into;

    fn items(files: &[&str]) -> Items {
        let mut items = Items::default();
        for f in files {
            parse_into(f, &mut items).unwrap();
        }
        items
    }

    const DEV: &str = r#"{"ScheduleName":"Dev","StartTime":"09:00","StopTime":"18:00",
        "Groups":[{"GroupName":"DB"},{"GroupName":"API","Dependency":["DB"]}],
        "Exceptions":[{"ExceptionDate":"2026-12-25","ExceptionType":"start","ExceptionValue":"None"}]}"#;

    #[test]
    fn matching_tables_need_nothing_and_a_second_sync_is_a_no_op() {
        let files = items(&[DEV]);
        let d = diff(&files, &Items::default(), false);
        assert_eq!(
            (
                d.put_schedules.len(),
                d.put_groups.len(),
                d.put_exceptions.len()
            ),
            (1, 2, 1)
        );
        let d = diff(&files, &files, true);
        assert!(d.is_empty());
        assert_eq!(d.to_string(), "no changes\n");
    }

    #[test]
    fn changes_and_prunes_are_listed() {
        let files = items(&[&DEV
            .replace("18:00", "19:00")
            .replace(r#",{"GroupName":"API","Dependency":["DB"]}"#, "")]);
        let mut tables = items(&[DEV, r#"{"ScheduleName":"Old"}"#]);
        tables.schedules[0].force_start = true;
        let d = diff(&files, &tables, false);
        assert_eq!(d.put_schedules.len(), 1);
        assert!(
            d.put_schedules[0].force_start,
            "an operator's ForceStart is kept"
        );
        assert_eq!(d.kept, 2);
        let d = diff(&files, &tables, true);
        assert_eq!(d.delete_schedules, ["Old"]);
        assert_eq!(d.delete_groups, [("Dev".to_string(), "API".to_string())]);
        assert_eq!(
            d.to_string(),
            "~ schedule Dev\n- schedule Old\n- group Dev/API\n"
        );
    }

    #[test]
    fn an_exception_spelled_differently_is_the_same_exception() {
        let files = items(&[DEV]);
        let tables = items(&[&DEV
            .replace(r#""2026-12-25""#, r#"" 2026-12-25 ""#)
            .replace(r#""start""#, r#""Start""#)
            .replace(r#""None""#, r#""none""#)]);
        assert!(diff(&files, &tables, true).is_empty());
        let later =
            items(&[&DEV.replace(r#""ExceptionValue":"None""#, r#""ExceptionValue":"9:30""#)]);
        let d = diff(&later, &tables, true);
        assert_eq!(d.to_string(), "~ exception Dev 2026-12-25 start = 09:30\n");
    }

    #[test]
    fn export_round_trips_through_the_file_reader() {
        let original = items(&[DEV]);
        let files = export(&original);
        assert_eq!(files[0].0, "dev.json");
        let back = items(&[&files[0].1]);
        assert!(diff(&back, &original, true).is_empty());
    }

    #[test]
    fn exported_files_are_named_as_the_shipped_ones() {
        assert_eq!(file_name("Development"), "development");
        assert_eq!(file_name("NightlyBatch"), "nightly-batch");
        assert_eq!(file_name("Staging"), "staging");
        assert_eq!(file_name("team A / web"), "team-a-web");
        assert_eq!(file_name("API2Prod"), "api2-prod");
        assert_eq!(file_name("///"), "schedule");
    }
}
