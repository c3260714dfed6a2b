//! The three DynamoDB item shapes of the original tool, read exactly as stored.
//!
//! Values are kept as loosely typed as the original tables allow (a flag may be a
//! boolean or the string `"true"`, a dependency list may be a list, a string set or
//! a comma-separated string) and are checked later, when a [`Catalog`](super::Catalog)
//! is built, so that one malformed item names its schedule instead of failing a scan.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Deserializer, Serialize};

use crate::fleet::Direction;

/// A row of the `Schedule` table.
///
/// Its `Default` is what an item holding only `ScheduleName` reads as (enabled,
/// everything else absent), so callers can write `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleItem {
    /// The schedule's name, its key in every table.
    pub schedule_name: String,
    /// The value of the `ScheduleName` tag that makes an instance part of the
    /// schedule; the schedule's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
    /// `all`, `weekdays`, `weekends`, a list such as `mon,wed,fri`, a range such as
    /// `mon-fri`, `mon#2` (the second Monday of the month), `friL` (the last Friday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_active: Option<String>,
    /// Whether the schedule acts at its times at all (force-start ignores it).
    #[serde(default = "yes", deserialize_with = "flag")]
    pub enabled: bool,
    /// `HH:MM`, or `None` for no start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `HH:MM`, or `None` for no stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_time: Option<String>,
    /// Start everything now, in dependency order; cleared by the scheduler when done.
    #[serde(default, deserialize_with = "flag")]
    pub force_start: bool,
    /// IANA time zone of the times; the configured default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// `at` (the default): the start begins at `StartTime`; `ready-by`: every group
    /// is to be up by `StartTime`, so the start begins early enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_mode: Option<String>,
    /// Days of the month: `1`, `1-15`, `1,15`, `L` (the last), `15W` (the weekday
    /// nearest the 15th), `1/7` (every 7 days from the 1st).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_days: Option<String>,
    /// Months: `jan`, `jan-mar`, `1-3`, `dec,jan`, `1/3` (every 3 months from January).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<String>,
    /// Several periods, each with its own days and times; when present, the
    /// schedule's own `DaysActive`, `MonthDays`, `Months`, `StartTime` and `StopTime`
    /// must be absent. In DynamoDB a list of maps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periods: Option<Vec<PeriodItem>>,
    /// Bring every resource back to the state of the schedule's last transition at
    /// every run, undoing starts and stops made by hand; off when absent.
    #[serde(default, deserialize_with = "flag", skip_serializing_if = "is_false")]
    pub enforced: bool,
    /// SSM maintenance windows (names or ids): the resources are up, in dependency
    /// order, while each is open. A list, or one comma-separated string.
    #[serde(
        default,
        deserialize_with = "names",
        skip_serializing_if = "Option::is_none"
    )]
    pub maintenance_windows: Option<Vec<String>>,
}

/// A list of names, or the same as one comma-separated string.
fn names<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Text(String),
    }
    let list = match Option::<Names>::deserialize(de)? {
        None => return Ok(None),
        Some(Names::List(l)) => l,
        Some(Names::Text(t)) => t.split(',').map(str::to_string).collect(),
    };
    let list: Vec<String> = list
        .into_iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    Ok((!list.is_empty()).then_some(list))
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for ScheduleItem {
    fn default() -> Self {
        ScheduleItem {
            schedule_name: String::new(),
            tag_value: None,
            days_active: None,
            enabled: true,
            start_time: None,
            stop_time: None,
            force_start: false,
            time_zone: None,
            start_mode: None,
            month_days: None,
            months: None,
            periods: None,
            enforced: false,
            maintenance_windows: None,
        }
    }
}

/// One entry of a schedule's `Periods`: the day and time fields of a schedule, with
/// the same meanings and defaults. Unknown fields are errors, so a typo in a period
/// never passes silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PeriodItem {
    /// As the schedule's `DaysActive`; every day when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_active: Option<String>,
    /// As the schedule's `MonthDays`; every day of the month when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_days: Option<String>,
    /// As the schedule's `Months`; every month when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<String>,
    /// `HH:MM`, or `None` for no start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// `HH:MM`, or `None` for no stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_time: Option<String>,
}

/// A row of the `ScheduleServerGroup` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupItem {
    /// The schedule the group belongs to.
    pub schedule_name: String,
    /// Matches the `ScheduleGroupName` tag of the group's instances.
    pub group_name: String,
    /// `EC2` or `RDS` (DB instances and Aurora clusters); every kind when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Groups of the same schedule that must be ready before this one starts.
    #[serde(
        default,
        deserialize_with = "name_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dependency: Vec<String>,
    /// Hibernate the group's EC2 instances configured for it instead of stopping them.
    #[serde(
        default,
        deserialize_with = "flag",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub hibernate: bool,
    /// The group may have no resources: its dependents start without it. Without
    /// it, an empty group holds its dependents back (and is reported), since "nothing
    /// tagged" is more often a mistake than a plan.
    #[serde(
        default,
        deserialize_with = "flag",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub optional: bool,
}

/// A row of the `ScheduleException` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExceptionItem {
    /// The table's key in the original design; not used for scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_uuid: Option<String>,
    /// The schedule the exception changes.
    pub schedule_name: String,
    /// `YYYY-MM-DD` in the schedule's time zone.
    pub exception_date: String,
    /// `start` or `stop`.
    pub exception_type: String,
    /// `HH:MM`, or `None` for "do not act that day".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_value: Option<String>,
}

impl ExceptionItem {
    /// The exception of `schedule` on `date` for `direction`, at `value` (`None`: not
    /// that day), keyed as the tools key what they write ([`ExceptionItem::derived_uuid`]).
    pub fn new(
        schedule: &str,
        date: NaiveDate,
        direction: Direction,
        value: Option<NaiveTime>,
    ) -> ExceptionItem {
        let mut item = ExceptionItem {
            exception_uuid: None,
            schedule_name: schedule.to_string(),
            exception_date: date.to_string(),
            exception_type: direction.to_string(),
            exception_value: Some(ExceptionItem::time_text(value)),
        };
        item.exception_uuid = Some(item.derived_uuid());
        item
    }

    /// The date and direction the exception is about, read as the catalog reads them
    /// (surrounding spaces ignored, the type in any case); `None` when either does not
    /// read, which the catalog reports under its schedule. Two items with the same
    /// schedule and key are the same exception, whatever their uuids.
    pub fn key(&self) -> Option<(NaiveDate, Direction)> {
        let date = super::parse::date(&self.exception_date).ok()?;
        let direction = self.exception_type.parse().ok()?;
        Some((date, direction))
    }

    /// Whether this is the exception of `schedule` on `date` for `direction`.
    pub fn is(&self, schedule: &str, date: NaiveDate, direction: Direction) -> bool {
        self.schedule_name == schedule && self.key() == Some((date, direction))
    }

    /// Its date and type as text: canonical (`2026-12-24`, `stop`) when they read,
    /// otherwise as stored, trimmed, the type in lower case. What tells two items
    /// apart and names them, even a broken one.
    pub fn key_text(&self) -> (String, String) {
        match self.key() {
            Some((date, direction)) => (date.to_string(), direction.to_string()),
            None => (
                self.exception_date.trim().to_string(),
                self.exception_type.trim().to_ascii_lowercase(),
            ),
        }
    }

    /// Its value as text: `HH:MM` (`9:30` read as `09:30`), or `None` for an absent,
    /// empty or `none` value; a value that does not read is shown as stored, trimmed.
    pub fn value_text(&self) -> String {
        match super::parse::time_of_day(self.exception_value.as_deref(), "ExceptionValue") {
            Ok(value) => ExceptionItem::time_text(value),
            Err(_) => self
                .exception_value
                .as_deref()
                .map_or_else(String::new, |v| v.trim().to_string()),
        }
    }

    /// `HH:MM`, or `None` for no time: how a time of day is written everywhere, in
    /// the tables, the files, the answers and the messages.
    pub fn time_text(value: Option<NaiveTime>) -> String {
        value.map_or_else(|| "None".to_string(), |t| t.format("%H:%M").to_string())
    }

    /// The key the tools give an exception they write, `schedule:date:type`: derived
    /// from what it is about, so that two people adding the same exception at once
    /// collide on it instead of adding two, and writing the same files twice changes
    /// nothing.
    pub fn derived_uuid(&self) -> String {
        let (date, kind) = self.key_text();
        format!("{}:{date}:{kind}", self.schedule_name)
    }
}

fn yes() -> bool {
    true
}

/// Accepts a boolean, or the strings `true`/`false` (any case) that hand-edited
/// tables tend to hold.
fn flag<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    match Flag::deserialize(de)? {
        Flag::Other(_) => Err(serde::de::Error::custom(
            "expected true or false (a boolean or a string)",
        )),
        Flag::Bool(b) => Ok(b),
        Flag::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" | "" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected true or false, found \"{other}\""
            ))),
        },
    }
}

/// Accepts a list (or DynamoDB string set) of names, or one comma-separated string.
fn name_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Text(String),
        Nothing(()),
        Other(serde::de::IgnoredAny),
    }
    let names = match Names::deserialize(de)? {
        Names::Other(_) => {
            return Err(serde::de::Error::custom(
                "expected a list of group names, a string set or a comma-separated string",
            ));
        }
        Names::List(list) => list,
        Names::Text(s) => s.split(',').map(str::to_owned).collect(),
        Names::Nothing(()) => Vec::new(),
    };
    Ok(names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_item_shapes_load_unchanged() {
        let s: ScheduleItem = serde_json::from_str(
            r#"{"ScheduleName":"Development","TagValue":"Development","DaysActive":"weekdays","Enabled":true,"StartTime":"09:30","StopTime":"22:00","ForceStart":false}"#,
        )
        .unwrap();
        assert_eq!(s.schedule_name, "Development");
        assert_eq!(s.start_time.as_deref(), Some("09:30"));
        assert!(s.enabled && !s.force_start);

        let g: GroupItem = serde_json::from_str(
            r#"{"ScheduleName":"Development","GroupName":"GROUP5","InstanceType":"EC2","Dependency":["GROUP1","GROUP2"]}"#,
        )
        .unwrap();
        assert_eq!(g.dependency, ["GROUP1", "GROUP2"]);

        let e: ExceptionItem = serde_json::from_str(
            r#"{"ExceptionUuid":"414faf09-0000","ScheduleName":"Development","ExceptionDate":"2017-07-10","ExceptionType":"stop","ExceptionValue":"21:00"}"#,
        )
        .unwrap();
        assert_eq!(e.exception_value.as_deref(), Some("21:00"));
    }

    #[test]
    fn flags_and_dependencies_accept_hand_edited_forms() {
        let s: ScheduleItem =
            serde_json::from_str(r#"{"ScheduleName":"A","Enabled":"False","ForceStart":"TRUE"}"#)
                .unwrap();
        assert!(!s.enabled && s.force_start);
        let g: GroupItem =
            serde_json::from_str(r#"{"ScheduleName":"A","GroupName":"G","Dependency":"DB, MW"}"#)
                .unwrap();
        assert_eq!(g.dependency, ["DB", "MW"]);
        let g: GroupItem =
            serde_json::from_str(r#"{"ScheduleName":"A","GroupName":"G","Dependency":null}"#)
                .unwrap();
        assert!(g.dependency.is_empty());
    }

    #[test]
    fn periods_are_a_list_of_maps_and_typos_in_them_are_named() {
        let s: ScheduleItem = serde_json::from_str(
            r#"{"ScheduleName":"A","Periods":[{"DaysActive":"mon","StartTime":"08:00","StopTime":"None"},{"DaysActive":"fri","MonthDays":"L","Months":"dec","StopTime":"20:00"}]}"#,
        )
        .unwrap();
        let periods = s.periods.as_deref().unwrap();
        assert_eq!(periods.len(), 2);
        assert_eq!(periods[1].month_days.as_deref(), Some("L"));
        let back: ScheduleItem = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let r: Result<ScheduleItem, _> =
            serde_json::from_str(r#"{"ScheduleName":"A","Periods":[{"StartTme":"08:00"}]}"#);
        assert!(r.unwrap_err().to_string().contains("StartTme"));
    }

    #[test]
    fn the_default_item_is_an_item_with_only_a_name() {
        let read: ScheduleItem = serde_json::from_str(r#"{"ScheduleName":""}"#).unwrap();
        assert_eq!(read, ScheduleItem::default());
    }

    #[test]
    fn an_exception_is_known_by_its_read_date_and_type_whatever_its_spelling() {
        let item = |date: &str, kind: &str, value: Option<&str>| ExceptionItem {
            exception_uuid: Some("414faf09-0000".into()),
            schedule_name: "Dev".into(),
            exception_date: date.into(),
            exception_type: kind.into(),
            exception_value: value.map(str::to_string),
        };
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        let hand_edited = item(" 2026-12-25 ", " STOP", Some(" 9:30 "));
        assert_eq!(hand_edited.key(), Some((christmas, Direction::Stop)));
        assert!(hand_edited.is("Dev", christmas, Direction::Stop));
        assert!(!hand_edited.is("Dev", christmas, Direction::Start));
        assert!(!hand_edited.is("Prod", christmas, Direction::Stop));
        assert_eq!(
            hand_edited.key_text(),
            ("2026-12-25".to_string(), "stop".to_string())
        );
        assert_eq!(hand_edited.value_text(), "09:30");
        assert_eq!(hand_edited.derived_uuid(), "Dev:2026-12-25:stop");
        for none in [None, Some(""), Some("none"), Some(" None ")] {
            assert_eq!(item("2026-12-25", "start", none).value_text(), "None");
        }
        // A broken item has no key, and is still told apart and shown as stored.
        let broken = item("Christmas", "Reboot", Some("6pm"));
        assert_eq!(broken.key(), None);
        assert!(!broken.is("Dev", christmas, Direction::Stop));
        assert_eq!(
            broken.key_text(),
            ("Christmas".to_string(), "reboot".to_string())
        );
        assert_eq!(broken.value_text(), "6pm");
    }

    #[test]
    fn a_new_exception_is_written_as_the_tools_write_it() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let e = ExceptionItem::new("Dev", date, Direction::Start, None);
        assert_eq!(e.exception_uuid.as_deref(), Some("Dev:2026-12-24:start"));
        assert_eq!(
            (e.exception_date.as_str(), e.exception_type.as_str()),
            ("2026-12-24", "start")
        );
        assert_eq!(e.exception_value.as_deref(), Some("None"));
        let later = NaiveTime::from_hms_opt(23, 5, 0);
        let e = ExceptionItem::new("Dev", date, Direction::Stop, later);
        assert_eq!(e.exception_value.as_deref(), Some("23:05"));
        assert_eq!(ExceptionItem::time_text(later), "23:05");
    }

    #[test]
    fn a_flag_that_is_not_a_boolean_is_an_error() {
        let r: Result<ScheduleItem, _> =
            serde_json::from_str(r#"{"ScheduleName":"A","Enabled":"maybe"}"#);
        assert!(r.unwrap_err().to_string().contains("maybe"));
    }
}
