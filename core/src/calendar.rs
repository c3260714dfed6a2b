//! Local time: when a schedule's starts and stops fall, as instants.
//!
//! The rules, each pinned by a test below:
//! - A schedule has **periods**: the entries of its `Periods`, or, without them, its
//!   own day and time fields as its one period. A date is **active** for a period
//!   when it matches the period's `DaysActive` (every such weekday, or the nth or
//!   last of its month), and its `MonthDays` and `Months` when given.
//! - A period begins on an active date at its `StartTime` and ends at the next
//!   `StopTime`: the same date, or the next one when `StopTime` ≤ `StartTime` (the
//!   period crosses midnight, even into an inactive date). A period with no
//!   `StartTime` stops at `StopTime` on its active dates; one with no `StopTime`
//!   only starts.
//! - The **starts of a date** are those of the periods that begin on it; the **stops
//!   of a date** those that fall on it. Two periods acting at the same local time act
//!   once (the first period in the list is named as the cause).
//! - **Exceptions** act per date and direction: `None` cancels every start (or stop)
//!   of that date, so servers started by hand on a holiday still stop at night unless
//!   the stop is cancelled too; a time replaces the date's first start (or stop), or
//!   adds one on a date that has none, so an exception with a time acts even on an
//!   inactive date. The date is the one the start or stop falls on.
//! - A disabled schedule has no starts or stops.
//! - Transitions of all periods merge in time order; at the same instant a stop
//!   comes before a start, so the start wins (a period that begins as another ends
//!   leaves the servers up).
//! - Times are wall-clock times in the schedule's zone. A time that does not exist
//!   (the spring-forward gap) resolves to the first instant after the gap; an
//!   ambiguous time (the fall-back fold) resolves to its first occurrence, so it
//!   acts once.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::fleet::Direction;
use crate::schedule::Schedule;

/// Why a transition falls where it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// A period's own time: the index of the period in
    /// [`Schedule::periods`] (0 for a schedule without `Periods`).
    Period(usize),
    /// An exception for the date, which replaced its first start (or stop) or added
    /// one.
    Exception,
    /// A maintenance window opening or closing: the index of the window in
    /// [`Schedule::windows`].
    Window(usize),
}

/// One start or stop of a schedule, as an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Transition {
    /// When it falls.
    pub at: DateTime<Utc>,
    /// Start or stop.
    pub direction: Direction,
    /// The period (or exception) that put it there, for people (`start 08:00
    /// (period 1: mon)`).
    pub cause: Cause,
}

pub use crate::wallclock::local_instant;

/// The local times on `date` at which the schedule acts in `direction`, earliest
/// first, each with its cause, after that date's exception (module docs).
pub fn times_on(s: &Schedule, date: NaiveDate, direction: Direction) -> Vec<(NaiveTime, Cause)> {
    let mut times = Vec::new();
    if !s.enabled {
        return times;
    }
    for (i, p) in s.periods().enumerate() {
        let (time, begun) = match direction {
            Direction::Start => (p.start, Some(date)),
            // A stop ends the period that began the day before when it crosses midnight.
            Direction::Stop if p.crosses_midnight() => (p.stop, date.pred_opt()),
            Direction::Stop => (p.stop, Some(date)),
        };
        if let (Some(time), Some(begun)) = (time, begun)
            && p.active_on(begun)
        {
            times.push((time, Cause::Period(i)));
        }
    }
    match s.exceptions.get(&(date, direction)) {
        None => {}
        Some(None) => times.clear(),
        Some(Some(time)) => {
            times.sort();
            match times.first_mut() {
                Some(first) => *first = (*time, Cause::Exception),
                None => times.push((*time, Cause::Exception)),
            }
        }
    }
    times.sort();
    times.dedup_by_key(|(time, _)| *time);
    times
}

/// The local start time on `date`, if the schedule starts that day: the first of
/// [`times_on`] (a schedule with `Periods` may start more than once a day).
pub fn start_on(s: &Schedule, date: NaiveDate) -> Option<NaiveTime> {
    times_on(s, date, Direction::Start).first().map(|t| t.0)
}

/// The local stop time on `date`, if the schedule stops that day: the first of
/// [`times_on`].
pub fn stop_on(s: &Schedule, date: NaiveDate) -> Option<NaiveTime> {
    times_on(s, date, Direction::Stop).first().map(|t| t.0)
}

/// The calendar's one order of transitions: by time, and at the same instant a stop
/// before a start, so the start wins.
fn order(t: &Transition) -> (DateTime<Utc>, bool) {
    (t.at, t.direction == Direction::Start)
}

/// The schedule's transitions in the window `(after, until]`, in time order; at the
/// same instant a stop comes before a start, so a period that begins as the previous
/// one ends leaves the servers up.
pub fn transitions(s: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Transition> {
    let mut out = period_transitions(s, after, until);
    if s.windows.is_empty() || !s.enabled {
        return out;
    }
    // While a window is open the resources stay up: a period's stop inside it waits
    // for the window's close, and a close while a period runs does nothing.
    out.retain(|t| t.direction == Direction::Start || !s.windows.iter().any(|w| w.open_at(t.at)));
    let mut more = Vec::new();
    for (k, w) in s.windows.iter().enumerate() {
        for open in w.openings(after - w.duration, until) {
            let close = open + w.duration;
            if after < open && !running_at(s, open) {
                more.push(Transition {
                    at: open,
                    direction: Direction::Start,
                    cause: Cause::Window(k),
                });
            }
            let other_open = s
                .windows
                .iter()
                .enumerate()
                .any(|(j, o)| j != k && o.open_at(close));
            if close <= until && after < close && !running_at(s, close) && !other_open {
                more.push(Transition {
                    at: close,
                    direction: Direction::Stop,
                    cause: Cause::Window(k),
                });
            }
        }
    }
    merge(&mut out, more);
    out
}

/// Whether the schedule's periods alone have it running at `at` (their last
/// transition at or before it is a start).
fn running_at(s: &Schedule, at: DateTime<Utc>) -> bool {
    let mut back = Duration::days(2);
    loop {
        if let Some(t) = period_transitions(s, at - back, at).pop() {
            return t.direction == Direction::Start;
        }
        if back >= Duration::days(400) {
            return false;
        }
        back = back * 4;
    }
}

/// The transitions of the schedule's periods and exceptions alone, in `(after,
/// until]`, in the calendar's order.
fn period_transitions(s: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Transition> {
    let mut out = Vec::new();
    if until <= after || !s.enabled {
        return out;
    }
    // A gap can push a time onto the next date, so look one date back.
    let first = after.with_timezone(&s.tz).date_naive().pred_opt();
    let last = until.with_timezone(&s.tz).date_naive();
    let mut date = first.unwrap_or(last);
    while date <= last {
        for direction in [Direction::Stop, Direction::Start] {
            for (time, cause) in times_on(s, date, direction) {
                let at = local_instant(s.tz, date, time);
                if after < at && at <= until {
                    out.push(Transition {
                        at,
                        direction,
                        cause,
                    });
                }
            }
        }
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    out.sort_by_key(order);
    out
}

/// Merges `more` (say, a maintenance window's opening and closing) into `list`,
/// which is in the calendar's order, keeping that order: the one rule for what comes
/// first at the same instant, wherever transitions come from.
pub fn merge(list: &mut Vec<Transition>, more: impl IntoIterator<Item = Transition>) {
    list.extend(more);
    list.sort_by_key(order);
}

/// The last transition in `(at - reach, at]`: what the schedule says the state
/// should be at `at` (at one instant, the start, which wins). Looks back a little
/// further each time, so a near transition costs little.
pub fn last_at_or_before(s: &Schedule, at: DateTime<Utc>, reach: Duration) -> Option<Transition> {
    let mut back = Duration::days(2);
    loop {
        let back_now = back.min(reach);
        if let Some(t) = transitions(s, at - back_now, at).pop() {
            return Some(t);
        }
        if back_now >= reach {
            return None;
        }
        back = back * 4;
    }
}

/// What put a transition of `s` where it is, for people: `period 1 (mon-fri)`,
/// `exception`, `window patching`.
pub fn cause_text(s: &Schedule, cause: Cause) -> String {
    match cause {
        Cause::Period(i) => match s.periods().nth(i) {
            Some(p) if !s.periods.is_empty() => format!("period {} ({})", i + 1, p.days_active()),
            Some(p) => format!("period ({})", p.days_active()),
            None => "period".into(),
        },
        Cause::Exception => "exception".into(),
        Cause::Window(i) => match s.windows.get(i) {
            Some(w) => format!("window {}", w.name),
            None => "window".into(),
        },
    }
}

/// The first stop strictly after `after` and no later than `after + within`.
pub fn next_stop(s: &Schedule, after: DateTime<Utc>, within: Duration) -> Option<DateTime<Utc>> {
    transitions(s, after, after + within)
        .into_iter()
        .find(|t| t.direction == Direction::Stop)
        .map(|t| t.at)
}

/// The local start and stop times of the period that begins on `date`, for people:
/// `(start, stop)` with the stop's own date, either of which may be absent. With
/// several starts that day, the first; the stop is the next one after it (within two
/// days).
pub fn day_times(s: &Schedule, date: NaiveDate) -> (Option<DateTime<Tz>>, Option<DateTime<Tz>>) {
    let start = start_on(s, date).map(|t| local_instant(s.tz, date, t).with_timezone(&s.tz));
    let from = start.map_or_else(
        || local_instant(s.tz, date, NaiveTime::MIN),
        |t| t.with_timezone(&Utc),
    );
    let stop = next_stop(s, from, Duration::days(2)).map(|t| t.with_timezone(&s.tz));
    (start, stop)
}

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod pinned;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Catalog, ExceptionItem, ScheduleItem};
    use chrono::{NaiveDateTime, TimeZone};
    use chrono_tz::{America::New_York, Asia::Seoul, Europe::Berlin};
    use proptest::prelude::*;

    fn schedule(
        days: &str,
        start: &str,
        stop: &str,
        tz: Tz,
        exceptions: &[(&str, &str, &str)],
    ) -> Schedule {
        let item = ScheduleItem {
            schedule_name: "S".into(),
            tag_value: None,
            days_active: Some(days.into()),
            enabled: true,
            start_time: Some(start.into()),
            stop_time: Some(stop.into()),
            force_start: false,
            time_zone: Some(tz.name().into()),
            start_mode: None,
            ..Default::default()
        };
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
        let c = Catalog::build(&[item], &[], &exceptions, Tz::UTC);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        c.schedules.into_iter().next().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The transitions of a window, as `"start 2026-..Z"` strings.
    fn list(s: &Schedule, from: &str, to: &str) -> Vec<String> {
        transitions(s, utc(from), utc(to))
            .iter()
            .map(|t| format!("{} {}", t.direction, t.at.to_rfc3339()))
            .collect()
    }

    #[test]
    fn weekday_schedule_in_seoul() {
        let s = schedule("weekdays", "09:30", "22:00", Seoul, &[]);
        // Fri 2026-11-27 .. Mon 2026-11-30 in Seoul (UTC+9).
        assert_eq!(
            list(&s, "2026-11-27T00:00:00Z", "2026-11-30T23:59:00Z"),
            [
                "start 2026-11-27T00:30:00+00:00",
                "stop 2026-11-27T13:00:00+00:00",
                "start 2026-11-30T00:30:00+00:00",
                "stop 2026-11-30T13:00:00+00:00",
            ]
        );
    }

    #[test]
    fn midnight_crossing_period_ends_next_day_even_if_inactive() {
        let s = schedule("mon-fri", "22:00", "06:00", Tz::UTC, &[]);
        assert_eq!(
            list(&s, "2026-11-27T00:00:00Z", "2026-11-30T23:00:00Z"),
            [
                "stop 2026-11-27T06:00:00+00:00",  // ends Thursday's period
                "start 2026-11-27T22:00:00+00:00", // Friday
                "stop 2026-11-28T06:00:00+00:00",  // Saturday, inactive, still stops
                "start 2026-11-30T22:00:00+00:00", // Monday; no stop on Monday morning
            ]
        );
    }

    #[test]
    fn equal_start_and_stop_make_a_24_hour_period_and_stay_up() {
        let s = schedule("all", "08:00", "08:00", Tz::UTC, &[]);
        let t = transitions(&s, utc("2026-11-27T07:00:00Z"), utc("2026-11-27T09:00:00Z"));
        assert_eq!(t.len(), 2);
        assert_eq!(t.last().unwrap().direction, Direction::Start);
    }

    #[test]
    fn exceptions_replace_or_cancel_the_days_times() {
        let s = schedule(
            "weekdays",
            "09:00",
            "18:00",
            Tz::UTC,
            &[
                ("2026-12-01", "start", "None"),  // Tue: holiday, no start
                ("2026-12-02", "stop", "23:30"),  // Wed: late night
                ("2026-12-03", "start", "06:00"), // Thu: early morning
                ("2026-12-04", "stop", "None"),   // Fri: keep running over the weekend
                ("2026-12-05", "start", "10:00"), // Sat: an extra day
            ],
        );
        assert_eq!(
            list(&s, "2026-12-01T00:00:00Z", "2026-12-05T23:59:00Z"),
            [
                "stop 2026-12-01T18:00:00+00:00", // the holiday's stop still acts
                "start 2026-12-02T09:00:00+00:00",
                "stop 2026-12-02T23:30:00+00:00",
                "start 2026-12-03T06:00:00+00:00",
                "stop 2026-12-03T18:00:00+00:00",
                "start 2026-12-04T09:00:00+00:00",
                "start 2026-12-05T10:00:00+00:00",
            ]
        );
    }

    #[test]
    fn stop_exception_applies_to_the_date_the_stop_falls_on() {
        let s = schedule(
            "fri",
            "22:00",
            "06:00",
            Tz::UTC,
            &[("2026-11-28", "stop", "08:00")],
        );
        assert_eq!(
            list(&s, "2026-11-27T00:00:00Z", "2026-11-29T00:00:00Z"),
            [
                "start 2026-11-27T22:00:00+00:00",
                "stop 2026-11-28T08:00:00+00:00"
            ]
        );
    }

    #[test]
    fn none_times_and_disabled_schedules_do_nothing() {
        let mut s = schedule("all", "09:00", "None", Tz::UTC, &[]);
        assert_eq!(
            list(&s, "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"),
            ["start 2026-11-27T09:00:00+00:00"]
        );
        s.enabled = false;
        assert!(list(&s, "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z").is_empty());
        let stop_only = schedule("weekdays", "None", "20:00", Tz::UTC, &[]);
        assert_eq!(
            list(&stop_only, "2026-11-27T00:00:00Z", "2026-11-29T00:00:00Z"),
            ["stop 2026-11-27T20:00:00+00:00"]
        );
    }

    #[test]
    fn spring_forward_gap_resolves_to_the_first_instant_after_it() {
        // 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00 UTC) in New York.
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let t = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(local_instant(New_York, d, t), utc("2026-03-08T07:00:00Z"));
        // Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(local_instant(Berlin, d, t), utc("2026-03-29T01:00:00Z"));
        let s = schedule("all", "02:30", "None", Berlin, &[]);
        assert_eq!(
            list(&s, "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z"),
            [
                "start 2026-03-28T01:30:00+00:00",
                "start 2026-03-29T01:00:00+00:00"
            ]
        );
    }

    #[test]
    fn fall_back_fold_acts_once_at_the_first_occurrence() {
        // 2026-11-01 01:30 happens twice in New York: 05:30 UTC (EDT) and 06:30 UTC (EST).
        let s = schedule("all", "None", "01:30", New_York, &[]);
        assert_eq!(
            list(&s, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            ["stop 2026-11-01T05:30:00+00:00"]
        );
        // Berlin: 2026-10-25 02:30 happens at 00:30 and 01:30 UTC.
        let s = schedule("all", "02:30", "None", Berlin, &[]);
        assert_eq!(
            list(&s, "2026-10-24T23:00:00Z", "2026-10-25T03:00:00Z"),
            ["start 2026-10-25T00:30:00+00:00"]
        );
    }

    #[test]
    fn wall_clock_times_hold_across_dst_changes() {
        let s = schedule("all", "09:00", "17:00", New_York, &[]);
        assert_eq!(
            list(&s, "2026-03-07T00:00:00Z", "2026-03-08T23:59:00Z"),
            [
                "start 2026-03-07T14:00:00+00:00", // EST
                "stop 2026-03-07T22:00:00+00:00",
                "start 2026-03-08T13:00:00+00:00", // EDT
                "stop 2026-03-08T21:00:00+00:00",
            ]
        );
    }

    #[test]
    fn day_times_for_people() {
        let s = schedule("weekdays", "22:00", "06:00", Seoul, &[]);
        let (start, stop) = day_times(&s, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        assert_eq!(start.unwrap().to_rfc3339(), "2026-11-27T22:00:00+09:00");
        assert_eq!(stop.unwrap().to_rfc3339(), "2026-11-28T06:00:00+09:00");
    }

    fn any_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            Tz::UTC,
            New_York,
            Berlin,
            Seoul,
            chrono_tz::Australia::Lord_Howe, // half-hour DST shift
            chrono_tz::Pacific::Apia,        // skipped a whole day in 2011
            chrono_tz::America::Santiago,    // DST change at midnight
        ])
    }

    fn hhmm() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just("None".to_string()),
            8 => (0u32..24, 0u32..60).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Catch-up is sound: cutting a span into runs at any points finds exactly the
        /// transitions of the whole span, each once.
        #[test]
        fn windows_split_anywhere_find_each_transition_once(
            tz in any_zone(),
            start in hhmm(),
            stop in hhmm(),
            days in prop::sample::select(vec!["all", "weekdays", "mon,wed,fri", "sat-sun"]),
            base in 1_230_000_000i64..1_900_000_000,
            cuts in prop::collection::vec(1i64..(3 * 86_400), 1..40),
        ) {
            let s = schedule(days, &start, &stop, tz, &[]);
            let from = DateTime::from_timestamp(base, 0).unwrap();
            let mut edges = vec![from];
            for c in &cuts {
                let last = *edges.last().unwrap();
                edges.push(last + Duration::seconds(*c));
            }
            let whole = transitions(&s, from, *edges.last().unwrap());
            let pieces: Vec<Transition> = edges
                .windows(2)
                .flat_map(|w| transitions(&s, w[0], w[1]))
                .collect();
            prop_assert_eq!(whole, pieces);
        }

        /// A start or stop lands on the wall-clock time asked for whenever that time
        /// exists that day, and never before it.
        #[test]
        fn local_instants_land_on_the_wall_clock(
            tz in any_zone(),
            day in 0i64..(365 * 30),
            h in 0u32..24,
            m in 0u32..60,
        ) {
            let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + Duration::days(day);
            let time = NaiveTime::from_hms_opt(h, m, 0).unwrap();
            let at = local_instant(tz, date, time);
            let wall = at.with_timezone(&tz).naive_local();
            let asked = NaiveDateTime::new(date, time);
            prop_assert!(wall >= asked, "{} < {}", wall, asked);
            if tz.from_local_datetime(&asked).single().is_some() {
                prop_assert_eq!(wall, asked);
            }
            // No earlier minute reaches the asked wall time (first instant after a gap,
            // first occurrence in a fold).
            let before = (at - Duration::minutes(1)).with_timezone(&tz).naive_local();
            prop_assert!(before < asked);
        }

        /// Periods alternate: between two starts of an enabled schedule with both times
        /// and no exceptions there is exactly one stop.
        #[test]
        fn starts_and_stops_alternate(
            tz in any_zone(),
            start in (0u32..24, 0u32..60),
            stop in (0u32..24, 0u32..60),
            base in 1_600_000_000i64..1_800_000_000,
        ) {
            prop_assume!(start != stop);
            let s = schedule("all", &format!("{:02}:{:02}", start.0, start.1),
                &format!("{:02}:{:02}", stop.0, stop.1), tz, &[]);
            let from = DateTime::from_timestamp(base, 0).unwrap();
            let t = transitions(&s, from, from + Duration::days(20));
            // A period squeezed into a DST gap has no length; its order is moot.
            prop_assume!(t.windows(2).all(|p| p[0].at != p[1].at));
            for pair in t.windows(2) {
                prop_assert_ne!(pair[0].direction, pair[1].direction, "{:?}", t);
            }
            prop_assert!(t.len() >= 38);
        }
    }
}
