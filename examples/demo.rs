//! `make demo`: the scheduler's real job, end to end, on a local AWS emulator.
//!
//! Starts moto on 127.0.0.1, creates the tables, loads `schedules/` and
//! `examples/demo/`, creates a tagged fleet (and instances that must never be
//! touched), then invokes the real Lambda binary (`instance-scheduler invoke PAYLOAD`)
//! at chosen moments of a working day in Seoul and prints what it did and the states
//! it left. Then three shorter sections: a chain of an RDS database, an ECS service
//! and an Auto Scaling group; a chain across accounts and Regions; and the same
//! chain simulated by `schedctl simulate` at three paces.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::DateTime;
use chrono_tz::Asia::Seoul;
use common::listener;
use common::*;
use serde_json::{Value, json};

/// The accounts and Regions of the chain across accounts: the function's own
/// account in its own Region, and two others through roles assumed with STS.
const OWN: &str = "123456789012";
const ROLE_222: &str = "arn:aws:iam::222222222222:role/instance-scheduler";
const ROLE_333: &str = "arn:aws:iam::333333333333:role/instance-scheduler";

/// The demo fleet's ids and display names, in the order they were created.
#[derive(Default)]
struct Names(Vec<(String, String)>);

impl Names {
    fn insert(&mut self, id: impl Into<String>, name: impl Into<String>) {
        self.0.push((id.into(), name.into()));
    }

    /// The name of `id`. With `TARGETS` set, the function names every resource
    /// `id@account/region`; the name is the same wherever it lives.
    fn get(&self, id: &str) -> Option<&String> {
        let bare = id.split_once('@').map_or(id, |(bare, _)| bare);
        self.0.iter().find(|(i, _)| i == bare).map(|(_, n)| n)
    }

    /// What the demo prints for `id`: its name.
    fn name(&self, id: &str) -> String {
        self.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// Its full id (which names the account and Region), and its name where that
    /// says more than the id.
    fn name_and_id(&self, id: &str) -> String {
        let bare = id.split_once('@').map_or(id, |(bare, _)| bare);
        match self.get(id) {
            Some(name) if name != bare => format!("{id} ({name})"),
            _ => id.to_string(),
        }
    }
}

/// The emulator, the chat and the function binary the sections share.
struct Demo {
    moto: Moto,
    chat: listener::Listener,
    /// How many chat messages have been printed.
    heard: usize,
    binary: PathBuf,
    names: Names,
    /// The Price List stand-in.
    prices_url: String,
}

#[tokio::main]
async fn main() {
    let moto = Moto::start().await;
    println!("Local AWS emulator (moto) on {}\n", moto.url);
    // The history table the stack creates: the function records what ran in it.
    let store = moto.store().await.with_history(history_table());
    store.create_tables().await.expect("the history table");
    let mut loaded = Vec::new();
    for dir in ["schedules", "examples/demo"] {
        let items = instance_scheduler::store::files::load_dir(&repo(dir))
            .unwrap_or_else(|e| panic!("{dir}/ is readable: {e}"));
        store.put_items(&items).await.expect("schedules loaded");
        loaded.push(format!(
            "{} from {dir}/ ({})",
            items.schedules.len(),
            items
                .schedules
                .iter()
                .map(|s| s.schedule_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    println!("Loaded schedules into DynamoDB: {}", loaded.join(" and "));
    // The chat: a JANDI-format webhook served on 127.0.0.1 that prints what it gets.
    let chat = listener::Listener::start(vec![listener::Reply::Status(200)]).await;
    // The AWS Price List API, which the emulator lacks: a stand-in on 127.0.0.1
    // answering its documented shape with a few list prices.
    let prices = common::pricing::PriceStub::start().await;
    let mut demo = Demo {
        moto,
        chat,
        heard: 0,
        binary: repo("target/debug/instance-scheduler"),
        names: Names::default(),
        prices_url: prices.url.clone(),
    };
    the_day(&mut demo).await;
    the_money(&mut demo).await;
    disable_development(&store).await;
    more_kinds(&mut demo).await;
    across_accounts(&mut demo).await;
    paced_by_the_servers();
    a_simulated_week();
}

/// The history table's name, as the stack's would be.
const HISTORY: &str = "ScheduleHistory";

fn history_table() -> instance_scheduler::history::HistoryTable {
    instance_scheduler::history::HistoryTable {
        name: HISTORY.into(),
        days: 400,
    }
}

/// The Monday after: the weekly summary in chat, and `schedctl report` of the week
/// from the history the function kept.
async fn the_money(demo: &mut Demo) {
    section("The money: the weekly summary and schedctl report");
    println!("== Mon 2026-12-28 09:00  Scheduled run: the weekly summary of last week is due");
    demo.invoke(
        json!({"action":"run","now":"2026-12-28T09:00:00+09:00"}),
        &[],
    )
    .await;
    demo.print_chat(true);
    println!(
        "\n== schedctl report --schedule Development --from 2026-12-21T09:00:00+09:00 --to 2026-12-28T09:00:00+09:00\n   \
         (the summary's week: the seven days before Monday 09:00)"
    );
    let out = Command::new(repo("target/debug/schedctl"))
        .args([
            "report",
            "--schedule",
            "Development",
            "--from",
            "2026-12-21T09:00:00+09:00",
            "--to",
            "2026-12-28T09:00:00+09:00",
        ])
        .envs(demo.env())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                println!("   {line}");
            }
        }
        Ok(out) => println!("   failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => println!("   cannot run schedctl: {e} (make demo builds it)"),
    }
}

/// A whole week of the shipped schedules, simulated, as a report and a picture.
fn a_simulated_week() {
    section("A simulated week: schedctl simulate --report --svg");
    let picture = repo("target/demo-week.svg");
    let args = [
        "simulate",
        "--schedules",
        "schedules",
        "--fleet",
        "examples/fleet.json",
        "--prices",
        "examples/prices.json",
        "--from",
        "2026-12-21T00:00:00+09:00",
        "--to",
        "2026-12-28T00:00:00+09:00",
        "--tick",
        "5m",
        "--report",
        "--svg",
    ];
    println!("schedctl {} {}", args.join(" "), picture.display());
    let out = Command::new(repo("target/debug/schedctl"))
        .current_dir(repo("."))
        .args(args)
        .arg(&picture)
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            // The report follows the simulation's own timeline and summary.
            let report: Vec<&str> = text
                .lines()
                .skip_while(|l| !l.starts_with("Report "))
                .collect();
            for line in report {
                println!("   {line}");
            }
            println!(
                "\nThe week as a picture (one row per group, coloured by cause): {}",
                picture.display()
            );
        }
        Ok(out) => println!("   failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        Err(e) => println!("   cannot run schedctl: {e} (make demo builds it)"),
    }
}

/// The Development fleet through a working day, a force-start and a force-stop.
async fn the_day(demo: &mut Demo) {
    let moto = &demo.moto;
    let names = &mut demo.names;
    let dev = |group: &'static str| {
        [
            ("ScheduleName", "Development"),
            ("ScheduleGroupName", group),
        ]
    };
    rds_instance(moto, "dev-db", &dev("DB")).await;
    names.insert("dev-db", "dev-db (RDS)");
    aurora_cluster(moto, "dev-reports", &dev("DB")).await;
    names.insert("dev-reports", "dev-reports (Aurora)");
    for (group, name, count) in [
        ("MIDDLEWARE", "dev-mq", 2),
        ("API", "dev-api", 2),
        ("BATCH", "dev-batch", 1),
    ] {
        for k in 1..=count {
            let label = format!("{name}-{k}");
            let mut tags = dev(group).to_vec();
            tags.push(("Name", &label));
            for id in ec2_instances(moto, &tags, 1).await {
                names.insert(id, label.clone());
            }
        }
    }
    for (tags, name) in [
        (vec![("Name", "bastion")], "bastion (untagged)"),
        (
            vec![("ScheduleName", "Retired")],
            "old-box (unknown schedule)",
        ),
    ] {
        let ids = ec2_instances(moto, &tags, 1).await;
        moto.ec2()
            .start_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .expect("start");
        names.insert(ids[0].clone(), name);
    }
    let fleet: Vec<(String, String)> = names.0.clone();
    println!(
        "Created the Development fleet (DB -> MIDDLEWARE -> API -> BATCH) and two instances it must not touch.\n"
    );

    let steps: [(&str, Value); 10] = [
        (
            "Mon 08:00  Before the day: status",
            json!({"action":"status","schedule":"Development","now":"2026-12-21T08:00:00+09:00"}),
        ),
        (
            "Mon 08:05  Scheduled run: nothing due yet (the history notes the fleet, stopped)",
            json!({"action":"run","now":"2026-12-21T08:05:00+09:00"}),
        ),
        (
            "Mon 09:30  Scheduled run: the start, in dependency order",
            json!({"action":"run","now":"2026-12-21T09:30:00+09:00"}),
        ),
        (
            "Mon 12:00  Scheduled run: nothing to do",
            json!({"action":"run","now":"2026-12-21T12:00:00+09:00"}),
        ),
        (
            "Mon 21:50  Scheduled run: the stop is near",
            json!({"action":"run","now":"2026-12-21T21:50:00+09:00"}),
        ),
        (
            "Mon 21:52  Someone extends today until 23:30",
            json!({"action":"extend","schedule":"Development","until":"23:30","now":"2026-12-21T21:52:00+09:00"}),
        ),
        (
            "Mon 22:00  Scheduled run: 22:00 no longer stops",
            json!({"action":"run","now":"2026-12-21T22:00:00+09:00"}),
        ),
        (
            "Mon 23:30  Scheduled run: the stop, in reverse order",
            json!({"action":"run","now":"2026-12-21T23:30:00+09:00"}),
        ),
        (
            "Sat 10:00  Force-start on a weekend",
            json!({"action":"force-start","schedule":"Development","now":"2026-12-26T10:00:00+09:00"}),
        ),
        (
            "Sat 11:00  Force-stop",
            json!({"action":"force-stop","schedule":"Development","now":"2026-12-26T11:00:00+09:00"}),
        ),
    ];
    for (title, payload) in steps {
        println!("== {title}");
        if let Some(answer) = demo.invoke(payload, &[]).await {
            show(&answer, &|id| demo.names.name(id));
            let states = states(&demo.moto).await;
            let list: Vec<String> = fleet
                .iter()
                .map(|(id, name)| format!("{name}={}", states.get(id).map_or("?", String::as_str)))
                .collect();
            println!("   states: {}", list.join(" "));
        }
        demo.print_chat(true);
        println!();
    }
    println!(
        "Done: everything the demo started is stopped again; bastion and old-box were never touched."
    );
}

/// After the day the Development team switches its schedule off (`Enabled: false`):
/// the sections below happen on weekdays of the next week, when it would otherwise
/// start its fleet at 09:30 again and fill their output with its own day.
async fn disable_development(store: &instance_scheduler::store::dynamo::DynamoStore) {
    let mut items = instance_scheduler::store::files::load_dir(&repo("schedules"))
        .expect("schedules/ is readable");
    items.schedules.retain(|s| s.schedule_name == "Development");
    items.groups.clear();
    items.exceptions.clear();
    for s in &mut items.schedules {
        s.enabled = false;
    }
    store.put_items(&items).await.expect("Development disabled");
    println!(
        "\nAfter the day the Development team switches its schedule off (Enabled: false), so that\n\
         each section below, on weekdays of the next week, shows only its own schedule."
    );
}

/// A path in the repository, wherever the demo is started from.
fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Prints a section's title.
fn section(title: &str) {
    println!("\n======== {title}\n");
}

/// An RDS database, an ECS service and an Auto Scaling group in one chain: the stop
/// scales the service and the group to zero, the start restores their sizes.
async fn more_kinds(demo: &mut Demo) {
    section("More kinds in one chain: an ECS service and an Auto Scaling group");
    let tags = |group: &str| {
        vec![
            ("ScheduleName", "Platform".to_string()),
            ("ScheduleGroupName", group.to_string()),
        ]
    };
    let moto = &demo.moto;
    rds_instance(
        moto,
        "platform-db",
        &[("ScheduleName", "Platform"), ("ScheduleGroupName", "DB")],
    )
    .await;
    moto.rds()
        .start_db_instance()
        .db_instance_identifier("platform-db")
        .send()
        .await
        .expect("start platform-db");
    ecs_service(moto, "platform", "api", 3, &tags("SVC")).await;
    asg(moto, "platform-workers", (1, 2, 4), &tags("WORKERS")).await;
    demo.names.insert("platform-db", "platform-db (RDS)");
    demo.names
        .insert("platform/api", "api (ECS service in cluster platform)");
    demo.names
        .insert("platform-workers", "platform-workers (Auto Scaling group)");
    println!(
        "Schedule Platform (examples/demo/platform.json): weekdays 09:00-18:00 Asia/Seoul,\n\
         DB (RDS platform-db) -> SVC (ECS service api, cluster platform) -> WORKERS (Auto Scaling group platform-workers).\n"
    );
    print_sizes(&demo.moto, "before").await;

    for (title, payload) in [
        (
            "Mon 12-28 18:00  Scheduled run: the stop, in reverse order, to zero",
            json!({"action":"run","now":"2026-12-28T18:00:00+09:00"}),
        ),
        (
            "Tue 12-29 09:00  Scheduled run: the start, back to the sizes it stopped from",
            json!({"action":"run","now":"2026-12-29T09:00:00+09:00"}),
        ),
    ] {
        println!("\n== {title}");
        if let Some(answer) = demo.invoke(payload, &[]).await {
            show(&answer, &|id| demo.names.name(id));
            print_sizes(&demo.moto, "after").await;
        }
        demo.print_chat(false);
    }
}

/// The Platform chain's sizes and states, as the services report them.
async fn print_sizes(moto: &Moto, when: &str) {
    let db = states(moto)
        .await
        .get("platform-db")
        .cloned()
        .unwrap_or_else(|| "?".into());
    let (desired, running) = ecs_counts(moto, "platform", "api").await;
    let (min, want, max, instances) = asg_sizes(moto, "platform-workers").await;
    println!(
        "   {when}: platform-db {db} | api desired {desired}, running {running} | \
         platform-workers min/desired/max {min}/{want}/{max}, {instances} instances"
    );
}

/// One schedule whose chain runs from an RDS database in one account and Region,
/// through EC2 in the function's own, to EC2 in a third; untagged instances in
/// each stay as they are.
async fn across_accounts(demo: &mut Demo) {
    section("A chain across accounts and Regions");
    let moto = &demo.moto;
    let in_222 = sdk_in(moto, Some(ROLE_222), "eu-west-1").await;
    let in_own = sdk_in(moto, None, "us-east-1").await;
    let in_333 = sdk_in(moto, Some(ROLE_333), "ap-northeast-2").await;
    let shared = |group: &'static str, name: &'static str| {
        [
            ("ScheduleName", "Shared"),
            ("ScheduleGroupName", group),
            ("Name", name),
        ]
    };
    rds_instance_with(&in_222, "shared-db", &shared("RDB", "shared-db")).await;
    demo.names.insert("shared-db", "shared-db");
    let mut chain = vec![(&in_222, "shared-db".to_string())];
    for (sdk, group, name) in [
        (&in_own, "APP", "shared-app-1"),
        (&in_own, "APP", "shared-app-2"),
        (&in_333, "EDGE", "shared-edge-1"),
    ] {
        let id = ec2_instances_with(sdk, &shared(group, name), 1).await;
        demo.names.insert(id[0].clone(), name);
        chain.push((sdk, id[0].clone()));
    }
    let mut strangers = Vec::new();
    for (sdk, place) in [
        (&in_222, "222222222222/eu-west-1"),
        (&in_own, "123456789012/us-east-1"),
        (&in_333, "333333333333/ap-northeast-2"),
    ] {
        let name = format!("bastion in {place}");
        let id = ec2_instances_with(sdk, &[("Name", name.as_str())], 1).await;
        demo.names.insert(id[0].clone(), name);
        strangers.push((sdk, id[0].clone()));
    }
    let targets = format!("us-east-1,{ROLE_222}@eu-west-1,{ROLE_333}@ap-northeast-2");
    println!(
        "Schedule Shared (examples/demo/shared.json): weekdays 10:00-17:00 Asia/Seoul,\n\
         RDB (RDS shared-db, account 222222222222, eu-west-1)\n\
         -> APP (EC2 shared-app-1 and -2, the function's own account {OWN}, us-east-1)\n\
         -> EDGE (EC2 shared-edge-1, account 333333333333, ap-northeast-2),\n\
         and an untagged, stopped bastion in each. This section's invocations run with\n\
         TARGETS={targets}\n\
         (the function assumes each role through STS; an id from another account or Region\n\
         carries its place, one from the function's own keeps its plain form, and messages\n\
         name the place of each).\n"
    );

    println!("== Tue 12-29 10:00  Scheduled run: the start, in order across accounts and Regions");
    let payload = json!({"action":"run","now":"2026-12-29T10:00:00+09:00"});
    if let Some(answer) = demo.invoke(payload, &[("TARGETS", &targets)]).await {
        show(&answer, &|id| demo.names.name_and_id(id));
        let mut seen = Vec::new();
        for (sdk, id) in chain.iter().chain(&strangers) {
            let state = states_with(sdk).await.get(id).cloned();
            seen.push(format!(
                "{}={}",
                demo.names.name(id),
                state.as_deref().unwrap_or("?")
            ));
        }
        let (up, untouched) = seen.split_at(chain.len());
        println!("   states: {}", up.join(" "));
        println!("   untagged: {}", untouched.join(", "));
    }
    demo.print_chat(true);
}

/// The chain of `examples/chain` simulated over three days by `schedctl simulate`:
/// paced by the tick alone, by the servers' own events and wake-ups, and with a
/// ready-by start that begins early enough to be up by its time.
fn paced_by_the_servers() {
    section("Paced by the servers: schedctl simulate, Tuesday 2026-12-22");
    let schedctl = repo("target/debug/schedctl");
    let span = [
        "--fleet",
        "examples/chain-fleet.json",
        "--from",
        "2026-12-21T00:00:00+09:00",
        "--to",
        "2026-12-24T00:00:00+09:00",
        "--tick",
        "5m",
    ];
    println!(
        "The chain of examples/chain (DB -> MW -> API -> BATCH, weekdays 09:30-22:00 Asia/Seoul)\n\
         on the simulated fleet of examples/chain-fleet.json, three days at three paces:\n\
         schedctl simulate --schedules DIR {}",
        span.join(" ")
    );
    let runs: [(&str, &str, &[&str]); 3] = [
        (
            "the tick alone",
            "examples/chain",
            &["--no-events", "--no-wakeups"],
        ),
        ("state-change events, wake-ups", "examples/chain", &[]),
        (
            "the same, StartMode ready-by",
            "examples/chain-ready-by",
            &[],
        ),
    ];
    println!(
        "\n   {:<31} {:<24} {:>11} {:>10} {:>9}   {:>9}",
        "", "DIR (--schedules)", "start began", "all up at", "took", "stop took"
    );
    for (label, dir, flags) in runs {
        let out = Command::new(&schedctl)
            .current_dir(repo("."))
            .arg("simulate")
            .args(["--schedules", dir])
            .args(span)
            .args(flags)
            .output();
        let text = match out {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
            Ok(out) => {
                println!(
                    "   {label}: failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                continue;
            }
            Err(e) => {
                println!(
                    "   {label}: cannot run {}: {e} (make demo builds it)",
                    schedctl.display()
                );
                continue;
            }
        };
        let day = "Tue 2026-12-22";
        let start = summary_line(&text, "from each start until every group was up", day);
        let stop = summary_line(&text, "from each stop until every group was down", day);
        match (start, stop) {
            (Some(start), Some(stop)) => println!(
                "   {:<31} {:<24} {:>11} {:>10} {:>9}   {:>9}",
                format!("{label}{}", if flags.is_empty() { "" } else { " *" }),
                dir,
                start.began,
                start.until,
                start.took,
                stop.took
            ),
            _ => println!("   {label}: no summary line for {day} in its output"),
        }
    }
    println!(
        "   * --no-events --no-wakeups: a group whose dependency comes up after a run has ended waits for\n     \
         the next tick; events and wake-ups start it within seconds; ready-by begins early enough to be up by 09:30."
    );
}

/// One line of the simulation summary: when a start or stop began, how long it took
/// and when it ended, as `schedctl simulate` prints them.
struct SummaryLine {
    began: String,
    took: String,
    until: String,
}

/// The line for `day` under `heading` in the summary of `text`, e.g.
/// `    Tue 2026-12-22 09:17:00 +09:00  Development   10m 15s  (until 09:27:15)`.
fn summary_line(text: &str, heading: &str, day: &str) -> Option<SummaryLine> {
    let summary = text.lines().skip_while(|l| !l.starts_with("Summary:"));
    let line = summary
        .skip_while(|l| !l.trim_start().starts_with(heading))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .find(|l| l.trim_start().starts_with(day))?;
    let rest = line.trim_start().strip_prefix(day)?.trim_start();
    // The time, its offset, the schedule's name, then the duration and the end.
    let mut words = rest.split_whitespace();
    let began = words.next()?.to_string();
    let _offset = words.next()?;
    let _schedule = words.next()?;
    let tail: Vec<&str> = words.collect();
    let tail = tail.join(" ");
    let (took, until) = tail.split_once("(until ")?;
    Some(SummaryLine {
        began,
        took: took.trim().to_string(),
        until: until.trim_end_matches(')').trim().to_string(),
    })
}

impl Demo {
    /// Invokes the function binary at the payload's `now` with `env` added, prints
    /// the invocation, and returns its answer (or prints why there is none).
    async fn invoke(&self, payload: Value, env: &[(&str, &str)]) -> Option<Value> {
        // The demo's moment is the function's clock (`invoke --at`), not part of the
        // payload: a real invocation never carries its own time.
        let mut payload = payload;
        let now = payload
            .as_object_mut()
            .and_then(|p| p.remove("now"))
            .and_then(|n| n.as_str().map(str::to_string))
            .unwrap_or_default();
        println!("   invoke --at {now} {payload}");
        let mut command = Command::new(&self.binary);
        command
            .arg("invoke")
            .arg("--at")
            .arg(&now)
            .arg(payload.to_string())
            .env(
                "WEBHOOK_URL",
                format!("{}/connect-api/webhook/demo", self.chat.url),
            )
            .env("WEBHOOK_FORMAT", "jandi")
            .envs(self.env())
            .env("POLL_SECONDS", "1")
            .env("RUN_BUDGET_SECONDS", "60")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied());
        // Run the function off the async threads, so the chat listener keeps serving.
        let out = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the invocation ran")
            .unwrap_or_else(|e| panic!("cannot run the function: {e} (make demo builds it)"));
        if !out.status.success() {
            println!("   failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
    }

    /// The environment of the function and schedctl on the emulator: AWS on moto,
    /// the Price List on its stand-in, the history table.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.moto.url.clone()),
            ("AWS_ENDPOINT_URL_PRICING", self.prices_url.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "demo".into()),
            ("AWS_SECRET_ACCESS_KEY", "demo".into()),
            ("HISTORY_TABLE", HISTORY.into()),
        ]
    }

    /// Prints the chat messages received since the last call: in full, or only
    /// their first lines.
    fn print_chat(&mut self, in_full: bool) {
        let received = self.chat.received();
        for r in received.iter().skip(self.heard) {
            let body = r.json();
            println!(
                "   chat <- [{}] {}",
                body["connectColor"].as_str().unwrap_or(""),
                body["body"].as_str().unwrap_or("")
            );
            if !in_full {
                continue;
            }
            for info in body["connectInfo"].as_array().into_iter().flatten() {
                println!(
                    "             {}: {}",
                    info["title"].as_str().unwrap_or(""),
                    info["description"].as_str().unwrap_or("")
                );
            }
        }
        self.heard = received.len();
    }
}

/// Prints an answer of the function: a status, an extension, or a run's events,
/// each resource as `name` says.
fn show(answer: &Value, name: &dyn Fn(&str) -> String) {
    let name = |id: &Value| name(id.as_str().unwrap_or_default());
    if let Some(groups) = answer["groups"].as_array() {
        println!(
            "   today {} to {}",
            answer["start"].as_str().unwrap_or("-"),
            answer["stop"].as_str().unwrap_or("-")
        );
        for g in groups {
            let list: Vec<String> = g["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| format!("{} {}", name(&i["id"]), i["state"].as_str().unwrap_or("?")))
                .collect();
            println!(
                "   group {:<10} {}",
                g["group"].as_str().unwrap_or("?"),
                list.join(", ")
            );
        }
        return;
    }
    if answer.get("stop").is_some() && answer.get("date").is_some() {
        println!(
            "   stop on {} is now {}",
            answer["date"].as_str().unwrap_or("?"),
            answer["stop"].as_str().unwrap_or("?")
        );
        return;
    }
    let events = answer["events"].as_array().cloned().unwrap_or_default();
    if events.is_empty() {
        println!("   (nothing to do)");
    }
    for e in events {
        // Every time in Seoul, where the demo's day is, whatever the zone of the
        // event (a problem with no schedule of its own is dated in UTC).
        let when = e["at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Seoul).format("%H:%M:%S").to_string())
            .unwrap_or_default();
        let line = match e["event"].as_str().unwrap_or("") {
            "start" | "stop" => {
                let list: Vec<String> = e["instances"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(name)
                    .collect();
                format!(
                    "{} {}: {}",
                    e["event"].as_str().unwrap_or(""),
                    e["group"].as_str().unwrap_or(""),
                    list.join(", ")
                )
            }
            "ready" => format!("ready: {} is up", e["group"].as_str().unwrap_or("")),
            "stopped" => format!("stopped: {} is down", e["group"].as_str().unwrap_or("")),
            "schedule_ready" => "every group is up".to_string(),
            "schedule_stopped" => "every group is down".to_string(),
            "warn" => format!(
                "warning: {} will stop at {} ({} min left)",
                e["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                e["stop_at"]
                    .as_str()
                    .unwrap_or("")
                    .get(11..16)
                    .unwrap_or(""),
                e["minutes_left"]
            ),
            _ => format!("error: {}", e["message"].as_str().unwrap_or("")),
        };
        println!("   {when}  {line}");
    }
}
