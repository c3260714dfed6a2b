//! The calendars people keep, pinned on dates: nth and last weekdays, month days,
//! months, several periods, and exceptions on schedules with periods.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use super::*;
use crate::schedule::{Catalog, ExceptionItem, ScheduleItem};

/// A schedule from its item's JSON (without `ScheduleName`, which is `S`), in `tz`,
/// with exceptions `(date, type, value)`.
fn schedule(fields: &str, tz: Tz, exceptions: &[(&str, &str, &str)]) -> Schedule {
    let item: ScheduleItem =
        serde_json::from_str(&format!(r#"{{"ScheduleName":"S",{fields}}}"#)).unwrap();
    let exceptions: Vec<ExceptionItem> = exceptions
        .iter()
        .map(|(d, k, v)| ExceptionItem {
            exception_uuid: None,
            schedule_name: "S".into(),
            exception_date: d.to_string(),
            exception_type: k.to_string(),
            exception_value: Some(v.to_string()),
        })
        .collect();
    let c = Catalog::build(&[item], &[], &exceptions, tz);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    c.schedules.into_iter().next().unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The transitions of a window as `"start 2026-12-14 09:00 +09:00 (period 1)"`,
/// local to the schedule.
fn list(s: &Schedule, from: &str, to: &str) -> Vec<String> {
    transitions(s, utc(from), utc(to))
        .iter()
        .map(|t| {
            let cause = match t.cause {
                Cause::Period(i) => format!("period {}", i + 1),
                Cause::Exception => "exception".into(),
                Cause::Window(i) => format!("window {}", i + 1),
            };
            format!(
                "{} {} ({cause})",
                t.direction,
                t.at.with_timezone(&s.tz).format("%a %Y-%m-%d %H:%M")
            )
        })
        .collect()
}

/// The local dates on which the schedule starts within a window.
fn start_dates(s: &Schedule, from: &str, to: &str) -> Vec<NaiveDate> {
    transitions(s, utc(from), utc(to))
        .iter()
        .filter(|t| t.direction == Direction::Start)
        .map(|t| t.at.with_timezone(&s.tz).date_naive())
        .collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn second_monday_acts_on_december_14_2026_and_no_other_day_that_month() {
    let s = schedule(
        r#""DaysActive":"mon#2","StartTime":"09:00","StopTime":"17:00""#,
        chrono_tz::Asia::Seoul,
        &[],
    );
    assert_eq!(
        list(&s, "2026-11-30T15:00:00Z", "2026-12-31T15:00:00Z"),
        [
            "start Mon 2026-12-14 09:00 (period 1)",
            "stop Mon 2026-12-14 17:00 (period 1)"
        ]
    );
}

#[test]
fn last_friday_acts_on_december_25_2026_and_not_the_18th() {
    let s = schedule(
        r#""DaysActive":"friL","StartTime":"09:00","StopTime":"17:00""#,
        Tz::UTC,
        &[],
    );
    assert_eq!(
        start_dates(&s, "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        [date(2026, 12, 25)]
    );
}

#[test]
fn month_day_l_acts_on_february_28_2027() {
    let s = schedule(
        r#""MonthDays":"L","StartTime":"18:00","StopTime":"23:00""#,
        chrono_tz::Europe::Berlin,
        &[],
    );
    assert_eq!(
        start_dates(&s, "2027-01-31T23:00:00Z", "2027-03-31T22:00:00Z"),
        [date(2027, 2, 28), date(2027, 3, 31)]
    );
}

#[test]
fn months_dec_is_not_active_on_november_30_and_is_on_december_1() {
    let s = schedule(
        r#""DaysActive":"all","Months":"dec","StartTime":"09:00","StopTime":"17:00""#,
        Tz::UTC,
        &[],
    );
    let starts = start_dates(&s, "2026-11-29T00:00:00Z", "2026-12-03T00:00:00Z");
    assert_eq!(starts, [date(2026, 12, 1), date(2026, 12, 2)]);
    // A period that crosses midnight out of the last active day still ends.
    let s = schedule(
        r#""Months":"dec","StartTime":"22:00","StopTime":"06:00""#,
        Tz::UTC,
        &[],
    );
    assert_eq!(
        list(&s, "2026-12-31T12:00:00Z", "2027-01-02T12:00:00Z"),
        [
            "start Thu 2026-12-31 22:00 (period 1)",
            "stop Fri 2027-01-01 06:00 (period 1)"
        ]
    );
}

const WEEKEND_DOWNTIME: &str = r#""Periods":[{"DaysActive":"mon","StartTime":"08:00","StopTime":"None"},{"DaysActive":"fri","StartTime":"None","StopTime":"20:00"}]"#;

#[test]
fn weekend_downtime_starts_only_monday_8_and_stops_only_friday_20() {
    let s = schedule(WEEKEND_DOWNTIME, chrono_tz::Europe::Berlin, &[]);
    // Two weeks from Saturday 2026-12-05: nothing stops Monday to Thursday.
    assert_eq!(
        list(&s, "2026-12-04T23:00:00Z", "2026-12-18T23:00:00Z"),
        [
            "start Mon 2026-12-07 08:00 (period 1)",
            "stop Fri 2026-12-11 20:00 (period 2)",
            "start Mon 2026-12-14 08:00 (period 1)",
            "stop Fri 2026-12-18 20:00 (period 2)",
        ]
    );
    // Across the spring-forward weekend the wall-clock times hold.
    assert_eq!(
        list(&s, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z"),
        [
            "stop Fri 2026-03-27 20:00 (period 2)",
            "start Mon 2026-03-30 08:00 (period 1)",
        ]
    );
}

#[test]
fn exceptions_act_per_date_on_schedules_with_periods() {
    let s = schedule(
        r#""Periods":[{"DaysActive":"weekdays","StartTime":"08:00","StopTime":"12:00"},{"DaysActive":"weekdays","StartTime":"13:00","StopTime":"18:00"}]"#,
        Tz::UTC,
        &[
            ("2026-12-07", "start", "None"),  // Mon: no start at all that day
            ("2026-12-08", "start", "10:00"), // Tue: the first start moves
            ("2026-12-09", "stop", "None"),   // Wed: no stop at all that day
            ("2026-12-10", "stop", "20:00"),  // Thu: the first stop moves, past the second
            ("2026-12-12", "start", "09:00"), // Sat: an extra day
        ],
    );
    assert_eq!(
        list(&s, "2026-12-07T00:00:00Z", "2026-12-13T00:00:00Z"),
        [
            "stop Mon 2026-12-07 12:00 (period 1)",
            "stop Mon 2026-12-07 18:00 (period 2)",
            "start Tue 2026-12-08 10:00 (exception)",
            "stop Tue 2026-12-08 12:00 (period 1)",
            "start Tue 2026-12-08 13:00 (period 2)",
            "stop Tue 2026-12-08 18:00 (period 2)",
            "start Wed 2026-12-09 08:00 (period 1)",
            "start Wed 2026-12-09 13:00 (period 2)",
            "start Thu 2026-12-10 08:00 (period 1)",
            "start Thu 2026-12-10 13:00 (period 2)",
            "stop Thu 2026-12-10 18:00 (period 2)",
            "stop Thu 2026-12-10 20:00 (exception)",
            "start Fri 2026-12-11 08:00 (period 1)",
            "stop Fri 2026-12-11 12:00 (period 1)",
            "start Fri 2026-12-11 13:00 (period 2)",
            "stop Fri 2026-12-11 18:00 (period 2)",
            "start Sat 2026-12-12 09:00 (exception)",
        ]
    );
    assert_eq!(
        start_on(&s, date(2026, 12, 8)),
        chrono::NaiveTime::from_hms_opt(10, 0, 0)
    );
    assert_eq!(
        stop_on(&s, date(2026, 12, 10)),
        chrono::NaiveTime::from_hms_opt(18, 0, 0)
    );
}

#[test]
fn periods_at_one_time_act_once_and_a_start_wins_over_a_stop() {
    let s = schedule(
        r#""Periods":[{"DaysActive":"mon-fri","StartTime":"09:00","StopTime":"17:00"},{"DaysActive":"mon","StartTime":"09:00","StopTime":"12:00"},{"DaysActive":"mon","StartTime":"17:00","StopTime":"20:00"}]"#,
        Tz::UTC,
        &[],
    );
    assert_eq!(
        list(&s, "2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z"),
        [
            "start Mon 2026-12-07 09:00 (period 1)",
            "stop Mon 2026-12-07 12:00 (period 2)",
            "stop Mon 2026-12-07 17:00 (period 1)",
            "start Mon 2026-12-07 17:00 (period 3)",
            "stop Mon 2026-12-07 20:00 (period 3)",
        ]
    );
}

#[test]
fn the_last_transition_at_or_before_an_instant_is_what_the_schedule_says_now() {
    let s = schedule(WEEKEND_DOWNTIME, Tz::UTC, &[]);
    let last = |at: &str| last_at_or_before(&s, utc(at), Duration::days(400));
    let wed = last("2026-12-09T12:00:00Z").unwrap();
    assert_eq!(
        (wed.at, wed.direction, wed.cause),
        (
            utc("2026-12-07T08:00:00Z"),
            Direction::Start,
            Cause::Period(0)
        )
    );
    let sat = last("2026-12-12T12:00:00Z").unwrap();
    assert_eq!(
        (sat.at, sat.direction),
        (utc("2026-12-11T20:00:00Z"), Direction::Stop)
    );
    // At the instant itself.
    assert_eq!(last("2026-12-11T20:00:00Z").unwrap().at, sat.at);
    // Months away, and out of reach.
    let december = schedule(
        r#""Months":"dec","StartTime":"09:00","StopTime":"17:00""#,
        Tz::UTC,
        &[],
    );
    let june = utc("2027-06-15T00:00:00Z");
    let t = last_at_or_before(&december, june, Duration::days(400)).unwrap();
    assert_eq!(
        (t.at, t.direction),
        (utc("2026-12-31T17:00:00Z"), Direction::Stop)
    );
    assert!(last_at_or_before(&december, june, Duration::days(100)).is_none());
    // A start and a stop at one instant: the start.
    let all_day = schedule(
        r#""DaysActive":"mon-fri","StartTime":"00:00","StopTime":"00:00""#,
        Tz::UTC,
        &[],
    );
    let t = last_at_or_before(&all_day, utc("2026-12-08T00:00:00Z"), Duration::days(7)).unwrap();
    assert_eq!(t.direction, Direction::Start);
}

#[test]
fn merged_transitions_keep_the_calendars_order() {
    let s = schedule(
        r#""DaysActive":"all","StartTime":"09:00","StopTime":"17:00""#,
        Tz::UTC,
        &[],
    );
    let mut list = transitions(&s, utc("2026-12-07T00:00:00Z"), utc("2026-12-08T00:00:00Z"));
    let extra = |at: &str, direction| Transition {
        at: utc(at),
        direction,
        cause: Cause::Exception,
    };
    merge(
        &mut list,
        [
            extra("2026-12-07T17:00:00Z", Direction::Start),
            extra("2026-12-07T03:00:00Z", Direction::Start),
            extra("2026-12-07T05:00:00Z", Direction::Stop),
        ],
    );
    let shown: Vec<(u32, Direction)> = list
        .iter()
        .map(|t| (chrono::Timelike::hour(&t.at), t.direction))
        .collect();
    assert_eq!(
        shown,
        [
            (3, Direction::Start),
            (5, Direction::Stop),
            (9, Direction::Start),
            (17, Direction::Stop),
            (17, Direction::Start),
        ]
    );
}

#[test]
fn a_schedule_without_periods_names_its_one_period() {
    let s = schedule(
        r#""DaysActive":"weekdays","StartTime":"09:00","StopTime":"18:00""#,
        Tz::UTC,
        &[("2026-12-08", "stop", "20:00")],
    );
    let causes: Vec<Cause> =
        transitions(&s, utc("2026-12-07T00:00:00Z"), utc("2026-12-09T00:00:00Z"))
            .iter()
            .map(|t| t.cause)
            .collect();
    assert_eq!(
        causes,
        [
            Cause::Period(0),
            Cause::Period(0),
            Cause::Period(0),
            Cause::Exception
        ]
    );
}
