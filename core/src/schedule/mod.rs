//! The schedule model: the stored items, the validated types the planner uses, and
//! the step between them that rejects a broken schedule with an error naming it.

pub mod absent;
mod days;
pub mod file;
mod items;
mod parse;
mod period;
pub mod window;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use days::{Days, MonthDays, Months};
pub use items::{ExceptionItem, GroupItem, PeriodItem, ScheduleItem};
pub use parse::{date as parse_date, time_of_day as parse_time, time_zone as parse_time_zone};
pub use period::Period;

use crate::fleet::{Direction, Instance, Kind, Power};
use parse::in_schedule;
use period::PeriodText;

/// Tag key that puts an instance into a schedule (value: the schedule's `TagValue`).
pub const SCHEDULE_TAG: &str = "ScheduleName";
/// Tag key that puts an instance into a server group (value: the group's name).
pub const GROUP_TAG: &str = "ScheduleGroupName";
/// Tag key that keeps a resource out of every schedule when its value is `true`
/// (any case): the scheduler refuses it and reports it, and the IAM policy denies
/// acting on it.
pub const PROTECTION_TAG: &str = "SchedulerProtected";

/// Whether a resource with these tags is protected by [`PROTECTION_TAG`]: its key in
/// any case (`schedulerprotected`), as IAM's condition keys read it, and the value
/// `true` in any case.
pub fn protected(tags: &BTreeMap<String, String>) -> bool {
    tags.iter().any(|(k, v)| {
        k.trim().eq_ignore_ascii_case(PROTECTION_TAG) && v.trim().eq_ignore_ascii_case("true")
    })
}

/// The Auto Scaling group an EC2 instance belongs to, by the tag AWS puts on it.
pub fn auto_scaled(i: &Instance) -> Option<&str> {
    if i.kind != Kind::Ec2 {
        return None;
    }
    i.tags.get("aws:autoscaling:groupName").map(String::as_str)
}

/// The `ScheduleName` tag values a deployment may act on: values, or patterns with
/// `*` (any run of characters) and `?` (one character), as IAM's `StringLike` reads
/// them. The same list goes into the IAM condition and here, so the planner refuses
/// what IAM would refuse, and says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPatterns(Vec<String>);

impl Default for TagPatterns {
    fn default() -> Self {
        TagPatterns(vec!["*".into()])
    }
}

impl TagPatterns {
    /// Comma-separated patterns.
    pub fn parse(text: &str) -> Result<TagPatterns, String> {
        let list: Vec<String> = text
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if list.is_empty() {
            return Err("no tag value or pattern given (\"*\" allows every value)".into());
        }
        Ok(TagPatterns(list))
    }

    /// Whether a resource tagged `value` may be acted on.
    pub fn allows(&self, value: &str) -> bool {
        self.0.iter().any(|p| glob(p.as_bytes(), value.as_bytes()))
    }
}

impl std::fmt::Display for TagPatterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// `*` and `?` matching, iteratively with one backtrack point (linear in practice).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}
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
            || protected(&i.tags)
            || auto_scaled(i).is_some()
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
        self.schedules.iter().find(|s| s.name == name)
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
        Kind::ALL
            .into_iter()
            .filter(|k| {
                self.schedules
                    .iter()
                    .any(|s| s.groups.iter().any(|g| g.kind.admits(*k)))
            })
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

/// The validated schedule, with the problems in it that were ignored.
fn build_schedule(
    item: &ScheduleItem,
    groups: &[&GroupItem],
    exceptions: &[&ExceptionItem],
    default_tz: Tz,
) -> Result<(Schedule, Vec<String>), ScheduleError> {
    let name = item.schedule_name.trim();
    let err = in_schedule(&item.schedule_name);
    if name.is_empty() {
        return Err(ScheduleError::new("", "ScheduleName is empty"));
    }
    let own = Period::parse(
        "",
        PeriodText {
            days_active: item.days_active.as_deref(),
            month_days: item.month_days.as_deref(),
            months: item.months.as_deref(),
            start_time: item.start_time.as_deref(),
            stop_time: item.stop_time.as_deref(),
        },
    )
    .map_err(&err)?;
    let periods = periods_of(item).map_err(&err)?;
    let tz = match &item.time_zone {
        Some(z) if !z.trim().is_empty() => parse::time_zone(z).map_err(&err)?,
        _ => default_tz,
    };
    let tag_value = match item.tag_value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => item.schedule_name.clone(),
    };
    let (exceptions, ignored) = collect_exceptions(exceptions).map_err(&err)?;
    let schedule = Schedule {
        name: item.schedule_name.clone(),
        tag_value,
        days: match periods.split_first() {
            Some((first, rest)) => rest.iter().fold(first.days, |all, p| all.union(p.days)),
            None => own.days,
        },
        enabled: item.enabled,
        start: own.start,
        stop: own.stop,
        month_days: own.month_days,
        months: own.months,
        periods,
        force_start: item.force_start,
        enforced: item.enforced,
        maintenance_windows: item.maintenance_windows.clone().unwrap_or_default(),
        windows: Vec::new(),
        tz,
        start_mode: StartMode::parse(item.start_mode.as_deref()).map_err(&err)?,
        implicit_group: groups.is_empty(),
        groups: order_groups(groups).map_err(&err)?,
        exceptions,
        digest: String::new(),
    };
    Ok((schedule, ignored))
}

/// The entries of `Periods`, checked; empty without `Periods`. With them, the
/// schedule's own day and time fields must be absent, so that no field is silently
/// ignored.
fn periods_of(item: &ScheduleItem) -> Result<Vec<Period>, String> {
    let Some(list) = &item.periods else {
        return Ok(Vec::new());
    };
    let own: Vec<&str> = [
        ("DaysActive", &item.days_active),
        ("MonthDays", &item.month_days),
        ("Months", &item.months),
        ("StartTime", &item.start_time),
        ("StopTime", &item.stop_time),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(name, _)| name)
    .collect();
    if let Some((last, rest)) = own.split_last() {
        let names = if rest.is_empty() {
            last.to_string()
        } else {
            format!("{} and {last}", rest.join(", "))
        };
        let verb = if rest.is_empty() { "is" } else { "are" };
        return Err(format!(
            "{names} {verb} given beside Periods: with Periods, each period has its own day and time fields and the schedule has none (move them into the periods)"
        ));
    }
    if list.is_empty() {
        return Err("Periods is empty: give at least one period, or remove Periods to use the schedule's own DaysActive, StartTime and StopTime".into());
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            Period::parse(
                &format!("Periods[{}]", i + 1),
                PeriodText {
                    days_active: p.days_active.as_deref(),
                    month_days: p.month_days.as_deref(),
                    months: p.months.as_deref(),
                    start_time: p.start_time.as_deref(),
                    stop_time: p.stop_time.as_deref(),
                },
            )
        })
        .collect()
}

/// Validates the group graph and returns the groups in dependency order (Kahn's
/// algorithm, ties broken by name so the order is stable).
fn order_groups(items: &[&GroupItem]) -> Result<Vec<ServerGroup>, String> {
    if items.is_empty() {
        return Ok(vec![ServerGroup {
            name: DEFAULT_GROUP.into(),
            kind: KindFilter::Any,
            depends_on: Vec::new(),
            hibernate: false,
            optional: true,
        }]);
    }
    let mut groups: BTreeMap<&str, ServerGroup> = BTreeMap::new();
    for item in items {
        let name = item.group_name.trim();
        if name.is_empty() {
            return Err("a server group has an empty GroupName".into());
        }
        let kind = match item.instance_type.as_deref().map(str::trim) {
            None | Some("") => KindFilter::Any,
            Some(t) if t.eq_ignore_ascii_case("ec2") => KindFilter::Ec2,
            Some(t) if t.eq_ignore_ascii_case("rds") || t.eq_ignore_ascii_case("aurora") => {
                KindFilter::Rds
            }
            Some(t) if t.eq_ignore_ascii_case("asg") => KindFilter::Asg,
            Some(t) if t.eq_ignore_ascii_case("ecs") => KindFilter::Ecs,
            Some(t) if t.eq_ignore_ascii_case("eks") => KindFilter::Eks,
            Some(t) => {
                return Err(format!(
                    "group \"{name}\" has InstanceType \"{t}\" (expected EC2, RDS, ASG, ECS or EKS)"
                ));
            }
        };
        let mut depends_on = item.dependency.clone();
        depends_on.sort();
        depends_on.dedup();
        let group = ServerGroup {
            name: name.to_owned(),
            kind,
            depends_on,
            hibernate: item.hibernate,
            optional: item.optional,
        };
        if groups.insert(name, group).is_some() {
            return Err(format!("group \"{name}\" is defined more than once"));
        }
    }
    for g in groups.values() {
        for d in &g.depends_on {
            if d == &g.name {
                return Err(format!("group \"{}\" depends on itself", g.name));
            }
            if !groups.contains_key(d.as_str()) {
                return Err(format!(
                    "group \"{}\" depends on unknown group \"{d}\"",
                    g.name
                ));
            }
        }
    }
    let mut ordered: Vec<ServerGroup> = Vec::with_capacity(groups.len());
    let mut placed: BTreeSet<String> = BTreeSet::new();
    while ordered.len() < groups.len() {
        let ready: Vec<&str> = groups
            .iter()
            .filter(|(n, g)| {
                !placed.contains(**n) && g.depends_on.iter().all(|d| placed.contains(d))
            })
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            let stuck: Vec<&str> = groups
                .keys()
                .copied()
                .filter(|n| !placed.contains(*n))
                .collect();
            return Err(format!(
                "dependency cycle among groups {}",
                cycle_in(&groups, &stuck).join(" -> ")
            ));
        }
        for n in ready {
            placed.insert(n.to_owned());
            ordered.push(groups[n].clone());
        }
    }
    Ok(ordered)
}

/// One cycle among `stuck` (groups none of which could be ordered), for the error.
fn cycle_in(groups: &BTreeMap<&str, ServerGroup>, stuck: &[&str]) -> Vec<String> {
    // Every stuck group has a stuck dependency, so walking them must revisit one.
    let mut path: Vec<&str> = vec![stuck[0]];
    loop {
        let here = path[path.len() - 1];
        let Some(next) = groups[here]
            .depends_on
            .iter()
            .find(|d| stuck.contains(&d.as_str()))
        else {
            return stuck.iter().map(|s| s.to_string()).collect();
        };
        if let Some(at) = path.iter().position(|p| *p == next) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(next.clone());
            return cycle;
        }
        path.push(next);
    }
}

/// The exceptions by date and direction, and what was ignored. Two different
/// values for the same date and direction cannot both hold: that date's exceptions
/// of that direction are ignored (the regular time applies) and reported, and the
/// rest of the schedule runs on.
fn collect_exceptions(items: &[&ExceptionItem]) -> Result<(Exceptions, Vec<String>), String> {
    let mut values: BTreeMap<(NaiveDate, Direction), BTreeSet<Option<NaiveTime>>> = BTreeMap::new();
    for e in items {
        let day = parse::date(&e.exception_date)?;
        let direction = match e.exception_type.trim().to_ascii_lowercase().as_str() {
            "start" => Direction::Start,
            "stop" => Direction::Stop,
            other => {
                return Err(format!(
                    "exception on {day} has ExceptionType \"{other}\" (expected start or stop)"
                ));
            }
        };
        let value = parse::time_of_day(e.exception_value.as_deref(), "ExceptionValue")
            .map_err(|p| format!("exception on {day} ({direction}): {p}"))?;
        values.entry((day, direction)).or_default().insert(value);
    }
    let mut out = BTreeMap::new();
    let mut ignored = Vec::new();
    for ((day, direction), set) in values {
        if set.len() == 1 {
            out.extend(set.into_iter().map(|v| ((day, direction), v)));
        } else {
            let shown: Vec<String> = set.into_iter().map(show).collect();
            ignored.push(format!(
                "{} different {direction} exceptions on {day} ({}); they are ignored and the regular {direction} time applies that day",
                shown.len(),
                shown.join(", ")
            ));
        }
    }
    Ok((out, ignored))
}

fn show(t: Option<NaiveTime>) -> String {
    t.map_or("None".into(), |t| t.format("%H:%M").to_string())
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
