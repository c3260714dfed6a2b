//! The deployment end to end on the emulator's CloudFormation: `make deploy` (with
//! `sam` and `aws` standing in for the real ones through `tests/stack/moto_cli.py`,
//! which translates the template with the SAM translator and stubs by name the
//! resource types moto does not model, listed in `tests/stack/translate.py`), then:
//!
//! 1. create the stack;
//! 2. sync `schedules/` into the stack's own tables, found from its outputs, with the
//!    real `schedctl --stack`;
//! 3. run the real function binary with the function's environment as the stack set
//!    it, and see a schedule start;
//! 4. update a parameter;
//! 5. delete the stack (`make destroy`);
//! 6. create it again: the schedules are still there, and the settings are the user's.
//!
//! And the spoke template: a role the hub's targets reach, created the same way.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;

const STACK: &str = "sched";

/// The repository's root, where `make` runs.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory with `sam` and `aws` (moto_cli.py), its deploy.env, and the log of the
/// calls made; removed when dropped.
struct Workspace {
    dir: PathBuf,
    moto_url: String,
}

impl Workspace {
    fn new(moto: &Moto) -> Workspace {
        let dir = std::env::temp_dir().join(format!(
            "stack-test-{}-{}",
            std::process::id(),
            moto.url.rsplit(':').next().unwrap_or("0")
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let python = root().join(".venv/bin/python");
        let cli = root().join("tests/stack/moto_cli.py");
        for tool in ["sam", "aws"] {
            let path = dir.join(tool);
            std::fs::write(
                &path,
                format!(
                    "#!/bin/sh\nexec '{}' '{}' {tool} \"$@\"\n",
                    python.display(),
                    cli.display()
                ),
            )
            .expect("shim");
            Command::new("chmod")
                .arg("+x")
                .arg(&path)
                .status()
                .expect("chmod");
        }
        Workspace {
            dir,
            moto_url: moto.url.clone(),
        }
    }

    /// deploy.env: the two required values, and the user's settings.
    fn settings(&self, lines: &[&str]) {
        let mut text = format!("STACK_NAME={STACK}\nREGION=us-east-1\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(self.dir.join("deploy.env"), text).expect("deploy.env");
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(root())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    self.dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("MOTO_URL", &self.moto_url)
            .env("AWS_ENDPOINT_URL", &self.moto_url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("DEPLOY_ENV", self.dir.join("deploy.env"))
            .env("SCHEDCTL", env!("CARGO_BIN_EXE_schedctl"))
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("DEFAULT_TIME_ZONE")
            .env_remove("SCHEDULER_STACK")
            .stdin(std::process::Stdio::null());
        c
    }

    /// `make TARGET ARGS`, which must succeed; its output.
    fn make(&self, args: &[&str]) -> String {
        let out = self
            .command("make")
            .arg("--no-print-directory")
            .args(args)
            .output()
            .expect("make runs");
        let text = both(&out);
        assert!(out.status.success(), "make {args:?} failed:\n{text}");
        text
    }

    /// The real schedctl, as an operator runs it against the deployment.
    fn schedctl(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_schedctl"))
            .args(args)
            .output()
            .expect("schedctl runs")
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The stack's outputs, by key.
async fn outputs(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    let got = aws_sdk_cloudformation::Client::new(&moto.sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .expect("the stack exists");
    got.stacks()[0]
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect()
}

/// The scheduler function's environment, as the stack set it.
async fn function_environment(moto: &Moto) -> BTreeMap<String, String> {
    let got = aws_sdk_lambda::Client::new(&moto.sdk)
        .get_function_configuration()
        .function_name(format!("{STACK}-scheduler"))
        .send()
        .await
        .expect("the function exists");
    got.environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

async fn tables(moto: &Moto) -> Vec<String> {
    aws_sdk_dynamodb::Client::new(&moto.sdk)
        .list_tables()
        .send()
        .await
        .expect("list tables")
        .table_names()
        .to_vec()
}

/// The real function binary, invoked once at `at` with exactly the environment the
/// stack gave the function (and the emulator's endpoint and keys).
fn invoke(moto: &Moto, environment: &BTreeMap<String, String>, at: &str) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_instance-scheduler"))
        .args(["invoke", "--at", at, r#"{"action":"run"}"#])
        .env_clear()
        .envs(environment)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("the function binary runs");
    assert!(out.status.success(), "invoke at {at}:\n{}", both(&out));
    out
}

#[tokio::test]
async fn the_stack_is_created_updated_deleted_and_created_again_keeping_schedules_and_settings() {
    let moto = Moto::start().await;
    // Lambda answers invocations without running anything (no Docker here).
    moto_setup(&moto, &["lambda-stub", "unused"]);
    let work = Workspace::new(&moto);
    // EnableBot: moto's stack update re-reads every resource that names a changed
    // parameter, the bot's too, and fails on one whose condition left it out.
    work.settings(&[
        "DefaultTimeZone=Asia/Seoul",
        "MissingEnabled=off",
        "ScheduleTagValues=Development,Staging",
        "EnableBot=true",
        "JandiTokenParameter=/instance-scheduler/jandi",
    ]);

    // 1. Create.
    let out = work.make(&["deploy", "SKIP_BUILD=1"]);
    assert!(out.contains("stack sched CREATE_COMPLETE"), "{out}");
    let o = outputs(&moto, STACK).await;
    assert_eq!(o["ScheduleTableName"], "sched-Schedule");
    assert_eq!(o["SchedulerFunctionName"], "sched-scheduler");
    let env = function_environment(&moto).await;
    assert_eq!(env["DEFAULT_TIME_ZONE"], "Asia/Seoul");
    assert_eq!(env["SCHEDULE_TABLE"], "sched-Schedule");
    assert_eq!(env["STATE_TABLE"], "sched-ScheduleState");

    // 2. The schedules, into the stack's own tables, found by the stack's name.
    let out = work.schedctl(&["--stack", STACK, "sync", "schedules"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        both(&out).contains("~ schedule Development"),
        "{}",
        both(&out)
    );

    // 3. The function, with its environment as the stack set it, starts a schedule.
    rds_instance(
        &moto,
        "dev-db",
        &[("ScheduleName", "Development"), ("ScheduleGroupName", "DB")],
    )
    .await;
    let mut app = Vec::new();
    for group in ["MIDDLEWARE", "API", "BATCH"] {
        app.extend(
            ec2_instances(
                &moto,
                &[
                    ("ScheduleName", "Development"),
                    ("ScheduleGroupName", group),
                ],
                1,
            )
            .await,
        );
    }
    let before = invoke(&moto, &env, "2026-12-21T09:25:00+09:00");
    assert!(
        states(&moto).await[&app[0]] == "stopped",
        "{}",
        both(&before)
    );
    let run = invoke(&moto, &env, "2026-12-21T09:30:00+09:00");
    let s = states(&moto).await;
    assert_eq!(s["dev-db"], "available", "{}", both(&run));
    assert!(
        app.iter().all(|id| s[id] == "running"),
        "{s:?}\n{}",
        both(&run)
    );
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("run_completed"),
        "the heartbeat line: {}",
        both(&run)
    );

    // Operators act through the deployment: force-stop reaches the function.
    moto.record().await;
    let out = work.schedctl(&["--stack", STACK, "force-stop", "Development"]);
    assert!(out.status.success(), "{}", both(&out));
    let invoked = moto.recorded_requests().await;
    assert!(
        invoked.iter().any(|r| r["url"]
            .as_str()
            .unwrap_or("")
            .contains("/functions/sched-scheduler/invocations")),
        "no invoke of the function: {}",
        both(&out)
    );
    // Against AWS itself, without the stack and without naming the tables, schedctl
    // refuses (before any request) rather than use tables named Schedule, ….
    let refused = Command::new(env!("CARGO_BIN_EXE_schedctl"))
        .args(["force-start", "Development"])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("SCHEDULER_STACK")
        .env_remove("SCHEDULE_TABLE")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("schedctl runs");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        both(&refused).contains("which deployment? give --stack NAME"),
        "{}",
        both(&refused)
    );

    // 4. Update a parameter.
    work.settings(&[
        "DefaultTimeZone=Asia/Seoul",
        "MissingEnabled=off",
        "ScheduleTagValues=Development,Staging",
        "EnableBot=true",
        "JandiTokenParameter=/instance-scheduler/jandi",
        "WarnMinutes=15",
    ]);
    let out = work.make(&["deploy", "SKIP_BUILD=1"]);
    assert!(out.contains("stack sched UPDATE_COMPLETE"), "{out}");
    assert_eq!(function_environment(&moto).await["WARN_MINUTES"], "15");

    // 5. Delete. What the scheduler holds is listed first (everything is running).
    let out = work.make(&["destroy", "CARGO=true"]);
    assert!(out.contains("holds nothing stopped or at zero"), "{out}");
    let left = tables(&moto).await;
    for t in [
        "sched-Schedule",
        "sched-ScheduleServerGroup",
        "sched-ScheduleException",
    ] {
        assert!(
            left.iter().any(|l| l == t),
            "{t} was not retained: {left:?}"
        );
    }
    assert!(!left.iter().any(|l| l == "sched-ScheduleState"), "{left:?}");

    // 6. Create again: the retained tables are adopted, items and all, and the
    // settings are deploy.env's, not the template's defaults.
    let out = work.make(&["deploy", "SKIP_BUILD=1"]);
    assert!(
        out.contains("Adopting the retained schedule tables"),
        "{out}"
    );
    assert!(out.contains("stack sched CREATE_COMPLETE"), "{out}");
    let env = function_environment(&moto).await;
    assert_eq!(env["WARN_MINUTES"], "15");
    assert_eq!(env["DEFAULT_TIME_ZONE"], "Asia/Seoul");
    assert_eq!(env["ALLOWED_TAG_VALUES"], "Development,Staging");
    let out = work.schedctl(&[
        "--stack",
        STACK,
        "--output",
        "json",
        "status",
        "Development",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        status["groups"].as_array().map(Vec::len),
        Some(4),
        "{status}"
    );
    // And the function stops it at 22:00, Seoul time, from the adopted tables.
    let stop = invoke(&moto, &env, "2026-12-21T22:00:00+09:00");
    let s = states(&moto).await;
    assert!(
        app.iter().all(|id| s[id] == "stopped"),
        "{s:?}\n{}",
        both(&stop)
    );
}

#[tokio::test]
async fn the_spoke_template_gives_the_hub_a_role_its_targets_reach() {
    let moto = Moto::start().await;
    moto_setup(&moto, &["lambda-stub", "unused"]);
    let work = Workspace::new(&moto);
    work.settings(&[
        "DefaultTimeZone=Asia/Seoul",
        "EnableBot=true",
        "JandiTokenParameter=/instance-scheduler/jandi",
    ]);
    work.make(&["deploy", "SKIP_BUILD=1"]);
    let hub = outputs(&moto, STACK).await;

    // The spoke, as a plain stack of infra/spoke.yaml trusting the hub's role.
    let spoke = work
        .command("sam")
        .args([
            "deploy",
            "--template-file",
            "infra/spoke.yaml",
            "--stack-name",
            "spoke",
            "--region",
            "us-east-1",
            "--capabilities",
            "CAPABILITY_NAMED_IAM",
            "--parameter-overrides",
            &format!("HubRoleArn=\"{}\"", hub["SchedulerRoleArn"]),
        ])
        .output()
        .expect("sam runs");
    assert!(spoke.status.success(), "{}", both(&spoke));
    let role = outputs(&moto, "spoke").await["SpokeRoleArn"].clone();
    assert!(role.ends_with(":role/instance-scheduler-spoke"), "{role}");

    // The hub reaches eu-west-1 through the spoke role.
    work.settings(&[
        "DefaultTimeZone=Asia/Seoul",
        "EnableBot=true",
        "JandiTokenParameter=/instance-scheduler/jandi",
        &format!("Targets=us-east-1,{role}@eu-west-1"),
    ]);
    work.make(&["deploy", "SKIP_BUILD=1"]);
    let env = function_environment(&moto).await;
    assert_eq!(env["TARGETS"], format!("us-east-1,{role}@eu-west-1"));
    work.schedctl(&["--stack", STACK, "sync", "schedules"]);
    let europe = sdk_in(&moto, None, "eu-west-1").await;
    let far = ec2_instances_with(
        &europe,
        &[("ScheduleName", "Staging"), ("ScheduleGroupName", "CACHE")],
        1,
    )
    .await;
    let run = invoke(&moto, &env, "2026-12-22T07:00:00+01:00");
    assert_eq!(
        states_with(&europe).await[&far[0]],
        "running",
        "{}",
        both(&run)
    );

    // Deleting the spoke stack takes its role with it.
    let out = work
        .command("sam")
        .args([
            "delete",
            "--stack-name",
            "spoke",
            "--region",
            "us-east-1",
            "--no-prompts",
        ])
        .output()
        .expect("sam runs");
    assert!(out.status.success(), "{}", both(&out));
}
