//! The calendar against an oracle: random schedules with nth and last weekdays,
//! month days, months, several periods and exceptions, in zones with DST, give the
//! same transitions as a plain day-by-day evaluation written here from the rules in
//! the README. The oracle reads its own description of the schedule (not the parsed
//! one), counts weekdays by walking the month, finds a period's stop by walking
//! forward from the day it begins, and resolves local times itself.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{Cause, transitions};
use crate::fleet::Direction;
use crate::schedule::{Catalog, ExceptionItem, Schedule, ScheduleItem};

const NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

#[derive(Debug, Clone)]
enum DayEntry {
    Keyword(&'static str),
    Day(usize),
    Range(usize, usize),
    Nth(usize, u32),
    Last(usize),
}

#[derive(Debug, Clone)]
enum MonthDay {
    Day(u32),
    Range(u32, u32),
    Step(u32, u32),
    RangeStep(u32, u32, u32),
    Last,
    Nearest(u32),
}

#[derive(Debug, Clone)]
enum Month {
    One(u32),
    Range(u32, u32),
    Step(u32, u32),
}

#[derive(Debug, Clone)]
struct PeriodSpec {
    days: Option<Vec<DayEntry>>,
    month_days: Option<Vec<MonthDay>>,
    months: Option<Vec<Month>>,
    start: Option<NaiveTime>,
    stop: Option<NaiveTime>,
}

/// A schedule as the test means it, and the exceptions `(days after the window's
/// first local date, direction, time or None)`.
#[derive(Debug, Clone)]
struct Spec {
    /// One period written as the schedule's own fields rather than as `Periods`.
    own: bool,
    periods: Vec<PeriodSpec>,
    exceptions: Vec<(i64, Direction, Option<NaiveTime>)>,
}

// ---- rendering the description as item text, in the spellings people use ----

fn day_name(i: usize, long: bool, upper: bool) -> String {
    let name = if long { NAMES[i].1 } else { NAMES[i].0 };
    if upper {
        name.to_ascii_uppercase()
    } else {
        name.to_string()
    }
}

fn render_days(entries: &[DayEntry], style: u8) -> String {
    let (long, upper) = (style & 1 != 0, style & 2 != 0);
    let each: Vec<String> = entries
        .iter()
        .map(|e| match e {
            DayEntry::Keyword(k) => k.to_string(),
            DayEntry::Day(d) => day_name(*d, long, upper),
            DayEntry::Range(a, b) => {
                format!(
                    "{}-{}",
                    day_name(*a, long, upper),
                    day_name(*b, long, upper)
                )
            }
            DayEntry::Nth(d, n) => format!("{}#{n}", day_name(*d, long, upper)),
            DayEntry::Last(d) => format!(
                "{}{}",
                day_name(*d, long, upper),
                if upper { "L" } else { "l" }
            ),
        })
        .collect();
    each.join(",")
}

fn render_month_days(entries: &[MonthDay]) -> String {
    let each: Vec<String> = entries
        .iter()
        .map(|e| match e {
            MonthDay::Day(n) => n.to_string(),
            MonthDay::Range(a, b) => format!("{a}-{b}"),
            MonthDay::Step(a, s) => format!("{a}/{s}"),
            MonthDay::RangeStep(a, b, s) => format!("{a}-{b}/{s}"),
            MonthDay::Last => "L".into(),
            MonthDay::Nearest(n) => format!("{n}W"),
        })
        .collect();
    each.join(",")
}

fn render_months(entries: &[Month], names: bool) -> String {
    let m = |n: u32| {
        if names {
            MONTHS[n as usize - 1].to_string()
        } else {
            n.to_string()
        }
    };
    let each: Vec<String> = entries
        .iter()
        .map(|e| match e {
            Month::One(n) => m(*n),
            Month::Range(a, b) => format!("{}-{}", m(*a), m(*b)),
            Month::Step(a, s) => format!("{}/{s}", m(*a)),
        })
        .collect();
    each.join(",")
}

fn render_time(t: Option<NaiveTime>) -> serde_json::Value {
    match t {
        Some(t) => t.format("%H:%M").to_string().into(),
        None => "None".into(),
    }
}

fn render_period(p: &PeriodSpec, style: u8) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    if let Some(d) = &p.days {
        m.insert("DaysActive".into(), render_days(d, style).into());
    }
    if let Some(d) = &p.month_days {
        m.insert("MonthDays".into(), render_month_days(d).into());
    }
    if let Some(d) = &p.months {
        m.insert("Months".into(), render_months(d, style & 1 != 0).into());
    }
    // An absent time and "None" mean the same; write both.
    if p.start.is_some() || style & 4 != 0 {
        m.insert("StartTime".into(), render_time(p.start));
    }
    if p.stop.is_some() || style & 4 != 0 {
        m.insert("StopTime".into(), render_time(p.stop));
    }
    m
}

fn build(spec: &Spec, tz: Tz, first_date: NaiveDate, style: u8) -> Schedule {
    let mut fields = serde_json::Map::new();
    fields.insert("ScheduleName".into(), "S".into());
    fields.insert("TimeZone".into(), tz.name().into());
    if spec.own {
        fields.extend(render_period(&spec.periods[0], style));
    } else {
        let list: Vec<serde_json::Value> = spec
            .periods
            .iter()
            .map(|p| render_period(p, style).into())
            .collect();
        fields.insert("Periods".into(), list.into());
    }
    let item: ScheduleItem = serde_json::from_value(fields.into()).unwrap();
    let exceptions: Vec<ExceptionItem> = spec
        .exceptions
        .iter()
        .map(|(offset, direction, value)| ExceptionItem {
            exception_uuid: None,
            schedule_name: "S".into(),
            exception_date: (first_date + Duration::days(*offset)).to_string(),
            exception_type: direction.to_string(),
            exception_value: Some(render_time(*value).as_str().unwrap_or("None").into()),
        })
        .collect();
    let c = Catalog::build(&[item], &[], &exceptions, Tz::UTC);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    c.schedules.into_iter().next().unwrap()
}

// ---- the oracle ----

/// Which of its weekday in the month `d` is: the 1st, 2nd, … counted by walking.
fn occurrence(d: NaiveDate) -> usize {
    (1..=d.day())
        .filter_map(|day| d.with_day(day))
        .filter(|x| x.weekday() == d.weekday())
        .count()
}

fn is_last_of_weekday(d: NaiveDate) -> bool {
    (d.day() + 1..=31)
        .filter_map(|day| d.with_day(day))
        .all(|x| x.weekday() != d.weekday())
}

fn weekday_index(d: NaiveDate) -> usize {
    d.weekday().num_days_from_monday() as usize
}

fn days_match(entries: &[DayEntry], d: NaiveDate) -> bool {
    let w = weekday_index(d);
    entries.iter().any(|e| match e {
        DayEntry::Keyword("all") => true,
        DayEntry::Keyword("weekdays") => w < 5,
        DayEntry::Keyword(_) => w >= 5,
        DayEntry::Day(x) => *x == w,
        DayEntry::Range(a, b) => {
            let mut i = *a;
            loop {
                if i == w {
                    return true;
                }
                if i == *b {
                    return false;
                }
                i = (i + 1) % 7;
            }
        }
        DayEntry::Nth(x, n) => *x == w && occurrence(d) == *n as usize,
        DayEntry::Last(x) => *x == w && is_last_of_weekday(d),
    })
}

fn month_days_match(entries: &[MonthDay], d: NaiveDate) -> bool {
    let day = d.day();
    entries.iter().any(|e| match e {
        MonthDay::Day(n) => day == *n,
        MonthDay::Range(a, b) => *a <= day && day <= *b,
        MonthDay::Step(a, s) => day >= *a && (day - a).is_multiple_of(*s),
        MonthDay::RangeStep(a, b, s) => *a <= day && day <= *b && (day - a).is_multiple_of(*s),
        MonthDay::Last => d.succ_opt().is_none_or(|n| n.month() != d.month()),
        MonthDay::Nearest(n) => {
            if d.with_day(*n).is_none() {
                return false;
            }
            // The weekday of the month closest to day n.
            let best = (1..=31)
                .filter_map(|k| d.with_day(k))
                .filter(|x| weekday_index(*x) < 5)
                .min_by_key(|x| (x.day() as i64 - *n as i64).abs());
            best.is_some_and(|b| b.day() == day)
        }
    })
}

fn months_match(entries: &[Month], d: NaiveDate) -> bool {
    let m = d.month();
    entries.iter().any(|e| match e {
        Month::One(n) => m == *n,
        Month::Range(a, b) if a <= b => *a <= m && m <= *b,
        Month::Range(a, b) => m >= *a || m <= *b,
        Month::Step(a, s) => m >= *a && (m - a).is_multiple_of(*s),
    })
}

fn active(p: &PeriodSpec, d: NaiveDate) -> bool {
    p.days.as_ref().is_none_or(|e| days_match(e, d))
        && p.month_days.as_ref().is_none_or(|e| month_days_match(e, d))
        && p.months.as_ref().is_none_or(|e| months_match(e, d))
}

/// The first instant whose wall-clock time in `tz` is `date` `time` or later: the
/// time itself, its first occurrence in a fold, or the end of a gap.
fn instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = NaiveDateTime::new(date, time);
    loop {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.to_utc();
        }
        local += Duration::minutes(1);
    }
}

/// `(instant, direction, cause)` for every transition in `(from, to]`.
fn oracle(
    spec: &Spec,
    tz: Tz,
    first_date: NaiveDate,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Direction, Cause)> {
    use std::collections::BTreeMap;
    let last_date = to.with_timezone(&tz).date_naive();
    let begin = from.with_timezone(&tz).date_naive() - Duration::days(3);
    // Every start and stop by the local date it falls on: walk forward from each
    // date a period begins on.
    let mut by_date: BTreeMap<(NaiveDate, bool), Vec<(NaiveTime, usize)>> = BTreeMap::new();
    let mut d = begin;
    while d <= last_date + Duration::days(1) {
        for (i, p) in spec.periods.iter().enumerate() {
            if !active(p, d) {
                continue;
            }
            if let Some(start) = p.start {
                by_date.entry((d, true)).or_default().push((start, i));
            }
            if let Some(stop) = p.stop {
                let next_day = p.start.is_some_and(|start| stop <= start);
                let on = if next_day { d + Duration::days(1) } else { d };
                by_date.entry((on, false)).or_default().push((stop, i));
            }
        }
        d += Duration::days(1);
    }
    let mut out = Vec::new();
    let mut d = begin;
    while d <= last_date + Duration::days(1) {
        for is_start in [false, true] {
            let direction = if is_start {
                Direction::Start
            } else {
                Direction::Stop
            };
            // (time, is an exception, period)
            let mut times: Vec<(NaiveTime, bool, usize)> = by_date
                .get(&(d, is_start))
                .map(|v| v.iter().map(|(t, i)| (*t, false, *i)).collect())
                .unwrap_or_default();
            times.sort();
            let exception = spec.exceptions.iter().find(|(offset, dir, _)| {
                first_date + Duration::days(*offset) == d && *dir == direction
            });
            if let Some((_, _, value)) = exception {
                match value {
                    None => times.clear(),
                    Some(t) if times.is_empty() => times.push((*t, true, 0)),
                    Some(t) => times[0] = (*t, true, 0),
                }
                times.sort();
            }
            times.dedup_by_key(|(t, _, _)| *t);
            for (time, is_exception, i) in times {
                let at = instant(tz, d, time);
                if from < at && at <= to {
                    let cause = if is_exception {
                        Cause::Exception
                    } else {
                        Cause::Period(i)
                    };
                    out.push((at, direction, cause));
                }
            }
        }
        d += Duration::days(1);
    }
    out.sort_by_key(|(at, direction, _)| (*at, *direction == Direction::Start));
    out
}

// ---- random schedules ----

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Europe::Berlin,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::America::Santiago,
        chrono_tz::Asia::Seoul,
    ])
}

fn time() -> impl Strategy<Value = Option<NaiveTime>> {
    prop_oneof![
        1 => Just(None),
        // Whole hours often, so periods meet and DST changes (02:00, 00:00) are hit.
        3 => (0u32..24).prop_map(|h| NaiveTime::from_hms_opt(h, 0, 0)),
        4 => (0u32..24, 0u32..60).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0)),
    ]
}

fn day_entry() -> impl Strategy<Value = DayEntry> {
    prop_oneof![
        1 => prop::sample::select(vec!["all", "weekdays", "weekends"]).prop_map(DayEntry::Keyword),
        3 => (0usize..7).prop_map(DayEntry::Day),
        2 => (0usize..7, 0usize..7).prop_map(|(a, b)| DayEntry::Range(a, b)),
        3 => (0usize..7, 1u32..=5).prop_map(|(d, n)| DayEntry::Nth(d, n)),
        2 => (0usize..7).prop_map(DayEntry::Last),
    ]
}

fn month_day() -> impl Strategy<Value = MonthDay> {
    prop_oneof![
        3 => (1u32..=31).prop_map(MonthDay::Day),
        2 => (1u32..=31, 0u32..20).prop_map(|(a, len)| MonthDay::Range(a, (a + len).min(31))),
        1 => (1u32..=31, 1u32..10).prop_map(|(a, s)| MonthDay::Step(a, s)),
        1 => (1u32..=31, 0u32..20, 1u32..5)
            .prop_map(|(a, len, s)| MonthDay::RangeStep(a, (a + len).min(31), s)),
        2 => Just(MonthDay::Last),
        2 => (1u32..=31).prop_map(MonthDay::Nearest),
    ]
}

fn month() -> impl Strategy<Value = Month> {
    prop_oneof![
        3 => (1u32..=12).prop_map(Month::One),
        2 => (1u32..=12, 1u32..=12).prop_map(|(a, b)| Month::Range(a, b)),
        1 => (1u32..=12, 1u32..5).prop_map(|(a, s)| Month::Step(a, s)),
    ]
}

fn period() -> impl Strategy<Value = PeriodSpec> {
    (
        prop::option::weighted(0.85, prop::collection::vec(day_entry(), 1..4)),
        prop::option::weighted(0.3, prop::collection::vec(month_day(), 1..4)),
        prop::option::weighted(0.3, prop::collection::vec(month(), 1..3)),
        time(),
        time(),
    )
        .prop_map(|(days, month_days, months, start, stop)| PeriodSpec {
            days,
            month_days,
            months,
            start,
            stop,
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        prop::collection::vec(period(), 1..4),
        prop::collection::vec(
            (
                0i64..70,
                prop::sample::select(vec![Direction::Start, Direction::Stop]),
                time(),
            ),
            0..5,
        ),
    )
        .prop_map(|(own, mut periods, mut exceptions)| {
            if own {
                periods.truncate(1);
            }
            // One exception per date and direction (two would both be ignored).
            exceptions.sort_by_key(|(offset, direction, _)| (*offset, *direction));
            exceptions.dedup_by_key(|(offset, direction, _)| (*offset, *direction));
            Spec {
                own,
                periods,
                exceptions,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every transition the calendar finds, and only those, in order and with its
    /// cause, is what the day-by-day oracle finds; and the last one is what
    /// `last_at_or_before` answers.
    #[test]
    fn transitions_equal_a_day_by_day_evaluation(
        spec in spec(),
        tz in zone(),
        base in 1_767_225_600i64..1_924_992_000, // 2026 to 2030
        hours in 1i64..(24 * 70),
        style in 0u8..8,
    ) {
        let from = DateTime::from_timestamp(base, 0).unwrap();
        let to = from + Duration::hours(hours);
        let first_date = from.with_timezone(&tz).date_naive();
        let s = build(&spec, tz, first_date, style);
        let found: Vec<(DateTime<Utc>, Direction, Cause)> = transitions(&s, from, to)
            .iter()
            .map(|t| (t.at, t.direction, t.cause))
            .collect();
        let expected = oracle(&spec, tz, first_date, from, to);
        prop_assert_eq!(&found, &expected, "{:#?}", s);
        let last = super::last_at_or_before(&s, to, Duration::hours(hours))
            .map(|t| (t.at, t.direction, t.cause));
        prop_assert_eq!(last, expected.last().copied());
    }
}
