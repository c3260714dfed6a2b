//! The weekly summary of one schedule, as a chat message in every format: "Last week
//! Development ran 52 of 168 hours: about $412 saved, $188 spent; 2 extends (+3.5 h,
//! $14); the chain was up in 10m 15s on average." (Composed purely from the report;
//! when it is due is the core's rule, [`scheduler_core::summary`].)

use super::{ScheduleReport, dollars, hours_text};
use crate::notify::{Field, Language, Message, Severity, human_seconds};

/// The summary of `r`, the report of a schedule's last week.
pub fn compose(r: &ScheduleReport, lang: Language) -> Message {
    let en = |n: usize, one: &str, many: &str| {
        if n == 1 {
            one.to_string()
        } else {
            many.to_string()
        }
    };
    let mut title = match lang {
        Language::En => format!(
            "Last week {} ran {} of {} hours: about {} saved, {} spent",
            r.schedule,
            hours_text(r.ran),
            hours_text(r.hours),
            dollars(r.saved),
            dollars(r.spent)
        ),
        Language::Ko => format!(
            "지난주 {}: {}시간 중 {}시간 실행, 약 {} 절약, {} 지출",
            r.schedule,
            hours_text(r.hours),
            hours_text(r.ran),
            dollars(r.saved),
            dollars(r.spent)
        ),
    };
    if r.extends.count > 0 {
        title.push_str(&match lang {
            Language::En => format!(
                "; {} {} (+{} h, {})",
                r.extends.count,
                en(r.extends.count, "extend", "extends"),
                hours_text(r.extends.hours),
                dollars(r.extends.cost)
            ),
            Language::Ko => format!(
                "; 연장 {}회 (+{}시간, {})",
                r.extends.count,
                hours_text(r.extends.hours),
                dollars(r.extends.cost)
            ),
        });
    }
    if r.force_starts.count > 0 {
        title.push_str(&match lang {
            Language::En => format!(
                "; {} {} ({} h, {})",
                r.force_starts.count,
                en(r.force_starts.count, "force-start", "force-starts"),
                hours_text(r.force_starts.hours),
                dollars(r.force_starts.cost)
            ),
            Language::Ko => format!(
                "; 강제 시작 {}회 ({}시간, {})",
                r.force_starts.count,
                hours_text(r.force_starts.hours),
                dollars(r.force_starts.cost)
            ),
        });
    }
    if let Some(avg) = r.chains.average_seconds {
        title.push_str(&match lang {
            Language::En => format!("; the chain was up in {} on average", human_seconds(avg)),
            Language::Ko => format!("; 평균 {} 만에 모든 그룹 준비", human_seconds(avg)),
        });
    }
    title.push('.');
    let mut fields = Vec::new();
    let by: Vec<String> = r
        .saved_by
        .iter()
        .filter(|(_, v)| **v >= 0.005)
        .map(|(c, v)| format!("{} {}", c.describe(), dollars(*v)))
        .collect();
    if !by.is_empty() {
        fields.push(Field {
            title: match lang {
                Language::En => "Saved by".into(),
                Language::Ko => "절약 주체".into(),
            },
            text: by.join(", "),
        });
    }
    for g in &r.groups {
        let ran: f64 = g.resources.iter().map(|x| x.running).sum();
        let saved: f64 = g.resources.iter().filter_map(|x| x.saved).sum();
        fields.push(Field {
            title: g.group.clone(),
            text: format!(
                "{} resource(s), {} resource-hours, {} saved",
                g.resources.len(),
                hours_text(ran),
                dollars(saved)
            ),
        });
    }
    if !r.storage.is_empty() {
        // Storage bills whether or not its resource runs: said apart, never saved.
        let gib: u32 = r.storage.iter().map(|x| x.gib).sum();
        let cost: f64 = r.storage.iter().filter_map(|x| x.while_stopped).sum();
        let priced = r.storage.iter().any(|x| x.while_stopped.is_some());
        fields.push(Field {
            title: match lang {
                Language::En => "Storage (not in the savings)".into(),
                Language::Ko => "스토리지 (절약에 포함되지 않음)".into(),
            },
            text: match (lang, priced) {
                (Language::En, true) => format!(
                    "{gib} GiB kept billing while stopped: about {}",
                    dollars(cost)
                ),
                (Language::En, false) => format!("{gib} GiB kept billing while stopped"),
                (Language::Ko, true) => {
                    format!("정지 중에도 {gib} GiB 과금: 약 {}", dollars(cost))
                }
                (Language::Ko, false) => format!("정지 중에도 {gib} GiB 과금"),
            },
        });
    }
    if !r.failures.is_empty() {
        fields.push(Field {
            title: match lang {
                Language::En => "Failures".into(),
                Language::Ko => "실패".into(),
            },
            text: r.failures.len().to_string(),
        });
    }
    if !r.unpriced.is_empty() {
        fields.push(Field {
            title: match lang {
                Language::En => "No price".into(),
                Language::Ko => "가격 없음".into(),
            },
            text: r.unpriced.join(", "),
        });
    }
    Message {
        schedule: r.schedule.clone(),
        severity: Severity::Ok,
        title,
        fields,
    }
}
