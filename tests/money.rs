//! Show the money: the history the function keeps on the emulator (moto), priced by
//! a Price List stub, read back as a report and a picture, and the weekly summary in
//! chat; what keeping it costs an idle run.

mod common;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use common::listener::{Listener, Reply};
use common::pricing::PriceStub;
use common::*;
use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::history::{Cause, HistoryTable};
use instance_scheduler::notify::Language;
use instance_scheduler::notify::deliver::{Notifier, SecretUrl, Wants, Webhook};
use instance_scheduler::notify::formats::Format;
use instance_scheduler::outlets::{MetricSink, Outlets};
use instance_scheduler::pricing::{PriceBook, PriceList};
use instance_scheduler::report::{self, dollars, svg};
use instance_scheduler::run::{RunConfig, Runner};
use instance_scheduler::store::Store;
use instance_scheduler::store::dynamo::{DynamoStore, Tables};
use instance_scheduler::summary::SummaryRule;
use serde_json::Value;

/// Weekdays 09:30–22:00 in Seoul, one group of EC2 instances.
const DEV: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00",
  "TimeZone":"Asia/Seoul","Groups":[{"GroupName":"APP","InstanceType":"EC2"}]}"#;

const MON: &str = "2026-12-21T00:00:00+09:00";
const NEXT_MON: &str = "2026-12-28T00:00:00+09:00";

/// The instants of the week's runs: the first look, then each start and stop.
fn week_runs() -> Vec<DateTime<Utc>> {
    let mut out = vec![at(MON)];
    for day in 21..=25 {
        out.push(at(&format!("2026-12-{day}T09:30:00+09:00")));
        out.push(at(&format!("2026-12-{day}T22:00:00+09:00")));
    }
    out
}

/// An m5.large tagged for Dev, stopped; its id.
async fn m5_large(moto: &Moto) -> String {
    use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
    let mut tags = TagSpecification::builder().resource_type(ResourceType::Instance);
    for (k, v) in [
        ("ScheduleName", "Dev"),
        ("ScheduleGroupName", "APP"),
        ("Name", "api"),
    ] {
        tags = tags.tags(Tag::builder().key(k).value(v).build());
    }
    let out = moto
        .ec2()
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tags.build())
        .send()
        .await
        .expect("an m5.large");
    let id = out.instances()[0].instance_id().unwrap().to_string();
    moto.ec2()
        .stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("stopped");
    id
}

/// A chat on `chat` in `format`, with weekly summaries (Monday 09:00) priced by the
/// Price List stand-in.
async fn summaries_to(chat: &Listener, format: Format, stub: &PriceStub) -> Notifier {
    let mut notifier = Notifier::new(
        vec![Webhook {
            label: "WEBHOOK".into(),
            url: SecretUrl::new(format!("{}/connect-api/webhook/x", chat.url)),
            format,
            wants: Wants::All,
        }],
        Language::En,
        StdDuration::from_secs(5),
    );
    notifier.outlets = Outlets {
        prices: Some(PriceList::new(&stub.sdk().await)),
        summary: Some(SummaryRule::default()),
        home_region: "us-east-1".into(),
        ..Outlets::default()
    };
    notifier
}

fn history() -> HistoryTable {
    HistoryTable {
        name: "ScheduleHistory".into(),
        days: 400,
    }
}

async fn history_store(moto: &Moto) -> DynamoStore {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk), Tables::default())
        .with_history(history());
    store.create_tables().await.expect("tables");
    store
}

fn runner(
    moto: &Moto,
    store: DynamoStore,
    notifier: Notifier,
) -> Runner<AwsCloud, DynamoStore, VirtualClock> {
    Runner {
        cloud: AwsCloud::new(&moto.sdk),
        store,
        clock: VirtualClock::at(at(MON)),
        config: RunConfig {
            poll_every: StdDuration::from_secs(10),
            budget: StdDuration::from_secs(60),
            ..RunConfig::default()
        },
        notifier,
        wakeups: Default::default(),
        shards: Default::default(),
    }
}

#[tokio::test]
async fn a_week_of_an_m5_large_at_the_list_price_runs_62_and_a_half_of_168_hours() {
    let moto = Moto::start().await;
    let stub = PriceStub::start().await;
    let id = m5_large(&moto).await;
    let store = history_store(&moto).await;
    load_schedules(&store, &[DEV]).await;
    let chat = Listener::start(vec![Reply::Status(200)]).await;
    let mut notifier = summaries_to(&chat, Format::Jandi, &stub).await;
    let (metrics, lines) = MetricSink::recorder();
    notifier.outlets.metrics = metrics;
    let r = runner(&moto, store, notifier);

    let mut starting = None;
    for t in week_runs() {
        r.clock.set(t);
        let watch = t == at("2026-12-21T09:30:00+09:00");
        if watch {
            moto.record().await;
        }
        let report = r.run(&[]).await.expect("a run");
        assert!(!report.has_errors(), "{:?}", report.events);
        if watch {
            starting = Some(moto.recorded().await);
        }
    }
    // Each start ends a stopped span: its hours are metrics (the first night, before
    // the history, is not counted).
    let saved: f64 = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["HoursSaved"]
                .as_f64()
                .unwrap_or(0.0)
        })
        .sum();
    assert_eq!(saved, 4.0 * 11.5);
    // The start's run wrote its history in one BatchWriteItem.
    let starting = starting.unwrap();
    assert_eq!(starting.get("BatchWriteItem"), Some(&1), "{starting:?}");

    // What the history holds, and what it costs: bytes of JSON per change.
    let entries = r.store.read_history("Dev", at(MON)).await.unwrap();
    let changes: usize = entries.iter().map(|e| e.changes.len()).sum();
    let bytes: usize = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap().len())
        .sum();
    eprintln!(
        "history: {} entries, {changes} changes, {bytes} bytes of JSON ({} per change)",
        entries.len(),
        bytes / changes.max(1)
    );
    // First seen stopped, then five starts and five stops.
    assert_eq!(changes, 11);
    assert_eq!(entries[0].changes[0].now.cause, Cause::Seen);
    assert!(
        entries[1..]
            .iter()
            .all(|e| e.changes.iter().all(|c| c.now.cause == Cause::Schedule))
    );

    // The report, as `schedctl report` builds it: the price is fetched once and cached.
    let catalog = r.store.load_catalog(chrono_tz::UTC).await.unwrap();
    let list = PriceList::new(&stub.sdk().await);
    let week = report::from_store(
        &r.store,
        &catalog,
        at(MON),
        at(NEXT_MON),
        Some(&list),
        "us-east-1",
        at(NEXT_MON),
    )
    .await
    .unwrap();
    let dev = &week.schedules[0];
    assert_eq!(dev.hours, 168.0);
    assert_eq!(dev.ran, 62.5);
    assert_eq!(dev.scheduled, 62.5);
    let resource = &dev.groups[0].resources[0];
    assert_eq!(resource.id, id);
    assert_eq!(resource.hourly.map(|(p, _)| p), Some(0.096));
    // 105.5 hours stopped at $0.096 an hour: $10.128; 62.5 running: $6.00.
    assert_eq!(dollars(dev.saved), "$10.13");
    assert_eq!(dollars(dev.spent), "$6.00");
    // The first night was before the history (9.5 h); the other four the schedule's.
    let by = |c: Cause| dev.saved_by.get(&c).map(|v| dollars(*v));
    assert_eq!(by(Cause::Seen), Some("$0.91".into()));
    assert_eq!(by(Cause::Schedule), Some("$9.22".into()));
    assert_eq!(dev.chains.starts, 5);
    assert!(week.to_string().contains("ran 62.5 of 168 hours"), "{week}");
    let asked = stub.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0]["ServiceCode"], "AmazonEC2");
    // The next report finds the price cached in the state table and asks for nothing.
    report::from_store(
        &r.store,
        &catalog,
        at(MON),
        at(NEXT_MON),
        Some(&list),
        "us-east-1",
        at(NEXT_MON),
    )
    .await
    .unwrap();
    assert_eq!(stub.asked().len(), 1);

    // Monday 09:00 in Seoul: the weekly summary, once, in chat.
    let before = chat.received().len();
    for t in ["2026-12-28T09:00:00+09:00", "2026-12-28T09:05:00+09:00"] {
        r.clock.set(at(t));
        r.run(&[]).await.unwrap();
    }
    let heard: Vec<Value> = chat.received()[before..].iter().map(|m| m.json()).collect();
    let summaries: Vec<&str> = heard
        .iter()
        .filter_map(|m| m["body"].as_str())
        .filter(|b| b.starts_with("Last week"))
        .collect();
    assert_eq!(summaries.len(), 1, "{heard:?}");
    assert!(
        summaries[0].starts_with(
            "Last week Dev ran 62.5 of 168 hours: about $10.13 saved, $6.00 spent; the chain was up in "
        ),
        "{}",
        summaries[0]
    );
}

#[tokio::test]
async fn a_resource_stopped_by_hand_is_saved_by_a_person_not_the_schedule() {
    let moto = Moto::start().await;
    let id = m5_large(&moto).await;
    let store = history_store(&moto).await;
    load_schedules(&store, &[DEV]).await;
    let r = runner(&moto, store, Notifier::default());
    for t in ["2026-12-21T09:00:00+09:00", "2026-12-21T09:30:00+09:00"] {
        r.clock.set(at(t));
        r.run(&[]).await.unwrap();
    }
    // Someone stops it at noon; the next run sees it.
    moto.ec2()
        .stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    r.clock.set(at("2026-12-21T12:00:00+09:00"));
    r.run(&[]).await.unwrap();
    r.clock.set(at("2026-12-21T22:00:00+09:00"));
    r.run(&[]).await.unwrap();
    let catalog = r.store.load_catalog(chrono_tz::UTC).await.unwrap();
    let day = report::from_store(
        &r.store,
        &catalog,
        at("2026-12-21T09:00:00+09:00"),
        at("2026-12-22T00:00:00+09:00"),
        None,
        "us-east-1",
        at("2026-12-22T00:00:00+09:00"),
    )
    .await
    .unwrap();
    let stopped = &day.schedules[0].groups[0].resources[0].stopped_by;
    // 09:00–09:30 by the schedule's night; 12:00–24:00 by the person (the 22:00 stop
    // found it stopped already and changed nothing).
    assert_eq!(stopped.get(&Cause::Person), Some(&12.0), "{stopped:?}");
    assert_eq!(stopped.get(&Cause::Seen), Some(&0.5), "{stopped:?}");
    assert_eq!(stopped.get(&Cause::Schedule), None, "{stopped:?}");
}

#[tokio::test]
async fn history_costs_nothing_on_an_idle_run() {
    let moto = Moto::start().await;
    m5_large(&moto).await;
    let with = history_store(&moto).await;
    load_schedules(&with, &[DEV]).await;
    let r = runner(&moto, with, Notifier::default());
    r.clock.set(at("2026-12-21T09:30:00+09:00"));
    r.run(&[]).await.unwrap();
    // An idle run, with the history kept and without.
    r.clock.set(at("2026-12-21T12:00:00+09:00"));
    moto.record().await;
    r.run(&[]).await.unwrap();
    let idle_with = moto.recorded().await;
    let without = DynamoStore::new(aws_sdk_dynamodb::Client::new(&moto.sdk), Tables::default());
    let plain = runner(&moto, without, Notifier::default());
    plain.clock.set(at("2026-12-21T12:05:00+09:00"));
    moto.record().await;
    plain.run(&[]).await.unwrap();
    let idle_without = moto.recorded().await;
    assert_eq!(idle_with, idle_without);
    assert!(!idle_with.contains_key("BatchWriteItem"), "{idle_with:?}");
}

#[test]
fn the_picture_is_well_formed_with_one_row_per_group() {
    use instance_scheduler::simulate::{Span, Wakes, read_fleet, simulate_with_report};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let items = instance_scheduler::store::files::load_dir(&root.join("examples/chain")).unwrap();
    let (fleet, windows) =
        read_fleet(&std::fs::read_to_string(root.join("examples/chain-fleet.json")).unwrap())
            .unwrap();
    let span = Span {
        from: at("2026-12-21T00:00:00+09:00"),
        to: at("2026-12-24T00:00:00+09:00"),
        tick: Duration::minutes(5),
    };
    let (_, week) = simulate_with_report(
        items,
        fleet,
        windows,
        span,
        RunConfig::default(),
        Wakes::default(),
        &PriceBook::default(),
    );
    let picture = svg::render(&week, svg::Rows::Groups);
    let doc = roxmltree::Document::parse(&picture).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let rows: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("row"))
        .filter_map(|n| n.attribute("data-group"))
        .collect();
    assert_eq!(rows, ["DB", "MW", "API", "BATCH"]);
    // Three weekday starts, each drawn with its chain (an arrow per dependency).
    let running = doc
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.starts_with("running"))
        })
        .count();
    assert_eq!(running, 3 * 4);
    let chain = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("chain"))
        .count();
    assert_eq!(chain, 3 * 3);
    // The HTML report carries the same picture, and an empty report draws too.
    let page = report::html::render_html(&week, svg::Rows::Groups);
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    let empty = report::Report {
        from: span.from,
        to: span.to,
        schedules: Vec::new(),
    };
    roxmltree::Document::parse(&svg::render(&empty, svg::Rows::Resources))
        .expect("an empty picture is well-formed too");
}

#[tokio::test]
async fn suggest_proposes_office_hours_for_an_instance_busy_in_them_and_nothing_for_a_busy_one() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    use chrono::{Datelike, Timelike};
    let moto = Moto::start().await;
    let stub = PriceStub::start().await;
    let office = m5_large(&moto).await;
    let busy = ec2_instances(&moto, &[("Name", "always")], 1)
        .await
        .remove(0);
    let cw = aws_sdk_cloudwatch::Client::new(&moto.sdk);
    let now = at("2026-12-14T00:00:00+09:00");
    let seoul = chrono_tz::Asia::Seoul;
    for (id, office_hours) in [(&office, true), (&busy, false)] {
        let mut data = Vec::new();
        for h in 0..14 * 24 {
            let t = now - Duration::days(14) + Duration::hours(h);
            let local = t.with_timezone(&seoul);
            let on = !office_hours
                || (local.weekday().num_days_from_monday() < 5 && (9..19).contains(&local.hour()));
            for (name, value, unit) in [
                (
                    "CPUUtilization",
                    if on { 45.0 } else { 0.5 },
                    StandardUnit::Percent,
                ),
                ("NetworkIn", if on { 4e7 } else { 1e4 }, StandardUnit::Bytes),
                (
                    "NetworkOut",
                    if on { 4e7 } else { 1e4 },
                    StandardUnit::Bytes,
                ),
            ] {
                data.push(
                    MetricDatum::builder()
                        .metric_name(name)
                        .dimensions(
                            Dimension::builder()
                                .name("InstanceId")
                                .value(id.as_str())
                                .build(),
                        )
                        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                            (t + Duration::minutes(30)).timestamp(),
                        ))
                        .value(value)
                        .unit(unit)
                        .build(),
                );
            }
        }
        for chunk in data.chunks(500) {
            cw.put_metric_data()
                .namespace("AWS/EC2")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .expect("metrics");
        }
    }
    let before = states(&moto).await;
    moto.record().await;
    let list = PriceList::new(&stub.sdk().await);
    let found = instance_scheduler::suggest::suggest(
        &instance_scheduler::suggest::Sources::new(&moto.sdk),
        &list,
        now,
        seoul,
    )
    .await
    .unwrap();
    let calls = moto.recorded().await;
    // Six metrics: one GetMetricData call; and nothing but reads.
    assert_eq!(calls.get("GetMetricData"), Some(&1), "{calls:?}");
    assert!(
        calls
            .keys()
            .all(|op| op.starts_with("Describe") || op == "GetMetricData"),
        "{calls:?}"
    );
    let by_id = |id: &str| {
        found
            .suggestions
            .iter()
            .find(|s| s.resource.id == id)
            .unwrap()
    };
    let p = by_id(&office).proposal.clone().expect("a proposal");
    assert_eq!(
        (
            p.days.as_str(),
            p.start.to_string().as_str(),
            p.stop.to_string().as_str()
        ),
        ("mon-fri", "08:45:00", "19:15:00")
    );
    // 115.5 of 168 hours stopped, of 730 a month, at $0.096: $48.18 a month.
    assert_eq!(dollars(by_id(&office).monthly_saving.unwrap()), "$48.18");
    assert!(
        by_id(&office)
            .apply
            .iter()
            .any(|c| c.contains("create-tags") && c.contains(&office))
    );
    assert!(by_id(&busy).proposal.is_err());
    assert!(found.to_string().contains("nothing was changed"));
    assert_eq!(states(&moto).await, before);
}

// Multi-threaded: the Price List stand-in serves while the test waits for schedctl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedctl_report_prints_the_day_as_json_and_html_and_draws_it() {
    let moto = Moto::start().await;
    let stub = PriceStub::start().await;
    m5_large(&moto).await;
    let store = history_store(&moto).await;
    load_schedules(&store, &[DEV]).await;
    let r = runner(&moto, store, Notifier::default());
    for t in [
        MON,
        "2026-12-21T09:30:00+09:00",
        "2026-12-21T22:00:00+09:00",
    ] {
        r.clock.set(at(t));
        r.run(&[]).await.unwrap();
    }
    let picture = std::env::temp_dir().join(format!("report-{}.svg", std::process::id()));
    let schedctl = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_schedctl"))
            .args(args)
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_ENDPOINT_URL_PRICING", &stub.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("HISTORY_TABLE", "ScheduleHistory")
            .output()
            .expect("schedctl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let day = [
        "report",
        "--schedule",
        "Dev",
        "--from",
        "2026-12-21",
        "--to",
        "2026-12-22",
    ];
    let json: Value = serde_json::from_str(&schedctl(
        &[
            &day[..],
            &["--output", "json", "--svg", picture.to_str().unwrap()],
        ]
        .concat(),
    ))
    .unwrap();
    let dev = &json["schedules"][0];
    assert_eq!(dev["schedule"], "Dev");
    assert_eq!(dev["hours"], 24.0);
    assert_eq!(dev["ran"], 12.5);
    // No override: zero hours, not a negative zero.
    assert_eq!(dev["extends"]["hours"].to_string(), "0.0");
    // 11.5 hours stopped at the stub's $0.096: $1.104; 12.5 running: $1.20.
    assert_eq!(dollars(dev["saved"].as_f64().unwrap()), "$1.10", "{dev}");
    // The instance type's price, and its root volume's a GB-month: schedctl report
    // lists the instance's EBS volumes (report time only) as storage.
    let asked = stub.asked();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked
            .iter()
            .any(|a| a.to_string().contains("volumeApiName")),
        "{asked:?}"
    );
    assert!(
        dev["storage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["what"].as_str().unwrap_or_default().starts_with("ebs ")),
        "{dev}"
    );
    assert_eq!(dollars(dev["spent"].as_f64().unwrap()), "$1.20");
    let svg = std::fs::read_to_string(&picture).unwrap();
    let _ = std::fs::remove_file(&picture);
    roxmltree::Document::parse(&svg).expect("a well-formed picture");
    let page = schedctl(&[&day[..], &["--output", "html"]].concat());
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    let text = schedctl(&day);
    assert!(
        text.contains("Dev (Asia/Seoul): ran 12.5 of 24 hours"),
        "{text}"
    );
}

/// A Fargate service of two tasks of 0.5 vCPU and 1 GB, tagged for Dev, running.
async fn fargate_service(moto: &Moto) {
    fargate_service_in(moto, "APP").await;
}

/// A Fargate service `web` of 2 tasks of 0.5 vCPU and 1 GB, tagged for Dev's `group`.
async fn fargate_service_in(moto: &Moto, group: &str) {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, LaunchType, NetworkMode, Tag};
    let ecs = moto_ecs(moto);
    ecs.create_cluster()
        .cluster_name("apps")
        .send()
        .await
        .unwrap();
    ecs.register_task_definition()
        .family("web")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("512")
        .memory("1024")
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("nginx")
                .build(),
        )
        .send()
        .await
        .expect("a Fargate task definition");
    let mut create = ecs
        .create_service()
        .cluster("apps")
        .service_name("web")
        .task_definition("web")
        .launch_type(LaunchType::Fargate)
        .desired_count(2);
    for (k, v) in [
        ("ScheduleName", "Dev"),
        ("ScheduleGroupName", group),
        ("Name", "web"),
    ] {
        create = create.tags(Tag::builder().key(k).value(v).build());
    }
    create.send().await.expect("a Fargate service");
    // moto counts a new service's tasks as pending until its next update.
    ecs.update_service()
        .cluster("apps")
        .service("web")
        .desired_count(2)
        .send()
        .await
        .unwrap();
}

fn moto_ecs(moto: &Moto) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&moto.sdk)
}

const DEV_ECS: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00",
  "TimeZone":"Asia/Seoul","Groups":[{"GroupName":"APP","InstanceType":"ECS"}]}"#;

#[tokio::test]
async fn a_fargate_service_is_priced_per_task_by_its_vcpu_and_memory() {
    use instance_scheduler::cloud::aws::AwsCloud;
    use instance_scheduler::pricing::Source;
    use instance_scheduler::report::Window;

    let moto = Moto::start().await;
    let stub = PriceStub::start().await;
    fargate_service(&moto).await;
    let store = history_store(&moto).await;
    load_schedules(&store, &[DEV_ECS]).await;
    let r = runner(&moto, store, Notifier::default());
    // Seen running at night, stopped by the schedule, started at 09:30; then an idle
    // run, whose requests the task's size must not change.
    for t in [
        MON,
        "2026-12-21T00:05:00+09:00",
        "2026-12-21T09:30:00+09:00",
    ] {
        r.clock.set(at(t));
        let report = r.run(&[]).await.expect("a run");
        assert!(!report.has_errors(), "{:?}", report.events);
    }
    r.clock.set(at("2026-12-21T12:00:00+09:00"));
    moto.record().await;
    r.run(&[]).await.unwrap();
    let idle = moto.recorded().await;
    assert!(!idle.contains_key("DescribeTaskDefinition"), "{idle:?}");

    let catalog = r.store.load_catalog(chrono_tz::UTC).await.unwrap();
    let list = PriceList::new(&stub.sdk().await);
    moto.record().await;
    let week = report::from_store_with(
        &r.store,
        &catalog,
        Window {
            from: at(MON),
            to: at("2026-12-21T12:00:00+09:00"),
            home: "us-east-1",
            now: at("2026-12-21T12:00:00+09:00"),
        },
        Some(&list),
        &AwsCloud::new(&moto.sdk),
    )
    .await
    .unwrap();
    let asked_cloud = moto.recorded().await;
    // One DescribeTaskDefinition for the one task, at report time.
    assert_eq!(
        asked_cloud.get("DescribeTaskDefinition"),
        Some(&1),
        "{asked_cloud:?}"
    );
    let web = &week.schedules[0].groups[0].resources[0];
    let size = web.size.as_ref().unwrap();
    assert_eq!(
        (size.class.as_str(), size.cpu_units, size.memory_mib),
        ("fargate", Some(512), Some(1024))
    );
    assert_eq!(web.count, 2);
    // Two tasks × (0.5 vCPU × $0.04048 + 1 GB × $0.004445) = $0.04937 an hour.
    let (hourly, source) = web.hourly.unwrap();
    assert!(
        (hourly - 2.0 * (0.5 * 0.04048 + 0.004445)).abs() < 1e-9,
        "{hourly}"
    );
    assert_eq!(source, Source::List);
    let asked = stub.asked();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.iter().all(|a| a["ServiceCode"] == "AmazonECS"));
}

#[tokio::test]
async fn the_ebs_volumes_of_scheduled_instances_are_storage_priced_per_gb_month() {
    use instance_scheduler::cloud::aws::AwsCloud;
    use instance_scheduler::report::Window;

    let moto = Moto::start().await;
    let stub = PriceStub::start().await;
    let id = m5_large(&moto).await;
    gp3_volume(&moto, &id, 100).await;
    let store = history_store(&moto).await;
    load_schedules(&store, &[DEV]).await;
    let r = runner(&moto, store, Notifier::default());
    for t in week_runs() {
        r.clock.set(t);
        r.run(&[]).await.expect("a run");
    }
    // An idle run lists no volume: they are the report's alone.
    r.clock.set(at("2026-12-26T12:00:00+09:00"));
    moto.record().await;
    r.run(&[]).await.unwrap();
    assert!(!moto.recorded().await.contains_key("DescribeVolumes"));

    let catalog = r.store.load_catalog(chrono_tz::UTC).await.unwrap();
    let list = PriceList::new(&stub.sdk().await);
    moto.record().await;
    let week = report::from_store_with(
        &r.store,
        &catalog,
        Window {
            from: at(MON),
            to: at(NEXT_MON),
            home: "us-east-1",
            now: at(NEXT_MON),
        },
        Some(&list),
        &AwsCloud::new(&moto.sdk),
    )
    .await
    .unwrap();
    assert_eq!(moto.recorded().await.get("DescribeVolumes"), Some(&1));
    let dev = &week.schedules[0];
    let ebs: Vec<_> = dev
        .storage
        .iter()
        .filter(|s| s.what.starts_with("ebs "))
        .collect();
    let gp3 = ebs
        .iter()
        .find(|s| s.what.starts_with("ebs gp3"))
        .expect("the gp3 volume");
    assert_eq!(gp3.gib, 100);
    assert_eq!(gp3.per_gb_month, Some(0.08));
    // 105.5 hours stopped: 100 GiB × $0.08 × 105.5 / 730 = $1.16.
    assert_eq!(dollars(gp3.while_stopped.unwrap()), "$1.16");
    // The root volume moto gave the instance is listed too.
    assert!(ebs.len() >= 2, "{ebs:?}");
    let text = week.to_string();
    assert!(
        text.contains("storage kept billing while stopped"),
        "{text}"
    );
    assert!(text.contains("storage in all:"), "{text}");
    assert!(
        stub.asked()
            .iter()
            .any(|a| a["ServiceCode"] == "AmazonEC2" && a.to_string().contains("volumeApiName")),
        "{:?}",
        stub.asked()
    );
}

/// A second volume of `gib` GiB gp3, attached to instance `id`.
async fn gp3_volume(moto: &Moto, id: &str, gib: i32) {
    let volume = moto
        .ec2()
        .create_volume()
        .availability_zone("us-east-1a")
        .size(gib)
        .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
        .send()
        .await
        .unwrap();
    moto.ec2()
        .attach_volume()
        .volume_id(volume.volume_id().unwrap())
        .instance_id(id)
        .device("/dev/sdf")
        .send()
        .await
        .expect("attached");
}

/// Dev with a Fargate service (WEB) and an EC2 instance (APP).
const DEV_WEB_APP: &str = r#"{"ScheduleName":"Dev","DaysActive":"weekdays","StartTime":"09:30","StopTime":"22:00",
  "TimeZone":"Asia/Seoul","Groups":[{"GroupName":"WEB","InstanceType":"ECS"},{"GroupName":"APP","InstanceType":"EC2"}]}"#;

#[tokio::test]
async fn the_weekly_summary_prices_fargate_tasks_and_says_what_storage_kept_billing() {
    use instance_scheduler::report::Window;

    let moto = Moto::start().await;
    let stub = PriceStub::start().await;
    fargate_service_in(&moto, "WEB").await;
    let id = m5_large(&moto).await;
    gp3_volume(&moto, &id, 100).await;
    let store = history_store(&moto).await;
    load_schedules(&store, &[DEV_WEB_APP]).await;
    let chat = Listener::start(vec![Reply::Status(200)]).await;
    let notifier = summaries_to(&chat, Format::Slack, &stub).await;
    let r = runner(&moto, store, notifier);
    for t in week_runs() {
        r.clock.set(t);
        r.run(&[]).await.expect("a run");
    }
    // The runs of the week asked for neither.
    r.clock.set(at("2026-12-26T12:00:00+09:00"));
    moto.record().await;
    r.run(&[]).await.unwrap();
    let idle = moto.recorded().await;
    assert!(
        !idle.contains_key("DescribeVolumes") && !idle.contains_key("DescribeTaskDefinition"),
        "{idle:?}"
    );

    // Monday 09:00 in Seoul: the summary asks the cloud once, then never again.
    let before = chat.received().len();
    moto.record().await;
    for t in ["2026-12-28T09:00:00+09:00", "2026-12-28T09:05:00+09:00"] {
        r.clock.set(at(t));
        r.run(&[]).await.unwrap();
    }
    let asked = moto.recorded().await;
    assert_eq!(asked.get("DescribeTaskDefinition"), Some(&1), "{asked:?}");
    assert_eq!(asked.get("DescribeVolumes"), Some(&1), "{asked:?}");
    let heard: Vec<String> = chat.received()[before..]
        .iter()
        .map(|m| m.json().to_string())
        .filter(|m| m.contains("Last week"))
        .collect();
    assert_eq!(heard.len(), 1, "{heard:?}");
    let summary = &heard[0];

    // The same week (the seven days to the summary's time) as `schedctl report`
    // gives it, with the cloud to ask.
    let catalog = r.store.load_catalog(chrono_tz::UTC).await.unwrap();
    let week = report::from_store_with(
        &r.store,
        &catalog,
        Window {
            from: at("2026-12-21T09:00:00+09:00"),
            to: at("2026-12-28T09:00:00+09:00"),
            home: "us-east-1",
            now: at("2026-12-28T09:00:00+09:00"),
        },
        None,
        &AwsCloud::new(&moto.sdk),
    )
    .await
    .unwrap();
    let dev = &week.schedules[0];
    // Both resources have a price: the Fargate service's from its task's size.
    assert!(dev.unpriced.is_empty(), "{:?}", dev.unpriced);
    assert!(
        summary.contains(&format!(
            "about {} saved, {} spent",
            dollars(dev.saved),
            dollars(dev.spent)
        )),
        "{summary}"
    );
    assert!(!summary.contains("No price"), "{summary}");
    // Storage is said apart: the 100 GiB gp3 volume and the root volume, with what
    // they cost while the instance was stopped.
    let gib: u32 = dev.storage.iter().map(|x| x.gib).sum();
    let cost: f64 = dev.storage.iter().filter_map(|x| x.while_stopped).sum();
    assert!(gib > 100, "{:?}", dev.storage);
    assert!(
        summary.contains(&format!(
            "{gib} GiB kept billing while stopped: about {}",
            dollars(cost)
        )),
        "{summary}"
    );
    assert!(
        summary.contains("Storage (not in the savings)"),
        "{summary}"
    );
}
