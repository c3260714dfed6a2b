//! The report as one self-contained HTML file: no script, no external style sheet,
//! the picture inline.

use std::fmt::Write;

use super::svg::{Rows, render};
use super::{Report, dollars, hours_text};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as an HTML document.
pub fn render_html(report: &Report, rows: Rows) -> String {
    let mut out = String::new();
    let title = format!(
        "Instance scheduler report, {} to {}",
        report.from.format("%Y-%m-%d %H:%M UTC"),
        report.to.format("%Y-%m-%d %H:%M UTC")
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
         .note{{color:#666}}</style></head><body><h1>{t}</h1>\
         <p class=\"note\">Estimates: on-demand list prices (or SchedulerHourlyCost tags) times hours; \
         no taxes, credits or data transfer; storage keeps billing while stopped and is not in the savings.</p>\n",
        t = escape(&title)
    );
    out.push_str(&render(report, rows));
    for s in &report.schedules {
        let _ = write!(
            out,
            "<h2>{}</h2><p>Ran {} of {} hours (the schedule alone: {} h). Saved <b>{}</b> against always-on, spent {}. \
             {} extend(s) (+{} h, {}); {} force-start(s) ({} h, {}). {}</p>",
            escape(&s.schedule),
            hours_text(s.ran),
            hours_text(s.hours),
            hours_text(s.scheduled),
            dollars(s.saved),
            dollars(s.spent),
            s.extends.count,
            hours_text(s.extends.hours),
            dollars(s.extends.cost),
            s.force_starts.count,
            hours_text(s.force_starts.hours),
            dollars(s.force_starts.cost),
            match s.chains.average_seconds {
                Some(a) => format!(
                    "The chain was up in {} on average over {} start(s).",
                    crate::notify::human_seconds(a),
                    s.chains.starts
                ),
                None => "No start completed.".into(),
            }
        );
        out.push_str(
            "<table><tr><th>group</th><th>resource</th><th>size</th><th>$/h</th><th>ran h</th>\
             <th>scheduled h</th><th>stopped h</th><th>spent</th><th>saved</th></tr>",
        );
        for g in &s.groups {
            for r in &g.resources {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&g.group),
                    escape(&r.name),
                    escape(&r.size.as_ref().map_or("?".into(), |z| z.to_string())),
                    r.hourly.map_or("-".into(), |(p, _)| super::per_hour(p)),
                    hours_text(r.running),
                    hours_text(r.scheduled),
                    hours_text(r.stopped_by.values().sum()),
                    r.spent.map_or("-".into(), dollars),
                    r.saved.map_or("-".into(), dollars)
                );
            }
        }
        out.push_str("</table>");
        if !s.failures.is_empty() {
            out.push_str("<h3>Failures</h3><ul>");
            for f in &s.failures {
                let _ = write!(
                    out,
                    "<li>{}: {}</li>",
                    f.at.format("%Y-%m-%d %H:%M UTC"),
                    escape(&f.message)
                );
            }
            out.push_str("</ul>");
        }
        if !s.storage.is_empty() {
            let list: Vec<String> = s
                .storage
                .iter()
                .map(|x| format!("{} {} GiB", escape(&x.resource), x.gib))
                .collect();
            let _ = write!(
                out,
                "<p class=\"note\">Storage that kept billing while stopped: {}</p>",
                list.join(", ")
            );
        }
    }
    out.push_str("</body></html>\n");
    out
}
