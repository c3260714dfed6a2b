//! Schedule files: one JSON file per schedule, holding the schedule item's fields
//! plus `Groups` (group items without `ScheduleName`) and `Exceptions` (exception
//! items without `ScheduleName` and `ExceptionUuid`). Reading a folder of them is the
//! shell's business; the format is the core's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ExceptionItem, GroupItem, Items, ScheduleItem};

/// A group as written in a schedule file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FileGroup {
    /// See [`GroupItem::group_name`].
    pub group_name: String,
    /// See [`GroupItem::instance_type`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// See [`GroupItem::dependency`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependency: Vec<String>,
    /// See [`GroupItem::hibernate`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernate: bool,
    /// See [`GroupItem::optional`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// An exception as written in a schedule file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FileException {
    /// See [`ExceptionItem::exception_date`].
    pub exception_date: String,
    /// See [`ExceptionItem::exception_type`].
    pub exception_type: String,
    /// See [`ExceptionItem::exception_value`]; JSON `null` is `None`.
    #[serde(default)]
    pub exception_value: Option<String>,
}

const SCHEDULE_FIELDS: [&str; 14] = [
    "ScheduleName",
    "TagValue",
    "DaysActive",
    "Enabled",
    "StartTime",
    "StopTime",
    "ForceStart",
    "TimeZone",
    "StartMode",
    "MonthDays",
    "Months",
    "Periods",
    "Enforced",
    "MaintenanceWindows",
];

/// Parses one schedule file's text into `items`; on error, returns the schedule's
/// name if it could be read, and what is wrong.
pub fn parse_into(text: &str, items: &mut Items) -> Result<(), (Option<String>, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (None, format!("not valid JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err((None, "expected a JSON object".into()));
    };
    let name = fields
        .get("ScheduleName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let fail = |problem: String| (name.clone(), problem);
    let groups = fields.remove("Groups").unwrap_or(Value::Array(Vec::new()));
    let exceptions = fields
        .remove("Exceptions")
        .unwrap_or(Value::Array(Vec::new()));
    if let Some(unknown) = fields
        .keys()
        .find(|k| !SCHEDULE_FIELDS.contains(&k.as_str()))
    {
        return Err(fail(format!(
            "unknown field \"{unknown}\" (expected {}, Groups, Exceptions)",
            SCHEDULE_FIELDS.join(", ")
        )));
    }
    let periods = fields.remove("Periods");
    let mut schedule: ScheduleItem =
        serde_json::from_value(Value::Object(fields)).map_err(|e| fail(e.to_string()))?;
    // Read each period on its own, so that a typo names the period it is in.
    schedule.periods = match periods {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.into_iter()
                .enumerate()
                .map(|(i, p)| {
                    serde_json::from_value(p).map_err(|e| fail(format!("Periods[{}]: {e}", i + 1)))
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err(fail("Periods: expected a list of periods".into())),
    };
    let groups: Vec<FileGroup> =
        serde_json::from_value(groups).map_err(|e| fail(format!("Groups: {e}")))?;
    let exceptions: Vec<FileException> =
        serde_json::from_value(exceptions).map_err(|e| fail(format!("Exceptions: {e}")))?;
    let schedule_name = schedule.schedule_name.clone();
    items.groups.extend(groups.into_iter().map(|g| GroupItem {
        schedule_name: schedule_name.clone(),
        group_name: g.group_name,
        instance_type: g.instance_type,
        dependency: g.dependency,
        hibernate: g.hibernate,
        optional: g.optional,
    }));
    items
        .exceptions
        .extend(exceptions.into_iter().map(|e| ExceptionItem {
            exception_uuid: None,
            schedule_name: schedule_name.clone(),
            exception_date: e.exception_date,
            exception_type: e.exception_type,
            exception_value: e.exception_value,
        }));
    items.schedules.push(schedule);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_becomes_the_three_item_kinds() {
        let mut items = Items::default();
        parse_into(
            r#"{"ScheduleName":"Dev","StartTime":"09:00","StopTime":"18:00",
                "Groups":[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"API","Dependency":["DB"]}],
                "Exceptions":[{"ExceptionDate":"2026-12-25","ExceptionType":"start","ExceptionValue":null}]}"#,
            &mut items,
        )
        .unwrap();
        assert_eq!(items.schedules.len(), 1);
        assert_eq!(items.groups[1].dependency, ["DB"]);
        assert_eq!(items.groups[1].schedule_name, "Dev");
        assert_eq!(items.exceptions[0].exception_value, None);
    }

    #[test]
    fn month_days_months_and_periods_are_schedule_fields() {
        let mut items = Items::default();
        parse_into(
            r#"{"ScheduleName":"Patch","DaysActive":"tue#2","MonthDays":"8-14","Months":"jan-jun","StartTime":"20:00","StopTime":"23:00"}"#,
            &mut items,
        )
        .unwrap();
        parse_into(
            r#"{"ScheduleName":"Weekend","Periods":[{"DaysActive":"mon","StartTime":"08:00","StopTime":"None"},{"DaysActive":"fri","StopTime":"20:00"}]}"#,
            &mut items,
        )
        .unwrap();
        assert_eq!(items.schedules[0].month_days.as_deref(), Some("8-14"));
        assert_eq!(items.schedules[0].months.as_deref(), Some("jan-jun"));
        let periods = items.schedules[1].periods.as_deref().unwrap();
        assert_eq!(periods[1].stop_time.as_deref(), Some("20:00"));
        let err = parse_into(
            r#"{"ScheduleName":"Typo","Periods":[{"DaysActive":"mon","StopTme":"20:00"}]}"#,
            &mut items,
        )
        .unwrap_err();
        assert_eq!(err.0.as_deref(), Some("Typo"));
        assert!(
            err.1.starts_with("Periods[1]: unknown field `StopTme`"),
            "{}",
            err.1
        );
        let err = parse_into(r#"{"ScheduleName":"P","Periods":"mon"}"#, &mut items).unwrap_err();
        assert_eq!(err.1, "Periods: expected a list of periods");
    }

    #[test]
    fn typos_are_named() {
        let mut items = Items::default();
        let err =
            parse_into(r#"{"ScheduleName":"Dev","StartTme":"09:00"}"#, &mut items).unwrap_err();
        assert_eq!(err.0.as_deref(), Some("Dev"));
        assert!(err.1.contains("\"StartTme\""), "{}", err.1);
        let err = parse_into(
            r#"{"ScheduleName":"Dev","Groups":[{"Name":"x"}]}"#,
            &mut items,
        )
        .unwrap_err();
        assert!(err.1.starts_with("Groups:"), "{}", err.1);
        assert!(parse_into("[1]", &mut items).is_err());
        assert!(parse_into("{", &mut items).is_err());
        assert!(items.schedules.is_empty());
    }
}
