//! Holiday lists for `schedctl holidays import`: the dates of an iCalendar file's
//! events (all-day or not), or a JSON list of dates.
//!
//! A holiday becomes a `start None` exception. Its stop is left alone on purpose:
//! a stop on a day nothing started is harmless, and it still stops what someone
//! started by hand, or the previous night's period that crosses midnight.

use chrono::NaiveDate;

/// The dates in `text`, sorted and without repeats.
pub fn parse(text: &str) -> Result<Vec<NaiveDate>, String> {
    let trimmed = text.trim_start();
    let mut dates = if trimmed.starts_with('[') {
        from_json(trimmed)?
    } else if trimmed.starts_with("BEGIN:VCALENDAR") {
        from_ics(text)?
    } else {
        return Err("expected an iCalendar file (BEGIN:VCALENDAR) or a JSON list of dates".into());
    };
    dates.sort();
    dates.dedup();
    if dates.is_empty() {
        return Err("no dates found".into());
    }
    Ok(dates)
}

fn from_json(text: &str) -> Result<Vec<NaiveDate>, String> {
    let values: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON list: {e}"))?;
    values
        .iter()
        .map(|v| {
            let s = v
                .as_str()
                .or_else(|| v.get("date").and_then(|d| d.as_str()))
                .ok_or_else(|| format!("{v} is not a date or an object with \"date\""))?;
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| format!("\"{s}\" is not a date (YYYY-MM-DD)"))
        })
        .collect()
}

fn from_ics(text: &str) -> Result<Vec<NaiveDate>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some(rest) = line.strip_prefix("DTSTART") else {
            continue;
        };
        // DTSTART;VALUE=DATE:20261225 or DTSTART:20261225T090000Z
        let value = rest.rsplit(':').next().unwrap_or_default();
        let day = value.get(..8).unwrap_or_default();
        let date = NaiveDate::parse_from_str(day, "%Y%m%d")
            .map_err(|_| format!("\"{line}\" has no date"))?;
        out.push(date);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ics_and_json_lists_give_sorted_unique_dates() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART:20261009T000000Z\r\nSUMMARY:Hangul Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let d = parse(ics).unwrap();
        assert_eq!(
            d.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            ["2026-10-09", "2026-12-25"]
        );
        let d =
            parse(r#"["2026-12-25", {"date": "2026-01-01", "name": "New Year"}, "2026-12-25"]"#)
                .unwrap();
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn anything_else_is_named() {
        assert!(parse("hello").unwrap_err().contains("iCalendar"));
        assert!(
            parse(r#"["2026-13-01"]"#)
                .unwrap_err()
                .contains("2026-13-01")
        );
        assert!(parse("BEGIN:VCALENDAR\nDTSTART:tomorrow\n").is_err());
        assert!(parse("[]").unwrap_err().contains("no dates"));
    }
}
