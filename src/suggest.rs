//! `schedctl suggest`: where else to save. Reads 14 days of CloudWatch metrics of the
//! Region's EC2 instances and RDS databases, tagged or not (CPUUtilization,
//! NetworkIn/Out; CPUUtilization and DatabaseConnections for RDS), with one
//! GetMetricData call per 500 metrics (and its pages), finds those idle outside a
//! daily pattern (the rule is the core's, [`scheduler_core::suggest`]) and proposes a
//! schedule and a group for each, with its estimated monthly saving at the listed
//! price and the commands that would apply it. It never changes anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use scheduler_core::suggest::{Hour, NoProposal, Proposal, propose};

use crate::cloud::aws::error_text;
use crate::fleet::{Kind, Size};
use crate::pricing::{PriceKey, PriceList};
use crate::schedule::{GROUP_TAG, SCHEDULE_TAG};

/// Days of metrics read.
pub const DAYS: i64 = 14;
/// The most metrics one GetMetricData call asks for (the API's limit).
pub const PER_CALL: usize = 500;
/// Hours in an average month, for monthly savings.
const MONTH_HOURS: f64 = 730.0;

/// A resource to look at.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Its id.
    pub id: String,
    /// EC2 or RDS.
    pub kind: Kind,
    /// Its `Name` tag or id.
    pub name: String,
    /// Its type or class.
    pub size: Size,
    /// Its `ScheduleName` tag, when it has one.
    pub schedule: Option<String>,
    /// Its ARN (RDS, for the tag command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// What `suggest` found for one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The resource.
    pub resource: Candidate,
    /// The schedule proposed, or why none.
    pub proposal: Result<Proposal, NoProposal>,
    /// The group it would join (`DB` for databases, `APP` for instances; `APP`
    /// depends on `DB`).
    pub group: String,
    /// Its hourly list price, where known.
    pub hourly: Option<f64>,
    /// The estimated monthly saving at that price.
    pub monthly_saving: Option<f64>,
    /// The schedule's name, file and commands that would apply the proposal.
    pub apply: Vec<String>,
}

/// Everything `suggest` found.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestions {
    /// The Region.
    pub region: String,
    /// The metrics' period.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// GetMetricData calls made.
    pub calls: usize,
    /// Per resource.
    pub suggestions: Vec<Suggestion>,
}

/// `suggest` could not read what it needs.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what}: {message}")]
pub struct SuggestError {
    /// What it was doing.
    pub what: &'static str,
    /// The service's error.
    pub message: String,
}

/// The Region's EC2 instances (not terminated) and RDS DB instances, tagged or not.
pub async fn candidates(
    ec2: &aws_sdk_ec2::Client,
    rds: &aws_sdk_rds::Client,
) -> Result<Vec<Candidate>, SuggestError> {
    let mut out = Vec::new();
    let mut pages = ec2.describe_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| SuggestError {
            what: "list EC2 instances",
            message: error_text(&e),
        })?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let (Some(id), Some(kind)) = (i.instance_id(), i.instance_type()) else {
                continue;
            };
            if i.state().and_then(|s| s.name()).is_some_and(|s| {
                matches!(
                    s,
                    aws_sdk_ec2::types::InstanceStateName::Terminated
                        | aws_sdk_ec2::types::InstanceStateName::ShuttingDown
                )
            }) {
                continue;
            }
            let tag = |k: &str| {
                i.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
                    .map(str::to_string)
            };
            out.push(Candidate {
                id: id.to_string(),
                kind: Kind::Ec2,
                name: tag("Name").unwrap_or_else(|| id.to_string()),
                size: Size::class(kind.as_str()),
                schedule: tag(SCHEDULE_TAG),
                arn: None,
            });
        }
    }
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| SuggestError {
            what: "list RDS databases",
            message: error_text(&e),
        })?;
        for db in page.db_instances() {
            if db.db_cluster_identifier().is_some() {
                continue;
            }
            let Some(id) = db.db_instance_identifier() else {
                continue;
            };
            out.push(Candidate {
                id: id.to_string(),
                kind: Kind::Rds,
                name: id.to_string(),
                size: Size {
                    class: db.db_instance_class().unwrap_or_default().to_string(),
                    engine: db.engine().map(str::to_string),
                    multi_az: db.multi_az().unwrap_or(false),
                    storage_gib: db.allocated_storage().and_then(|g| u32::try_from(g).ok()),
                    ..Size::default()
                },
                schedule: db
                    .tag_list()
                    .iter()
                    .find(|t| t.key() == Some(SCHEDULE_TAG))
                    .and_then(|t| t.value())
                    .map(str::to_string),
                arn: db.db_instance_arn().map(str::to_string),
            });
        }
    }
    Ok(out)
}

/// The metrics read for a resource: (namespace, name, dimension, statistic).
fn metrics_of(c: &Candidate) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    match c.kind {
        Kind::Rds => vec![
            (
                "AWS/RDS",
                "CPUUtilization",
                "DBInstanceIdentifier",
                "Average",
            ),
            (
                "AWS/RDS",
                "DatabaseConnections",
                "DBInstanceIdentifier",
                "Average",
            ),
        ],
        _ => vec![
            ("AWS/EC2", "CPUUtilization", "InstanceId", "Average"),
            ("AWS/EC2", "NetworkIn", "InstanceId", "Sum"),
            ("AWS/EC2", "NetworkOut", "InstanceId", "Sum"),
        ],
    }
}

/// Hourly metrics of `candidates` over `[from, to)`, by id, and the GetMetricData
/// calls made (pages included): one call per [`PER_CALL`] metrics.
pub async fn hours(
    cw: &aws_sdk_cloudwatch::Client,
    candidates: &[Candidate],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(BTreeMap<String, Vec<Hour>>, usize), SuggestError> {
    let mut queries = Vec::new();
    for c in candidates {
        for (namespace, name, dimension, stat) in metrics_of(c) {
            queries.push((c.id.clone(), name, namespace, dimension, stat));
        }
    }
    let mut by: BTreeMap<String, BTreeMap<i64, Hour>> = BTreeMap::new();
    let mut calls = 0;
    for (chunk_no, chunk) in queries.chunks(PER_CALL).enumerate() {
        let list: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .map(|(k, (id, name, namespace, dimension, stat))| {
                let metric = Metric::builder()
                    .namespace(*namespace)
                    .metric_name(*name)
                    .dimensions(Dimension::builder().name(*dimension).value(id).build())
                    .build();
                MetricDataQuery::builder()
                    .id(format!("m{chunk_no}_{k}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(3600)
                            .stat(*stat)
                            .build(),
                    )
                    .return_data(true)
                    .build()
            })
            .collect();
        let mut token: Option<String> = None;
        loop {
            calls += 1;
            let answer = cw
                .get_metric_data()
                .set_metric_data_queries(Some(list.clone()))
                .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    from.timestamp(),
                ))
                .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    to.timestamp(),
                ))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| SuggestError {
                    what: "read CloudWatch metrics",
                    message: error_text(&e),
                })?;
            for r in answer.metric_data_results() {
                let Some(k) = r
                    .id()
                    .and_then(|id| id.rsplit('_').next())
                    .and_then(|k| k.parse::<usize>().ok())
                else {
                    continue;
                };
                let Some((id, name, ..)) = chunk.get(k) else {
                    continue;
                };
                let hours = by.entry(id.clone()).or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    let Some(at) = DateTime::from_timestamp(t.secs(), 0) else {
                        continue;
                    };
                    let h = hours.entry(at.timestamp()).or_insert(Hour {
                        at,
                        ..Hour::default()
                    });
                    match *name {
                        "CPUUtilization" => h.cpu = Some(*v),
                        "DatabaseConnections" => h.connections = Some(*v),
                        _ => h.network = Some(h.network.unwrap_or(0.0) + *v),
                    }
                }
            }
            token = answer.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok((
        by.into_iter()
            .map(|(id, h)| (id, h.into_values().collect()))
            .collect(),
        calls,
    ))
}

/// The suggestions for `candidates` from their `hours`, in zone `tz`, priced with
/// `prices` (hourly, by key).
pub fn suggestions(
    region: &str,
    candidates: &[Candidate],
    hours: &BTreeMap<String, Vec<Hour>>,
    tz: Tz,
    prices: &BTreeMap<PriceKey, f64>,
) -> Vec<Suggestion> {
    candidates
        .iter()
        .map(|c| {
            let proposal = propose(hours.get(&c.id).map_or(&[][..], Vec::as_slice), tz);
            let hourly =
                PriceKey::of(region, c.kind, &c.size).and_then(|k| prices.get(&k).copied());
            let group = if c.kind == Kind::Rds { "DB" } else { "APP" };
            let monthly_saving = match (&proposal, hourly) {
                (Ok(p), Some(h)) => Some((168.0 - p.running_hours) / 168.0 * MONTH_HOURS * h),
                _ => None,
            };
            let apply = match &proposal {
                Ok(p) => apply(c, p, group),
                Err(_) => Vec::new(),
            };
            Suggestion {
                resource: c.clone(),
                proposal,
                group: group.to_string(),
                hourly,
                monthly_saving,
                apply,
            }
        })
        .collect()
}

/// The name of the schedule a proposal makes: `Office-mon-fri-0845-1915`.
pub fn schedule_name(p: &Proposal) -> String {
    format!(
        "Office-{}-{}-{}",
        p.days.replace(',', "-"),
        p.start.format("%H%M"),
        p.stop.format("%H%M")
    )
}

/// The schedule file and the commands that would apply `p` to `c`.
fn apply(c: &Candidate, p: &Proposal, group: &str) -> Vec<String> {
    let name = schedule_name(p);
    let kind = if c.kind == Kind::Rds { "RDS" } else { "EC2" };
    let groups = if group == "APP" {
        r#"[{"GroupName":"DB","InstanceType":"RDS"},{"GroupName":"APP","InstanceType":"EC2","Dependency":["DB"]}]"#
            .to_string()
    } else {
        format!(r#"[{{"GroupName":"DB","InstanceType":"{kind}"}}]"#)
    };
    let file = format!(
        r#"schedules/{}.json: {{"ScheduleName":"{name}","DaysActive":"{}","StartTime":"{}","StopTime":"{}","TimeZone":"{}","Groups":{groups}}}"#,
        name.to_ascii_lowercase(),
        p.days,
        p.start.format("%H:%M"),
        p.stop.format("%H:%M"),
        p.tz.name()
    );
    let tags = format!("Key={SCHEDULE_TAG},Value={name} Key={GROUP_TAG},Value={group}");
    let tag = match (c.kind, &c.arn) {
        (Kind::Rds, Some(arn)) => {
            format!("aws rds add-tags-to-resource --resource-name {arn} --tags {tags}")
        }
        _ => format!("aws ec2 create-tags --resources {} --tags {tags}", c.id),
    };
    vec![file, "schedctl sync schedules/".to_string(), tag]
}

/// The price keys `candidates` need.
pub fn price_keys(region: &str, candidates: &[Candidate]) -> BTreeSet<PriceKey> {
    candidates
        .iter()
        .filter_map(|c| PriceKey::of(region, c.kind, &c.size))
        .collect()
}

/// Where `suggest` reads: the Region's EC2, RDS and CloudWatch.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The Region.
    pub region: String,
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// RDS.
    pub rds: aws_sdk_rds::Client,
    /// CloudWatch.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Sources {
    /// The clients of `sdk`'s Region.
    pub fn new(sdk: &aws_config::SdkConfig) -> Sources {
        Sources {
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            ec2: aws_sdk_ec2::Client::new(sdk),
            rds: aws_sdk_rds::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
        }
    }
}

/// Reads the Region's resources and their metrics over the [`DAYS`] before `now`
/// and proposes schedules, priced from `list` (never cached: suggest writes nothing).
pub async fn suggest(
    sources: &Sources,
    list: &PriceList,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Suggestions, SuggestError> {
    let region = sources.region.clone();
    let found = candidates(&sources.ec2, &sources.rds).await?;
    let from = now - Duration::days(DAYS);
    let (metrics, calls) = hours(&sources.cloudwatch, &found, from, now).await?;
    let mut prices = BTreeMap::new();
    for key in price_keys(&region, &found) {
        match list.fetch(&key).await {
            Ok(Some(p)) => {
                prices.insert(key, p);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(action = "prices", "{e}"),
        }
    }
    Ok(Suggestions {
        suggestions: suggestions(&region, &found, &metrics, tz, &prices),
        region,
        from,
        to: now,
        calls,
    })
}

impl fmt::Display for Suggestions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} resources in {}, metrics {} to {} ({} GetMetricData call{}); nothing was changed",
            self.suggestions.len(),
            self.region,
            self.from.format("%Y-%m-%d"),
            self.to.format("%Y-%m-%d"),
            self.calls,
            if self.calls == 1 { "" } else { "s" }
        )?;
        for s in &self.suggestions {
            let r = &s.resource;
            let who = if r.name == r.id {
                r.id.clone()
            } else {
                format!("{} ({})", r.name, r.id)
            };
            match &s.proposal {
                Ok(p) => {
                    writeln!(
                        f,
                        "\n{who}, {} {}: busy {} {}–{} {}; group {}; {} h a week instead of 168{}",
                        r.kind,
                        r.size,
                        p.days,
                        p.start.format("%H:%M"),
                        p.stop.format("%H:%M"),
                        p.tz.name(),
                        s.group,
                        crate::report::hours_text(p.running_hours),
                        match s.monthly_saving {
                            Some(m) => format!(
                                ": about {} a month saved at {}/h",
                                crate::report::dollars(m),
                                crate::report::per_hour(s.hourly.unwrap_or_default())
                            ),
                            None => " (no list price)".into(),
                        }
                    )?;
                    for line in &s.apply {
                        writeln!(f, "    {line}")?;
                    }
                }
                Err(why) => writeln!(
                    f,
                    "\n{who}, {} {}: nothing proposed ({why})",
                    r.kind, r.size
                )?,
            }
        }
        Ok(())
    }
}
