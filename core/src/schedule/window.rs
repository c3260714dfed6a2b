//! SSM maintenance windows, as a schedule's `MaintenanceWindows` names them: what
//! the shell reads of each (`DescribeMaintenanceWindows`: its schedule, duration and
//! zone), and when each opens, for the calendar.
//!
//! A window's schedule is SSM's: `cron(MIN HOUR DOM MONTH DOW [YEAR])` with `?` for
//! "any", lists, ranges and steps in the minute and hour fields, `DOW` as names or
//! numbers (`1` is Sunday), `TUE#2` (the second Tuesday), `6L` or `FRIL` (the last
//! Friday), `DOM` as our `MonthDays` (`L`, `15W`, steps), `MONTH` as our `Months`;
//! `at(YYYY-MM-DDTHH:MM:SS)` for one opening; `rate(N days)` or `rate(N hours)`
//! counted from the window's start date (`StartDate`) when AWS gives one.

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::days::{Days, MonthDays, Months};

/// One maintenance window, as SSM describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// `mw-0123…`.
    pub id: String,
    /// The window's name.
    pub name: String,
    /// `cron(…)`, `rate(…)` or `at(…)`.
    pub schedule: String,
    /// How long the window is open, in hours.
    pub duration_hours: u32,
    /// The IANA zone of its schedule; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// `StartDate`, when given: a rate counts from it, and nothing opens before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<DateTime<Utc>>,
    /// A disabled window never opens.
    pub enabled: bool,
}

/// A window checked, ready for the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The name (or id) the schedule gives it.
    pub name: String,
    /// How long it stays open.
    pub duration: Duration,
    /// Its schedule and zone as SSM gives them (so that an edit in SSM is a change
    /// of the schedule's digest).
    pub source: String,
    #[serde(skip)]
    recurrence: Recurrence,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Recurrence {
    /// Opens on matching local dates at each of these local times.
    Cron {
        tz: Tz,
        times: Vec<NaiveTime>,
        days: Days,
        month_days: Option<MonthDays>,
        months: Option<Months>,
    },
    /// Opens every `every`, from `from`.
    Rate {
        from: DateTime<Utc>,
        every: Duration,
    },
    /// Opens once.
    Once(DateTime<Utc>),
    /// Never opens (disabled).
    #[default]
    Never,
}

impl Window {
    /// Checks `w`; the error says what in its schedule cannot be read.
    pub fn parse(name: &str, w: &MaintenanceWindow) -> Result<Window, String> {
        let tz: Tz = match w.time_zone.as_deref().map(str::trim) {
            None | Some("") => Tz::UTC,
            Some(z) => z
                .parse()
                .map_err(|_| format!("its zone \"{z}\" is not an IANA time zone"))?,
        };
        let text = w.schedule.trim();
        let recurrence = if !w.enabled {
            Recurrence::Never
        } else if let Some(body) = inner(text, "cron") {
            cron(body, tz)?
        } else if let Some(body) = inner(text, "at") {
            let local = NaiveDateTime::parse_from_str(body.trim(), "%Y-%m-%dT%H:%M:%S")
                .map_err(|_| format!("\"{text}\": expected at(YYYY-MM-DDTHH:MM:SS)"))?;
            Recurrence::Once(crate::wallclock::local_instant(
                tz,
                local.date(),
                local.time(),
            ))
        } else if let Some(body) = inner(text, "rate") {
            let (n, unit) = body
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("\"{text}\": expected rate(N days) or rate(N hours)"))?;
            let n: i64 = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("\"{text}\": {n} is not a positive number"))?;
            let every = match unit.trim().trim_end_matches('s') {
                "day" => Duration::days(n),
                "hour" => Duration::hours(n),
                other => return Err(format!("\"{text}\": \"{other}\" is not days or hours")),
            };
            let from = w
                .start_date
                .ok_or_else(|| format!("\"{text}\": a rate needs the window's StartDate"))?;
            Recurrence::Rate { from, every }
        } else {
            return Err(format!(
                "its schedule \"{text}\" is not cron(…), rate(…) or at(…)"
            ));
        };
        if w.duration_hours == 0 {
            return Err("its duration is 0 hours".into());
        }
        Ok(Window {
            name: name.to_string(),
            duration: Duration::hours(i64::from(w.duration_hours)),
            source: format!(
                "{} {} {}",
                w.schedule,
                w.time_zone.as_deref().unwrap_or("UTC"),
                w.enabled
            ),
            recurrence,
        })
    }

    /// The instants the window opens in `(after, until]`, in order.
    pub fn openings(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        match &self.recurrence {
            Recurrence::Never => {}
            Recurrence::Once(at) => {
                if after < *at && *at <= until {
                    out.push(*at);
                }
            }
            Recurrence::Rate { from, every } => {
                let mut k = if after <= *from {
                    0
                } else {
                    (after - *from).num_seconds() / every.num_seconds()
                };
                loop {
                    let at = *from + *every * k as i32;
                    if at > until {
                        break;
                    }
                    if at > after {
                        out.push(at);
                    }
                    k += 1;
                }
            }
            Recurrence::Cron {
                tz,
                times,
                days,
                month_days,
                months,
            } => {
                let first = after.with_timezone(tz).date_naive().pred_opt();
                let last = until.with_timezone(tz).date_naive();
                let mut date = first.unwrap_or(last);
                while date <= last {
                    if days.matches(date)
                        && month_days.is_none_or(|m| m.matches(date))
                        && months.is_none_or(|m| m.matches(date))
                    {
                        for t in times {
                            let at = crate::wallclock::local_instant(*tz, date, *t);
                            if after < at && at <= until {
                                out.push(at);
                            }
                        }
                    }
                    let Some(next) = date.succ_opt() else { break };
                    date = next;
                }
                out.sort();
                out.dedup();
            }
        }
        out
    }

    /// Whether the window is open at `at` (from an opening, for its duration).
    pub fn open_at(&self, at: DateTime<Utc>) -> bool {
        !self.openings(at - self.duration, at).is_empty()
    }
}

fn inner<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    (lower.starts_with(word)
        && text[word.len()..].trim_start().starts_with('(')
        && text.ends_with(')'))
    .then(|| {
        let open = text.find('(').unwrap_or(0);
        &text[open + 1..text.len() - 1]
    })
}

const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn cron(body: &str, tz: Tz) -> Result<Recurrence, String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    let [minute, hour, dom, month, dow, rest @ ..] = fields.as_slice() else {
        return Err(format!(
            "\"cron({body})\": expected cron(MINUTES HOURS DAY-OF-MONTH MONTH DAY-OF-WEEK [YEAR])"
        ));
    };
    if !rest.is_empty() && rest != ["*"] {
        return Err(format!(
            "\"cron({body})\": a year other than * is not read; give the window's EndDate instead"
        ));
    }
    let minutes = numbers(minute, 0, 59).map_err(|e| format!("cron minutes: {e}"))?;
    let hours = numbers(hour, 0, 23).map_err(|e| format!("cron hours: {e}"))?;
    let mut times = Vec::new();
    for h in &hours {
        for m in &minutes {
            times.extend(NaiveTime::from_hms_opt(*h, *m, 0));
        }
    }
    let any = |f: &str| f == "*" || f == "?";
    let days = if any(dow) {
        Days::parse("all")?
    } else {
        Days::parse(&dow_text(dow)?).map_err(|e| format!("cron day of week: {e}"))?
    };
    let month_days = if any(dom) {
        None
    } else {
        Some(MonthDays::parse(dom).map_err(|e| format!("cron day of month: {e}"))?)
    };
    let months = if any(month) {
        None
    } else {
        Some(Months::parse(month).map_err(|e| format!("cron month: {e}"))?)
    };
    Ok(Recurrence::Cron {
        tz,
        times,
        days,
        month_days,
        months,
    })
}

/// SSM's day-of-week field in the words of `DaysActive`: numbers 1–7 from Sunday,
/// `6L` as `friL`, `TUE#2` as `tue#2`.
fn dow_text(field: &str) -> Result<String, String> {
    let word = |t: &str| -> Result<String, String> {
        match t.parse::<usize>() {
            Ok(n) if (1..=7).contains(&n) => Ok(WEEKDAYS[n - 1].to_string()),
            Ok(n) => Err(format!("cron day of week {n}: expected 1 (Sunday) to 7")),
            Err(_) => Ok(t.to_ascii_lowercase()),
        }
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        let part = part.trim();
        let text = if let Some((d, n)) = part.split_once('#') {
            format!("{}#{n}", word(d)?)
        } else if let Some(d) = part.strip_suffix(['L', 'l']).filter(|d| !d.is_empty()) {
            format!("{}L", word(d)?)
        } else if let Some((a, b)) = part.split_once('-') {
            format!("{}-{}", word(a)?, word(b)?)
        } else {
            word(part)?
        };
        out.push(text);
    }
    Ok(out.join(","))
}

/// A cron minute or hour field: `*`, `5`, `1,2`, `1-5`, `*/15`, `0/30`.
fn numbers(field: &str, low: u32, high: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("\"{part}\": a bad step"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a, low, high)?, num(b, low, high)?)
        } else {
            let a = num(range, low, high)?;
            (a, if part.contains('/') { high } else { a })
        };
        let mut v = a;
        while v <= b {
            out.push(v);
            v += step;
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn num(text: &str, low: u32, high: u32) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| format!("\"{text}\" is not a number from {low} to {high}"))
}

/// The date a local date-time string names, for tests.
#[cfg(test)]
fn day(text: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(schedule: &str, hours: u32, zone: Option<&str>) -> Window {
        Window::parse(
            "patching",
            &MaintenanceWindow {
                id: "mw-1".into(),
                name: "patching".into(),
                schedule: schedule.into(),
                duration_hours: hours,
                time_zone: zone.map(str::to_string),
                start_date: None,
                enabled: true,
            },
        )
        .unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_second_tuesday_in_seoul_opens_once_a_month() {
        let w = window("cron(0 2 ? * TUE#2 *)", 3, Some("Asia/Seoul"));
        let got = w.openings(utc("2026-12-01T00:00:00Z"), utc("2027-02-01T00:00:00Z"));
        // 02:00 KST on 2026-12-08 and 2027-01-12.
        assert_eq!(
            got,
            [utc("2026-12-07T17:00:00Z"), utc("2027-01-11T17:00:00Z")]
        );
        assert!(w.open_at(utc("2026-12-07T19:59:00Z")));
        assert!(!w.open_at(utc("2026-12-07T20:00:00Z")));
        assert_eq!(day("2026-12-08").format("%a").to_string(), "Tue");
    }

    #[test]
    fn numbers_last_weekdays_and_steps_read_as_ssm_means_them() {
        // 6L: the last Friday; hours 1 and 13, every 30 minutes.
        let w = window("cron(0/30 1,13 ? * 6L *)", 1, None);
        let got = w.openings(utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
        assert_eq!(
            got,
            [
                utc("2026-12-25T01:00:00Z"),
                utc("2026-12-25T01:30:00Z"),
                utc("2026-12-25T13:00:00Z"),
                utc("2026-12-25T13:30:00Z"),
            ]
        );
        let w = window("cron(0 4 L * ? *)", 2, None);
        assert_eq!(
            w.openings(utc("2027-02-01T00:00:00Z"), utc("2027-03-01T00:00:00Z")),
            [utc("2027-02-28T04:00:00Z")]
        );
    }

    #[test]
    fn once_rate_and_disabled_windows() {
        let w = window("at(2026-12-24T22:00:00)", 2, Some("Europe/Berlin"));
        assert_eq!(
            w.openings(utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")),
            [utc("2026-12-24T21:00:00Z")]
        );
        let mut m = MaintenanceWindow {
            id: "mw-2".into(),
            name: "nightly".into(),
            schedule: "rate(2 days)".into(),
            duration_hours: 1,
            time_zone: None,
            start_date: Some(utc("2026-12-01T03:00:00Z")),
            enabled: true,
        };
        let w = Window::parse("nightly", &m).unwrap();
        assert_eq!(
            w.openings(utc("2026-12-02T00:00:00Z"), utc("2026-12-06T00:00:00Z")),
            [utc("2026-12-03T03:00:00Z"), utc("2026-12-05T03:00:00Z")]
        );
        m.enabled = false;
        let w = Window::parse("nightly", &m).unwrap();
        assert!(
            w.openings(utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
                .is_empty()
        );
    }

    #[test]
    fn what_cannot_be_read_is_named() {
        let bad = |schedule: &str| {
            Window::parse(
                "w",
                &MaintenanceWindow {
                    id: "mw-3".into(),
                    name: "w".into(),
                    schedule: schedule.into(),
                    duration_hours: 1,
                    time_zone: None,
                    start_date: None,
                    enabled: true,
                },
            )
            .unwrap_err()
        };
        assert!(bad("cron(0 25 ? * MON *)").contains("cron hours"));
        assert!(bad("cron(0 2 ? * MON#6 *)").contains("cron day of week"));
        assert!(bad("every tuesday").contains("is not cron(…), rate(…) or at(…)"));
        assert!(bad("rate(1 days)").contains("StartDate"));
    }
}
