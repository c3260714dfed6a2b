//! Parsing of the small text formats inside items: times of day, day lists, dates.

use chrono::{NaiveDate, NaiveTime, Weekday};

use super::ScheduleError;

/// A set of weekdays on which a schedule's periods begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Days(u8);

impl Days {
    /// Every day of the week.
    pub const ALL: Days = Days(0b111_1111);
    /// Monday to Friday.
    pub const WEEKDAYS: Days = Days(0b001_1111);
    /// Saturday and Sunday.
    pub const WEEKENDS: Days = Days(0b110_0000);

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    fn insert(&mut self, day: Weekday) {
        self.0 |= 1 << day.num_days_from_monday();
    }

    /// Parses `DaysActive`: `all`, `weekdays`, `weekends`, or a comma-separated list of
    /// day names (`mon` or `monday`) and ranges (`mon-fri`; `fri-mon` wraps over the
    /// weekend), in any case.
    pub fn parse(text: &str) -> Result<Days, String> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "all" | "daily" | "everyday" => return Ok(Days::ALL),
            "weekdays" => return Ok(Days::WEEKDAYS),
            "weekends" => return Ok(Days::WEEKENDS),
            "" => return Err("DaysActive is empty".into()),
            _ => {}
        }
        let mut days = Days::default();
        for part in text.split(',').map(str::trim) {
            match part.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (day_name(from)?, day_name(to)?);
                    let mut day = from;
                    days.insert(day);
                    while day != to {
                        day = day.succ();
                        days.insert(day);
                    }
                }
                None => days.insert(day_name(part)?),
            }
        }
        Ok(days)
    }
}

impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Days::ALL => return f.write_str("all"),
            Days::WEEKDAYS => return f.write_str("weekdays"),
            Days::WEEKENDS => return f.write_str("weekends"),
            _ => {}
        }
        let mut day = Weekday::Mon;
        let mut first = true;
        for _ in 0..7 {
            if self.contains(day) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                f.write_str(&day.to_string().to_ascii_lowercase())?;
            }
            day = day.succ();
        }
        Ok(())
    }
}

fn day_name(name: &str) -> Result<Weekday, String> {
    let name = name.trim();
    let day = match name {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return Err(format!("unknown day name \"{name}\" in DaysActive")),
    };
    Ok(day)
}

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
    use Weekday::*;

    fn days(text: &str) -> Vec<Weekday> {
        let set = Days::parse(text).unwrap();
        [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
            .into_iter()
            .filter(|d| set.contains(*d))
            .collect()
    }

    #[test]
    fn day_lists_keywords_and_ranges() {
        assert_eq!(days("weekdays"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(days("ALL").len(), 7);
        assert_eq!(days("Weekends"), [Sat, Sun]);
        assert_eq!(days("mon,wed,fri"), [Mon, Wed, Fri]);
        assert_eq!(days(" Mon - Wed , sat"), [Mon, Tue, Wed, Sat]);
        assert_eq!(days("fri-mon"), [Mon, Fri, Sat, Sun]);
        assert_eq!(days("thursday"), [Thu]);
    }

    #[test]
    fn unknown_day_names_are_named_in_the_error() {
        assert!(
            Days::parse("mon,funday")
                .unwrap_err()
                .contains("\"funday\"")
        );
        assert!(Days::parse("").is_err());
        assert!(Days::parse("mon-xyz").is_err());
    }

    #[test]
    fn days_display_round_trips() {
        for text in ["all", "weekdays", "weekends", "mon,wed,fri", "tue"] {
            assert_eq!(Days::parse(text).unwrap().to_string(), text);
        }
    }

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
