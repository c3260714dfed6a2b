//! A period: the days a schedule is active on, and its start and stop times. A
//! schedule without `Periods` has one, made of its own fields; one with `Periods` has
//! one per entry.

use chrono::{NaiveDate, NaiveTime};
use serde::Serialize;

use super::days::{Days, MonthDays, Months};
use super::parse;

/// One period of a schedule. A date is active when it matches `days`, and
/// `month_days` and `months` when they are given. The period begins on an active
/// date at `start` and ends at the next `stop`: the same date, or the next one when
/// `stop` ≤ `start` (it crosses midnight). See [`crate::calendar`] for every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `DaysActive`: which weekdays (every one, or the nth or last of the month).
    pub days: Days,
    /// `MonthDays`, when given.
    pub month_days: Option<MonthDays>,
    /// `Months`, when given.
    pub months: Option<Months>,
    /// Local start time, or none.
    pub start: Option<NaiveTime>,
    /// Local stop time, or none.
    pub stop: Option<NaiveTime>,
}

/// A period's fields as written, before they are checked.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PeriodText<'a> {
    pub days_active: Option<&'a str>,
    pub month_days: Option<&'a str>,
    pub months: Option<&'a str>,
    pub start_time: Option<&'a str>,
    pub stop_time: Option<&'a str>,
}

impl Period {
    /// Checks a period's fields. `at` names the period in errors: empty for the
    /// schedule's own fields, `Periods[2]` for the second entry of `Periods`.
    pub(crate) fn parse(at: &str, text: PeriodText<'_>) -> Result<Period, String> {
        let within = |e: String| {
            if at.is_empty() {
                e
            } else if e.starts_with(|c: char| c.is_ascii_uppercase()) {
                // The message begins with the field's name: make it the field's path.
                format!("{at}.{e}")
            } else {
                format!("{at}: {e}")
            }
        };
        let field = |name: &str| {
            if at.is_empty() {
                name.to_string()
            } else {
                format!("{at}.{name}")
            }
        };
        Ok(Period {
            days: Days::parse(text.days_active.unwrap_or("all")).map_err(within)?,
            month_days: text
                .month_days
                .map(MonthDays::parse)
                .transpose()
                .map_err(within)?,
            months: text.months.map(Months::parse).transpose().map_err(within)?,
            start: parse::time_of_day(text.start_time, &field("StartTime"))?,
            stop: parse::time_of_day(text.stop_time, &field("StopTime"))?,
        })
    }

    /// Whether the period is active on `date` (begins on it, if it has a start).
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.days.matches(date)
            && self.month_days.is_none_or(|d| d.matches(date))
            && self.months.is_none_or(|m| m.matches(date))
    }

    /// Whether the period ends the day after it begins: its stop is at or before its
    /// start (equal times make a 24-hour period).
    pub fn crosses_midnight(&self) -> bool {
        matches!((self.start, self.stop), (Some(start), Some(stop)) if stop <= start)
    }

    /// The period's day rule for people: `DaysActive`, then `MonthDays` and `Months`
    /// when given (`mon-fri, MonthDays 1-7, Months dec`).
    pub fn days_active(&self) -> String {
        let mut out = self.days.to_string();
        if let Some(d) = self.month_days {
            out.push_str(&format!(", MonthDays {d}"));
        }
        if let Some(m) = self.months {
            out.push_str(&format!(", Months {m}"));
        }
        out
    }
}

/// `mon-fri 09:00-18:00`, `fri, Months dec None-20:00`.
impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let time = super::ExceptionItem::time_text;
        write!(
            f,
            "{} {}-{}",
            self.days_active(),
            time(self.start),
            time(self.stop)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Catalog, ScheduleItem};

    /// The catalog's one error for a schedule item written as JSON, or its schedule.
    fn build(json: &str) -> Result<crate::schedule::Schedule, String> {
        let item: ScheduleItem = serde_json::from_str(json).unwrap();
        let mut c = Catalog::build(&[item], &[], &[], chrono_tz::Tz::UTC);
        match c.errors.pop() {
            Some(e) => Err(e.to_string()),
            None => Ok(c.schedules.remove(0)),
        }
    }

    #[test]
    fn schedule_fields_beside_periods_are_named_and_reject_the_schedule() {
        let err = build(
            r#"{"ScheduleName":"W","DaysActive":"mon","StartTime":"08:00","Periods":[{"DaysActive":"fri"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "schedule \"W\": DaysActive and StartTime are given beside Periods: with Periods, each period has its own day and time fields and the schedule has none (move them into the periods)"
        );
        let err = build(r#"{"ScheduleName":"W","Months":"dec","Periods":[{}]}"#).unwrap_err();
        assert!(err.contains(": Months is given beside Periods"), "{err}");
        let err = build(r#"{"ScheduleName":"W","Periods":[]}"#).unwrap_err();
        assert!(err.contains("Periods is empty"), "{err}");
    }

    #[test]
    fn a_bad_period_rejects_its_schedule_by_field_and_token() {
        let err = build(
            r#"{"ScheduleName":"W","Periods":[{"DaysActive":"mon","StartTime":"08:00"},{"StartTime":"25:00"}]}"#,
        )
        .unwrap_err();
        assert!(
            err.starts_with("schedule \"W\": Periods[2].StartTime \"25:00\" is not a time of day"),
            "{err}"
        );
        for (json, says) in [
            (
                r#"{"MonthDays":"32"}"#,
                "Periods[1].MonthDays \"32\": a month has at most 31 days",
            ),
            (
                r#"{"Months":"foo"}"#,
                "Periods[1].Months \"foo\": not a month",
            ),
            (
                r#"{"DaysActive":"mon#6"}"#,
                "Periods[1].DaysActive \"mon#6\": a month has at most 5 of a weekday",
            ),
        ] {
            let err = build(&format!(r#"{{"ScheduleName":"W","Periods":[{json}]}}"#)).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
        // The schedule's own fields name themselves the same way.
        for (json, says) in [
            (
                r#""MonthDays":"32""#,
                "schedule \"W\": MonthDays \"32\": a month has at most 31 days",
            ),
            (
                r#""Months":"foo""#,
                "schedule \"W\": Months \"foo\": not a month",
            ),
            (
                r#""DaysActive":"mon#6""#,
                "schedule \"W\": DaysActive \"mon#6\": a month has at most 5",
            ),
        ] {
            let err = build(&format!(r#"{{"ScheduleName":"W",{json}}}"#)).unwrap_err();
            assert!(err.starts_with(says), "{err}");
        }
    }

    #[test]
    fn a_schedule_with_periods_has_them_and_no_own_times() {
        let s = build(
            r#"{"ScheduleName":"W","Periods":[{"DaysActive":"mon","StartTime":"08:00","StopTime":"None"},{"DaysActive":"fri","StartTime":"None","StopTime":"20:00"}]}"#,
        )
        .unwrap();
        assert_eq!(s.periods().count(), 2);
        assert_eq!((s.start, s.stop), (None, None));
        assert_eq!(s.days.to_string(), "mon,fri");
        assert_eq!(s.days_active(), "1: mon; 2: fri");
        let own = build(
            r#"{"ScheduleName":"O","DaysActive":"tue#2","Months":"1-6","StartTime":"20:00"}"#,
        )
        .unwrap();
        assert!(own.periods.is_empty());
        assert_eq!(own.periods().count(), 1);
        assert_eq!(own.days_active(), "tue#2, Months jan-jun");
    }

    fn period(at: &str, days: &str, start: &str, stop: &str) -> Result<Period, String> {
        Period::parse(
            at,
            PeriodText {
                days_active: Some(days),
                start_time: Some(start),
                stop_time: Some(stop),
                ..PeriodText::default()
            },
        )
    }

    #[test]
    fn errors_in_a_period_name_its_place_in_the_list() {
        assert_eq!(
            period("Periods[1]", "mon", "25:00", "None").unwrap_err(),
            "Periods[1].StartTime \"25:00\" is not a time of day (HH:MM, 00:00 to 23:59, or None)"
        );
        assert_eq!(
            period("Periods[2]", "mon#6", "08:00", "None").unwrap_err(),
            "Periods[2].DaysActive \"mon#6\": a month has at most 5 of a weekday"
        );
        assert_eq!(
            period("Periods[3]", "fryday", "08:00", "None").unwrap_err(),
            "Periods[3]: unknown day name \"fryday\" in DaysActive"
        );
        // The schedule's own fields keep today's messages.
        assert_eq!(
            period("", "fryday", "08:00", "None").unwrap_err(),
            "unknown day name \"fryday\" in DaysActive"
        );
    }

    #[test]
    fn a_period_shows_its_days_and_times() {
        let p = Period::parse(
            "",
            PeriodText {
                days_active: Some("fri"),
                months: Some("12"),
                stop_time: Some("20:00"),
                ..PeriodText::default()
            },
        )
        .unwrap();
        assert_eq!(p.to_string(), "fri, Months dec None-20:00");
        assert!(!p.crosses_midnight());
        assert!(
            period("", "all", "22:00", "06:00")
                .unwrap()
                .crosses_midnight()
        );
        assert!(
            period("", "all", "08:00", "08:00")
                .unwrap()
                .crosses_midnight()
        );
    }
}
