//! The day rules of a period: which weekdays (`DaysActive`), which days of the month
//! (`MonthDays`) and which months (`Months`) it is active on. Each is a small `Copy`
//! set that parses the field's text, says whether a date matches, and prints back in
//! the field's own syntax (so `status` can show it and the text parses again).

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Serialize, Serializer};

/// Occurrence bits of one weekday in [`Days`]: bit `n - 1` is its `n`th occurrence in
/// the month (`mon#n`), [`LAST`] its last (`monL`). All five occurrences are every
/// such weekday.
const EVERY: u8 = 0b01_1111;
const LAST: u8 = 0b10_0000;

/// The days of the week from Monday.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Which days of the week a period is active on (`DaysActive`): every such weekday
/// (`mon`, `mon-fri`, `weekdays`), or only its `n`th in the month (`mon#2`, the second
/// Monday) or its last (`friL`, the last Friday). Entries combine: `mon-fri,sat#1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Days([u8; 7]);

impl Days {
    /// Every day of the week.
    pub const ALL: Days = Days([EVERY; 7]);
    /// Monday to Friday.
    pub const WEEKDAYS: Days = Days([EVERY, EVERY, EVERY, EVERY, EVERY, 0, 0]);
    /// Saturday and Sunday.
    pub const WEEKENDS: Days = Days([0, 0, 0, 0, 0, EVERY, EVERY]);

    /// Whether `day` is among the rule's weekdays at all: true for a plain entry
    /// (`mon`, `mon-fri`) and also for `mon#2` or `monL`, where only some Mondays of a
    /// month are active. Whether a given date is active is [`Days::matches`].
    pub fn contains(self, day: Weekday) -> bool {
        self.0[day.num_days_from_monday() as usize] != 0
    }

    /// Whether every `day` of every month is active (a plain entry such as `mon`).
    pub fn every(self, day: Weekday) -> bool {
        self.0[day.num_days_from_monday() as usize] == EVERY
    }

    /// Whether `date` is active: its weekday is in the rule, as every such weekday,
    /// or as the `n`th or the last one of its month that the date is.
    pub fn matches(self, date: NaiveDate) -> bool {
        let bits = self.0[date.weekday().num_days_from_monday() as usize];
        let nth = date.day0() / 7;
        bits & (1 << nth) != 0 || (bits & LAST != 0 && last_of_its_weekday(date))
    }

    /// Every day in either rule.
    pub fn union(self, other: Days) -> Days {
        let mut out = self;
        for (i, bits) in other.0.into_iter().enumerate() {
            out.add(i, bits);
        }
        out
    }

    fn add(&mut self, day: usize, bits: u8) {
        let merged = self.0[day] | bits;
        // Every occurrence covers the last one too: keep one spelling of a rule.
        self.0[day] = if merged & EVERY == EVERY {
            EVERY
        } else {
            merged
        };
    }

    fn insert(&mut self, day: Weekday, bits: u8) {
        self.add(day.num_days_from_monday() as usize, bits);
    }

    /// Parses `DaysActive`: comma-separated entries, any case, each `all`,
    /// `weekdays`, `weekends`, a day name (`mon` or `monday`), a range (`mon-fri`;
    /// `fri-mon` wraps over the weekend), `mon#1` … `mon#5` (the nth such weekday of
    /// the month) or `monL` (the last).
    pub fn parse(text: &str) -> Result<Days, String> {
        if text.trim().is_empty() {
            return Err("DaysActive is empty".into());
        }
        let mut days = Days::default();
        for part in text.split(',').map(str::trim) {
            days = days.union(entry(part)?);
        }
        Ok(days)
    }

    /// The days that are active every week, as a plain rule (for printing).
    fn plain(self) -> Days {
        Days(self.0.map(|bits| if bits == EVERY { EVERY } else { 0 }))
    }
}

/// One entry of a `DaysActive` list, `shown` as written (trimmed).
fn entry(shown: &str) -> Result<Days, String> {
    let lower = shown.to_ascii_lowercase();
    let part = lower.as_str();
    match part {
        "all" | "daily" | "everyday" => return Ok(Days::ALL),
        "weekdays" => return Ok(Days::WEEKDAYS),
        "weekends" => return Ok(Days::WEEKENDS),
        _ => {}
    }
    let mut days = Days::default();
    if let Some((name, n)) = part.split_once('#') {
        if name.contains('-') {
            return Err(format!(
                "DaysActive \"{shown}\": #n goes with one day, not a range (write mon#2,tue#2)"
            ));
        }
        let day = day_name(name)?;
        let n: u32 = n.trim().parse().map_err(|_| {
            format!("DaysActive \"{shown}\": after # comes which one in the month, 1 to 5")
        })?;
        match n {
            1..=5 => days.insert(day, 1 << (n - 1)),
            0 => {
                return Err(format!(
                    "DaysActive \"{shown}\": weeks of the month count from #1"
                ));
            }
            _ => {
                return Err(format!(
                    "DaysActive \"{shown}\": a month has at most 5 of a weekday"
                ));
            }
        }
        return Ok(days);
    }
    // No day name ends in "l", so a trailing "l" is always "the last".
    if let Some(name) = part.strip_suffix('l')
        && !name.contains('-')
        && let Ok(day) = day_name(name)
    {
        days.insert(day, LAST);
        return Ok(days);
    }
    match part.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (day_name(from)?, day_name(to)?);
            let mut day = from;
            days.insert(day, EVERY);
            while day != to {
                day = day.succ();
                days.insert(day, EVERY);
            }
        }
        None => days.insert(day_name(part)?, EVERY),
    }
    Ok(days)
}

/// Whether no later day of `date`'s month falls on its weekday.
fn last_of_its_weekday(date: NaiveDate) -> bool {
    (date + Duration::days(7)).month() != date.month()
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

fn short(day: Weekday) -> String {
    day.to_string().to_ascii_lowercase()
}

/// Prints the rule as `DaysActive` text that parses back to it: `all`, `weekdays`
/// or `weekends` when it is exactly one of them, otherwise the days every week as a
/// list (`mon,wed,fri`; a keyword when they are exactly the weekdays or weekends),
/// then the nth and last entries (`weekdays,sat#1`, `mon#2,friL`).
impl std::fmt::Display for Days {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plain = self.plain();
        let mut parts: Vec<String> = Vec::new();
        match plain {
            Days::ALL => parts.push("all".into()),
            Days::WEEKDAYS => parts.push("weekdays".into()),
            Days::WEEKENDS => parts.push("weekends".into()),
            _ => parts.extend(WEEK.into_iter().filter(|d| plain.every(*d)).map(short)),
        }
        for day in WEEK {
            let bits = self.0[day.num_days_from_monday() as usize];
            if bits == EVERY {
                continue;
            }
            for n in 1..=5 {
                if bits & (1 << (n - 1)) != 0 {
                    parts.push(format!("{}#{n}", short(day)));
                }
            }
            if bits & LAST != 0 {
                parts.push(format!("{}L", short(day)));
            }
        }
        f.write_str(&parts.join(","))
    }
}

impl Serialize for Days {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which days of the month a period is active on (`MonthDays`): days `1` … `31`,
/// ranges `1-15`, steps `1/7` (the 1st, 8th, 15th, 22nd and 29th) or `1-15/2`, `L`
/// (the last day of the month) and `15W` (the weekday nearest the 15th, within the
/// month). A day the month does not have (`31` in April) is not active that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MonthDays {
    /// Bit `d` is day `d`.
    days: u32,
    /// Bit `d` is the weekday nearest day `d`.
    nearest: u32,
    /// The last day of the month.
    last: bool,
}

impl MonthDays {
    /// Parses `MonthDays`: comma-separated entries, as described on the type.
    pub fn parse(text: &str) -> Result<MonthDays, String> {
        if text.trim().is_empty() {
            return Err("MonthDays is empty".into());
        }
        let mut out = MonthDays::default();
        for shown in text.split(',').map(str::trim) {
            let part = shown.to_ascii_lowercase();
            if part == "l" {
                out.last = true;
            } else if let Some(day) = part.strip_suffix('w') {
                out.nearest |= 1 << month_day(shown, day)?;
            } else {
                for d in series(shown, "MonthDays", month_day, 31)? {
                    out.days |= 1 << d;
                }
            }
        }
        Ok(out)
    }

    /// Whether `date` is one of the days.
    pub fn matches(self, date: NaiveDate) -> bool {
        let day = date.day();
        if self.days & (1 << day) != 0 || (self.last && day == days_in_month(date)) {
            return true;
        }
        (1..=31).any(|n| self.nearest & (1 << n) != 0 && nearest_weekday(date, n) == Some(day))
    }
}

/// A day of the month named by `token` (part of the entry `part`), 1 to 31.
fn month_day(part: &str, token: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "MonthDays \"{part}\": not a day of the month (1 to 31, a range 1-15, L, 15W or a step 1/7)"
        )
    };
    let n: u32 = token.trim().parse().map_err(|_| bad())?;
    match n {
        1..=31 => Ok(n),
        0 => Err(format!(
            "MonthDays \"{part}\": days of the month count from 1"
        )),
        _ => Err(format!("MonthDays \"{part}\": a month has at most 31 days")),
    }
}

/// The numbers of one list entry `part` (as written): `n`, a range `a-b`, or a step
/// `a/s` (from `a` to `top`) or `a-b/s`, each end read by `one` (given the entry, for
/// its errors, and the lower-cased end). Only `Months` ranges may wrap (`nov-feb`).
fn series(
    part: &str,
    field: &str,
    one: fn(&str, &str) -> Result<u32, String>,
    top: u32,
) -> Result<Vec<u32>, String> {
    let lower = part.to_ascii_lowercase();
    let (range, step) = match lower.split_once('/') {
        Some((range, step)) => {
            let step: u32 = step
                .trim()
                .parse()
                .map_err(|_| format!("{field} \"{part}\": after / comes a step, a whole number"))?;
            if step == 0 {
                return Err(format!("{field} \"{part}\": a step is at least 1"));
            }
            (range, Some(step))
        }
        None => (part, None),
    };
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (one(part, a)?, one(part, b)?),
        None => {
            let a = one(part, range)?;
            (a, if step.is_some() { top } else { a })
        }
    };
    if from > to && field == "MonthDays" {
        return Err(format!(
            "{field} \"{part}\": a range runs from the lower day to the higher"
        ));
    }
    let mut out = Vec::new();
    let mut n = from;
    loop {
        out.push(n);
        if n == to {
            break;
        }
        n = if n == top { 1 } else { n + 1 };
    }
    let step = step.unwrap_or(1) as usize;
    Ok(out.into_iter().step_by(step).collect())
}

fn days_in_month(date: NaiveDate) -> u32 {
    let first = date.with_day(1).unwrap_or(date);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (next - first).num_days() as u32
}

/// The weekday nearest day `n` of `date`'s month without leaving the month: `n` itself
/// on Monday to Friday, the Friday before a Saturday (the Monday after, when the 1st
/// is a Saturday), the Monday after a Sunday (the Friday before, when the month ends
/// on it). None when the month has no day `n`.
fn nearest_weekday(date: NaiveDate, n: u32) -> Option<u32> {
    let last = days_in_month(date);
    let day = date.with_day(n)?;
    Some(match day.weekday() {
        Weekday::Sat if n > 1 => n - 1,
        Weekday::Sat => n + 2,
        Weekday::Sun if n < last => n + 1,
        Weekday::Sun => n - 2,
        _ => n,
    })
}

/// Runs of consecutive numbers among `set` (bits `1..=top`), as `a`, `a,b` or `a-c`.
fn runs(set: u32, top: u32, name: impl Fn(u32) -> String) -> Vec<String> {
    let mut out = Vec::new();
    let mut n = 1;
    while n <= top {
        if set & (1 << n) == 0 {
            n += 1;
            continue;
        }
        let mut end = n;
        while end < top && set & (1 << (end + 1)) != 0 {
            end += 1;
        }
        match end - n {
            0 => out.push(name(n)),
            1 => out.extend([name(n), name(end)]),
            _ => out.push(format!("{}-{}", name(n), name(end))),
        }
        n = end + 1;
    }
    out
}

/// Prints the days as `MonthDays` text that parses back to them: days and ranges
/// (steps written out), then `nW` entries, then `L`.
impl std::fmt::Display for MonthDays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = runs(self.days, 31, |d| d.to_string());
        parts.extend(
            (1..=31)
                .filter(|n| self.nearest & (1 << n) != 0)
                .map(|n| format!("{n}W")),
        );
        if self.last {
            parts.push("L".into());
        }
        f.write_str(&parts.join(","))
    }
}

impl Serialize for MonthDays {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Which months a period is active in (`Months`): names `jan` (or `january`) or
/// numbers `1` … `12`, ranges `jan-mar` or `1-3` (`nov-feb` wraps over the new year),
/// steps `1/3` (January, April, July, October) or `jan-jun/2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Months(u16);

impl Months {
    /// Parses `Months`: comma-separated entries, as described on the type.
    pub fn parse(text: &str) -> Result<Months, String> {
        if text.trim().is_empty() {
            return Err("Months is empty".into());
        }
        let mut out = Months::default();
        for shown in text.split(',').map(str::trim) {
            for m in series(shown, "Months", month, 12)? {
                out.0 |= 1 << m;
            }
        }
        Ok(out)
    }

    /// Whether `date` falls in one of the months.
    pub fn matches(self, date: NaiveDate) -> bool {
        self.0 & (1 << date.month()) != 0
    }
}

/// A month named by `token` (part of the entry `part`): a name or 1 to 12.
fn month(part: &str, token: &str) -> Result<u32, String> {
    let token = token.trim().to_ascii_lowercase();
    let token = token.as_str();
    if let Ok(n) = token.parse::<u32>() {
        return match n {
            1..=12 => Ok(n),
            _ => Err(format!("Months \"{part}\": a year has months 1 to 12")),
        };
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (0..12)
        .find(|i| token == MONTH_NAMES[*i] || token == full[*i] || (*i == 8 && token == "sept"))
        .map(|i| i as u32 + 1)
        .ok_or_else(|| format!("Months \"{part}\": not a month (jan to dec, or 1 to 12)"))
}

/// Prints the months as `Months` text that parses back to them (`jan-mar,dec`).
impl std::fmt::Display for Months {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = runs(self.0.into(), 12, |m| {
            MONTH_NAMES[m as usize - 1].to_string()
        });
        f.write_str(&parts.join(","))
    }
}

impl Serialize for Months {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    fn days(text: &str) -> Vec<Weekday> {
        let set = Days::parse(text).unwrap();
        WEEK.into_iter().filter(|d| set.contains(*d)).collect()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The days of a month a rule matches.
    fn in_month(y: i32, m: u32, matches: impl Fn(NaiveDate) -> bool) -> Vec<u32> {
        (1..=31)
            .filter_map(|d| NaiveDate::from_ymd_opt(y, m, d))
            .filter(|d| matches(*d))
            .map(|d| d.day())
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
        assert!(Days::parse("mon,").is_err());
    }

    #[test]
    fn days_display_round_trips() {
        for text in ["all", "weekdays", "weekends", "mon,wed,fri", "tue"] {
            assert_eq!(Days::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn nth_and_last_weekdays_of_december_2026() {
        // December 2026 begins on a Tuesday; its Mondays are the 7th, 14th, 21st, 28th.
        let rule = |t: &str| {
            let d = Days::parse(t).unwrap();
            in_month(2026, 12, move |date| d.matches(date))
        };
        assert_eq!(rule("mon#2"), [14]);
        assert_eq!(rule("MON#1"), [7]);
        assert_eq!(rule("mon#5"), Vec::<u32>::new());
        assert_eq!(rule("tue#5"), [29]);
        assert_eq!(rule("friL"), [25]);
        assert_eq!(rule("FridayL"), [25]);
        assert_eq!(rule("monL,mon#1"), [7, 28]);
        assert_eq!(rule("sat-sun,tue#1"), [1, 5, 6, 12, 13, 19, 20, 26, 27]);
        assert_eq!(rule("weekends,mon#2").len(), 9);
    }

    #[test]
    fn a_plain_day_keeps_its_meaning_next_to_nth_entries() {
        let d = Days::parse("mon-fri,sat#1").unwrap();
        assert!(d.contains(Mon) && d.every(Mon));
        assert!(d.contains(Sat) && !d.every(Sat));
        assert!(!d.contains(Sun));
        assert!(d.matches(date(2026, 12, 5)) && !d.matches(date(2026, 12, 12)));
        // A plain entry covers its nth ones: one spelling of one rule.
        assert_eq!(
            Days::parse("mon,mon#2").unwrap(),
            Days::parse("mon").unwrap()
        );
        let five = "mon#1,mon#2,mon#3,mon#4,mon#5";
        assert_eq!(Days::parse(five).unwrap(), Days::parse("mon").unwrap());
        assert_eq!(
            Days::parse(&format!("{five},monL")).unwrap().to_string(),
            "mon"
        );
    }

    #[test]
    fn nth_entries_print_back_as_days_active() {
        for (text, shown) in [
            ("mon-fri,sat#1", "weekdays,sat#1"),
            ("friL", "friL"),
            ("Mon#2, tue#4", "mon#2,tue#4"),
            ("sat,sun,mon#1", "weekends,mon#1"),
            ("wed,fril,fri#1", "wed,fri#1,friL"),
        ] {
            let d = Days::parse(text).unwrap();
            assert_eq!(d.to_string(), shown);
            assert_eq!(Days::parse(shown).unwrap(), d, "{shown} parses back");
        }
    }

    #[test]
    fn bad_nth_entries_name_the_token() {
        for (text, says) in [
            (
                "mon#6",
                "DaysActive \"mon#6\": a month has at most 5 of a weekday",
            ),
            (
                "mon#0",
                "DaysActive \"mon#0\": weeks of the month count from #1",
            ),
            (
                "mon#x",
                "DaysActive \"mon#x\": after # comes which one in the month",
            ),
            (
                "mon-fri#2",
                "DaysActive \"mon-fri#2\": #n goes with one day",
            ),
            ("funday#2", "unknown day name \"funday\""),
            ("mon-fril", "unknown day name \"fril\""),
        ] {
            let err = Days::parse(text).unwrap_err();
            assert!(err.starts_with(says), "{text}: {err}");
        }
    }

    #[test]
    fn month_days_lists_ranges_steps_last_and_nearest_weekday() {
        let rule = |t: &str, y: i32, m: u32| {
            let d = MonthDays::parse(t).unwrap();
            in_month(y, m, move |date| d.matches(date))
        };
        assert_eq!(rule("1,15", 2026, 12), [1, 15]);
        assert_eq!(rule("1-3", 2026, 12), [1, 2, 3]);
        assert_eq!(rule("1/7", 2026, 12), [1, 8, 15, 22, 29]);
        assert_eq!(rule("10-20/5", 2026, 12), [10, 15, 20]);
        assert_eq!(rule("L", 2027, 2), [28]);
        assert_eq!(rule("l", 2028, 2), [29]);
        assert_eq!(rule("31", 2026, 11), Vec::<u32>::new());
        // 2026-11-15 is a Sunday: the Monday after.
        assert_eq!(rule("15W", 2026, 11), [16]);
        // 2026-08-15 is a Saturday: the Friday before.
        assert_eq!(rule("15w", 2026, 8), [14]);
        // 2026-08-01 is a Saturday: not July's Friday, but Monday the 3rd.
        assert_eq!(rule("1W", 2026, 8), [3]);
        // 2026-05-31 is a Sunday and the month's last day: Friday the 29th.
        assert_eq!(rule("31W", 2026, 5), [29]);
        assert_eq!(rule("31W", 2026, 4), Vec::<u32>::new());
        // 2026-12-15 is a Tuesday: itself.
        assert_eq!(rule("15W,L", 2026, 12), [15, 31]);
    }

    #[test]
    fn month_days_print_back() {
        for (text, shown) in [
            ("1", "1"),
            ("1-15", "1-15"),
            ("1,15", "1,15"),
            ("L", "L"),
            ("15W", "15W"),
            ("1/7", "1,8,15,22,29"),
            ("l, 1-3, 5, 6, 15w", "1-3,5,6,15W,L"),
        ] {
            let d = MonthDays::parse(text).unwrap();
            assert_eq!(d.to_string(), shown);
            assert_eq!(MonthDays::parse(shown).unwrap(), d);
        }
    }

    #[test]
    fn bad_month_days_name_the_token() {
        for (text, says) in [
            ("32", "MonthDays \"32\": a month has at most 31 days"),
            ("0", "MonthDays \"0\": days of the month count from 1"),
            (
                "1,15-1",
                "MonthDays \"15-1\": a range runs from the lower day",
            ),
            ("1/0", "MonthDays \"1/0\": a step is at least 1"),
            ("1/x", "MonthDays \"1/x\": after / comes a step"),
            ("32W", "MonthDays \"32W\": a month has at most 31 days"),
            ("first", "MonthDays \"first\": not a day of the month"),
            (" ", "MonthDays is empty"),
        ] {
            let err = MonthDays::parse(text).unwrap_err();
            assert!(
                err.to_lowercase().starts_with(&says.to_lowercase()),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn months_by_name_number_range_and_step() {
        let months = |t: &str| {
            let m = Months::parse(t).unwrap();
            (1..=12)
                .filter(|n| m.matches(date(2026, *n, 1)))
                .collect::<Vec<u32>>()
        };
        assert_eq!(months("jan"), [1]);
        assert_eq!(months("Jan-Mar"), [1, 2, 3]);
        assert_eq!(months("1-3"), [1, 2, 3]);
        assert_eq!(months("dec,jan"), [1, 12]);
        assert_eq!(months("nov-feb"), [1, 2, 11, 12]);
        assert_eq!(months("1/3"), [1, 4, 7, 10]);
        assert_eq!(months("jun-aug,SEPTEMBER"), [6, 7, 8, 9]);
        assert_eq!(Months::parse("dec,jan").unwrap().to_string(), "jan,dec");
        assert_eq!(Months::parse("6-9").unwrap().to_string(), "jun-sep");
        for (text, says) in [
            (
                "foo",
                "Months \"foo\": not a month (jan to dec, or 1 to 12)",
            ),
            ("13", "Months \"13\": a year has months 1 to 12"),
            ("jan,0", "Months \"0\": a year has months 1 to 12"),
            ("1/0", "Months \"1/0\": a step is at least 1"),
        ] {
            assert_eq!(Months::parse(text).unwrap_err(), says);
        }
    }
}
