//! Where else to save: from a resource's hourly metrics, the daily pattern it is busy
//! in, and a schedule that would stop it outside that pattern. Pure: the shell reads
//! the metrics (CloudWatch) and prints the proposals.
//!
//! The rule, pinned by the tests below:
//! - An hour is **busy** when its average CPU is at least 5%, or more than 5 MB went
//!   in or out over the network, or a database had any connection.
//! - Each (weekday, hour of day) is busy when more than half of the days seen were
//!   busy then; at least seven days of data are needed.
//! - The proposal runs on the weekdays with a busy hour, from 15 minutes before the
//!   earliest busy hour to 15 minutes after the end of the latest one: busy 09:00–19:00
//!   on weekdays gives `mon-fri 08:45–19:15`.
//! - Nothing is proposed for a resource whose proposal would run more than 80% of the
//!   week (busy around the clock), nor for one never busy (idle: stop it, or find out
//!   why it exists), which is reported as such.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// One hour of a resource's metrics (averages or sums over the hour).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Hour {
    /// The hour's first instant.
    pub at: DateTime<Utc>,
    /// Average CPU utilisation, percent.
    pub cpu: Option<f64>,
    /// Bytes in and out over the network in the hour.
    pub network: Option<f64>,
    /// Average database connections.
    pub connections: Option<f64>,
}

/// The least CPU, percent, that makes an hour busy.
pub const BUSY_CPU: f64 = 5.0;
/// The most network traffic, bytes an hour, that an idle hour may have.
pub const BUSY_NETWORK: f64 = 5_000_000.0;
/// The margin kept before and after the busy hours.
pub const MARGIN_MINUTES: i64 = 15;

impl Hour {
    /// Whether the resource was doing something in this hour.
    pub fn busy(&self) -> bool {
        self.cpu.is_some_and(|c| c >= BUSY_CPU)
            || self.network.is_some_and(|n| n > BUSY_NETWORK)
            || self.connections.is_some_and(|c| c > 0.0)
    }
}

/// A schedule that would run a resource only when it is busy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// `DaysActive`: `mon-fri`, or a list such as `mon,wed,fri`.
    pub days: String,
    /// `StartTime`.
    pub start: NaiveTime,
    /// `StopTime`.
    pub stop: NaiveTime,
    /// The zone of the times.
    #[serde(serialize_with = "display")]
    pub tz: Tz,
    /// Hours a week it would run.
    pub running_hours: f64,
}

fn display<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(tz)
}

/// Why nothing is proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoProposal {
    /// Fewer than seven days of data.
    TooLittleData,
    /// Busy around the clock: a schedule would save little.
    AlwaysBusy,
    /// Never busy in the whole period.
    NeverBusy,
}

impl std::fmt::Display for NoProposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoProposal::TooLittleData => "fewer than seven days of metrics",
            NoProposal::AlwaysBusy => "busy around the clock",
            NoProposal::NeverBusy => "never busy in the period: stop it, or find out why it runs",
        })
    }
}

use crate::schedule::WEEK as WEEKDAYS;

/// The schedule `hours` (any order, one per hour) suggest, in zone `tz`.
pub fn propose(hours: &[Hour], tz: Tz) -> Result<Proposal, NoProposal> {
    let mut busy = [[0u32; 24]; 7];
    let mut seen = [[0u32; 24]; 7];
    let mut days = std::collections::BTreeSet::new();
    for h in hours {
        let local = h.at.with_timezone(&tz);
        let (d, k) = (
            local.weekday().num_days_from_monday() as usize,
            local.hour() as usize,
        );
        seen[d][k] += 1;
        days.insert(local.date_naive());
        if h.busy() {
            busy[d][k] += 1;
        }
    }
    if days.len() < 7 {
        return Err(NoProposal::TooLittleData);
    }
    let active = |d: usize, k: usize| seen[d][k] > 0 && 2 * busy[d][k] > seen[d][k];
    let active_days: Vec<usize> = (0..7).filter(|d| (0..24).any(|k| active(*d, k))).collect();
    if active_days.is_empty() {
        return Err(NoProposal::NeverBusy);
    }
    let first = active_days
        .iter()
        .filter_map(|d| (0..24).find(|k| active(*d, *k)))
        .min()
        .unwrap_or(0);
    let last = active_days
        .iter()
        .filter_map(|d| (0..24).rev().find(|k| active(*d, *k)))
        .max()
        .unwrap_or(23);
    let margin = Duration::minutes(MARGIN_MINUTES);
    let start_minutes = (first as i64 * 60 - margin.num_minutes()).max(0);
    let stop_minutes = ((last as i64 + 1) * 60 + margin.num_minutes()).min(24 * 60 - 1);
    let running_hours = active_days.len() as f64 * (stop_minutes - start_minutes) as f64 / 60.0;
    if running_hours > 0.8 * 168.0 {
        return Err(NoProposal::AlwaysBusy);
    }
    let time = |m: i64| {
        NaiveTime::from_hms_opt((m / 60) as u32, (m % 60) as u32, 0).unwrap_or(NaiveTime::MIN)
    };
    Ok(Proposal {
        days: day_list(&active_days),
        start: time(start_minutes),
        stop: time(stop_minutes),
        tz,
        running_hours,
    })
}

/// `mon-fri` for a run of days, else `mon,wed,fri`.
fn day_list(days: &[usize]) -> String {
    let name = |d: usize| WEEKDAYS[d].to_string().to_ascii_lowercase();
    let contiguous = days.windows(2).all(|w| w[1] == w[0] + 1);
    match (days.first(), days.last()) {
        (Some(a), Some(b)) if contiguous && b > a => format!("{}-{}", name(*a), name(*b)),
        _ => days.iter().map(|d| name(*d)).collect::<Vec<_>>().join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Seoul;

    /// Two weeks of hours from Monday 2026-11-30 00:00 in Seoul, busy when `busy`
    /// says so for (weekday, hour).
    fn two_weeks(busy: impl Fn(usize, u32) -> bool) -> Vec<Hour> {
        let start = DateTime::parse_from_rfc3339("2026-11-30T00:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        (0..14 * 24)
            .map(|k| {
                let at = start + Duration::hours(k);
                let local = at.with_timezone(&Seoul);
                let b = busy(
                    local.weekday().num_days_from_monday() as usize,
                    local.hour(),
                );
                Hour {
                    at,
                    cpu: Some(if b { 40.0 } else { 1.0 }),
                    network: Some(if b { 50e6 } else { 1e5 }),
                    connections: None,
                }
            })
            .collect()
    }

    #[test]
    fn busy_nine_to_seven_on_weekdays_gets_mon_fri_0845_to_1915() {
        let p = propose(&two_weeks(|d, h| d < 5 && (9..19).contains(&h)), Seoul).unwrap();
        assert_eq!(p.days, "mon-fri");
        assert_eq!(p.start, NaiveTime::from_hms_opt(8, 45, 0).unwrap());
        assert_eq!(p.stop, NaiveTime::from_hms_opt(19, 15, 0).unwrap());
        assert_eq!(p.running_hours, 52.5);
    }

    #[test]
    fn busy_around_the_clock_or_never_gets_nothing() {
        assert_eq!(
            propose(&two_weeks(|_, _| true), Seoul),
            Err(NoProposal::AlwaysBusy)
        );
        assert_eq!(
            propose(&two_weeks(|_, _| false), Seoul),
            Err(NoProposal::NeverBusy)
        );
        let few: Vec<Hour> = two_weeks(|_, _| true).into_iter().take(48).collect();
        assert_eq!(propose(&few, Seoul), Err(NoProposal::TooLittleData));
    }

    #[test]
    fn odd_days_are_listed_and_a_once_busy_hour_is_noise() {
        let hours = two_weeks(|d, h| [0, 2, 4].contains(&d) && (10..12).contains(&h));
        let mut noisy = hours.clone();
        // One busy Sunday 03:00 in two weeks is not a pattern.
        noisy[6 * 24 + 3].cpu = Some(90.0);
        let p = propose(&noisy, Seoul).unwrap();
        assert_eq!(p.days, "mon,wed,fri");
        assert_eq!(p.start, NaiveTime::from_hms_opt(9, 45, 0).unwrap());
    }
}
