//! The picture of a report's time: an SVG Gantt chart with one row per group (or per
//! resource), its running spans coloured by what started them, the schedule's
//! regular hours outlined, each change of state marked, days with an exception or a
//! holiday shaded, and the dependency chain drawn at each start (an arrow from a
//! group's start to the start of each group that waited for it).

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::{Report, ScheduleReport};
use crate::history::{Cause, Span};

/// Rows of one group each, or of one resource each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rows {
    /// One row per group.
    #[default]
    Groups,
    /// One row per resource.
    Resources,
}

/// The colour of a running span started by `cause`.
pub fn colour(cause: Cause) -> &'static str {
    match cause {
        Cause::Schedule => "#2EB67D",
        Cause::Exception => "#36C5F0",
        Cause::Forced => "#ECB22E",
        Cause::Bot => "#E8912D",
        Cause::Aws => "#8B5E3C",
        Cause::Person => "#9B59B6",
        Cause::Failed => "#E01E5A",
        Cause::Seen | Cause::Left => "#A0A0A0",
    }
}

const WIDTH: f64 = 1100.0;
const LABEL: f64 = 200.0;
const ROW: f64 = 26.0;
const HEAD: f64 = 34.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Axis {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Axis {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_seconds().max(1) as f64;
        let at = (t.max(self.from).min(self.to) - self.from).num_seconds() as f64;
        LABEL + (WIDTH - LABEL - 10.0) * at / span
    }
}

/// One row: its label and the spans drawn in it.
struct Row<'a> {
    label: String,
    group: String,
    spans: Vec<&'a Span>,
}

fn rows<'a>(s: &'a ScheduleReport, rows: Rows) -> Vec<Row<'a>> {
    match rows {
        Rows::Groups => s
            .groups
            .iter()
            .map(|g| Row {
                label: g.group.clone(),
                group: g.group.clone(),
                spans: g.resources.iter().flat_map(|r| &r.spans).collect(),
            })
            .collect(),
        Rows::Resources => s
            .groups
            .iter()
            .flat_map(|g| {
                g.resources.iter().map(move |r| Row {
                    label: format!("{} · {}", g.group, r.name),
                    group: g.group.clone(),
                    spans: r.spans.iter().collect(),
                })
            })
            .collect(),
    }
}

/// The report as an SVG document.
pub fn render(report: &Report, layout: Rows) -> String {
    let axis = Axis {
        from: report.from,
        to: report.to,
    };
    let tz: Tz = report
        .schedules
        .first()
        .and_then(|s| s.time_zone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let row_count: usize = report
        .schedules
        .iter()
        .map(|s| rows(s, layout).len() + 1)
        .sum();
    let height = HEAD + ROW * row_count as f64 + 60.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r##"<title>{}</title><defs><marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#555"/></marker></defs>"##,
        escape(&format!(
            "Instance scheduler: {} to {}",
            report.from.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
            report.to.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
        ))
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    // Days, in the first schedule's zone.
    let mut day = report.from.with_timezone(&tz).date_naive();
    let bottom = height - 50.0;
    loop {
        let start = crate::calendar::local_instant(tz, day, chrono::NaiveTime::MIN);
        if start >= report.to {
            break;
        }
        let next =
            crate::calendar::local_instant(tz, day + Duration::days(1), chrono::NaiveTime::MIN);
        let (x0, x1) = (axis.x(start), axis.x(next));
        let _ = writeln!(
            out,
            r##"<line x1="{x0:.1}" y1="{HEAD}" x2="{x0:.1}" y2="{bottom:.1}" stroke="#ddd"/><text x="{:.1}" y="22" text-anchor="middle">{}</text>"##,
            (x0 + x1) / 2.0,
            day.format("%a %m-%d")
        );
        day += Duration::days(1);
    }
    let mut y = HEAD;
    for s in &report.schedules {
        let _ = writeln!(
            out,
            r#"<text class="schedule" x="6" y="{:.1}" font-weight="bold">{}</text>"#,
            y + ROW * 0.65,
            escape(&format!(
                "{}: ran {} of {} h, saved {}",
                s.schedule,
                super::hours_text(s.ran),
                super::hours_text(s.hours),
                super::dollars(s.saved)
            ))
        );
        // Days with an exception: shaded across the schedule's rows, labelled.
        let list = rows(s, layout);
        let section = ROW * (list.len() as f64 + 1.0);
        let stz: Tz = s.time_zone.parse().unwrap_or(chrono_tz::UTC);
        for (date, what) in &s.exceptions {
            let a = crate::calendar::local_instant(stz, *date, chrono::NaiveTime::MIN);
            let b = a + Duration::days(1);
            if b <= report.from || a >= report.to {
                continue;
            }
            let holiday = what.starts_with("holiday");
            let _ = writeln!(
                out,
                r##"<g class="exception"><rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{section:.1}" fill="{}" fill-opacity="0.12"/><text x="{:.1}" y="{:.1}" font-size="9" fill="#8a6d00">{}</text></g>"##,
                axis.x(a),
                axis.x(b) - axis.x(a),
                if holiday { "#E01E5A" } else { "#ECB22E" },
                axis.x(a) + 2.0,
                y + 10.0,
                escape(what)
            );
        }
        y += ROW;
        let windows = &s.regular;
        let mut starts: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
        let mut row_y: BTreeMap<&str, f64> = BTreeMap::new();
        for row in &list {
            let _ = writeln!(
                out,
                r##"<g class="row" data-group="{}"><text x="10" y="{:.1}">{}</text><rect x="{LABEL}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#f6f6f6"/>"##,
                escape(&row.group),
                y + ROW * 0.62,
                escape(&row.label),
                y + 3.0,
                WIDTH - LABEL - 10.0,
                ROW - 6.0
            );
            for (a, b) in windows {
                let _ = writeln!(
                    out,
                    r##"<rect class="regular" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#2EB67D" stroke-dasharray="3,2" stroke-opacity="0.6"/>"##,
                    axis.x(*a),
                    y + 3.0,
                    axis.x(*b) - axis.x(*a),
                    ROW - 6.0
                );
            }
            for span in row.spans.iter().filter(|s| s.up) {
                let _ = writeln!(
                    out,
                    r#"<rect class="running {}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.85"><title>{}</title></rect>"#,
                    span.cause.word(),
                    axis.x(span.from),
                    y + 5.0,
                    (axis.x(span.to) - axis.x(span.from)).max(1.0),
                    ROW - 10.0,
                    colour(span.cause),
                    escape(&format!(
                        "{} running {} to {} ({})",
                        row.label,
                        span.from.with_timezone(&stz).format("%a %H:%M"),
                        span.to.with_timezone(&stz).format("%a %H:%M"),
                        span.cause.describe()
                    ))
                );
                starts
                    .entry(row.group.as_str())
                    .or_default()
                    .push(span.from);
            }
            // Each change of state, marked.
            for span in &row.spans {
                if span.from > report.from {
                    let _ = writeln!(
                        out,
                        r##"<line class="transition" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333" stroke-width="1"/>"##,
                        y + 2.0,
                        y + ROW - 2.0,
                        x = axis.x(span.from)
                    );
                }
            }
            let _ = writeln!(out, "</g>");
            row_y.entry(row.group.as_str()).or_insert(y + ROW / 2.0);
            y += ROW;
        }
        // The chain at each start: from each dependency's start to the dependent's.
        for g in &s.groups {
            let (Some(my_starts), Some(my_y)) =
                (starts.get(g.group.as_str()), row_y.get(g.group.as_str()))
            else {
                continue;
            };
            for dep in &g.depends_on {
                let (Some(dep_starts), Some(dep_y)) =
                    (starts.get(dep.as_str()), row_y.get(dep.as_str()))
                else {
                    continue;
                };
                for at in my_starts {
                    // The latest start of the dependency at most an hour before.
                    let Some(before) = dep_starts
                        .iter()
                        .filter(|d| **d <= *at && *at - **d <= Duration::hours(1))
                        .max()
                    else {
                        continue;
                    };
                    let _ = writeln!(
                        out,
                        r##"<line class="chain" x1="{:.1}" y1="{dep_y:.1}" x2="{:.1}" y2="{my_y:.1}" stroke="#555" stroke-width="1" marker-end="url(#arrow)"/>"##,
                        axis.x(*before),
                        axis.x(*at)
                    );
                }
            }
        }
    }
    // The legend, from the left edge: each entry as wide as its words (about 5.5
    // pixels a letter at this size), so that the seven fit the width and none runs
    // into the next.
    let mut x = 10.0;
    let ly = height - 30.0;
    for cause in [
        Cause::Schedule,
        Cause::Exception,
        Cause::Forced,
        Cause::Bot,
        Cause::Person,
        Cause::Aws,
        Cause::Seen,
    ] {
        let words = format!("started by {}", cause.describe());
        let _ = writeln!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{words}</text>"#,
            ly - 9.0,
            colour(cause),
            x + 16.0,
            ly,
        );
        x += 16.0 + 5.5 * words.len() as f64 + 10.0;
    }
    let _ = writeln!(
        out,
        r##"<text x="{LABEL}" y="{:.1}" fill="#555">dashed: the schedule's regular hours · ticks: changes of state · arrows: the dependency chain at each start · shaded: exceptions (red: holidays)</text>"##,
        ly + 16.0
    );
    out.push_str("</svg>\n");
    out
}
