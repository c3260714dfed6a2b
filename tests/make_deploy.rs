//! `make deploy` as a new user runs it, with `sam`, `aws` and `cargo` replaced by
//! recorders first on `PATH`: on a fresh copy of the repository, `deploy.env` made
//! from `deploy.env.example` with its two required values filled. The recorded
//! arguments are those of a non-guided deploy that names no missing file; the guided
//! flow runs only when asked for; a package already there is not built again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository as a fresh clone has it: every file git knows, ignored ones left out.
fn fresh_copy() -> tempdir::Dir {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files failed");
    let dir = tempdir::Dir::new("clone");
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let from = root.join(&name);
        if !from.is_file() {
            continue; // deleted in the work tree, not yet in a commit
        }
        let to = dir.path().join(&name);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    dir
}

/// Small temporary directories, removed when dropped.
mod tempdir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(what: &str) -> Dir {
            let unique = format!(
                "make-deploy-{what}-{}-{:?}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default()
            );
            let path = std::env::temp_dir().join(unique);
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Recorders named `sam`, `aws` and `cargo` in a directory put first on `PATH`. Each
/// call is one line of the log, its arguments separated by a unit separator. `aws`
/// answers `describe-stacks` with `$RECORDER_STACK` (failing, as for a missing stack,
/// when that is empty) and `describe-table` with the table's name when it is one of
/// `$RECORDER_TABLES`; everything else succeeds silently.
struct Recorders {
    dir: tempdir::Dir,
}

impl Recorders {
    fn new() -> Recorders {
        let dir = tempdir::Dir::new("bin");
        let log = dir.path().join("calls.log");
        for tool in ["sam", "aws", "cargo"] {
            let answer = match tool {
                "aws" => {
                    r#"
case "$1 $2" in
  "cloudformation describe-stacks") [ -n "$RECORDER_STACK" ] || exit 255; echo "$RECORDER_STACK" ;;
  "dynamodb describe-table")
    for t in $RECORDER_TABLES; do [ "$t" = "$4" ] && { echo "$t"; exit 0; }; done; exit 254 ;;
esac"#
                }
                _ => "",
            };
            let script = format!(
                "#!/bin/sh\n{{ printf '%s' '{tool}'; for a in \"$@\"; do printf '\\037%s' \"$a\"; done; printf '\\n'; }} >> '{}'\n{answer}\nexit 0\n",
                log.display()
            );
            let path = dir.path().join(tool);
            std::fs::write(&path, script).expect("recorder");
            Command::new("chmod")
                .arg("+x")
                .arg(&path)
                .status()
                .expect("chmod");
        }
        Recorders { dir }
    }

    /// The calls made so far, each as the tool's name then its arguments.
    fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('\u{1f}').map(str::to_string).collect())
            .collect()
    }

    fn of(&self, tool: &str) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c[0] == tool)
            .map(|c| c[1..].to_vec())
            .collect()
    }
}

/// `cp deploy.env.example deploy.env` and the two required values filled.
fn deploy_env(clone: &Path) {
    let example = std::fs::read_to_string(clone.join("deploy.env.example")).expect("example");
    let filled: String = example
        .lines()
        .map(|l| match l {
            "STACK_NAME=" => "STACK_NAME=scheduler-dev".to_string(),
            "REGION=" => "REGION=ap-northeast-2".to_string(),
            other => other.to_string(),
        })
        .map(|l| l + "\n")
        .collect();
    assert_ne!(
        filled, example,
        "deploy.env.example has STACK_NAME= and REGION= to fill"
    );
    std::fs::write(clone.join("deploy.env"), filled).expect("deploy.env");
}

/// A package newer than every source, as `make package` leaves it.
fn package(clone: &Path) {
    let zip = clone.join("target/lambda/instance-scheduler/bootstrap.zip");
    std::fs::create_dir_all(zip.parent().expect("dir")).expect("mkdir");
    // Written after every source was copied, so newer than each of them.
    std::fs::write(&zip, b"PK").expect("zip");
}

fn make(clone: &Path, recorders: &Recorders, args: &[&str], env: &[(&str, &str)]) -> Output {
    let path = format!(
        "{}:{}",
        recorders.dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("make");
    command
        .arg("--no-print-directory")
        .args(args)
        .current_dir(clone)
        .env("PATH", path)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("make runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn make_deploy_with_deploy_env_is_one_non_guided_sam_deploy_naming_no_missing_file() {
    let clone = fresh_copy();
    let recorders = Recorders::new();
    deploy_env(clone.path());
    package(clone.path());
    let out = make(clone.path(), &recorders, &["deploy"], &[]);
    assert!(out.status.success(), "make deploy failed:\n{}", text(&out));
    let deploys = recorders.of("sam");
    assert_eq!(deploys.len(), 1, "{:?}", recorders.calls());
    let args = &deploys[0];
    assert_eq!(args[0], "deploy");
    for flag in ["--guided", "--config-file", "--config-env"] {
        assert!(!args.iter().any(|a| a == flag), "{flag} in {args:?}");
    }
    let value = |flag: &str| {
        let at = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
        args[at + 1].clone()
    };
    assert_eq!(value("--template-file"), "infra/template.yaml");
    assert_eq!(value("--stack-name"), "scheduler-dev");
    assert_eq!(value("--region"), "ap-northeast-2");
    assert_eq!(value("--capabilities"), "CAPABILITY_IAM");
    for flag in [
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--resolve-s3",
    ] {
        assert!(args.iter().any(|a| a == flag), "no {flag} in {args:?}");
    }
    // Every argument that names a file names one that exists.
    for a in args
        .iter()
        .filter(|a| !a.starts_with("--") && !a.contains('='))
    {
        if a.contains('/') || a.ends_with(".yaml") || a.ends_with(".toml") {
            assert!(clone.path().join(a).exists(), "{a} does not exist");
        }
    }
    // Every setting of deploy.env is passed, empty ones included, as SAM reads them.
    let overrides: Vec<&String> = args
        .iter()
        .skip_while(|a| *a != "--parameter-overrides")
        .skip(1)
        .take_while(|a| !a.starts_with("--"))
        .collect();
    for expected in [
        "DefaultTimeZone=\"\"",
        "ScheduleTagValues=\"*\"",
        "ExternalId=\"\"",
        "SchedulerConcurrency=\"0\"",
        "Architecture=\"x86_64\"",
    ] {
        assert!(
            overrides.iter().any(|o| *o == expected),
            "{expected} not in {overrides:?}"
        );
    }
    assert!(
        !overrides
            .iter()
            .any(|o| o.starts_with("STACK_NAME") || o.starts_with("REGION")),
        "{overrides:?}"
    );
    // Nothing was built: the package was there; no virtualenv was made either.
    assert!(recorders.of("cargo").is_empty(), "{:?}", recorders.calls());
    assert!(!clone.path().join(".venv").exists());
    // Credentials were checked first, through the aws on PATH.
    assert_eq!(recorders.calls()[0], ["aws", "sts", "get-caller-identity"]);
}

#[test]
fn the_guided_flow_runs_only_when_asked_for() {
    let clone = fresh_copy();
    let recorders = Recorders::new();
    deploy_env(clone.path());
    package(clone.path());
    let out = make(clone.path(), &recorders, &["deploy", "GUIDED=1"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let deploys = recorders.of("sam");
    assert_eq!(deploys.len(), 1);
    assert!(deploys[0].iter().any(|a| a == "--guided"), "{deploys:?}");
    assert!(
        !deploys[0].iter().any(|a| a == "--config-file"),
        "{deploys:?}"
    );
}

#[test]
fn without_deploy_env_make_deploy_says_what_to_do_and_deploys_nothing() {
    let clone = fresh_copy();
    let recorders = Recorders::new();
    package(clone.path());
    let out = make(clone.path(), &recorders, &["deploy"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cp deploy.env.example deploy.env"),
        "{}",
        text(&out)
    );
    assert!(recorders.of("sam").is_empty());
    // And a deploy.env whose required values are empty is refused by name.
    std::fs::copy(
        clone.path().join("deploy.env.example"),
        clone.path().join("deploy.env"),
    )
    .expect("copy");
    let out = make(clone.path(), &recorders, &["deploy"], &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("set STACK_NAME"), "{}", text(&out));
    assert!(recorders.of("sam").is_empty());
}

#[test]
fn a_create_after_destroy_adopts_the_retained_tables_and_an_update_keeps_them() {
    let clone = fresh_copy();
    deploy_env(clone.path());
    package(clone.path());
    let tables =
        "scheduler-dev-Schedule scheduler-dev-ScheduleServerGroup scheduler-dev-ScheduleException";
    let create_tables = |args: &[String]| {
        args.iter()
            .find(|a| a.starts_with("CreateScheduleTables="))
            .cloned()
    };
    // The stack is gone, its tables are kept: the new stack adopts them.
    let recorders = Recorders::new();
    let out = make(
        clone.path(),
        &recorders,
        &["deploy"],
        &[("RECORDER_TABLES", tables)],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        create_tables(&recorders.of("sam")[0]).as_deref(),
        Some("CreateScheduleTables=\"false\"")
    );
    assert!(text(&out).contains("Adopting the retained schedule tables"));
    // A first deploy (no tables) creates them: the template's default.
    let recorders = Recorders::new();
    let out = make(clone.path(), &recorders, &["deploy"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(create_tables(&recorders.of("sam")[0]), None);
    // An update leaves the stack's own choice as it is.
    let recorders = Recorders::new();
    let out = make(
        clone.path(),
        &recorders,
        &["deploy"],
        &[
            ("RECORDER_STACK", "UPDATE_COMPLETE"),
            ("RECORDER_TABLES", tables),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(create_tables(&recorders.of("sam")[0]), None);
}

#[test]
fn skip_build_deploys_without_building_even_without_a_package() {
    let clone = fresh_copy();
    let recorders = Recorders::new();
    deploy_env(clone.path());
    let out = make(clone.path(), &recorders, &["deploy", "SKIP_BUILD=1"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(recorders.of("cargo").is_empty(), "{:?}", recorders.calls());
    assert_eq!(recorders.of("sam").len(), 1);
}
