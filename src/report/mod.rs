//! The report: per schedule, group and resource, the hours each ran against
//! always-on and against the schedule alone, the money saved and spent, overrides
//! (extends, force-starts) and what they cost, chain timings and failures, from the
//! history ([`crate::history`]) and prices ([`crate::pricing`]). One value that
//! prints as text ([`std::fmt::Display`]), JSON (`Serialize`), self-contained HTML
//! ([`html`]) and an SVG picture of the time ([`svg`]).
//!
//! Every money figure is an estimate: list (or tagged) hourly prices times hours, no
//! taxes, credits, storage or data transfer. Storage keeps billing while a resource
//! is stopped; the report lists the storage it knows of apart.
//!
//! [`weekly`] is what a run does after telling the chat: the weekly summary of each
//! schedule whose summary is due.

pub mod html;
pub mod message;
pub mod svg;
pub mod weekly;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::fleet::{Kind, Size};
use crate::history::{
    Cause, Entry, Known, Mark, Span, Track, regular_windows, tracks, union_hours, usage,
};
use crate::notify::human_seconds;
use crate::pricing::{PriceBook, Source};
use crate::schedule::{Catalog, Schedule};

/// A report of `[from, to)`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The first instant.
    pub from: DateTime<Utc>,
    /// The end.
    pub to: DateTime<Utc>,
    /// Per schedule.
    pub schedules: Vec<ScheduleReport>,
}

/// One schedule's time and money.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleReport {
    /// The schedule.
    pub schedule: String,
    /// Its zone.
    pub time_zone: String,
    /// Hours in the window.
    pub hours: f64,
    /// Hours during which any of its resources ran.
    pub ran: f64,
    /// Hours its regular times alone would have had it up.
    pub scheduled: f64,
    /// Resource-hours running.
    pub running_hours: f64,
    /// Resource-hours had everything run all the time.
    pub always_on_hours: f64,
    /// Dollars spent running (priced resources only).
    pub spent: f64,
    /// Dollars saved against always-on (priced resources only).
    pub saved: f64,
    /// Dollars saved, by what stopped the resources.
    pub saved_by: BTreeMap<Cause, f64>,
    /// Extends: days the times were moved later (or earlier) by an exception.
    pub extends: Override,
    /// Force-starts outside the schedule's times.
    pub force_starts: Override,
    /// Running outside the schedule's times after a person started it.
    pub by_hand: Override,
    /// Starts that brought every group up.
    pub chains: Chains,
    /// What failed.
    pub failures: Vec<Failure>,
    /// Per group, in the schedule's order.
    pub groups: Vec<GroupReport>,
    /// Storage that kept billing while stopped.
    pub storage: Vec<Storage>,
    /// Resources without a price (no list price known, no tag): their hours count,
    /// their money does not.
    pub unpriced: Vec<String>,
    /// Dates with an exception: (date, what), for people and the picture.
    pub exceptions: Vec<(NaiveDate, String)>,
    /// When its regular times alone would have had it up, within the window.
    pub regular: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Overrides of one kind: how many, wall-clock hours, and their cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Override {
    /// How many (days for extends, force-starts for force-starts).
    pub count: usize,
    /// Wall-clock hours beyond the schedule's times.
    pub hours: f64,
    /// Their cost in dollars.
    pub cost: f64,
}

/// How the starts went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Chains {
    /// Starts that brought every group up.
    pub starts: usize,
    /// Their average seconds from the start to every group up.
    pub average_seconds: Option<i64>,
    /// The longest.
    pub longest_seconds: Option<i64>,
    /// For ready-by starts: seconds late (negative: early) at each.
    pub ready_by: Vec<(DateTime<Utc>, i64)>,
}

/// A failure the runs reported.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub message: String,
}

/// Storage that bills while its resource is stopped.
#[derive(Debug, Clone, Serialize)]
pub struct Storage {
    /// The resource.
    pub resource: String,
    /// GiB.
    pub gib: u32,
    /// What it is: `rds` (allocated storage), or an EBS volume's type and id
    /// (`ebs gp3 vol-…`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub what: String,
    /// Its list price in dollars a GB-month, where known (EBS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_gb_month: Option<f64>,
    /// An estimate of what it cost while its resource was stopped in the window:
    /// GiB × the GB-month price × stopped hours / 730.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub while_stopped: Option<f64>,
}

/// One group's resources.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// The group.
    pub group: String,
    /// Groups it depends on.
    pub depends_on: Vec<String>,
    /// Its resources.
    pub resources: Vec<ResourceReport>,
}

/// One resource's time and money.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// What it is billed as.
    pub size: Option<Size>,
    /// How many of it run (a scaling resource's size).
    pub count: u32,
    /// Dollars an hour for all of it, and where that came from.
    pub hourly: Option<(f64, Source)>,
    /// Hours in the window it was part of the schedule.
    pub hours: f64,
    /// Hours running.
    pub running: f64,
    /// Hours the schedule alone would have run it.
    pub scheduled: f64,
    /// Hours stopped, by cause.
    pub stopped_by: BTreeMap<Cause, f64>,
    /// Dollars spent.
    pub spent: Option<f64>,
    /// Dollars saved against always-on.
    pub saved: Option<f64>,
    /// Its spans.
    pub spans: Vec<Span>,
}

/// Builds the report of `[from, to)` for `catalog`'s schedules from their history
/// `entries` (each schedule's at or after `from`), what the history knows now, and
/// `prices`.
pub fn build(
    catalog: &Catalog,
    entries: &[Entry],
    known: &Known,
    prices: &PriceBook,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Report {
    let all = tracks(entries, known, from, to);
    let mut schedules = Vec::new();
    for s in &catalog.schedules {
        let mine: Vec<&Track> = all.iter().filter(|t| t.schedule == s.name).collect();
        let marks: Vec<(DateTime<Utc>, &Mark)> = entries
            .iter()
            .filter(|e| e.schedule == s.name && e.at >= from && e.at < to)
            .flat_map(|e| e.marks.iter().map(move |m| (e.at, m)))
            .collect();
        if mine.is_empty() && marks.is_empty() {
            continue;
        }
        schedules.push(schedule_report(s, &mine, &marks, prices, from, to));
    }
    Report {
        from,
        to,
        schedules,
    }
}

fn hours(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_seconds() as f64 / 3600.0
}

fn schedule_report(
    s: &Schedule,
    tracks: &[&Track],
    marks: &[(DateTime<Utc>, &Mark)],
    prices: &PriceBook,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ScheduleReport {
    let windows = regular_windows(s, from, to);
    let mut r = ScheduleReport {
        schedule: s.name.clone(),
        time_zone: s.tz.name().to_string(),
        hours: hours(from, to),
        ran: union_hours(tracks),
        scheduled: windows.iter().map(|(a, b)| hours(*a, *b)).sum(),
        running_hours: 0.0,
        always_on_hours: 0.0,
        spent: 0.0,
        saved: 0.0,
        saved_by: BTreeMap::new(),
        extends: Override::default(),
        force_starts: Override::default(),
        by_hand: Override::default(),
        chains: Chains::default(),
        failures: Vec::new(),
        groups: s
            .groups
            .iter()
            .map(|g| GroupReport {
                group: g.name.clone(),
                depends_on: g.depends_on.clone(),
                resources: Vec::new(),
            })
            .collect(),
        storage: Vec::new(),
        unpriced: Vec::new(),
        exceptions: s
            .exceptions
            .iter()
            .filter(|((date, _), _)| {
                let day = crate::calendar::local_instant(s.tz, *date, chrono::NaiveTime::MIN);
                day < to && day + Duration::days(1) > from
            })
            .map(|((date, direction), time)| {
                let what = match time {
                    Some(t) => format!("{direction} at {}", t.format("%H:%M")),
                    None if *direction == crate::fleet::Direction::Start => {
                        "holiday (no start)".into()
                    }
                    None => "no stop".into(),
                };
                (*date, what)
            })
            .collect(),
        regular: windows.clone(),
    };
    let mut extend_days: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    let mut forced: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
    for t in tracks {
        let u = usage(s, t, &windows);
        let hourly = prices
            .hourly(&t.id, &t.seen)
            .map(|(p, src)| (p * f64::from(t.seen.count.max(1)), src));
        let count = f64::from(t.seen.count.max(1));
        r.running_hours += u.running * count;
        r.always_on_hours += u.hours * count;
        if let Some((p, _)) = hourly {
            r.spent += u.running * p;
            r.saved += u.stopped() * p;
            for (cause, h) in &u.stopped_by {
                *r.saved_by.entry(*cause).or_default() += h * p;
            }
            r.extends.cost += u.extended.values().sum::<f64>() * p;
            r.force_starts.cost += u.forced.values().sum::<f64>() * p;
            r.by_hand.cost += u.by_hand * p;
        } else {
            r.unpriced.push(label(t));
        }
        for (d, h) in &u.extended {
            let e = extend_days.entry(*d).or_default();
            *e = e.max(*h);
        }
        for (b, h) in &u.forced {
            let e = forced.entry(*b).or_default();
            *e = e.max(*h);
        }
        r.by_hand.hours = r.by_hand.hours.max(u.by_hand);
        if let Some(gib) = t.seen.size.as_ref().and_then(|z| z.storage_gib) {
            r.storage.push(Storage {
                resource: label(t),
                gib,
                what: "rds".into(),
                per_gb_month: None,
                while_stopped: None,
            });
        }
        let report = ResourceReport {
            id: t.id.clone(),
            name: if t.seen.name.is_empty() {
                t.id.clone()
            } else {
                t.seen.name.clone()
            },
            kind: t.seen.kind,
            size: t.seen.size.clone(),
            count: t.seen.count,
            hourly,
            hours: u.hours,
            running: u.running,
            scheduled: u.scheduled,
            stopped_by: u.stopped_by.clone(),
            spent: hourly.map(|(p, _)| u.running * p),
            saved: hourly.map(|(p, _)| u.stopped() * p),
            spans: t.spans.clone(),
        };
        match r.groups.iter_mut().find(|g| g.group == t.seen.group) {
            Some(g) => g.resources.push(report),
            None => r.groups.push(GroupReport {
                group: t.seen.group.clone(),
                depends_on: Vec::new(),
                resources: vec![report],
            }),
        }
    }
    r.groups.retain(|g| !g.resources.is_empty());
    r.extends.count = extend_days.len();
    // A sum of nothing is a negative zero; `+ 0.0` makes it zero.
    r.extends.hours = extend_days.values().sum::<f64>() + 0.0;
    r.force_starts.count = forced.len();
    r.force_starts.hours = forced.values().sum::<f64>() + 0.0;
    r.by_hand.count = usize::from(r.by_hand.hours > 0.0);
    let mut seconds = Vec::new();
    for (at, m) in marks {
        match m {
            Mark::ChainUp { seconds: took, .. } => {
                seconds.push(*took);
                if let Some(late) = m.ready_by_late() {
                    r.chains.ready_by.push(late);
                }
            }
            Mark::Failure { message } => r.failures.push(Failure {
                at: *at,
                message: message.clone(),
            }),
            Mark::ChainDown { .. } => {}
        }
    }
    r.chains.starts = seconds.len();
    if !seconds.is_empty() {
        r.chains.average_seconds = Some(seconds.iter().sum::<i64>() / seconds.len() as i64);
        r.chains.longest_seconds = seconds.iter().max().copied();
    }
    r
}

fn label(t: &Track) -> String {
    if t.seen.name.is_empty() || t.seen.name == t.id {
        t.id.clone()
    } else {
        format!("{} ({})", t.seen.name, t.id)
    }
}

/// `$1,234.56`.
pub fn dollars(v: f64) -> String {
    let cents = (v * 100.0).round() as i64;
    let (whole, frac) = (cents.abs() / 100, cents.abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}${grouped}.{frac:02}", if cents < 0 { "-" } else { "" })
}

/// An hourly price to the hundredth of a cent, without trailing zeros past the
/// cents: `$0.0104`, `$0.096`, `$0.29`.
pub fn per_hour(v: f64) -> String {
    let text = format!("{v:.4}");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let frac = frac.trim_end_matches('0');
    format!("${whole}.{frac:0<2}")
}

/// Hours with one decimal, without a trailing `.0` where none is needed.
pub fn hours_text(h: f64) -> String {
    // `+ 0.0` turns a negative zero (a sum of nothing) into zero: "0", never "-0".
    let r = (h * 10.0).round() / 10.0 + 0.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Report {} to {} (estimates: on-demand list prices or SchedulerHourlyCost tags; storage apart)",
            self.from.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.to.to_rfc3339_opts(SecondsFormat::Secs, true)
        )?;
        if self.schedules.is_empty() {
            writeln!(f, "no history in this period")?;
        }
        for s in &self.schedules {
            writeln!(f)?;
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ScheduleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}): ran {} of {} hours (the schedule alone: {} h); {} resource-hours of {} always-on",
            self.schedule,
            self.time_zone,
            hours_text(self.ran),
            hours_text(self.hours),
            hours_text(self.scheduled),
            hours_text(self.running_hours),
            hours_text(self.always_on_hours)
        )?;
        writeln!(
            f,
            "  saved {} against always-on, spent {}",
            dollars(self.saved),
            dollars(self.spent)
        )?;
        let by: Vec<String> = self
            .saved_by
            .iter()
            .filter(|(_, v)| **v > 0.0)
            .map(|(c, v)| format!("{} {}", c.describe(), dollars(*v)))
            .collect();
        if !by.is_empty() {
            writeln!(f, "  saved by: {}", by.join(", "))?;
        }
        writeln!(
            f,
            "  overrides: {} extend{} (+{} h, {}), {} force-start{} ({} h, {}){}",
            self.extends.count,
            if self.extends.count == 1 { "" } else { "s" },
            hours_text(self.extends.hours),
            dollars(self.extends.cost),
            self.force_starts.count,
            if self.force_starts.count == 1 {
                ""
            } else {
                "s"
            },
            hours_text(self.force_starts.hours),
            dollars(self.force_starts.cost),
            if self.by_hand.hours > 0.0 {
                format!(
                    ", started by hand {} h ({})",
                    hours_text(self.by_hand.hours),
                    dollars(self.by_hand.cost)
                )
            } else {
                String::new()
            }
        )?;
        match self.chains.average_seconds {
            Some(avg) => writeln!(
                f,
                "  chain: {} start{} up in {} on average (longest {})",
                self.chains.starts,
                if self.chains.starts == 1 { "" } else { "s" },
                human_seconds(avg),
                human_seconds(self.chains.longest_seconds.unwrap_or(avg))
            )?,
            None => writeln!(f, "  chain: no start completed")?,
        }
        for (by, late) in &self.chains.ready_by {
            writeln!(
                f,
                "    ready by {}: {}",
                by.to_rfc3339_opts(SecondsFormat::Secs, true),
                if *late > 0 {
                    format!("{} late", human_seconds(*late))
                } else {
                    format!("{} early", human_seconds(-*late))
                }
            )?;
        }
        if self.failures.is_empty() {
            writeln!(f, "  failures: none")?;
        } else {
            writeln!(f, "  failures: {}", self.failures.len())?;
            for x in &self.failures {
                writeln!(
                    f,
                    "    {}  {}",
                    x.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    x.message
                )?;
            }
        }
        for (date, what) in &self.exceptions {
            writeln!(f, "  exception {date}: {what}")?;
        }
        for g in &self.groups {
            writeln!(f, "  group {}", g.group)?;
            for r in &g.resources {
                let size = r.size.as_ref().map_or("size unknown".to_string(), |z| {
                    if r.count > 1 {
                        format!("{} × {z}", r.count)
                    } else {
                        z.to_string()
                    }
                });
                let price = match r.hourly {
                    Some((p, Source::Tag)) => format!("{}/h (tag)", per_hour(p)),
                    Some((p, Source::List)) => format!("{}/h", per_hour(p)),
                    None => "no price".into(),
                };
                writeln!(
                    f,
                    "    {:<28} {:<5} {:<22} {:>12}  ran {:>5} h  stopped {:>5} h  spent {:>9}  saved {:>9}",
                    r.name,
                    r.kind.to_string(),
                    size,
                    price,
                    hours_text(r.running),
                    hours_text(r.stopped_by.values().sum()),
                    r.spent.map_or("-".into(), dollars),
                    r.saved.map_or("-".into(), dollars)
                )?;
            }
        }
        if !self.storage.is_empty() {
            let list: Vec<String> = self
                .storage
                .iter()
                .map(|s| {
                    let mut text = format!("{} {} GiB", s.resource, s.gib);
                    if let Some(volume) = s.what.strip_prefix("ebs ") {
                        text.push_str(&format!(" ({volume})"));
                    }
                    if let (Some(p), Some(cost)) = (s.per_gb_month, s.while_stopped) {
                        text.push_str(&format!(
                            " at {}/GB-month: about {} while stopped",
                            per_hour(p),
                            dollars(cost)
                        ));
                    }
                    text
                })
                .collect();
            writeln!(
                f,
                "  storage kept billing while stopped (not in the savings): {}",
                list.join(", ")
            )?;
            let gib: u32 = self.storage.iter().map(|s| s.gib).sum();
            let priced: Vec<f64> = self
                .storage
                .iter()
                .filter_map(|s| s.while_stopped)
                .collect();
            if priced.is_empty() {
                writeln!(f, "  storage in all: {gib} GiB")?;
            } else {
                writeln!(
                    f,
                    "  storage in all: {gib} GiB; about {} while stopped (an estimate, list prices of what is priced)",
                    dollars(priced.iter().sum())
                )?;
            }
        }
        if !self.unpriced.is_empty() {
            writeln!(
                f,
                "  no price for {} (tag SchedulerHourlyCost to price them)",
                self.unpriced.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The set of ids each group of a report holds, for pictures.
pub fn group_ids(r: &ScheduleReport) -> BTreeMap<String, BTreeSet<String>> {
    r.groups
        .iter()
        .map(|g| {
            (
                g.group.clone(),
                g.resources.iter().map(|x| x.id.clone()).collect(),
            )
        })
        .collect()
}

/// The report of `[from, to)` for `catalog`'s schedules from what `store` keeps: their
/// history, what the history knows now and the cached prices. Prices missing or
/// older than 30 days are fetched from `list` first (and cached), when given; the
/// Region of resources whose ids name none is `home`.
pub async fn from_store<S: crate::store::Store>(
    store: &S,
    catalog: &Catalog,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    list: Option<&crate::pricing::PriceList>,
    home: &str,
    now: DateTime<Utc>,
) -> Result<Report, crate::store::StoreError> {
    let at = Window {
        from,
        to,
        home,
        now,
    };
    from_store_with(
        store,
        catalog,
        at,
        list,
        &crate::cloud::inventory::NoInventory,
    )
    .await
}

/// The window and place of a report: `[from, to)`, the Region of resources whose
/// ids name none, and now (how old a cached price is).
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The first instant.
    pub from: DateTime<Utc>,
    /// The end.
    pub to: DateTime<Utc>,
    /// The home Region.
    pub home: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// [`from_store`], asking `inventory` (at report time only) what the history does
/// not keep: the vCPU and memory of Fargate tasks (their price), and the EBS
/// volumes of the EC2 instances (their storage, priced per GB-month).
pub async fn from_store_with<S: crate::store::Store, I: crate::cloud::inventory::Inventory>(
    store: &S,
    catalog: &Catalog,
    at: Window<'_>,
    list: Option<&crate::pricing::PriceList>,
    inventory: &I,
) -> Result<Report, crate::store::StoreError> {
    let Window {
        from,
        to,
        home,
        now,
    } = at;
    // The side items (what the history knows, cached prices) come with the state.
    store.load_state().await?;
    let side = store.side_items();
    let mut known = crate::history::known_from(&side);
    known.retain(|s, _| catalog.get(s).is_some());
    let mut entries = Vec::new();
    for s in &catalog.schedules {
        entries.extend(store.read_history(&s.name, from).await?);
    }
    let volumes = ask_inventory(&mut known, &mut entries, inventory).await;
    let mut book = PriceBook::from_side(home, &side);
    if let Some(list) = list {
        let stale = stale_prices(&book, &known, &volumes, now);
        if !stale.is_empty() {
            book.add(crate::pricing::refresh(store, list, &stale, now).await);
        }
    }
    let mut report = build(catalog, &entries, &known, &book, from, to);
    add_volumes(&mut report, &volumes, &book);
    Ok(report)
}

/// Asks `inventory` what the history does not keep about the resources of `known`:
/// the size of each Fargate service's task, given to `known` and `entries` (its price
/// needs it), and the EBS volumes of the EC2 instances, returned by instance id. One
/// `DescribeTaskDefinition` per task still unsized, and nothing when there is none to
/// ask about.
pub(crate) async fn ask_inventory<I: crate::cloud::inventory::Inventory>(
    known: &mut crate::history::Known,
    entries: &mut [Entry],
    inventory: &I,
) -> BTreeMap<String, Vec<crate::cloud::inventory::Volume>> {
    let tasks: Vec<(String, String)> = known
        .values()
        .flat_map(|m| m.iter())
        .filter(|(_, seen)| seen.kind == Kind::Ecs)
        .filter_map(|(id, seen)| {
            let size = seen.size.as_ref()?;
            (size.class == "fargate" && size.cpu_units.is_none())
                .then(|| Some((id.clone(), size.task.clone()?)))
                .flatten()
        })
        .collect();
    if !tasks.is_empty() {
        let sizes = inventory.task_sizes(&tasks).await;
        sized(known, entries, &sizes);
    }
    let instances: Vec<String> = known
        .values()
        .flat_map(|m| m.iter())
        .filter(|(_, seen)| seen.kind == Kind::Ec2)
        .map(|(id, _)| id.clone())
        .collect();
    if instances.is_empty() {
        BTreeMap::new()
    } else {
        inventory.volumes(&instances).await
    }
}

/// The list prices `book` lacks, or holds from more than 30 days before `now`, for
/// the resources of `known` and the EBS `volumes`.
pub(crate) fn stale_prices(
    book: &PriceBook,
    known: &crate::history::Known,
    volumes: &BTreeMap<String, Vec<crate::cloud::inventory::Volume>>,
    now: DateTime<Utc>,
) -> std::collections::BTreeSet<crate::pricing::PriceKey> {
    let mut stale = book.stale(
        known
            .values()
            .flat_map(|m| m.iter().map(|(id, seen)| (id.as_str(), seen))),
        now,
    );
    stale.extend(book.stale_keys(
        volumes.iter().flat_map(|(id, list)| {
            let region = book.region_of(id).to_string();
            list.iter()
                .map(move |v| crate::pricing::PriceKey::ebs(&region, &v.volume_type))
        }),
        now,
    ));
    stale
}

/// Gives the Fargate services of `known` and of `entries` the size of their task.
fn sized(
    known: &mut crate::history::Known,
    entries: &mut [Entry],
    sizes: &BTreeMap<String, (u32, u32)>,
) {
    let give = |id: &str, size: &mut Option<Size>| {
        if let (Some(z), Some((cpu, memory))) = (size.as_mut(), sizes.get(id)) {
            z.cpu_units = Some(*cpu);
            z.memory_mib = Some(*memory);
        }
    };
    for (id, seen) in known.values_mut().flat_map(|m| m.iter_mut()) {
        give(id, &mut seen.size);
    }
    for c in entries.iter_mut().flat_map(|e| e.changes.iter_mut()) {
        give(&c.id, &mut c.now.size);
    }
}

/// Adds the EBS volumes of each report's EC2 instances to its storage: per volume,
/// its GiB, type and list price a GB-month, and what it cost while the instance
/// was stopped in the window (an estimate).
pub(crate) fn add_volumes(
    report: &mut Report,
    volumes: &BTreeMap<String, Vec<crate::cloud::inventory::Volume>>,
    book: &PriceBook,
) {
    for s in &mut report.schedules {
        for r in s.groups.iter().flat_map(|g| &g.resources) {
            let Some(list) = volumes.get(&r.id) else {
                continue;
            };
            let stopped: f64 = r.stopped_by.values().sum();
            let name = if r.name == r.id {
                r.id.clone()
            } else {
                format!("{} ({})", r.name, r.id)
            };
            for v in list {
                let price = book.per_gb_month(book.region_of(&r.id), &v.volume_type);
                s.storage.push(Storage {
                    resource: name.clone(),
                    gib: v.gib,
                    what: format!("ebs {} {}", v.volume_type, v.id),
                    per_gb_month: price,
                    while_stopped: price
                        .map(|p| f64::from(v.gib) * p * stopped / crate::pricing::HOURS_A_MONTH),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_hours_read_as_people_write_them() {
        assert_eq!(dollars(1234.567), "$1,234.57");
        assert_eq!(dollars(-0.004), "$0.00");
        assert_eq!(per_hour(0.0104), "$0.0104");
        assert_eq!(per_hour(0.096), "$0.096");
        assert_eq!(per_hour(0.29), "$0.29");
        assert_eq!(per_hour(2.0), "$2.00");
        assert_eq!(hours_text(62.5), "62.5");
        assert_eq!(hours_text(168.0), "168");
        assert_eq!(hours_text(-0.0), "0");
    }
}
