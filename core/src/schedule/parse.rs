//! Parsing of the small text formats inside items: times of day, dates, zones (the
//! day rules are in `days`).

use chrono::{NaiveDate, NaiveTime};

use super::ScheduleError;

/// Parses an optional time of day: `HH:MM` (24-hour; `H:MM` accepted), or
/// `None`/empty/absent for "do not act". `field` names the field in errors.
pub fn time_of_day(value: Option<&str>, field: &str) -> Result<Option<NaiveTime>, String> {
    let Some(text) = value.map(str::trim) else {
        return Ok(None);
    };
    if text.is_empty() || text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad =
        || format!("{field} \"{text}\" is not a time of day (HH:MM, 00:00 to 23:59, or None)");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(h, m, 0)
        .ok_or_else(bad)
        .and_then(|t| {
            if h < 24 && m < 60 {
                Ok(Some(t))
            } else {
                Err(bad())
            }
        })
}

/// Parses an exception date, `YYYY-MM-DD`.
pub fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("ExceptionDate \"{text}\" is not a date (YYYY-MM-DD)"))
}

/// Parses an IANA time zone name.
pub fn time_zone(text: &str) -> Result<chrono_tz::Tz, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("unknown time zone \"{text}\" (use an IANA name such as Asia/Seoul)"))
}

/// Wraps a field error with the schedule's name.
pub(crate) fn in_schedule(schedule: &str) -> impl Fn(String) -> ScheduleError + '_ {
    move |problem| ScheduleError::new(schedule, problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        let t = |s| time_of_day(Some(s), "StartTime");
        assert_eq!(t("09:30").unwrap(), NaiveTime::from_hms_opt(9, 30, 0));
        assert_eq!(t("9:05").unwrap(), NaiveTime::from_hms_opt(9, 5, 0));
        assert_eq!(t("None").unwrap(), None);
        assert_eq!(t("").unwrap(), None);
        assert_eq!(time_of_day(None, "StartTime").unwrap(), None);
        for bad in [
            "24:00", "12:60", "12", "noon", "1230", "12:3", "-1:00", "123:00",
        ] {
            let err = t(bad).unwrap_err();
            assert!(err.contains("StartTime") && err.contains(bad), "{err}");
        }
    }

    #[test]
    fn dates_and_zones() {
        assert!(date("2017-07-10").is_ok());
        assert!(date("2017-02-30").is_err());
        assert!(time_zone("Asia/Seoul").is_ok());
        assert!(
            time_zone("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
    }
}
