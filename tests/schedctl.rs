//! `schedctl validate` and `schedctl simulate`, run as a user runs them.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

fn schedctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_schedctl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DEFAULT_TIME_ZONE")
        .output()
        .expect("schedctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_shipped_schedules_are_valid() {
    let (code, out, _) = schedctl(&["validate", "schedules"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "3 schedules valid");
}

#[test]
fn validate_names_every_broken_schedule_on_its_own_line() {
    let (code, out, _) = schedctl(&["validate", "tests/fixtures/broken"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    let expect = [
        "schedule \"Cyclic\": dependency cycle among groups API -> WORKER -> API",
        "schedule \"LateShift\": StartTime \"25:00\" is not a time of day",
        "schedule \"Midweek\": unknown day name \"fryday\" in DaysActive",
        "schedule \"Orphans\": group \"API\" depends on unknown group \"CACHE\"",
        "schedule \"Remote\": unknown time zone \"Asia/Atlantis\"",
        "schedule \"not-json\": not-json.json: not valid JSON",
    ];
    for (line, start) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(start),
            "{line:?} should start with {start:?}"
        );
    }
}

#[test]
fn validate_fails_clearly_on_a_missing_folder() {
    let (code, _, err) = schedctl(&["validate", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("schedctl: cannot read no/such/dir"),
        "{err}"
    );
}

fn week_jsonl() -> Vec<Value> {
    let (code, out, err) = schedctl(&[
        "simulate",
        "--schedules",
        "schedules",
        "--fleet",
        "examples/fleet.json",
        "--from",
        "2026-12-21T00:00:00+09:00",
        "--to",
        "2026-12-28T00:00:00+09:00",
        "--tick",
        "5m",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn instant(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v["at"].as_str().unwrap()).unwrap()
}

#[test]
fn a_simulated_week_is_in_time_order_in_each_schedules_offset() {
    let events = week_jsonl();
    assert!(events.len() > 50);
    for pair in events.windows(2) {
        assert!(instant(&pair[0]) <= instant(&pair[1]));
    }
    let offsets: BTreeMap<&str, &str> = BTreeMap::from([
        ("Development", "+09:00"),
        ("NightlyBatch", "-05:00"),
        ("Staging", "+01:00"),
        // Tagged for a schedule that does not exist: reported in UTC.
        ("Retired", "Z"),
    ]);
    for e in &events {
        let schedule = e["schedule"].as_str().unwrap();
        assert!(
            e["at"].as_str().unwrap().ends_with(offsets[schedule]),
            "{e}"
        );
    }
}

#[test]
fn a_simulated_week_starts_in_order_and_never_touches_strangers() {
    let events = week_jsonl();
    let dev_starts: Vec<&str> = events
        .iter()
        .filter(|e| e["schedule"] == "Development" && e["event"] == "start")
        .map(|e| e["group"].as_str().unwrap())
        .collect();
    // Mon, Tue, Wed, Thu; Friday the 25th is a holiday.
    assert_eq!(dev_starts.len(), 16, "{dev_starts:?}");
    for day in dev_starts.chunks(4) {
        assert_eq!(day, ["DB", "MIDDLEWARE", "API", "BATCH"]);
    }
    let dev_stops: Vec<&str> = events
        .iter()
        .filter(|e| e["schedule"] == "Development" && e["event"] == "stop")
        .map(|e| e["group"].as_str().unwrap())
        .collect();
    for day in dev_stops.chunks(4) {
        assert_eq!(day, ["BATCH", "API", "MIDDLEWARE", "DB"]);
    }
    // The late night of the 22nd.
    assert!(events.iter().any(|e| e["schedule"] == "Development"
        && e["event"] == "stop"
        && e["at"] == "2026-12-22T23:30:00+09:00"));
    let touched: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["instances"].as_array())
        .flatten()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(!touched.contains("i-0ffff00000000001") && !touched.contains("i-0ffff00000000002"));
    // The instance tagged for a schedule that does not exist is named, once.
    let retired: Vec<&Value> = events
        .iter()
        .filter(|e| e["schedule"] == "Retired")
        .collect();
    assert_eq!(retired.len(), 1, "{retired:?}");
    assert_eq!(
        retired[0]["message"],
        "1 resource tagged ScheduleName=Retired not scheduled (left alone): old-box (i-0ffff00000000002): its ScheduleName \"Retired\" is the TagValue of no schedule"
    );
}

#[test]
fn a_simulated_week_warns_reports_readiness_and_failures() {
    let events = week_jsonl();
    let warn = events
        .iter()
        .find(|e| e["event"] == "warn" && e["schedule"] == "Development")
        .unwrap();
    assert_eq!(warn["stop_at"], "2026-12-21T22:00:00+09:00");
    assert_eq!(warn["minutes_left"], 10);
    let ready = events
        .iter()
        .find(|e| e["event"] == "ready" && e["group"] == "DB")
        .unwrap();
    // The Aurora cluster takes 9 minutes from the 09:30 start.
    assert_eq!(ready["at"], "2026-12-21T09:39:00+09:00");
    let errors: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "error")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("InsufficientInstanceCapacity"))
    );
    assert!(
        errors
            .iter()
            .any(|m| m.ends_with("did not start; holding back APP"))
    );
    assert!(
        !events
            .iter()
            .any(|e| e["schedule"] == "Staging" && e["group"] == "APP" && e["event"] == "start")
    );
}

#[test]
fn the_text_timeline_ends_with_the_saving() {
    let (code, out, _) = schedctl(&[
        "simulate",
        "--schedules",
        "schedules",
        "--fleet",
        "examples/fleet.json",
        "--from",
        "2026-12-21T00:00:00+09:00",
        "--to",
        "2026-12-28T00:00:00+09:00",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Mon 2026-12-21 09:30:00 +09:00  Development   start    DB: dev-db (dev-db)"),
        "{out}"
    );
    let summary = out.split("Summary").nth(1).unwrap();
    assert!(summary.contains("13 scheduled instances ran"), "{summary}");
    assert!(summary.contains("% saved"));
}

#[test]
fn bad_arguments_get_one_clear_line() {
    let (code, _, err) = schedctl(&[
        "simulate",
        "--schedules",
        "schedules",
        "--fleet",
        "examples/fleet.json",
        "--from",
        "2026-12-21T00:00:00Z",
        "--to",
        "2026-12-20T00:00:00Z",
    ]);
    assert_eq!(code, 2);
    assert_eq!(err.trim(), "schedctl: --to is before --from");
    let (code, _, err) = schedctl(&[
        "simulate",
        "--schedules",
        "schedules",
        "--fleet",
        "examples/fleet.json",
        "--from",
        "2026-12-21T00:00:00Z",
        "--to",
        "2026-12-22T00:00:00Z",
        "--tick",
        "5 minutes",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("5 minutes"), "{err}");
}
