//! `make demo`: the scheduler's real job, end to end, on a local AWS emulator.
//!
//! Starts moto on 127.0.0.1, creates the tables, loads `schedules/`, creates a tagged
//! fleet (and instances that must never be touched), then invokes the real Lambda
//! binary (`instance-scheduler invoke PAYLOAD`) at chosen moments of a working day in
//! Seoul and prints what it did and the states it left.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::listener;
use common::*;
use serde_json::{Value, json};

/// The demo fleet's ids and display names, in the order they were created.
#[derive(Default)]
struct Names(Vec<(String, String)>);

impl Names {
    fn insert(&mut self, id: String, name: String) {
        self.0.push((id, name));
    }
    fn get(&self, id: &str) -> Option<&String> {
        self.0.iter().find(|(i, _)| i == id).map(|(_, n)| n)
    }
}

#[tokio::main]
async fn main() {
    let moto = Moto::start().await;
    println!("Local AWS emulator (moto) on {}\n", moto.url);
    let store = moto.store().await;
    let items = instance_scheduler::store::files::load_dir(Path::new("schedules"))
        .expect("schedules/ is readable");
    store.put_items(&items).await.expect("schedules loaded");
    println!(
        "Loaded {} schedules from schedules/ into DynamoDB: {}",
        items.schedules.len(),
        items
            .schedules
            .iter()
            .map(|s| s.schedule_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut names = Names::default();
    let dev = |group: &'static str| {
        [
            ("ScheduleName", "Development"),
            ("ScheduleGroupName", group),
        ]
    };
    rds_instance(&moto, "dev-db", &dev("DB")).await;
    names.insert("dev-db".into(), "dev-db (RDS)".into());
    aurora_cluster(&moto, "dev-reports", &dev("DB")).await;
    names.insert("dev-reports".into(), "dev-reports (Aurora)".into());
    for (group, name, count) in [
        ("MIDDLEWARE", "dev-mq", 2),
        ("API", "dev-api", 2),
        ("BATCH", "dev-batch", 1),
    ] {
        for k in 1..=count {
            let label = format!("{name}-{k}");
            let mut tags = dev(group).to_vec();
            tags.push(("Name", &label));
            for id in ec2_instances(&moto, &tags, 1).await {
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
        let ids = ec2_instances(&moto, &tags, 1).await;
        moto.ec2()
            .start_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .expect("start");
        names.insert(ids[0].clone(), name.to_string());
    }
    println!(
        "Created the Development fleet (DB -> MIDDLEWARE -> API -> BATCH) and two instances it must not touch.\n"
    );

    let steps: [(&str, Value); 9] = [
        (
            "Mon 08:00  Before the day: status",
            json!({"action":"status","schedule":"Development","now":"2026-12-21T08:00:00+09:00"}),
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
    // The chat: a JANDI-format webhook served on 127.0.0.1 that prints what it gets.
    let chat = listener::Listener::start(vec![listener::Reply::Status(200)]).await;
    let mut heard = 0;
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/instance-scheduler");
    for (title, payload) in steps {
        println!("== {title}");
        // The demo's moment is the function's clock (`invoke --at`), not part of the
        // payload: a real invocation never carries its own time.
        let mut payload = payload;
        let now = payload
            .as_object_mut()
            .and_then(|p| p.remove("now"))
            .and_then(|n| n.as_str().map(str::to_string))
            .unwrap_or_default();
        println!("   invoke --at {now} {payload}");
        let mut command = Command::new(&binary);
        command
            .arg("invoke")
            .arg("--at")
            .arg(&now)
            .arg(payload.to_string())
            .env(
                "WEBHOOK_URL",
                format!("{}/connect-api/webhook/demo", chat.url),
            )
            .env("WEBHOOK_FORMAT", "jandi")
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "demo")
            .env("AWS_SECRET_ACCESS_KEY", "demo")
            .env("POLL_SECONDS", "1")
            .env("RUN_BUDGET_SECONDS", "60")
            .env("RUST_LOG", "warn");
        // Run the function off the async threads, so the chat listener keeps serving.
        let out = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the invocation ran")
            .unwrap_or_else(|e| panic!("cannot run the function: {e} (make demo builds it)"));
        if !out.status.success() {
            println!("   failed: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        show(&answer, &names);
        print_states(&moto, &names).await;
        let received = chat.received();
        for r in &received[heard..] {
            let body = r.json();
            println!(
                "   chat <- [{}] {}",
                body["connectColor"].as_str().unwrap_or(""),
                body["body"].as_str().unwrap_or("")
            );
            for info in body["connectInfo"].as_array().into_iter().flatten() {
                println!(
                    "             {}: {}",
                    info["title"].as_str().unwrap_or(""),
                    info["description"].as_str().unwrap_or("")
                );
            }
        }
        heard = received.len();
        println!();
    }
    println!(
        "Done: everything the demo started is stopped again; bastion and old-box were never touched."
    );
}

fn show(answer: &Value, names: &Names) {
    let name = |id: &Value| {
        let id = id.as_str().unwrap_or_default();
        names.get(id).cloned().unwrap_or_else(|| id.to_string())
    };
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
        let when = e["at"].as_str().unwrap_or("").get(11..19).unwrap_or("");
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

async fn print_states(moto: &Moto, names: &Names) {
    let states = states(moto).await;
    let list: Vec<String> = names
        .0
        .iter()
        .map(|(id, name)| format!("{name}={}", states.get(id).map_or("?", String::as_str)))
        .collect();
    println!("   states: {}", list.join(" "));
}
