//! The schedule model: the stored items, the validated types the planner uses, and
//! the step between them that rejects a broken schedule with an error naming it.

pub mod absent;
mod catalog;
mod days;
pub mod file;
mod items;
mod parse;
mod period;
mod tags;
mod validation;
pub mod window;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use catalog::{Catalog, Items, UnknownSchedule};
pub use days::{Days, MonthDays, Months, WEEK};
pub use items::{ExceptionItem, GroupItem, PeriodItem, ScheduleItem};
pub use parse::{date as parse_date, time_of_day as parse_time, time_zone as parse_time_zone};
pub use period::Period;
pub use tags::{
    GROUP_TAG, PROTECTION_TAG, SCHEDULE_TAG, TagPatterns, auto_scaled, never_scheduled, protected,
};

use crate::fleet::{Direction, Instance, Kind, Power};

/// Name of the one implicit group of a schedule that defines no groups.
pub const DEFAULT_GROUP: &str = "all";

/// What is wrong with one schedule (or with an item that names no known schedule).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, thiserror::Error)]
#[error("schedule \"{schedule}\": {problem}")]
pub struct ScheduleError {
    /// The schedule the problem belongs to.
    pub schedule: String,
    /// What is wrong, in words a user can act on.
    pub problem: String,
}

impl ScheduleError {
    /// An error about `schedule`.
    pub fn new(schedule: impl Into<String>, problem: impl Into<String>) -> Self {
        ScheduleError {
            schedule: schedule.into(),
            problem: problem.into(),
        }
    }
}

/// Which instances a group takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KindFilter {
    /// Every kind that carries the group's tags.
    Any,
    /// EC2 instances only.
    Ec2,
    /// RDS DB instances and Aurora (DocumentDB, Neptune) DB clusters.
    Rds,
    /// Auto Scaling groups.
    Asg,
    /// ECS services.
    Ecs,
    /// EKS managed node groups.
    Eks,
}

impl KindFilter {
    /// What the filter takes, for people.
    pub fn describe(self) -> &'static str {
        match self {
            KindFilter::Any => "every kind",
            KindFilter::Ec2 => "EC2 instances",
            KindFilter::Rds => "RDS databases and clusters",
            KindFilter::Asg => "Auto Scaling groups",
            KindFilter::Ecs => "ECS services",
            KindFilter::Eks => "EKS node groups",
        }
    }

    /// Whether an instance of `kind` belongs to a group with this filter.
    pub fn admits(self, kind: Kind) -> bool {
        match self {
            KindFilter::Any => true,
            KindFilter::Ec2 => kind == Kind::Ec2,
            KindFilter::Rds => matches!(kind, Kind::Rds | Kind::Aurora),
            KindFilter::Asg => kind == Kind::Asg,
            KindFilter::Ecs => kind == Kind::Ecs,
            KindFilter::Eks => kind == Kind::Eks,
        }
    }
}

/// A set of servers that starts and stops together, after and before its dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerGroup {
    /// The group's name, the value of its instances' `ScheduleGroupName` tag.
    pub name: String,
    /// Which kinds of instance the group takes.
    pub kind: KindFilter,
    /// Groups that must be ready before this one starts (and stopped after it).
    pub depends_on: Vec<String>,
    /// Hibernate its EC2 instances that are configured for it, rather than stop them.
    pub hibernate: bool,
    /// It may be empty: its dependents do not wait for it then.
    pub optional: bool,
}

/// What a schedule's start time means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartMode {
    /// The start begins at the start time (the default).
    #[default]
    At,
    /// Every group is to be up by the start time: the start begins as early as the
    /// learned durations of the dependency chain need, plus a margin.
    ReadyBy,
}

impl StartMode {
    fn parse(text: Option<&str>) -> Result<StartMode, String> {
        match text.map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("at") => Ok(StartMode::At),
            Some("ready-by" | "ready_by" | "readyby") => Ok(StartMode::ReadyBy),
            Some(other) => Err(format!("StartMode \"{other}\" is not at or ready-by")),
        }
    }
}

/// Per-date replacements of a schedule's start or stop time; `None` means "not
/// that day".
pub type Exceptions = BTreeMap<(NaiveDate, Direction), Option<NaiveTime>>;

/// A validated schedule: everything the planner needs, already checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// The schedule's name.
    pub name: String,
    /// Instances whose `ScheduleName` tag has this value belong to the schedule.
    pub tag_value: String,
    /// `DaysActive`: the days on which its period begins. For a schedule with
    /// `Periods`, every weekday some period names (a summary for people; the calendar
    /// reads [`Schedule::periods`]).
    #[serde(serialize_with = "display")]
    pub days: Days,
    /// Whether the schedule acts at its times.
    pub enabled: bool,
    /// Local start time, or none (none for a schedule with `Periods`).
    pub start: Option<NaiveTime>,
    /// Local stop time, or none (none for a schedule with `Periods`).
    pub stop: Option<NaiveTime>,
    /// `MonthDays`, when given (none for a schedule with `Periods`).
    pub month_days: Option<MonthDays>,
    /// `Months`, when given (none for a schedule with `Periods`).
    pub months: Option<Months>,
    /// The entries of `Periods`; empty when the schedule has none, and its own
    /// `days`, `month_days`, `months`, `start` and `stop` are its one period.
    pub periods: Vec<Period>,
    /// Whether a force-start is requested.
    pub force_start: bool,
    /// `Enforced`: at every run, resources are brought back to the state of the last
    /// transition (started or stopped by hand in between, they are corrected).
    pub enforced: bool,
    /// `MaintenanceWindows`: the SSM windows it names, in order.
    pub maintenance_windows: Vec<String>,
    /// Those windows as last read from SSM ([`Catalog::attach_windows`]); a name
    /// that could not be read is missing here and reported.
    pub windows: Vec<window::Window>,
    /// The zone the times and exception dates are in.
    #[serde(serialize_with = "display")]
    pub tz: Tz,
    /// Groups in dependency order: every group comes after the groups it depends on.
    pub groups: Vec<ServerGroup>,
    /// Per-date replacements of the start or stop time; `None` means "not that day".
    pub exceptions: Exceptions,
    /// What the start time means: when the start begins, or when all must be up.
    pub start_mode: StartMode,
    /// True when the schedule defines no groups and so has the one implicit group
    /// `all`, which takes its instances whatever their group tag. A group a user
    /// names `all` is an ordinary group.
    pub implicit_group: bool,
    /// A digest of everything above, set when the catalog is built: the planner
    /// looks at an edited schedule again at once.
    #[serde(skip)]
    pub digest: String,
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Schedule {
    /// A digest of the schedule's definition (FNV-1a of its JSON form): equal
    /// digests, equal schedules.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// The periods in effect, in order: the entries of `Periods`, or the schedule's
    /// own fields as its one period. A transition's
    /// [`Cause::Period`](crate::calendar::Cause::Period) is an index into these.
    pub fn periods(&self) -> impl Iterator<Item = Period> + '_ {
        let own = self.periods.is_empty().then_some(Period {
            days: self.days,
            month_days: self.month_days,
            months: self.months,
            start: self.start,
            stop: self.stop,
        });
        own.into_iter().chain(self.periods.iter().copied())
    }

    /// The day rules of the schedule for people: its `DaysActive` (with `MonthDays`
    /// and `Months` when given), or each period's, numbered from 1 (`1: mon; 2: fri`).
    pub fn days_active(&self) -> String {
        if let Some(own) = self.periods().next().filter(|_| self.periods.is_empty()) {
            return own.days_active();
        }
        let each: Vec<String> = self
            .periods
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}: {}", i + 1, p.days_active()))
            .collect();
        each.join("; ")
    }

    /// The group an instance with these tags and this kind belongs to, if any.
    pub fn group_of(&self, group_tag: Option<&str>, kind: Kind) -> Option<usize> {
        if self.implicit_group {
            return self.groups[0].kind.admits(kind).then_some(0);
        }
        let tag = group_tag?;
        self.groups
            .iter()
            .position(|g| g.name == tag && g.kind.admits(kind))
    }

    /// The group `i` belongs to, if it is one of this schedule's instances: it carries
    /// the schedule's tag value, is not gone, and its group tag and kind fit a group.
    /// The one rule for membership, used by the planner and by `status` alike.
    pub fn group_of_instance(&self, i: &Instance) -> Option<usize> {
        if i.power == Power::Gone
            || i.tags.get(SCHEDULE_TAG) != Some(&self.tag_value)
            || never_scheduled(i)
        {
            return None;
        }
        self.group_of(i.tags.get(GROUP_TAG).map(String::as_str), i.kind)
    }

    /// The schedule's instances among `fleet`, per group in the schedule's group order.
    pub fn members<'a>(
        &self,
        fleet: impl IntoIterator<Item = &'a Instance>,
    ) -> Vec<Vec<&'a Instance>> {
        let mut groups = vec![Vec::new(); self.groups.len()];
        for i in fleet {
            if let Some(g) = self.group_of_instance(i) {
                groups[g].push(i);
            }
        }
        groups
    }

    /// Why `i`, which carries this schedule's tag value, belongs to none of its
    /// groups, in words that say what to fix; `None` when it does belong.
    pub fn unscheduled_because(&self, i: &Instance) -> Option<String> {
        if self.group_of_instance(i).is_some() || i.power == Power::Gone {
            return None;
        }
        if protected(&i.tags) {
            return Some(format!(
                "it is protected ({PROTECTION_TAG}=true); the scheduler never acts on it"
            ));
        }
        if let Some(group) = auto_scaled(i) {
            return Some(format!(
                "it belongs to Auto Scaling group {group}, which would replace it; schedule the group (InstanceType ASG), never its instances"
            ));
        }
        let names: Vec<&str> = self.groups.iter().map(|g| g.name.as_str()).collect();
        let groups = names.join(", ");
        Some(match i.tags.get(GROUP_TAG) {
            None => format!(
                "it has no {GROUP_TAG} tag ({} has groups {groups})",
                self.name
            ),
            Some(tag) => match self.groups.iter().find(|g| &g.name == tag) {
                None => format!(
                    "its {GROUP_TAG} \"{tag}\" is not a group of {} ({groups})",
                    self.name
                ),
                Some(g) => format!(
                    "group {} takes {} only, and this is {}",
                    g.name,
                    g.kind.describe(),
                    i.kind
                ),
            },
        })
    }

    /// The local date of `now` in the schedule's zone: what "today" means for it.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.tz).date_naive()
    }

    /// Names of the groups that depend on `group`, directly or not, in group order.
    pub fn dependents_of(&self, group: &str) -> Vec<String> {
        let mut names: BTreeSet<&str> = BTreeSet::from([group]);
        // Groups are in dependency order, so one pass reaches every dependent.
        for g in &self.groups {
            if g.depends_on.iter().any(|d| names.contains(d.as_str())) {
                names.insert(&g.name);
            }
        }
        names.remove(group);
        self.groups
            .iter()
            .filter(|g| names.contains(g.name.as_str()))
            .map(|g| g.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(json: &str) -> ScheduleItem {
        serde_json::from_str(json).unwrap()
    }
    fn group(name: &str, deps: &[&str]) -> GroupItem {
        GroupItem {
            schedule_name: "Dev".into(),
            group_name: name.into(),
            instance_type: None,
            dependency: deps.iter().map(|d| d.to_string()).collect(),
            hibernate: false,
            optional: false,
        }
    }
    fn dev() -> ScheduleItem {
        sched(
            r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00"}"#,
        )
    }
    fn build(groups: &[GroupItem]) -> Catalog {
        Catalog::build(&[dev()], groups, &[], Tz::UTC)
    }

    #[test]
    fn groups_come_in_dependency_order() {
        let c = build(&[
            group("BATCH", &["API"]),
            group("API", &["MW"]),
            group("MW", &["DB"]),
            group("DB", &[]),
        ]);
        let names: Vec<_> = c.schedules[0]
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(names, ["DB", "MW", "API", "BATCH"]);
        assert!(c.errors.is_empty());
    }

    #[test]
    fn a_cycle_rejects_the_schedule_and_names_the_groups() {
        let c = build(&[
            group("A", &["C"]),
            group("B", &["A"]),
            group("C", &["B"]),
            group("D", &[]),
        ]);
        assert!(c.schedules.is_empty());
        let e = c.errors[0].to_string();
        assert!(e.starts_with("schedule \"Dev\": dependency cycle"), "{e}");
        assert!(e.contains("A -> C -> B -> A"), "{e}");
    }

    #[test]
    fn unknown_and_self_dependencies_are_rejected() {
        let c = build(&[group("API", &["Cache"])]);
        assert_eq!(
            c.errors[0].to_string(),
            "schedule \"Dev\": group \"API\" depends on unknown group \"Cache\""
        );
        let c = build(&[group("API", &["API"])]);
        assert!(c.errors[0].problem.contains("depends on itself"));
    }

    #[test]
    fn one_broken_schedule_leaves_the_others() {
        let items = [
            dev(),
            sched(r#"{"ScheduleName":"Bad","StartTime":"25:00"}"#),
            sched(r#"{"ScheduleName":"Zone","TimeZone":"Europe/Nowhere"}"#),
            sched(r#"{"ScheduleName":"Days","DaysActive":"mon,blursday"}"#),
        ];
        let c = Catalog::build(&items, &[], &[], Tz::UTC);
        assert_eq!(c.schedules.len(), 1);
        assert_eq!(c.schedules[0].name, "Dev");
        let names: Vec<_> = c.errors.iter().map(|e| e.schedule.as_str()).collect();
        assert_eq!(names, ["Bad", "Days", "Zone"]);
    }

    #[test]
    fn a_schedule_without_groups_has_one_implicit_group() {
        let c = build(&[]);
        let s = &c.schedules[0];
        assert_eq!(s.groups.len(), 1);
        assert_eq!(s.group_of(None, Kind::Rds), Some(0));
        assert_eq!(s.group_of(Some("anything"), Kind::Ec2), Some(0));
    }

    #[test]
    fn instance_type_filters_group_membership() {
        let mut db = group("DB", &[]);
        db.instance_type = Some("RDS".into());
        let c = build(&[db]);
        let s = &c.schedules[0];
        assert_eq!(s.group_of(Some("DB"), Kind::Aurora), Some(0));
        assert_eq!(s.group_of(Some("DB"), Kind::Ec2), None);
        assert_eq!(s.group_of(None, Kind::Rds), None);
    }

    #[test]
    fn exceptions_are_checked_and_conflicts_rejected() {
        let exc = |date: &str, kind: &str, value: Option<&str>| ExceptionItem {
            exception_uuid: None,
            schedule_name: "Dev".into(),
            exception_date: date.into(),
            exception_type: kind.into(),
            exception_value: value.map(str::to_owned),
        };
        let ok = Catalog::build(
            &[dev()],
            &[],
            &[
                exc("2026-12-25", "start", Some("None")),
                exc("2026-12-24", "STOP", Some("15:00")),
            ],
            Tz::UTC,
        );
        assert_eq!(ok.schedules[0].exceptions.len(), 2);
        for bad in [
            vec![exc("2026-13-01", "start", None)],
            vec![exc("2026-12-01", "pause", None)],
            vec![exc("2026-12-01", "stop", Some("7pm"))],
        ] {
            let c = Catalog::build(&[dev()], &[], &bad, Tz::UTC);
            assert!(c.schedules.is_empty(), "{bad:?}");
            assert_eq!(c.errors[0].schedule, "Dev");
        }
        // Two values for one date and type: that date's stop exceptions are ignored
        // and reported, and the schedule (with its other exceptions) runs on.
        let c = Catalog::build(
            &[dev()],
            &[],
            &[
                exc("2026-12-01", "stop", Some("19:00")),
                exc("2026-12-01", "stop", Some("20:00")),
                exc("2026-12-01", "start", Some("10:00")),
            ],
            Tz::UTC,
        );
        assert!(c.errors.is_empty());
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let s = &c.schedules[0];
        assert_eq!(s.exceptions.len(), 1);
        assert!(s.exceptions.contains_key(&(day, Direction::Start)));
        assert_eq!(
            c.warnings[0].to_string(),
            "schedule \"Dev\": 2 different stop exceptions on 2026-12-01 (19:00, 20:00); they are ignored and the regular stop time applies that day"
        );
    }

    #[test]
    fn shared_tag_values_and_orphans_are_reported() {
        let items = [
            sched(r#"{"ScheduleName":"A","TagValue":"dev"}"#),
            sched(r#"{"ScheduleName":"B","TagValue":"dev"}"#),
            sched(r#"{"ScheduleName":"C"}"#),
        ];
        let orphan = GroupItem {
            schedule_name: "Ghost".into(),
            ..group("G", &[])
        };
        let c = Catalog::build(&items, &[orphan], &[], Tz::UTC);
        assert_eq!(c.schedules.len(), 1);
        let names: Vec<_> = c.errors.iter().map(|e| e.schedule.as_str()).collect();
        assert_eq!(names, ["A", "B", "Ghost"]);
    }

    #[test]
    fn membership_is_one_rule_gone_and_strangers_are_out() {
        let c = build(&[group("API", &[])]);
        let s = &c.schedules[0];
        let instance = |id: &str, schedule: &str, group: &str, power: Power| {
            let tags = [(SCHEDULE_TAG, schedule), (GROUP_TAG, group)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Instance::new(id, Kind::Ec2, tags, power)
        };
        let fleet = [
            instance("up", "Dev", "API", Power::Running),
            instance("terminated", "Dev", "API", Power::Gone),
            instance("other", "Prod", "API", Power::Running),
            instance("typo", "Dev", "APi", Power::Running),
        ];
        let members = s.members(fleet.iter());
        let ids: Vec<&str> = members[0].iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["up"]);
    }

    #[test]
    fn today_is_the_date_in_the_schedules_zone() {
        let c = Catalog::build(&[dev()], &[], &[], chrono_tz::Asia::Seoul);
        let late = DateTime::parse_from_rfc3339("2026-11-30T20:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            c.schedules[0].today(late),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
    }

    #[test]
    fn tag_patterns_read_as_iam_string_like() {
        let p = TagPatterns::parse("dev-*, staging,q?a").unwrap();
        assert!(p.allows("dev-api") && p.allows("dev-") && p.allows("staging"));
        assert!(!p.allows("qa") && p.allows("q1a"));
        assert!(!p.allows("prod") && !p.allows("staging-2") && !p.allows("Dev-api"));
        assert!(TagPatterns::default().allows("anything"));
        assert!(TagPatterns::parse(" , ").is_err());
    }

    #[test]
    fn a_schedule_outside_the_allowed_tag_values_is_refused_by_name() {
        let mut c = Catalog::build(
            &[dev(), sched(r#"{"ScheduleName":"Prod","TagValue":"prod"}"#)],
            &[],
            &[],
            Tz::UTC,
        );
        c.restrict(&TagPatterns::parse("Dev,dev-*").unwrap());
        assert_eq!(c.schedules.len(), 1);
        assert_eq!(
            c.errors[0].to_string(),
            "schedule \"Prod\": TagValue \"prod\" is not one this deployment may act on (allowed: Dev, dev-*)"
        );
    }

    #[test]
    fn time_zone_defaults_to_the_configured_one() {
        let c = Catalog::build(&[dev()], &[], &[], chrono_tz::Asia::Seoul);
        assert_eq!(c.schedules[0].tz, chrono_tz::Asia::Seoul);
    }
}
