//! `schedctl` against DynamoDB on the local emulator, run as a user runs it.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn schedctl(moto: &Moto, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_schedctl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("DEFAULT_TIME_ZONE")
        .output()
        .expect("schedctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn sync_is_checked_idempotent_and_exportable() {
    let moto = Moto::start().await;
    let (code, _, err) = schedctl(&moto, &["init-tables"]);
    assert_eq!(code, 0, "{err}");

    // An invalid folder writes nothing.
    let (code, _, err) = schedctl(&moto, &["sync", "tests/fixtures/broken"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("dependency cycle") && err.contains("nothing was written"),
        "{err}"
    );

    let (code, out, _) = schedctl(&moto, &["sync", "schedules", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("~ schedule Development\n"), "{out}");
    let (code, _, err) = schedctl(
        &moto,
        &["--output", "json", "exception", "list", "Development"],
    );
    assert_eq!(code, 2, "a dry run wrote something");
    assert_eq!(
        err.trim(),
        "schedctl: schedule \"Development\" does not exist"
    );

    let (code, out, _) = schedctl(&moto, &["sync", "schedules"]);
    assert_eq!(code, 0);
    assert!(out.contains("~ group Development/API"), "{out}");
    let (_, out, _) = schedctl(&moto, &["sync", "schedules"]);
    assert_eq!(out, "no changes\n");

    let dir = std::env::temp_dir().join(format!("schedctl-export-{}", std::process::id()));
    let (code, out, _) = schedctl(&moto, &["export", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = schedctl(
        &moto,
        &["sync", dir.to_str().unwrap(), "--prune", "--dry-run"],
    );
    assert_eq!(code, 0);
    assert_eq!(out, "no changes\n", "an export syncs back to nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn exceptions_are_set_listed_and_deleted() {
    let moto = Moto::start().await;
    schedctl(&moto, &["init-tables"]);
    schedctl(&moto, &["sync", "schedules"]);
    let (code, out, err) = schedctl(
        &moto,
        &[
            "exception",
            "set",
            "Development",
            "2026-12-31",
            "stop",
            "18:00",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Development 2026-12-31 stop = 18:00\n");
    let (_, out, _) = schedctl(
        &moto,
        &[
            "exception",
            "list",
            "Development",
            "--from",
            "2026-12-23",
            "--to",
            "2026-12-31",
        ],
    );
    assert_eq!(out, "2026-12-25 start None\n2026-12-31 stop 18:00\n");
    let (code, _, _) = schedctl(
        &moto,
        &["exception", "del", "Development", "2026-12-31", "stop"],
    );
    assert_eq!(code, 0);
    let (_, out, _) = schedctl(
        &moto,
        &[
            "--output",
            "json",
            "exception",
            "list",
            "Development",
            "--from",
            "2026-12-26",
        ],
    );
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows["exceptions"].as_array().unwrap().len(), 0, "{out}");

    let (code, _, err) = schedctl(
        &moto,
        &["exception", "set", "Nope", "2026-12-31", "stop", "18:00"],
    );
    assert_eq!(code, 2);
    assert_eq!(err.trim(), "schedctl: schedule \"Nope\" does not exist");
    let (code, _, err) = schedctl(
        &moto,
        &[
            "exception",
            "set",
            "Development",
            "2026-12-31",
            "stop",
            "6pm",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("\"6pm\" is not a time of day"), "{err}");
}

#[tokio::test]
async fn an_exception_set_again_replaces_one_typed_by_hand() {
    let moto = Moto::start().await;
    schedctl(&moto, &["init-tables"]);
    schedctl(&moto, &["sync", "schedules"]);
    // As someone typed it in the console: spaces round the date, the type
    // capitalised, a key of their own. The catalog reads it as the stop of 31 Dec.
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_string());
    aws_sdk_dynamodb::Client::new(&moto.sdk)
        .put_item()
        .table_name("ScheduleException")
        .item("ExceptionUuid", s("typed-by-hand"))
        .item("ScheduleName", s("Development"))
        .item("ExceptionDate", s(" 2026-12-31 "))
        .item("ExceptionType", s("Stop"))
        .item("ExceptionValue", s("18:00"))
        .send()
        .await
        .unwrap();
    let (code, _, err) = schedctl(
        &moto,
        &[
            "exception",
            "set",
            "Development",
            "2026-12-31",
            "stop",
            "20:00",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // One stop that day, the new one: a second item beside the first would make two
    // different stops, which the catalog ignores both of.
    let (_, out, _) = schedctl(
        &moto,
        &[
            "exception",
            "list",
            "Development",
            "--from",
            "2026-12-31",
            "--to",
            "2026-12-31",
        ],
    );
    assert_eq!(out, "2026-12-31 stop 20:00\n");
    let (code, _, err) = schedctl(
        &moto,
        &["exception", "del", "Development", "2026-12-31", "STOP"],
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = schedctl(
        &moto,
        &["exception", "list", "Development", "--from", "2026-12-31"],
    );
    assert_eq!(out, "Development: no exceptions\n");
}

#[tokio::test]
async fn extend_and_status_go_through_the_functions_handler() {
    let moto = Moto::start().await;
    schedctl(&moto, &["init-tables"]);
    schedctl(&moto, &["sync", "schedules"]);
    let (code, out, err) = schedctl(
        &moto,
        &[
            "--output",
            "json",
            "extend",
            "Development",
            "--until",
            "23:59",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["stop"], "23:59");
    let (code, out, _) = schedctl(&moto, &["--output", "json", "status", "Development"]);
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["time_zone"], "Asia/Seoul");
    assert_eq!(status["groups"].as_array().unwrap().len(), 4);
    // The times of a day: the same answer as the bot's `info`.
    let (code, out, err) = schedctl(&moto, &["info", "Development", "--date", "2026-12-22"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Development on 2026-12-22 (Asia/Seoul, weekdays): start 2026-12-22 09:30 +09:00, stop 2026-12-22 23:30 +09:00\n"
    );
    let (code, _, err) = schedctl(&moto, &["force-start", "Nope"]);
    assert_eq!(code, 2);
    assert_eq!(err.trim(), "schedctl: schedule \"Nope\" does not exist");
}

#[tokio::test]
async fn holidays_import_from_an_ics_file() {
    let moto = Moto::start().await;
    schedctl(&moto, &["init-tables"]);
    schedctl(&moto, &["sync", "schedules"]);
    let (code, out, _) = schedctl(
        &moto,
        &[
            "holidays",
            "import",
            "Development",
            "examples/holidays-kr-2026.ics",
            "--from",
            "2026-01-01",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("would set Development 2026-10-03 start = None\n"),
        "{out}"
    );
    let (_, out, _) = schedctl(
        &moto,
        &["exception", "list", "Development", "--to", "2026-12-01"],
    );
    assert_eq!(
        out, "Development: no exceptions\n",
        "a dry run wrote something"
    );
    let (code, _, err) = schedctl(
        &moto,
        &[
            "holidays",
            "import",
            "Development",
            "examples/holidays-kr-2026.ics",
            "--from",
            "2026-01-01",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = schedctl(&moto, &["exception", "list", "Development"]);
    assert_eq!(
        out,
        "2026-10-03 start None\n2026-10-09 start None\n2026-12-22 stop 23:30\n2026-12-25 start None\n"
    );
}

#[tokio::test]
async fn holidays_import_lists_exactly_the_dates_of_a_real_calendar() {
    let moto = Moto::start().await;
    schedctl(&moto, &["init-tables"]);
    schedctl(&moto, &["sync", "schedules"]);
    // A calendar as Google exports it: a VTIMEZONE (whose 1970 DTSTART is no
    // holiday), a yearly RRULE from 2020, a 3-day all-day event, a cancelled event,
    // and an event at 20:00 UTC that is the next day in Seoul.
    let (code, out, err) = schedctl(
        &moto,
        &[
            "--output",
            "json",
            "holidays",
            "import",
            "Development",
            "tests/fixtures/holidays/kr-2026.ics",
            "--from",
            "2026-09-01",
            "--to",
            "2027-01-31",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    let dates: Vec<&str> = answer["start_none"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(answer["dry_run"], true);
    assert_eq!(
        dates,
        [
            "2026-09-24",
            "2026-09-25",
            "2026-09-26",
            "2026-10-03",
            "2026-10-05",
            "2026-10-09",
            "2026-12-25",
            "2026-12-31",
            "2027-01-01"
        ]
    );
}
