//! Holiday lists for `holidays import` (`schedctl`, [`crate::ops`]): the dates of an iCalendar file's
//! events, or of a JSON list of dates, as local dates in one schedule's time zone.
//!
//! A holiday becomes a `start None` exception. Its stop is left alone on purpose:
//! a stop on a day nothing started is harmless, and it still stops what someone
//! started by hand, or the previous night's period that crosses midnight.
//!
//! An iCalendar file is read with the `icalendar` crate's parser and its recurrences
//! are expanded with the `rrule` crate. Only VEVENTs count: the STANDARD and DAYLIGHT
//! parts of a VTIMEZONE carry a DTSTART too (usually in 1970), and they are not
//! holidays. An event's dates are the local dates, in the schedule's zone, that it
//! touches, because an exception applies to a local date of the schedule.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use chrono::{
    DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use icalendar::parser::{read_components, unfold};
use icalendar::{
    CalendarComponent, CalendarDateTime, Component, DatePerhapsTime, Event, Property, Trigger,
    ValueType,
};
use rrule::{RRule, RRuleError, RRuleSet, Unvalidated, ValidationError};

/// The most occurrences one event may have in the window. A holiday calendar has a
/// few dozen; more means a rule such as `FREQ=MINUTELY` that is no holiday list.
const MAX_OCCURRENCES: usize = 10_000;

/// The most occurrences `rrule` may walk through for one event, counting those
/// before the window: it always starts from DTSTART, so a `FREQ=SECONDLY` rule from
/// years ago would otherwise take minutes to reach the window. A daily rule from
/// 1900 needs under 50,000; this many take about half a second in a debug build.
const MAX_STEPS: usize = 200_000;

/// Why a holiday list gives no dates to import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolidayError {
    /// The window ends before it starts.
    #[error("the window {from} to {to} is empty: it ends before it starts")]
    EmptyWindow {
        /// Its first date.
        from: NaiveDate,
        /// Its last date.
        to: NaiveDate,
    },
    /// The text is neither an iCalendar file nor a JSON list.
    #[error("expected an iCalendar file (BEGIN:VCALENDAR) or a JSON list of dates")]
    UnknownFormat,
    /// Nothing in the text falls in the window: almost always a wrong file or window.
    #[error("no dates found between {from} and {to}")]
    NoDates {
        /// The window's first date.
        from: NaiveDate,
        /// Its last date.
        to: NaiveDate,
    },
    /// A JSON list that is not one of dates.
    #[error("{0}")]
    Json(String),
    /// An iCalendar file the parser cannot read, and where.
    #[error("not a readable iCalendar file: {0}")]
    Unreadable(String),
    /// One event that cannot be expanded, named by its SUMMARY, UID or position.
    #[error("{0}")]
    Event(String),
}

/// The dates in `text` that fall in `from..=to`, as local dates in `tz`, sorted, without repeats.
///
/// `text` is either a JSON list (of `"YYYY-MM-DD"` strings or of objects with a
/// `"date"` field) or an iCalendar file. `tz` is the schedule's time zone: a timed
/// event counts on every local date in `tz` that it touches, and a time with no zone
/// (a "floating" time) is read as a time in `tz`. The window bounds the expansion
/// of recurring events, so a rule that repeats forever gives a finite list.
///
/// An empty result is an error: an import that adds nothing is almost always a
/// wrong file or a wrong window.
pub fn parse(
    text: &str,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, HolidayError> {
    if from > to {
        return Err(HolidayError::EmptyWindow { from, to });
    }
    let window = Window { tz, from, to };
    // Files saved by Windows tools often start with a byte-order mark.
    let body = text.trim_start_matches('\u{feff}').trim_start();
    let dates = if body.starts_with('[') {
        from_json(body, &window).map_err(HolidayError::Json)?
    } else if body
        .get(.."BEGIN:VCALENDAR".len())
        .is_some_and(|head| head.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        from_ics(body, &window)?
    } else {
        return Err(HolidayError::UnknownFormat);
    };
    if dates.is_empty() {
        return Err(HolidayError::NoDates { from, to });
    }
    Ok(dates.into_iter().collect())
}

/// The dates asked for: local dates in `tz`, from `from` to `to`, both included.
struct Window {
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
}

impl Window {
    fn contains(&self, date: NaiveDate) -> bool {
        (self.from..=self.to).contains(&date)
    }

    /// Adds the dates `first..=last` that are in the window.
    fn add_days(&self, first: NaiveDate, last: NaiveDate, out: &mut BTreeSet<NaiveDate>) {
        // Clipped first: an all-day event may run for years, and only the window's
        // days are walked.
        let last = last.min(self.to);
        for day in first.max(self.from).iter_days() {
            if day > last {
                break;
            }
            out.insert(day);
        }
    }

    /// The instants between which an occurrence's start can give a date in the
    /// window. An occurrence that starts before the window's first day can still
    /// touch it, by its length, and a zone's offset moves a local date by up to a
    /// day either way: the bounds are widened by both, and the exact local dates are
    /// filtered later.
    fn bounds(&self, span: Span) -> (DateTime<Utc>, DateTime<Utc>) {
        let reach = match span {
            Span::Days(days) => days,
            Span::Exact(length) => u64::try_from(length.num_days()).unwrap_or(0) + 1,
        };
        let lo = self
            .from
            .checked_sub_days(Days::new(reach.saturating_add(2)))
            .unwrap_or(NaiveDate::MIN);
        let hi = self
            .to
            .checked_add_days(Days::new(2))
            .unwrap_or(NaiveDate::MAX);
        (
            lo.and_time(NaiveTime::MIN).and_utc(),
            hi.and_time(NaiveTime::MIN).and_utc(),
        )
    }

    /// Adds the window's dates that one occurrence, starting at `start`, touches.
    fn add_occurrence(
        &self,
        start: DateTime<rrule::Tz>,
        span: Span,
        label: &str,
        out: &mut BTreeSet<NaiveDate>,
    ) -> Result<(), String> {
        match span {
            Span::Days(days) => {
                // All-day occurrences are anchored at midnight UTC (see `Moment::anchor`),
                // so their UTC date is their calendar date, whatever the schedule's zone.
                let first = start.naive_utc().date();
                let last = first
                    .checked_add_days(Days::new(days.saturating_sub(1)))
                    .unwrap_or(NaiveDate::MAX);
                self.add_days(first, last, out);
            }
            Span::Exact(length) => {
                let first = start.with_timezone(&self.tz).date_naive();
                let end = start
                    .checked_add_signed(length)
                    .ok_or_else(|| format!("{label} ends too far in the future"))?
                    .with_timezone(&self.tz);
                // The end is exclusive: an event that ends at local midnight does not
                // touch the next day.
                let mut last = end.date_naive();
                if length > TimeDelta::zero() && end.time() == NaiveTime::MIN {
                    last = last.pred_opt().unwrap_or(last);
                }
                self.add_days(first, last.max(first), out);
            }
        }
        Ok(())
    }
}

fn from_json(text: &str, window: &Window) -> Result<BTreeSet<NaiveDate>, String> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON list: {e}"))?;
    let mut out = BTreeSet::new();
    for v in &values {
        let s = v
            .as_str()
            .or_else(|| v.get("date").and_then(|d| d.as_str()))
            .ok_or_else(|| format!("{v} is not a date or an object with \"date\""))?;
        let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| format!("\"{s}\" is not a date (YYYY-MM-DD)"))?;
        if window.contains(date) {
            out.insert(date);
        }
    }
    Ok(out)
}

/// One VEVENT, with the name its errors use.
struct Vevent {
    event: Event,
    label: String,
}

impl Vevent {
    fn uid(&self) -> Option<&str> {
        self.event
            .get_uid()
            .map(str::trim)
            .filter(|uid| !uid.is_empty())
    }

    fn is_override(&self) -> bool {
        self.event.properties().contains_key("RECURRENCE-ID")
    }

    fn is_cancelled(&self) -> bool {
        // icalendar's `Event::get_status` only knows the upper-case spelling, and
        // RFC 5545 values like this one are case-insensitive.
        self.event
            .property_value("STATUS")
            .is_some_and(|status| status.trim().eq_ignore_ascii_case("CANCELLED"))
    }
}

fn from_ics(text: &str, window: &Window) -> Result<BTreeSet<NaiveDate>, HolidayError> {
    // Long lines are folded (a line break followed by a space continues the line);
    // the parser expects them joined.
    let unfolded = unfold(text);
    let roots =
        read_components(&unfolded).map_err(|e| HolidayError::Unreadable(parser_error(&e)))?;
    // VEVENTs are children of a VCALENDAR; the children of a VTIMEZONE (STANDARD,
    // DAYLIGHT) and of an event (VALARM) are never looked at. (icalendar's parser
    // takes one VCALENDAR per file: a second one after it is a parse error.)
    let events: Vec<Vevent> = roots
        .into_iter()
        .filter(|root| root.name.as_str().eq_ignore_ascii_case("VCALENDAR"))
        .flat_map(|root| root.components)
        .filter(|child| child.name.as_str().eq_ignore_ascii_case("VEVENT"))
        .enumerate()
        .filter_map(|(index, mut child)| {
            // icalendar turns a component into an `Event` only by its upper-case name.
            child.name = "VEVENT".into();
            match CalendarComponent::from(child) {
                CalendarComponent::Event(event) => {
                    let label = label(&event, index + 1);
                    Some(Vevent { event, label })
                }
                _ => None,
            }
        })
        .collect();

    // An override (an event with a RECURRENCE-ID) replaces the occurrence of its
    // series (the event with the same UID and no RECURRENCE-ID) that the id names,
    // for example a holiday moved to another day: that occurrence is taken out of
    // the series, and the override counts as an event of its own, unless cancelled.
    let mut replaced: HashMap<&str, Vec<Moment>> = HashMap::new();
    let mut cancelled_series: HashSet<&str> = HashSet::new();
    for vevent in &events {
        let Some(uid) = vevent.uid() else { continue };
        if let Some(id) = vevent.event.properties().get("RECURRENCE-ID") {
            let id = moment(id, &vevent.label, window.tz).map_err(HolidayError::Event)?;
            replaced.entry(uid).or_default().push(id);
        } else if vevent.is_cancelled() {
            cancelled_series.insert(uid);
        }
    }

    let mut out = BTreeSet::new();
    for vevent in &events {
        if vevent.is_cancelled() {
            continue;
        }
        let uid = vevent.uid();
        let excluded: &[Moment] = if vevent.is_override() {
            // Cancelling a series cancels its moved occurrences too.
            if uid.is_some_and(|uid| cancelled_series.contains(uid)) {
                continue;
            }
            &[]
        } else {
            uid.and_then(|uid| replaced.get(uid))
                .map_or(&[], Vec::as_slice)
        };
        add_event(vevent, excluded, window, &mut out).map_err(HolidayError::Event)?;
    }
    Ok(out)
}

/// What errors call an event: its SUMMARY, else its UID, else its position.
fn label(event: &Event, position: usize) -> String {
    let name = [event.get_summary(), event.get_uid()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|name| !name.is_empty());
    match name {
        Some(name) => format!("event \"{name}\""),
        None => format!("event #{position}"),
    }
}

/// Where and why icalendar's parser stopped, in one line. Its errors are nom's
/// verbose ones: frames of "N: at line L, in WHAT:", the text of that line and a
/// caret, innermost first, with line numbers counted after unfolding.
fn parser_error(message: &str) -> String {
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let lines: Vec<&str> = message.lines().collect();
    let frames: Vec<(&str, &str, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let (_, rest) = line.split_once(": at line ")?;
            let (number, what) = rest.split_once(", in ")?;
            let text = lines.get(i + 1).map_or("", |text| text.trim());
            Some((number, what.trim_end_matches(':'), text))
        })
        .collect();
    let Some(&(number, _, text)) = frames.first() else {
        // Not the expected shape: better the whole message than none.
        return message.split_whitespace().collect::<Vec<_>>().join(" ");
    };
    let found = if text.is_empty() {
        "end of file".to_string()
    } else {
        format!("\"{text}\"")
    };
    // The parser's own notes ("mismatching end") are lower-case; nom's kinds of
    // step (Many0, Tag) say nothing to a reader.
    let note = frames
        .iter()
        .map(|&(_, what, _)| what)
        .find(|what| what.starts_with(|c: char| c.is_ascii_lowercase()))
        .map(|what| format!(" ({what})"))
        .unwrap_or_default();
    format!("unexpected {found} at line {number}{note}")
}

/// A DTSTART, DTEND, EXDATE, RDATE or RECURRENCE-ID value.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// A date (`VALUE=DATE`): a whole day, wherever one is.
    Day(NaiveDate),
    /// A date-time, placed in its own zone (UTC for a `Z` time, the TZID's zone, or
    /// the schedule's zone for a floating time).
    At(DateTime<Tz>),
}

impl Moment {
    /// The instant `rrule` expands from. `rrule` needs a zone: a date is anchored at
    /// midnight UTC, which no offset or DST change can move to another day while
    /// the rule is expanded, and its occurrences are read back as UTC dates.
    fn anchor(self) -> DateTime<Tz> {
        match self {
            Moment::Day(date) => midnight_utc(date),
            Moment::At(at) => at,
        }
    }
}

fn midnight_utc(date: NaiveDate) -> DateTime<Tz> {
    chrono_tz::UTC.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// How long each occurrence of an event lasts.
#[derive(Clone, Copy, Debug)]
enum Span {
    /// All-day: this many days, at least one.
    Days(u64),
    /// Timed: this long, from the start instant (zero for an event with no end).
    Exact(TimeDelta),
}

/// Reads one date or date-time property. `floating` is the zone a time without a
/// zone is read in.
fn moment(prop: &Property, label: &str, floating: Tz) -> Result<Moment, String> {
    let name = prop.key();
    let value = DatePerhapsTime::from_property(prop).ok_or_else(|| {
        format!(
            "{label}: {name} \"{}\" is not a date or a date-time",
            prop.value()
        )
    })?;
    Ok(match value {
        DatePerhapsTime::Date(date) => Moment::Day(date),
        DatePerhapsTime::DateTime(CalendarDateTime::Utc(at)) => {
            Moment::At(at.with_timezone(&chrono_tz::UTC))
        }
        DatePerhapsTime::DateTime(CalendarDateTime::Floating(wall)) => {
            Moment::At(local(wall, floating))
        }
        DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time, tzid }) => {
            // The TZID names a VTIMEZONE of the file, but exporters name them after
            // the IANA zone they describe, and chrono-tz knows those zones better than
            // a VTIMEZONE's few rules do.
            let zone = tzid.trim().parse::<Tz>().map_err(|_| {
                format!(
                    "{label}: unknown time zone \"{tzid}\" in {name} \
                     (expected an IANA name such as Asia/Seoul)"
                )
            })?;
            Moment::At(local(date_time, zone))
        }
    })
}

/// Reads each value of a property that may hold a comma-separated list (EXDATE,
/// RDATE).
fn moments(prop: &Property, label: &str, floating: Tz) -> Result<Vec<Moment>, String> {
    if matches!(prop.value_type(), Some(ValueType::Period)) {
        return Err(format!(
            "{label}: {} with periods (VALUE=PERIOD) is not supported",
            prop.key()
        ));
    }
    prop.value()
        .split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| {
            // icalendar reads one value per property: give each its own, with the
            // list's parameters (TZID, VALUE).
            let mut one = Property::new(prop.key(), value);
            for param in prop.params().values() {
                one.append_parameter(param.clone());
            }
            moment(&one, label, floating)
        })
        .collect()
}

/// `wall` read as a wall-clock time in `zone`. A time that the clocks skip (when
/// they spring forward) is read with the offset in force before the jump, as
/// RFC 5545 asks; a time they pass twice (when they fall back) is its first pass.
fn local(wall: NaiveDateTime, zone: Tz) -> DateTime<Tz> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at,
        LocalResult::None => {
            // The offset a day earlier is the one before the jump: no zone changes
            // its clocks twice in a day.
            let before = wall.checked_sub_signed(TimeDelta::days(1)).unwrap_or(wall);
            let offset = zone.offset_from_utc_datetime(&before).fix();
            // Falls back to reading the time as UTC only at the ends of chrono's
            // range, where no zone has a gap.
            let utc = wall.checked_sub_offset(offset).unwrap_or(wall);
            zone.from_utc_datetime(&utc)
        }
    }
}

/// How long each occurrence lasts: to DTEND, else for DURATION, else one day (all-day)
/// or no time at all (timed), as RFC 5545 says.
fn span(event: &Event, label: &str, start: Moment, floating: Tz) -> Result<Span, String> {
    let props = event.properties();
    if let Some(end) = props.get("DTEND") {
        return match (start, moment(end, label, floating)?) {
            // An end on or before the start is invalid; it is read as the shortest
            // event rather than refused, as calendar programs show it.
            (Moment::Day(start), Moment::Day(end)) => Ok(Span::Days(
                u64::try_from(end.signed_duration_since(start).num_days())
                    .unwrap_or(0)
                    .max(1),
            )),
            (Moment::At(start), Moment::At(end)) => Ok(Span::Exact(
                end.signed_duration_since(start).max(TimeDelta::zero()),
            )),
            _ => Err(format!(
                "{label}: DTSTART and DTEND must both be dates or both date-times"
            )),
        };
    }
    if let Some(prop) = props.get("DURATION") {
        let length = duration(prop.value()).ok_or_else(|| {
            format!(
                "{label}: DURATION \"{}\" is not a duration such as P1D or PT2H",
                prop.value()
            )
        })?;
        return Ok(match start {
            // Whole days, rounded up: an all-day event of "PT36H" covers two days.
            Moment::Day(_) => {
                let seconds = length.num_seconds();
                let days = if seconds <= 0 {
                    1
                } else {
                    (seconds - 1) / 86_400 + 1
                };
                Span::Days(u64::try_from(days).unwrap_or(1))
            }
            Moment::At(_) => Span::Exact(length),
        });
    }
    Ok(match start {
        Moment::Day(_) => Span::Days(1),
        Moment::At(_) => Span::Exact(TimeDelta::zero()),
    })
}

/// A DURATION value (RFC 5545 §3.3.6, such as "P3D" or "PT1H30M").
fn duration(value: &str) -> Option<TimeDelta> {
    // icalendar keeps its duration parser private. An alarm's TRIGGER has the same
    // value type, and converting a TRIGGER property is the public way to it.
    match Trigger::try_from(&Property::new("TRIGGER", value.trim())).ok()? {
        Trigger::Duration(length, _) => Some(length),
        Trigger::DateTime(_) => None,
    }
}

/// Adds the window's dates of one event: every occurrence of its recurrence (or its
/// one occurrence), less `excluded` (the occurrences that overrides replace).
fn add_event(
    vevent: &Vevent,
    excluded: &[Moment],
    window: &Window,
    out: &mut BTreeSet<NaiveDate>,
) -> Result<(), String> {
    let Vevent { event, label } = vevent;
    let props = event.properties();
    let start = props
        .get("DTSTART")
        .ok_or_else(|| format!("{label} has no DTSTART"))?;
    let start = moment(start, label, window.tz)?;
    let span = span(event, label, start, window.tz)?;

    let anchor = start.anchor();
    let dt_start = anchor.with_timezone(&rrule::Tz::Tz(anchor.timezone()));
    // DTSTART is always the first occurrence (RFC 5545 §3.8.5.3), even where the
    // rule would not give it; `rrule` only yields what the rule gives, so it is added
    // as an RDATE. `limit` keeps rrule's guard against rules that never match.
    let mut set = RRuleSet::new(dt_start).limit().rdate(dt_start);
    if let Some(rule) = props.get("RRULE") {
        set = set.rrule(recurrence_rule(rule.value(), start, dt_start, label)?);
    }
    let listed = |key: &str| event.multi_properties().get(key).into_iter().flatten();
    for prop in listed("RDATE") {
        for date in moments(prop, label, window.tz)? {
            set = set.rdate(align(date, start));
        }
    }
    for prop in listed("EXDATE") {
        for date in moments(prop, label, window.tz)? {
            set = set.exdate(align(date, start));
        }
    }
    for &date in excluded {
        set = set.exdate(align(date, start));
    }

    let (lo, hi) = window.bounds(span);
    let mut steps = 0;
    let mut kept = 0;
    // Occurrences come in order of their start.
    for occurrence in &set {
        if occurrence > hi {
            break;
        }
        steps += 1;
        if steps > MAX_STEPS {
            return Err(format!(
                "{label}: it recurs too often to expand: more than {MAX_STEPS} \
                 occurrences before {}",
                window.from
            ));
        }
        if occurrence < lo {
            continue;
        }
        kept += 1;
        if kept > MAX_OCCURRENCES {
            return Err(format!(
                "{label}: it recurs more than {MAX_OCCURRENCES} times \
                 between {} and {}",
                window.from, window.to
            ));
        }
        window.add_occurrence(occurrence, span, label, out)?;
    }
    Ok(())
}

/// An EXDATE, RDATE or RECURRENCE-ID as an instant of the same kind as the series'
/// start, since `rrule` matches exclusions by instant: a date of an all-day series is
/// its midnight UTC (like DTSTART, see `Moment::anchor`); a date-time of an all-day
/// series counts for its own date; a date of a timed series stands for that day at
/// DTSTART's wall-clock time.
fn align(date: Moment, start: Moment) -> DateTime<rrule::Tz> {
    let at = match (date, start) {
        (Moment::Day(day), Moment::Day(_)) => midnight_utc(day),
        (Moment::At(at), Moment::Day(_)) => midnight_utc(at.date_naive()),
        (Moment::Day(day), Moment::At(first)) => {
            local(day.and_time(first.time()), first.timezone())
        }
        (Moment::At(at), Moment::At(_)) => at,
    };
    at.with_timezone(&rrule::Tz::Tz(at.timezone()))
}

/// An RRULE value, parsed and checked by `rrule` against the series' start.
fn recurrence_rule(
    value: &str,
    start: Moment,
    dt_start: DateTime<rrule::Tz>,
    label: &str,
) -> Result<RRule, String> {
    let unusable = |e: RRuleError| {
        let detail = match e {
            RRuleError::ParserError(e) => e.to_string(),
            // rrule's own words for this one end "That should not be happening".
            RRuleError::ValidationError(ValidationError::UntilBeforeStart { .. }) => {
                "its UNTIL is before its DTSTART".to_string()
            }
            RRuleError::ValidationError(e) => e.to_string(),
            other => other.to_string(),
        };
        format!(
            "{label}: RRULE \"{value}\" is not usable: {}",
            lower_first(detail.trim_end_matches('.'))
        )
    };
    let mut rule = RRule::<Unvalidated>::from_str(value.trim()).map_err(unusable)?;
    // An UNTIL without "Z" (a date, for an all-day series, or a floating time) is read
    // by rrule in the machine's own zone, and then refused because DTSTART has a
    // zone. RFC 5545 reads it in DTSTART's terms, so it is placed there again.
    if let Some(until) = rule.get_until().filter(|until| until.timezone().is_local()) {
        let wall = until.naive_local();
        let until = match start {
            Moment::Day(_) => chrono_tz::UTC.from_utc_datetime(&wall),
            Moment::At(first) => local(wall, first.timezone()),
        };
        rule = rule.until(until.with_timezone(&rrule::Tz::UTC));
    }
    rule.validate(dt_start).map_err(unusable)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test calendars, by file name. The one place that knows where they are:
    /// change the path here when the module moves.
    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../tests/fixtures/holidays/", $name))
        };
    }

    /// A Google Calendar export of Korean holidays for 2026, with a VTIMEZONE.
    const KOREA: &str = fixture!("kr-2026.ics");
    /// A New York office calendar: timed events with TZID, EXDATE and an override.
    const NEW_YORK: &str = fixture!("ny-office-2026.ics");

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a test date")
    }

    fn dates(text: &str, tz: Tz, from: &str, to: &str) -> Vec<String> {
        parse(text, tz, day(from), day(to))
            .expect("the calendar parses")
            .iter()
            .map(NaiveDate::to_string)
            .collect()
    }

    fn error(text: &str, tz: Tz, from: &str, to: &str) -> String {
        parse(text, tz, day(from), day(to))
            .expect_err("the calendar is refused")
            .to_string()
    }

    /// A calendar of the given VEVENT lines, one event per slice.
    fn calendar(events: &[&str]) -> String {
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n");
        for event in events {
            text.push_str("BEGIN:VEVENT\r\n");
            for line in event.lines() {
                text.push_str(line.trim());
                text.push_str("\r\n");
            }
            text.push_str("END:VEVENT\r\n");
        }
        text.push_str("END:VCALENDAR\r\n");
        text
    }

    const SEOUL: Tz = chrono_tz::Asia::Seoul;
    const NEW_YORK_TZ: Tz = chrono_tz::America::New_York;

    #[test]
    fn lists_exactly_the_dates_of_the_korean_calendar() {
        assert_eq!(
            dates(KOREA, SEOUL, "2026-01-01", "2027-12-31"),
            [
                "2026-01-01", // New Year's Day
                "2026-02-16", // Seollal, three one-day events
                "2026-02-17",
                "2026-02-18",
                "2026-03-01", // Independence Movement Day
                "2026-03-02", // its substitute
                "2026-05-05", // Children's Day
                "2026-05-24", // Buddha's Birthday
                "2026-05-25", // its substitute
                "2026-06-03", // Local Election Day
                "2026-06-06", // Memorial Day
                "2026-08-15", // Liberation Day
                "2026-08-17", // its substitute
                "2026-09-24", // Chuseok, one three-day event
                "2026-09-25",
                "2026-09-26",
                "2026-10-03", // National Foundation Day (10-02 is cancelled)
                "2026-10-05", // its substitute
                "2026-10-09", // Hangul Day
                "2026-12-25", // Christmas, yearly since 2020
                "2026-12-31", // the maintenance window, 20:00Z on the 30th
                "2027-01-01", // New Year's Day
                "2027-12-25", // Christmas again
            ]
        );
    }

    #[test]
    fn a_vtimezone_is_not_a_holiday() {
        // The VTIMEZONEs' STANDARD and DAYLIGHT parts start in 1970, and New York's
        // repeat yearly (second Sunday of March, first of November).
        let korea = dates(KOREA, SEOUL, "1969-01-01", "2027-12-31");
        assert!(!korea.contains(&"1970-01-01".to_string()), "{korea:?}");
        let new_york = dates(NEW_YORK, NEW_YORK_TZ, "1969-01-01", "2026-12-31");
        for date in ["1970-03-08", "1970-11-01", "2026-03-08", "2026-11-01"] {
            assert!(
                !new_york.contains(&date.to_string()),
                "{date}: {new_york:?}"
            );
        }
    }

    #[test]
    fn a_yearly_rule_gives_the_dates_in_the_window_only() {
        let christmas = |from, to| -> Vec<String> {
            dates(KOREA, SEOUL, from, to)
                .into_iter()
                .filter(|date| date.ends_with("-12-25"))
                .collect()
        };
        assert_eq!(christmas("2026-01-01", "2026-12-31"), ["2026-12-25"]);
        assert_eq!(
            christmas("2026-01-01", "2027-12-31"),
            ["2026-12-25", "2027-12-25"]
        );
        // From its first year, when the window covers it.
        assert_eq!(
            christmas("2019-01-01", "2021-12-31"),
            ["2020-12-25", "2021-12-25"]
        );
    }

    #[test]
    fn an_all_day_event_counts_every_day_to_its_exclusive_end() {
        let korea = dates(KOREA, SEOUL, "2026-09-01", "2026-09-30");
        assert_eq!(korea, ["2026-09-24", "2026-09-25", "2026-09-26"]);
        // The same in any zone: an all-day event is a calendar date, not an instant.
        let los_angeles = chrono_tz::America::Los_Angeles;
        assert_eq!(dates(KOREA, los_angeles, "2026-09-01", "2026-09-30"), korea);
        // A window that starts in the middle of the event keeps its later days.
        assert_eq!(
            dates(KOREA, SEOUL, "2026-09-25", "2026-09-30"),
            ["2026-09-25", "2026-09-26"]
        );
    }

    #[test]
    fn a_timed_event_counts_on_its_local_date_in_the_schedules_zone() {
        // 2026-12-30 20:00 UTC is 2026-12-31 05:00 in Seoul.
        assert_eq!(
            dates(KOREA, SEOUL, "2026-12-28", "2026-12-31"),
            ["2026-12-31"]
        );
        assert_eq!(
            dates(KOREA, chrono_tz::UTC, "2026-12-28", "2026-12-31"),
            ["2026-12-30"]
        );
    }

    #[test]
    fn a_cancelled_event_is_skipped() {
        // "Temporary Public Holiday" on 2026-10-02 is STATUS:CANCELLED.
        assert_eq!(
            dates(KOREA, SEOUL, "2026-10-01", "2026-10-04"),
            ["2026-10-03"]
        );
    }

    #[test]
    fn exdate_removes_an_occurrence() {
        // 22:00 to 02:00 New York time on the 5th of January, April, July and
        // October, less July (EXDATE), and October moved to the 12th (an override).
        let new_york = dates(NEW_YORK, NEW_YORK_TZ, "2026-01-01", "2026-12-31");
        assert_eq!(
            new_york,
            [
                "2026-01-05",
                "2026-01-06",
                "2026-04-05",
                "2026-04-06",
                "2026-10-12",
                "2026-10-13",
                "2026-11-26", // Thanksgiving, yearly (fourth Thursday) until 2030
                "2026-12-24", // ends at midnight, so not the 25th
            ]
        );
        assert!(!new_york.contains(&"2026-07-05".to_string()));
    }

    #[test]
    fn an_override_replaces_the_occurrence_it_names() {
        let new_york = dates(NEW_YORK, NEW_YORK_TZ, "2026-10-01", "2026-10-31");
        assert_eq!(new_york, ["2026-10-12", "2026-10-13"]);
        // A cancelled override just removes its occurrence.
        let cancelled = NEW_YORK.replace(
            "SUMMARY:Quarterly storage maintenance (moved)",
            "SUMMARY:Quarterly storage maintenance (moved)\nSTATUS:CANCELLED",
        );
        assert_eq!(
            error(&cancelled, NEW_YORK_TZ, "2026-10-01", "2026-10-31"),
            "no dates found between 2026-10-01 and 2026-10-31"
        );
    }

    #[test]
    fn timed_events_in_other_zones_land_on_the_schedules_dates() {
        // 22:00 to 02:00 in New York is 03:00 to 07:00 UTC and 12:00 to 16:00 in
        // Seoul: one day, the later one.
        assert_eq!(
            dates(NEW_YORK, SEOUL, "2026-01-01", "2026-06-30"),
            ["2026-01-06", "2026-04-06"]
        );
        // Thanksgiving is all-day: the same date everywhere. The early close on
        // Christmas Eve, 13:00 to 24:00 in New York, ends on the 25th in Seoul.
        assert_eq!(
            dates(NEW_YORK, SEOUL, "2026-11-01", "2026-12-31"),
            ["2026-11-26", "2026-12-25"]
        );
    }

    #[test]
    fn an_until_date_ends_an_all_day_rule() {
        // Thanksgiving's rule has UNTIL=20301128, the 2030 Thanksgiving itself.
        let thanksgivings: Vec<String> = dates(NEW_YORK, NEW_YORK_TZ, "2023-01-01", "2035-12-31")
            .into_iter()
            .filter(|date| date.get(5..7) == Some("11"))
            .collect();
        assert_eq!(
            thanksgivings,
            [
                "2023-11-23",
                "2024-11-28",
                "2025-11-27",
                "2026-11-26",
                "2027-11-25",
                "2028-11-23",
                "2029-11-22",
                "2030-11-28",
            ]
        );
    }

    #[test]
    fn durations_rdates_and_floating_times() {
        let text = calendar(&[
            "SUMMARY:Three hours into the new year
             DTSTART:20261231T220000Z
             DURATION:PT3H",
            "SUMMARY:Long weekend
             DTSTART;VALUE=DATE:20260605
             DURATION:P3D",
            "SUMMARY:Floating
             DTSTART:20260301T233000",
            "SUMMARY:Extra days
             DTSTART;VALUE=DATE:20260401
             RDATE;VALUE=DATE:20260410,20260420",
        ]);
        assert_eq!(
            dates(&text, chrono_tz::UTC, "2026-01-01", "2027-12-31"),
            [
                "2026-03-01",
                "2026-04-01",
                "2026-04-10",
                "2026-04-20",
                "2026-06-05",
                "2026-06-06",
                "2026-06-07",
                "2026-12-31",
                "2027-01-01",
            ]
        );
        // A floating time is a wall-clock time in the schedule's zone, wherever that is.
        assert!(dates(&text, SEOUL, "2026-01-01", "2027-12-31").contains(&"2026-03-01".into()));
    }

    #[test]
    fn only_events_count() {
        // A to-do, a journal entry and an event's alarm have dates too.
        let text = "BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VTODO\r
DTSTART;VALUE=DATE:20260301\r
DUE;VALUE=DATE:20260302\r
SUMMARY:Renew certificates\r
END:VTODO\r
BEGIN:VJOURNAL\r
DTSTART;VALUE=DATE:20260302\r
SUMMARY:Notes\r
END:VJOURNAL\r
BEGIN:VEVENT\r
DTSTART;VALUE=DATE:20260303\r
SUMMARY:Company day\r
ORGANIZER;CN=\"Kim, Minji\":mailto:minji@example.com\r
ATTENDEE;CN=\"Ops: Seoul\";ROLE=REQ-PARTICIPANT:mailto:ops@example.com\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
TRIGGER;VALUE=DATE-TIME:20260304T000000Z\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
";
        assert_eq!(
            dates(text, SEOUL, "2026-01-01", "2026-12-31"),
            ["2026-03-03"]
        );
    }

    #[test]
    fn json_lists_are_filtered_by_the_window() {
        let json = r#"["2026-12-25", {"date": "2026-01-01", "name": "New Year"}, "2026-12-25", "2027-01-01"]"#;
        assert_eq!(
            dates(json, SEOUL, "2026-01-01", "2026-12-31"),
            ["2026-01-01", "2026-12-25"]
        );
        assert!(
            error(r#"["2026-13-01"]"#, SEOUL, "2026-01-01", "2026-12-31").contains("2026-13-01")
        );
        assert_eq!(
            error(r#"["2025-12-25"]"#, SEOUL, "2026-01-01", "2026-12-31"),
            "no dates found between 2026-01-01 and 2026-12-31"
        );
        assert!(error("[]", SEOUL, "2026-01-01", "2026-12-31").contains("no dates found"));
        assert_eq!(
            parse("[]", SEOUL, day("2026-01-01"), day("2026-12-31")),
            Err(HolidayError::NoDates {
                from: day("2026-01-01"),
                to: day("2026-12-31")
            })
        );
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert!(error("hello", SEOUL, "2026-01-01", "2026-12-31").contains("iCalendar"));
        assert!(error("", SEOUL, "2026-01-01", "2026-12-31").contains("iCalendar"));
        let broken = error(
            "BEGIN:VCALENDAR\nDTSTART:tomorrow\n",
            SEOUL,
            "2026-01-01",
            "2026-12-31",
        );
        assert!(broken.contains("iCalendar"), "{broken}");
        let bad_start = calendar(&["SUMMARY:Someday\nDTSTART:tomorrow"]);
        assert_eq!(
            error(&bad_start, SEOUL, "2026-01-01", "2026-12-31"),
            "event \"Someday\": DTSTART \"tomorrow\" is not a date or a date-time"
        );
        assert!(error(KOREA, SEOUL, "2026-12-31", "2026-01-01").contains("ends before it starts"));
    }

    #[test]
    fn an_unknown_tzid_is_named() {
        let text = calendar(&["UID:abc-123
             SUMMARY:Board meeting
             DTSTART;TZID=W. Europe Standard Time:20260105T090000"]);
        let message = error(&text, SEOUL, "2026-01-01", "2026-12-31");
        assert!(message.contains("W. Europe Standard Time"), "{message}");
        assert!(message.contains("Board meeting"), "{message}");
        // Without a SUMMARY, the UID names the event.
        let text = calendar(&["UID:abc-123
             DTSTART;TZID=Mars/Olympus_Mons:20260105T090000"]);
        let message = error(&text, SEOUL, "2026-01-01", "2026-12-31");
        assert!(message.contains("Mars/Olympus_Mons"), "{message}");
        assert!(message.contains("abc-123"), "{message}");
    }

    #[test]
    fn a_rule_that_repeats_too_often_is_refused() {
        let minutely = calendar(&["SUMMARY:Every minute
             DTSTART:20260101T000000Z
             RRULE:FREQ=MINUTELY;BYSECOND=0"]);
        let message = error(&minutely, SEOUL, "2026-01-01", "2026-12-31");
        assert!(message.contains("more than 10000 times"), "{message}");
        assert!(message.contains("Every minute"), "{message}");
        // Far from the window, it is the walk up to the window that is refused.
        let secondly = calendar(&["SUMMARY:Every second
             DTSTART:20200101T000000Z
             RRULE:FREQ=SECONDLY"]);
        let message = error(&secondly, SEOUL, "2026-01-01", "2026-12-31");
        assert!(message.contains("recurs too often"), "{message}");
        let bad_rule = calendar(&["SUMMARY:Odd\nDTSTART:20260101T000000Z\nRRULE:FREQ=FORTNIGHTLY"]);
        let message = error(&bad_rule, SEOUL, "2026-01-01", "2026-12-31");
        assert!(message.starts_with("event \"Odd\": RRULE"), "{message}");
    }
}
