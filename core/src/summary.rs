//! When the weekly summary is due: a weekday and a local time in each schedule's own
//! zone (Monday 09:00 by default). Pure: the run asks with its `now` and what it last
//! sent, and gets the week to summarise, if one is owed.
//!
//! A summary is owed from its due instant for a day: a run that comes later (the
//! function was off, throttled) sends it late rather than never, and one more than a
//! day late is skipped (last week's news). The week is the seven local days before the
//! due instant, so a week with a DST change is 167 or 169 hours long.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::local_instant;

/// When the weekly summary goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRule {
    /// The weekday.
    pub weekday: Weekday,
    /// The local time.
    pub time: NaiveTime,
}

impl Default for SummaryRule {
    fn default() -> Self {
        SummaryRule {
            weekday: Weekday::Mon,
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

impl SummaryRule {
    /// Reads `mon 09:00` (a weekday and a 24-hour time; any case), or `off` (`None`).
    pub fn parse(text: &str) -> Result<Option<SummaryRule>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let mut words = text.split_whitespace();
        let (Some(day), Some(time), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "\"{text}\" is not a weekday and a time such as \"mon 09:00\" (or \"off\")"
            ));
        };
        let weekday: Weekday = day
            .parse()
            .map_err(|_| format!("\"{day}\" is not a weekday (mon, tue, ...)"))?;
        let time = NaiveTime::parse_from_str(time, "%H:%M")
            .map_err(|_| format!("\"{time}\" is not a time HH:MM"))?;
        Ok(Some(SummaryRule { weekday, time }))
    }

    /// The latest due instant at or before `now`, in zone `tz`.
    pub fn last_due(&self, tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.with_timezone(&tz).date_naive();
        let back =
            (7 + today.weekday().num_days_from_monday() - self.weekday.num_days_from_monday()) % 7;
        let date = today - Duration::days(i64::from(back));
        let due = local_instant(tz, date, self.time);
        if due <= now {
            due
        } else {
            local_instant(tz, date - Duration::days(7), self.time)
        }
    }

    /// The first due instant after `after`, in zone `tz`: when a run must next ask.
    pub fn next_due(&self, tz: Tz, after: DateTime<Utc>) -> DateTime<Utc> {
        let last = self.last_due(tz, after);
        let date = last.with_timezone(&tz).date_naive() + Duration::days(7);
        local_instant(tz, date, self.time)
    }

    /// The week a summary is owed for at `now`, given when the last one was sent
    /// (its due instant): within a day of the due instant, once.
    pub fn owed(
        &self,
        tz: Tz,
        now: DateTime<Utc>,
        last_sent: Option<DateTime<Utc>>,
    ) -> Option<Week> {
        let due = self.last_due(tz, now);
        if now - due >= Duration::days(1) || last_sent.is_some_and(|sent| sent >= due) {
            return None;
        }
        let date = due.with_timezone(&tz).date_naive() - Duration::days(7);
        Some(Week {
            from: local_instant(tz, date, self.time),
            to: due,
        })
    }
}

/// The week a summary covers: `[from, to)`, `to` being its due instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Week {
    /// Its first instant.
    pub from: DateTime<Utc>,
    /// Its end, when the summary is due.
    pub to: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Seoul};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn due_on_monday_at_nine_in_the_schedules_zone() {
        let rule = SummaryRule::default();
        assert_eq!(
            rule.last_due(Seoul, at("2026-12-28T09:00:00+09:00")),
            at("2026-12-28T09:00:00+09:00")
        );
        assert_eq!(
            rule.last_due(Seoul, at("2026-12-28T08:59:00+09:00")),
            at("2026-12-21T09:00:00+09:00")
        );
        assert_eq!(
            rule.next_due(Seoul, at("2026-12-23T12:00:00+09:00")),
            at("2026-12-28T09:00:00+09:00")
        );
    }

    #[test]
    fn owed_once_within_a_day_for_the_seven_days_before() {
        let rule = SummaryRule::default();
        let week = rule
            .owed(Seoul, at("2026-12-28T09:05:00+09:00"), None)
            .unwrap();
        assert_eq!(week.from, at("2026-12-21T09:00:00+09:00"));
        assert_eq!(week.to, at("2026-12-28T09:00:00+09:00"));
        assert_eq!(
            rule.owed(Seoul, at("2026-12-28T09:05:00+09:00"), Some(week.to)),
            None
        );
        assert_eq!(
            rule.owed(Seoul, at("2026-12-29T09:00:00+09:00"), None),
            None
        );
        assert!(
            rule.owed(Seoul, at("2026-12-29T08:59:00+09:00"), None)
                .is_some()
        );
    }

    #[test]
    fn a_week_over_a_dst_change_is_its_local_week() {
        let rule = SummaryRule::parse("mon 09:00").unwrap().unwrap();
        // New York springs forward on Sunday 2026-03-08.
        let week = rule
            .owed(New_York, at("2026-03-09T09:00:00-04:00"), None)
            .unwrap();
        assert_eq!((week.to - week.from).num_hours(), 167);
    }

    #[test]
    fn rules_read_a_weekday_and_a_time_or_off() {
        assert_eq!(SummaryRule::parse("off").unwrap(), None);
        let fri = SummaryRule::parse("Fri 17:30").unwrap().unwrap();
        assert_eq!(fri.weekday, Weekday::Fri);
        assert!(SummaryRule::parse("someday 9").is_err());
        assert!(SummaryRule::parse("mon 25:00").is_err());
    }
}
