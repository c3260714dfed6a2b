//! Wall-clock time in a zone, as schedules and maintenance windows write it: the one
//! rule for a local time that does not exist (the spring-forward gap: the first
//! instant after it) or exists twice (the fall-back fold: the first occurrence).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The instant of wall-clock `time` on `date` in `tz`, resolving gaps and folds as
/// described above.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = NaiveDateTime::new(date, time);
    // A gap is at most a day long (Samoa skipped 2011-12-30 whole), so this ends.
    for _ in 0..=(2 * 24 * 60) {
        match tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => return t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            chrono::LocalResult::None => {
                let next = local + Duration::minutes(1);
                local = next.with_second(0).unwrap_or(next);
            }
        }
    }
    // Unreachable with real zone data; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&NaiveDateTime::new(date, time))
}
