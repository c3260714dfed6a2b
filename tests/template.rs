//! The IAM policies of `infra/template.yaml` and `infra/spoke.yaml`, as CloudFormation
//! would resolve them: `tests/iam/policy.py` (cfn-lint's loader, in the project's
//! virtualenv) prints a role's statements for given parameters, and these tests read
//! them. Each check is a function returning what is wrong, so that the last test can
//! show that a check fails once the statement it pins is taken out.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const HUB: &str = "infra/template.yaml";
const SPOKE: &str = "infra/spoke.yaml";
const HUB_ROLE: &str = "HubRoleArn=arn:aws:iam::111122223333:role/hub-SchedulerRole-ABC";

/// Every action that changes a resource of the fleet: each must be tag-limited and
/// covered by the SchedulerProtected Deny.
const CHANGING_ACTIONS: [&str; 11] = [
    "ec2:StartInstances",
    "ec2:StopInstances",
    "rds:StartDBInstance",
    "rds:StopDBInstance",
    "rds:StartDBCluster",
    "rds:StopDBCluster",
    "autoscaling:UpdateAutoScalingGroup",
    "autoscaling:CreateOrUpdateTags",
    "ecs:UpdateService",
    "ecs:TagResource",
    "eks:UpdateNodegroupConfig",
];

/// What `policy.py` printed: its exit status, the JSON (when it succeeded) and stderr.
struct Resolved {
    ok: bool,
    json: Value,
    stderr: String,
}

fn resolve(template: &str, role: &str, args: &[&str]) -> Resolved {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (it installs cfn-lint, which policy.py uses)",
        python.display()
    );
    let out = Command::new(&python)
        .arg("tests/iam/policy.py")
        .arg(template)
        .arg(role)
        .args(args)
        .current_dir(&root)
        .output()
        .expect("the virtualenv's python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = if out.status.success() {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("policy.py printed no JSON ({e}): {stdout}"))
    } else {
        Value::Null
    };
    Resolved {
        ok: out.status.success(),
        json,
        stderr,
    }
}

/// The role's statements; panics with policy.py's message when it could not resolve them.
fn statements(template: &str, role: &str, args: &[&str]) -> Vec<Value> {
    let r = resolve(template, role, args);
    assert!(
        r.ok,
        "policy.py {template} {role} {args:?} failed: {}",
        r.stderr
    );
    r.json["statements"].as_array().cloned().unwrap_or_default()
}

/// A string or a list of strings, as IAM allows for Action and Resource.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

fn sid(s: &Value) -> &str {
    s["Sid"].as_str().unwrap_or("(no Sid)")
}

fn actions(s: &Value) -> Vec<String> {
    strings(&s["Action"])
}

fn allows(stmts: &[Value]) -> impl Iterator<Item = &Value> {
    stmts.iter().filter(|s| s["Effect"] == "Allow")
}

fn is_read_only(action: &str) -> bool {
    let verb = action.split(':').nth(1).unwrap_or("");
    // The Price List API's only read is a Get, and it has no resources to name.
    verb.starts_with("Describe") || verb.starts_with("List") || action == "pricing:GetProducts"
}

// ---------------------------------------------------------------- checks

/// Every changing action is allowed, and only under `StringLike` on the ScheduleName
/// tag with exactly `values`.
fn check_tag_limited(stmts: &[Value], values: &[&str]) -> Result<(), String> {
    let expected: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    for action in CHANGING_ACTIONS {
        let granting: Vec<&Value> = allows(stmts)
            .filter(|s| actions(s).iter().any(|a| a == action))
            .collect();
        if granting.is_empty() {
            return Err(format!("no statement allows {action}"));
        }
        for s in granting {
            let tag = &s["Condition"]["StringLike"]["aws:ResourceTag/ScheduleName"];
            if strings(tag) != expected {
                return Err(format!(
                    "{} allows {action} without StringLike aws:ResourceTag/ScheduleName = {expected:?}: {s}",
                    sid(s)
                ));
            }
        }
    }
    Ok(())
}

/// One Deny covers every changing action on every resource tagged SchedulerProtected=true.
fn check_protection_deny(stmts: &[Value]) -> Result<(), String> {
    let denies: Vec<&Value> = stmts
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter(|s| {
            strings(&s["Condition"]["StringEqualsIgnoreCase"]["aws:ResourceTag/SchedulerProtected"])
                == ["true"]
        })
        .filter(|s| strings(&s["Resource"]) == ["*"])
        .collect();
    for action in CHANGING_ACTIONS {
        if !denies
            .iter()
            .any(|s| actions(s).iter().any(|a| a == action))
        {
            return Err(format!(
                "no SchedulerProtected Deny on \"*\" covers {action}"
            ));
        }
    }
    Ok(())
}

/// No action is a wildcard (`*`, `ec2:*`, `rds:Start*`) and no statement uses NotAction.
fn check_no_wildcard_action(stmts: &[Value]) -> Result<(), String> {
    for s in stmts {
        if s.get("NotAction").is_some() {
            return Err(format!("{} uses NotAction", sid(s)));
        }
        if let Some(a) = actions(s)
            .iter()
            .find(|a| a.contains('*') || a.contains('?'))
        {
            return Err(format!("{} has the wildcard action {a}", sid(s)));
        }
    }
    Ok(())
}

/// Only Describe/List actions are allowed on every resource ("*").
fn check_star_only_for_reads(stmts: &[Value]) -> Result<(), String> {
    for s in allows(stmts) {
        if !strings(&s["Resource"]).iter().any(|r| r == "*") {
            continue;
        }
        if let Some(a) = actions(s).iter().find(|a| !is_read_only(a)) {
            return Err(format!("{} allows {a} on \"*\"", sid(s)));
        }
    }
    Ok(())
}

/// CloudWatch Logs actions only on the function's own log group.
fn check_logs_only_own_group(stmts: &[Value], group: &str) -> Result<(), String> {
    for s in allows(stmts) {
        if !actions(s).iter().any(|a| a.starts_with("logs:")) {
            continue;
        }
        let own = format!(":log-group:{group}");
        for r in strings(&s["Resource"]) {
            if !(r.ends_with(&own) || r.ends_with(&format!("{own}:*"))) {
                return Err(format!(
                    "{} writes logs to {r}, not only to {group}",
                    sid(s)
                ));
            }
        }
    }
    Ok(())
}

fn all_of(checks: &[Result<(), String>]) {
    for c in checks {
        if let Err(e) = c {
            panic!("{e}");
        }
    }
}

// ---------------------------------------------------------------- hub: scheduler role

#[test]
fn scheduler_role_changes_only_resources_whose_schedule_tag_is_allowed() {
    let stmts = statements(HUB, "SchedulerRole", &["ScheduleTagValues=dev-*,staging"]);
    all_of(&[check_tag_limited(&stmts, &["dev-*", "staging"])]);
}

#[test]
fn scheduler_role_with_the_default_tag_values_requires_the_tag_to_be_present() {
    let stmts = statements(HUB, "SchedulerRole", &[]);
    all_of(&[check_tag_limited(&stmts, &["*"])]);
}

#[test]
fn scheduler_role_never_changes_a_resource_tagged_scheduler_protected() {
    let stmts = statements(HUB, "SchedulerRole", &["ScheduleTagValues=dev-*,staging"]);
    all_of(&[check_protection_deny(&stmts)]);
}

/// Every optional statement switched on at once, so that none escapes the checks.
const EVERYTHING_ON: [&str; 8] = [
    "ScheduleTagValues=dev-*,staging",
    "Targets=eu-west-1,arn:aws:iam::111122223333:role/instance-scheduler-spoke@ap-northeast-2",
    "Shards=4",
    "KmsKeyArns=arn:aws:kms:us-east-1:123456789012:key/1111aaaa-0000-0000-0000-000000000000",
    "WebhookUrlParameter=/instance-scheduler/webhook",
    "EnableBot=true",
    "SlackSigningSecretParameter=/instance-scheduler/slack",
    "JandiTokenParameter=/instance-scheduler/jandi",
];

#[test]
fn no_role_has_a_wildcard_action_or_grants_more_than_reads_on_every_resource() {
    for role in ["SchedulerRole", "BotRole", "WakeupRole"] {
        let stmts = statements(HUB, role, &EVERYTHING_ON);
        all_of(&[
            check_no_wildcard_action(&stmts),
            check_star_only_for_reads(&stmts),
        ]);
    }
    let with_secret = statements(
        HUB,
        "SchedulerRole",
        &["WebhookUrlSecret=instance-scheduler/webhook"],
    );
    all_of(&[
        check_no_wildcard_action(&with_secret),
        check_star_only_for_reads(&with_secret),
    ]);
    let spoke = statements(
        SPOKE,
        "SpokeRole",
        &[
            HUB_ROLE,
            "KmsKeyArns=arn:aws:kms:us-east-1:111122223333:key/k",
        ],
    );
    all_of(&[
        check_no_wildcard_action(&spoke),
        check_star_only_for_reads(&spoke),
    ]);
}

#[test]
fn each_function_writes_logs_only_to_its_own_log_group() {
    let scheduler = statements(HUB, "SchedulerRole", &EVERYTHING_ON);
    let bot = statements(HUB, "BotRole", &EVERYTHING_ON);
    all_of(&[
        check_logs_only_own_group(&scheduler, "/aws/lambda/test-scheduler"),
        check_logs_only_own_group(&bot, "/aws/lambda/test-bot"),
    ]);
    for (role, stmts) in [("SchedulerRole", &scheduler), ("BotRole", &bot)] {
        assert!(
            allows(stmts).any(|s| actions(s).iter().any(|a| a == "logs:PutLogEvents")),
            "{role} cannot write its log"
        );
    }
}

#[test]
fn no_role_gets_a_managed_policy() {
    for role in ["SchedulerRole", "BotRole", "WakeupRole"] {
        let r = resolve(HUB, role, &EVERYTHING_ON);
        assert!(r.ok, "{}", r.stderr);
        assert_eq!(
            r.json["managed_policy_arns"],
            serde_json::json!([]),
            "{role}"
        );
    }
}

#[test]
fn kms_create_grant_is_allowed_only_on_the_listed_keys_and_only_for_aws_resources() {
    let keys =
        "arn:aws:kms:us-east-1:123456789012:key/aaaa,arn:aws:kms:eu-west-1:123456789012:key/bbbb";
    for (template, role, base) in [
        (HUB, "SchedulerRole", None),
        (SPOKE, "SpokeRole", Some(HUB_ROLE)),
    ] {
        let mut args: Vec<&str> = base.into_iter().collect();
        let stmts = statements(template, role, &args);
        assert!(
            !stmts
                .iter()
                .any(|s| actions(s).iter().any(|a| a.starts_with("kms:"))),
            "{role} has a KMS statement although KmsKeyArns is empty"
        );
        let with_keys = format!("KmsKeyArns={keys}");
        args.push(&with_keys);
        let stmts = statements(template, role, &args);
        let grants: Vec<&Value> = allows(&stmts)
            .filter(|s| actions(s).iter().any(|a| a.starts_with("kms:")))
            .collect();
        assert_eq!(grants.len(), 1, "{role}: {grants:?}");
        let g = grants[0];
        assert_eq!(actions(g), ["kms:CreateGrant"], "{role}");
        assert_eq!(
            strings(&g["Resource"]),
            keys.split(',').collect::<Vec<_>>(),
            "{role}"
        );
        assert_eq!(
            strings(&g["Condition"]["Bool"]["kms:GrantIsForAWSResource"]),
            ["true"],
            "{role}: {g}"
        );
    }
}

#[test]
fn scheduler_may_assume_only_spoke_roles_and_only_when_targets_are_set() {
    let assumes = |stmts: &[Value]| -> Vec<String> {
        allows(stmts)
            .filter(|s| actions(s).iter().any(|a| a == "sts:AssumeRole"))
            .flat_map(|s| strings(&s["Resource"]))
            .collect()
    };
    for role_args in [vec![], vec!["EnableBot=true", "JandiTokenParameter=/j"]] {
        let role = if role_args.is_empty() {
            "SchedulerRole"
        } else {
            "BotRole"
        };
        assert!(
            assumes(&statements(HUB, role, &role_args)).is_empty(),
            "{role}"
        );
        for source in [
            "Targets=arn:aws:iam::111122223333:role/instance-scheduler-spoke@eu-west-1",
            "TargetsParameter=/instance-scheduler/targets/",
            "OrganizationUnits=ou-ab12-cdef3456",
        ] {
            let mut args = role_args.clone();
            args.push(source);
            assert_eq!(
                assumes(&statements(HUB, role, &args)),
                ["arn:aws:iam::*:role/instance-scheduler-spoke"],
                "{role} with {source}"
            );
        }
    }
}

#[test]
fn targets_are_read_from_their_parameter_and_organizations_only_when_configured() {
    for (role, base) in [
        ("SchedulerRole", vec![]),
        ("BotRole", vec!["EnableBot=true", "JandiTokenParameter=/j"]),
    ] {
        let stmts = statements(HUB, role, &base);
        assert!(
            !stmts
                .iter()
                .any(|s| matches!(sid(s), "ReadTargetsParameter" | "DiscoverAccounts")),
            "{role}"
        );
        let mut args = base.clone();
        args.extend([
            "TargetsParameter=/instance-scheduler/targets/",
            "OrganizationUnits=r-ab12",
        ]);
        let stmts = statements(HUB, role, &args);
        let read = stmts
            .iter()
            .find(|s| sid(s) == "ReadTargetsParameter")
            .unwrap_or_else(|| panic!("{role}: no ReadTargetsParameter"));
        assert_eq!(
            actions(read),
            ["ssm:GetParameter", "ssm:GetParametersByPath"],
            "{role}"
        );
        assert_eq!(
            strings(&read["Resource"]),
            [
                "arn:aws:ssm:us-east-1:123456789012:parameter/instance-scheduler/targets/",
                "arn:aws:ssm:us-east-1:123456789012:parameter/instance-scheduler/targets/*"
            ],
            "{role}"
        );
        let discover = stmts
            .iter()
            .find(|s| sid(s) == "DiscoverAccounts")
            .unwrap_or_else(|| panic!("{role}: no DiscoverAccounts"));
        assert_eq!(
            actions(discover),
            [
                "organizations:ListAccounts",
                "organizations:ListAccountsForParent",
                "organizations:ListChildren"
            ],
            "{role}"
        );
    }
}

/// One resource as CloudFormation would create it (`tests/stack/resource.py`).
fn resource(template: &str, logical: &str, args: &[&str]) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join(".venv/bin/python"))
        .arg("tests/stack/resource.py")
        .arg(template)
        .arg(logical)
        .args(args)
        .current_dir(&root)
        .output()
        .expect("the virtualenv's python runs");
    assert!(
        out.status.success(),
        "resource.py {logical} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("resource.py prints JSON")
}

#[test]
fn no_concurrency_is_reserved_unless_asked_for() {
    for (logical, base) in [
        ("SchedulerFunction", vec![]),
        (
            "BotFunction",
            vec!["EnableBot=true", "JandiTokenParameter=/j"],
        ),
    ] {
        let f = resource(HUB, logical, &base);
        assert!(f["created"].as_bool().unwrap_or(false), "{logical}");
        assert!(
            f["properties"]
                .get("ReservedConcurrentExecutions")
                .is_none(),
            "{logical} reserves concurrency by default: {}",
            f["properties"]["ReservedConcurrentExecutions"]
        );
    }
    let f = resource(HUB, "SchedulerFunction", &["SchedulerConcurrency=4"]);
    assert_eq!(f["properties"]["ReservedConcurrentExecutions"], "4");
    let f = resource(
        HUB,
        "BotFunction",
        &[
            "EnableBot=true",
            "JandiTokenParameter=/j",
            "BotConcurrency=2",
        ],
    );
    assert_eq!(f["properties"]["ReservedConcurrentExecutions"], "2");
}

#[test]
fn the_heartbeat_alarms_when_two_ticks_pass_without_a_completed_run() {
    for (interval, period) in [("5", 300), ("1", 60), ("15", 900)] {
        let a = resource(
            HUB,
            "HeartbeatAlarm",
            &[&format!("IntervalMinutes={interval}")],
        );
        let p = &a["properties"];
        assert_eq!(p["TreatMissingData"], "breaching");
        assert_eq!(p["Period"], period, "IntervalMinutes={interval}");
        assert_eq!(p["EvaluationPeriods"], 2);
        assert_eq!(p["DatapointsToAlarm"], 2);
        assert_eq!(p["ComparisonOperator"], "LessThanThreshold");
        assert_eq!(p["Threshold"], 1);
        assert_eq!(p["Namespace"], "InstanceScheduler/test");
        assert_eq!(p["MetricName"], "ScheduledRunsCompleted");
        assert_eq!(
            strings(&p["AlarmActions"]),
            ["arn:aws:sns:us-east-1:123456789012:test-AlarmTopic"]
        );
    }
    // It counts the line the function logs when a scheduled run completes, in the
    // scheduler's own log group, into the alarm's metric.
    let f = resource(HUB, "HeartbeatFilter", &[]);
    let p = &f["properties"];
    assert_eq!(p["FilterPattern"], "{ $.action = \"run_completed\" }");
    assert_eq!(p["LogGroupName"], "/aws/lambda/test-scheduler");
    let m = &p["MetricTransformations"][0];
    assert_eq!(m["MetricNamespace"], "InstanceScheduler/test");
    assert_eq!(m["MetricName"], "ScheduledRunsCompleted");
    // With an existing topic it alarms there; with the kill switch off, not at all.
    let a = resource(
        HUB,
        "HeartbeatAlarm",
        &["AlarmTopicArn=arn:aws:sns:us-east-1:123456789012:ops"],
    );
    assert_eq!(
        strings(&a["properties"]["AlarmActions"]),
        ["arn:aws:sns:us-east-1:123456789012:ops"]
    );
    let a = resource(HUB, "HeartbeatAlarm", &["SchedulerEnabled=false"]);
    assert_eq!(a["created"], false);
}

#[test]
fn scheduler_passes_the_wakeup_role_to_eventbridge_scheduler_only() {
    let stmts = statements(HUB, "SchedulerRole", &[]);
    let pass: Vec<&Value> = allows(&stmts)
        .filter(|s| actions(s).iter().any(|a| a == "iam:PassRole"))
        .collect();
    assert_eq!(pass.len(), 1, "{pass:?}");
    assert_eq!(
        strings(&pass[0]["Resource"]),
        ["arn:aws:iam::123456789012:role/test-WakeupRole"]
    );
    assert_eq!(
        pass[0]["Condition"]["StringEquals"]["iam:PassedToService"],
        "scheduler.amazonaws.com"
    );
    let wakeups: Vec<String> = allows(&stmts)
        .filter(|s| actions(s).iter().any(|a| a.starts_with("scheduler:")))
        .flat_map(|s| strings(&s["Resource"]))
        .collect();
    assert_eq!(
        wakeups,
        ["arn:aws:scheduler:us-east-1:123456789012:schedule/test-wakeups/*"]
    );
}

#[test]
fn wakeup_role_may_only_invoke_the_scheduler_function_for_this_account() {
    let r = resolve(HUB, "WakeupRole", &[]);
    assert!(r.ok, "{}", r.stderr);
    let stmts = r.json["statements"].as_array().cloned().unwrap_or_default();
    assert_eq!(stmts.len(), 1, "{stmts:?}");
    assert_eq!(actions(&stmts[0]), ["lambda:InvokeFunction"]);
    assert_eq!(
        strings(&stmts[0]["Resource"]),
        ["arn:aws:lambda:us-east-1:123456789012:function:test-scheduler"]
    );
    let trust = &r.json["trust"][0];
    assert_eq!(trust["Principal"]["Service"], "scheduler.amazonaws.com");
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        "123456789012"
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceArn"],
        "arn:aws:scheduler:us-east-1:123456789012:schedule-group/test-wakeups"
    );
}

#[test]
fn wakeup_role_may_invoke_nothing_while_the_kill_switch_is_off() {
    let stmts = statements(HUB, "WakeupRole", &["SchedulerEnabled=false"]);
    assert!(stmts.is_empty(), "{stmts:?}");
}

#[test]
fn scheduler_invokes_itself_only_when_sharded() {
    let invokes = |stmts: &[Value]| {
        allows(stmts).any(|s| actions(s).iter().any(|a| a == "lambda:InvokeFunction"))
    };
    assert!(!invokes(&statements(HUB, "SchedulerRole", &[])));
    assert!(invokes(&statements(HUB, "SchedulerRole", &["Shards=3"])));
}

#[test]
fn events_go_only_to_the_default_bus_and_only_when_published() {
    let stmts = statements(HUB, "SchedulerRole", &[]);
    let put: Vec<&Value> = allows(&stmts)
        .filter(|s| actions(s).iter().any(|a| a.starts_with("events:")))
        .collect();
    assert_eq!(put.len(), 1, "{put:?}");
    assert_eq!(actions(put[0]), ["events:PutEvents"]);
    let on = strings(&put[0]["Resource"]);
    assert!(
        on.len() == 1 && on[0].ends_with(":event-bus/default"),
        "{on:?}"
    );
    let env = |args: &[&str]| {
        resource(HUB, "SchedulerFunction", args)["properties"]["Environment"]["Variables"].clone()
    };
    assert_eq!(env(&[])["EVENT_BUS"], "default");
    assert_eq!(env(&["PublishEvents=false"])["EVENT_BUS"], "");
    assert!(
        !resource(HUB, "Dashboard", &[])["created"]
            .as_bool()
            .unwrap_or(false)
    );
    assert!(
        resource(HUB, "Dashboard", &["CreateDashboard=true"])["created"]
            .as_bool()
            .unwrap_or(false)
    );
}

// ---------------------------------------------------------------- hub: bot role

#[test]
fn bot_role_cannot_start_stop_or_scale_anything_and_hands_off_to_the_scheduler() {
    let stmts = statements(HUB, "BotRole", &EVERYTHING_ON);
    for s in allows(&stmts) {
        for a in actions(s) {
            assert!(
                !CHANGING_ACTIONS.contains(&a.as_str()),
                "{} allows {a}",
                sid(s)
            );
        }
    }
    let invoke: Vec<String> = allows(&stmts)
        .filter(|s| actions(s).iter().any(|a| a == "lambda:InvokeFunction"))
        .flat_map(|s| strings(&s["Resource"]))
        .collect();
    assert_eq!(
        invoke,
        ["arn:aws:lambda:us-east-1:123456789012:function:test-scheduler"]
    );
}

#[test]
fn bot_role_edits_exceptions_and_writes_only_its_origin_notes_to_the_state_table() {
    let stmts = statements(
        HUB,
        "BotRole",
        &["EnableBot=true", "JandiTokenParameter=/j"],
    );
    let writes: Vec<(String, String)> = allows(&stmts)
        .flat_map(|s| {
            let resources = strings(&s["Resource"]);
            actions(s)
                .into_iter()
                .filter(|a| {
                    [
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ]
                    .contains(&a.as_str())
                })
                .flat_map(move |a| resources.clone().into_iter().map(move |r| (a.clone(), r)))
        })
        .collect();
    let exceptions = "arn:aws:dynamodb:us-east-1:123456789012:table/test-ScheduleException";
    let state = "arn:aws:dynamodb:us-east-1:123456789012:table/test-ScheduleState";
    assert!(
        writes.contains(&("dynamodb:DeleteItem".into(), exceptions.into())),
        "{writes:?}"
    );
    // The state table: a PutItem of the notes of who asked for a force, and of
    // nothing else (the run state is the scheduler's); never the schedule tables.
    assert!(
        writes
            .iter()
            .all(|(a, r)| r == exceptions || (r == state && a == "dynamodb:PutItem")),
        "{writes:?}"
    );
    let notes: Vec<&Value> = allows(&stmts)
        .filter(|s| strings(&s["Resource"]).iter().any(|r| r == state))
        .filter(|s| actions(s).iter().any(|a| a == "dynamodb:PutItem"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(sid(notes[0]), "NoteOrigin");
    assert_eq!(
        notes[0]["Condition"],
        serde_json::json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["origin#*"]}})
    );
}

// ---------------------------------------------------------------- spoke

#[test]
fn spoke_role_changes_only_resources_whose_schedule_tag_is_allowed() {
    let stmts = statements(
        SPOKE,
        "SpokeRole",
        &[HUB_ROLE, "ScheduleTagValues=dev-*,staging"],
    );
    all_of(&[check_tag_limited(&stmts, &["dev-*", "staging"])]);
}

#[test]
fn spoke_role_never_changes_a_resource_tagged_scheduler_protected() {
    let stmts = statements(
        SPOKE,
        "SpokeRole",
        &[HUB_ROLE, "ScheduleTagValues=dev-*,staging"],
    );
    all_of(&[check_protection_deny(&stmts)]);
}

#[test]
fn spoke_role_has_no_table_or_log_access() {
    let stmts = statements(SPOKE, "SpokeRole", &[HUB_ROLE]);
    for s in &stmts {
        for a in actions(s) {
            assert!(
                !a.starts_with("dynamodb:") && !a.starts_with("logs:"),
                "{} has {a}",
                sid(s)
            );
        }
    }
}

#[test]
fn spoke_role_trusts_only_the_hub_roles_and_requires_the_external_id_when_one_is_set() {
    let trust = |args: &[&str]| -> Value {
        let r = resolve(SPOKE, "SpokeRole", args);
        assert!(r.ok, "{}", r.stderr);
        r.json["trust"].clone()
    };
    let hub = "arn:aws:iam::111122223333:role/hub-SchedulerRole-ABC";
    let t = trust(&[HUB_ROLE]);
    assert_eq!(t.as_array().map(Vec::len), Some(1), "{t}");
    assert_eq!(strings(&t[0]["Principal"]["AWS"]), [hub]);
    assert!(
        t[0].get("Condition").is_none(),
        "no external id, no condition: {t}"
    );

    let bot = "arn:aws:iam::111122223333:role/hub-BotRole-DEF";
    let t = trust(&[
        HUB_ROLE,
        &format!("HubBotRoleArn={bot}"),
        "ExternalId=s3cr3t",
    ]);
    assert_eq!(strings(&t[0]["Principal"]["AWS"]), [hub, bot]);
    assert_eq!(
        t[0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "s3cr3t"
    );
}

// ---------------------------------------------------------------- parameters and rules

#[test]
fn a_stack_with_both_a_webhook_parameter_and_a_webhook_secret_is_refused() {
    let both = resolve(
        HUB,
        "SchedulerRole",
        &["WebhookUrlParameter=/hook", "WebhookUrlSecret=hook"],
    );
    assert!(!both.ok);
    assert!(
        both.stderr.contains("rule OneWebhookSource"),
        "{}",
        both.stderr
    );
    assert!(resolve(HUB, "SchedulerRole", &["WebhookUrlParameter=/hook"]).ok);
    assert!(resolve(HUB, "SchedulerRole", &["WebhookUrlSecret=hook"]).ok);
}

#[test]
fn a_bot_without_a_slack_secret_or_jandi_token_is_refused() {
    let bare = resolve(HUB, "BotRole", &["EnableBot=true"]);
    assert!(!bare.ok);
    assert!(
        bare.stderr.contains("rule BotNeedsAVerifier"),
        "{}",
        bare.stderr
    );
}

#[test]
fn default_time_zone_may_be_left_empty_so_that_schedules_without_a_zone_are_refused() {
    let r = resolve(HUB, "SchedulerRole", &["DefaultTimeZone="]);
    assert!(r.ok, "{}", r.stderr);
    let f = resource(HUB, "SchedulerFunction", &[]);
    let env = &f["properties"]["Environment"]["Variables"];
    assert_eq!(
        env["DEFAULT_TIME_ZONE"], "",
        "the template's default zone is none"
    );
    assert_eq!(
        env["MISSING_ENABLED"], "",
        "and a missing Enabled is not guessed"
    );
    let f = resource(
        HUB,
        "SchedulerFunction",
        &["DefaultTimeZone=Asia/Seoul", "MissingEnabled=off"],
    );
    let env = &f["properties"]["Environment"]["Variables"];
    assert_eq!(env["DEFAULT_TIME_ZONE"], "Asia/Seoul");
    assert_eq!(env["MISSING_ENABLED"], "off");
    let r = resolve(HUB, "SchedulerRole", &["MissingEnabled=maybe"]);
    assert!(!r.ok, "MissingEnabled=maybe was accepted");
}

#[test]
fn default_time_zone_must_be_an_iana_name() {
    for zone in [
        "UTC",
        "Asia/Seoul",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+9",
    ] {
        let r = resolve(HUB, "SchedulerRole", &[&format!("DefaultTimeZone={zone}")]);
        assert!(r.ok, "{zone}: {}", r.stderr);
    }
    for zone in ["+09:00", "KST", "Asia/Seoul "] {
        let r = resolve(HUB, "SchedulerRole", &[&format!("DefaultTimeZone={zone}")]);
        assert!(!r.ok, "{zone:?} was accepted");
        assert!(r.stderr.contains("DefaultTimeZone"), "{}", r.stderr);
    }
}

// ---------------------------------------------------------------- the checks themselves

#[test]
fn each_check_fails_once_the_statement_it_pins_is_removed() {
    let tags = "ScheduleTagValues=dev-*,staging";
    let without = |template: &str, role: &str, base: &[&str], sid: &str| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--without", sid]);
        statements(template, role, &args)
    };
    for (template, role, base) in [
        (HUB, "SchedulerRole", vec![tags]),
        (SPOKE, "SpokeRole", vec![HUB_ROLE, tags]),
    ] {
        let no_deny = without(template, role, &base, "DenyProtectedResources");
        assert!(check_protection_deny(&no_deny).is_err(), "{role}");
        for sid in [
            "StartStopEc2Instances",
            "StartStopDatabases",
            "ScaleAutoScalingGroups",
            "ScaleEcsServices",
            "ScaleEksNodegroups",
        ] {
            let stmts = without(template, role, &base, sid);
            assert!(
                check_tag_limited(&stmts, &["dev-*", "staging"]).is_err(),
                "{role} without {sid}"
            );
        }
    }
    // And a tag condition other than the configured values is caught.
    let stmts = statements(HUB, "SchedulerRole", &["ScheduleTagValues=dev-*"]);
    assert!(check_tag_limited(&stmts, &["dev-*", "staging"]).is_err());
}

#[test]
fn the_history_table_expires_its_items_and_the_function_and_dashboard_use_it() {
    let table = resource(HUB, "HistoryTable", &[]);
    let ttl = &table["properties"]["TimeToLiveSpecification"];
    assert_eq!(ttl["AttributeName"], "ExpiresAt");
    assert_eq!(ttl["Enabled"], true);
    let env = |args: &[&str]| {
        resource(HUB, "SchedulerFunction", args)["properties"]["Environment"]["Variables"].clone()
    };
    let vars = env(&["HistoryDays=30", "SummaryAt=fri 17:30"]);
    assert!(!vars["HISTORY_TABLE"].is_null(), "{vars}");
    assert_eq!(vars["HISTORY_DAYS"], "30");
    assert_eq!(vars["SUMMARY_AT"], "fri 17:30");
    // The history is written and read by the scheduler only; prices are only read.
    let stmts = statements(HUB, "SchedulerRole", &[]);
    let granting = |action: &str| -> Vec<String> {
        allows(&stmts)
            .filter(|s| actions(s).iter().any(|a| a == action))
            .map(|s| sid(s).to_string())
            .collect()
    };
    assert_eq!(granting("dynamodb:BatchWriteItem"), ["WriteHistory"]);
    assert_eq!(granting("dynamodb:Query"), ["ReadHistory"]);
    assert_eq!(granting("pricing:GetProducts"), ["ReadPrices"]);
    // The weekly summary's Fargate task sizes and EBS volumes, in the hub and spokes.
    assert_eq!(
        granting("ecs:DescribeTaskDefinition"),
        ["DescribeTasksAndVolumes"]
    );
    assert_eq!(granting("ec2:DescribeVolumes"), ["DescribeTasksAndVolumes"]);
    let spoke = statements(SPOKE, "SpokeRole", &[HUB_ROLE]);
    assert!(
        allows(&spoke).any(|s| sid(s) == "DescribeTasksAndVolumes"
            && actions(s) == ["ecs:DescribeTaskDefinition", "ec2:DescribeVolumes"]),
        "{spoke:?}"
    );
    let bot = statements(HUB, "BotRole", &EVERYTHING_ON);
    assert!(
        allows(&bot).all(|s| !actions(s)
            .iter()
            .any(|a| a == "dynamodb:BatchWriteItem" || a == "pricing:GetProducts")),
        "the bot neither writes the history nor reads prices"
    );
    // The dashboard is valid JSON once resolved, and shows the savings.
    let body = resource(HUB, "Dashboard", &["CreateDashboard=true"])["properties"]["DashboardBody"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    let parsed: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let text = parsed.to_string();
    for metric in [
        "HoursSaved",
        "MoneySaved",
        "ChainUpSeconds",
        "Actions",
        "ReadyByLateSeconds",
        "RunningResources",
    ] {
        assert!(text.contains(metric), "{metric} missing from the dashboard");
    }
}
