//! The scheduler function's handler: a payload parsed into an [`ops::Request`],
//! applied by [`ops::apply`], answered as JSON. Nothing else.
//!
//! ```json
//! {"action":"run"}
//! {"action":"force-start","schedule":"Development"}
//! {"action":"force-stop","schedule":"Development"}
//! {"action":"extend","schedule":"Development","until":"23:30"}
//! {"action":"status","schedule":"Development"}
//! {"action":"plan","at":"2026-12-21T09:30:00+09:00"}
//! ```
//!
//! An EventBridge event is a run (the tick), or, for a state change of a resource,
//! a wake-up of the chains waiting for it. `{"action":"run","now":…}` is a preview
//! of a run at that instant: it acts on nothing and records nothing, so a replay can
//! never move the scheduler's idea of time.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::clock::Clock;
use crate::cloud::Cloud;
pub use crate::invocation::{Command, Invocation, Shard};
pub use crate::ops::HandlerError;
use crate::ops::{self, Request};
use crate::run::Runner;
use crate::store::Store;

/// Handles one invocation of the scheduler function; the answer is the operation's
/// value as JSON. The bot has its own function ([`crate::chatbot::handle`]): a
/// Function URL request here is refused.
pub async fn handle<C: Cloud, S: Store, K: Clock>(
    runner: &Runner<C, S, K>,
    payload: Value,
) -> Result<Value, HandlerError> {
    let request = match Invocation::parse(payload)? {
        Invocation::FunctionUrl(_) => {
            return Err(HandlerError::BadPayload(
                "this is the scheduler function; chat commands go to the bot's function".into(),
            ));
        }
        Invocation::Event(event) => request_of(&event),
        Invocation::Command(command) => Request::try_from(command)?,
    };
    Ok(ops::apply(runner, request).await?.json())
}

/// The request an EventBridge event makes: a wake-up for a state change of the
/// resources it names, a regular run for the tick and anything else.
pub fn request_of(event: &EventBridgeEvent<Value>) -> Request {
    event_subjects(event).map_or(Request::Run, Request::Wake)
}

/// The resources a state-change event is about (EC2 instance, RDS instance or
/// cluster, Auto Scaling group, ECS service), as the observer names them, or `None`
/// for the tick and any other event, which call for a full run.
pub fn event_subjects(event: &EventBridgeEvent<Value>) -> Option<Vec<String>> {
    let detail = &event.detail;
    let text = |key: &str| detail.get(key).and_then(Value::as_str).map(str::to_string);
    let id = match event.detail_type.as_str() {
        "EC2 Instance State-change Notification" => text("instance-id"),
        "RDS DB Instance Event" | "RDS DB Cluster Event" => text("SourceArn")
            .as_deref()
            .and_then(rds_name)
            .or_else(|| text("SourceIdentifier").map(|id| rds_identifier(&id))),
        "EC2 Instance Launch Successful" | "EC2 Instance Terminate Successful" => {
            text("AutoScalingGroupName")
        }
        "ECS Service Action" => event
            .resources
            .as_ref()
            .and_then(|r| r.first())
            .and_then(|arn| ecs_service(arn, text("clusterArn").as_deref())),
        _ => return None,
    };
    id.map(|id| vec![id])
}

/// The DB instance or cluster identifier of an RDS ARN
/// (`arn:aws:rds:us-east-1:123456789012:db:my-db-instance`,
/// `…:cluster:my-db-cluster`).
fn rds_name(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(7, ':');
    let (kind, name) = (parts.nth(5)?, parts.next()?);
    matches!(kind, "db" | "cluster").then(|| name.to_string())
}

/// A `SourceIdentifier` as the observer names the resource: AWS's documented events
/// carry `rds:my-db-instance` and `rds:my-db-cluster`, and some a `db:` or
/// `cluster:` form; the identifier itself never holds a colon.
fn rds_identifier(id: &str) -> String {
    id.rsplit(':').next().unwrap_or(id).to_string()
}

/// An ECS service as the observer names it, `cluster/service`: the last two parts
/// of its ARN (`…:service/cluster/service`), or, for an ARN of the older form
/// without the cluster (`…:service/service`), the cluster of `clusterArn`.
fn ecs_service(arn: &str, cluster_arn: Option<&str>) -> Option<String> {
    let path = arn.rsplit_once(":service/")?.1;
    match path.split_once('/') {
        Some((cluster, service)) => Some(format!("{cluster}/{service}")),
        None => {
            let cluster = cluster_arn?.rsplit('/').next()?;
            Some(format!("{cluster}/{path}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(v: Value) -> Result<Command, String> {
        match Invocation::parse(v) {
            Ok(Invocation::Command(c)) => Ok(c),
            Ok(other) => Err(format!("not a command: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn payloads_parse_or_say_what_is_wrong() {
        assert_eq!(
            command(json!({"action":"force-start","schedule":"Dev"})).unwrap(),
            Command::ForceStart {
                schedule: "Dev".into(),
            }
        );
        let scheduled = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-30T00:30:00Z", "region": "ap-northeast-2",
            "resources": ["arn:aws:events:ap-northeast-2:123456789012:rule/tick"], "detail": {}
        });
        assert!(matches!(
            Invocation::parse(scheduled).unwrap(),
            Invocation::Event(_)
        ));
        let url = json!({
            "version": "2.0", "rawPath": "/", "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/"}, "timeEpoch": 1},
            "body": "{}", "isBase64Encoded": false
        });
        assert!(matches!(
            Invocation::parse(url).unwrap(),
            Invocation::FunctionUrl(_)
        ));
        for (bad, says) in [
            (json!({"action":"reboot"}), "actions are run, force-start"),
            (json!({"action":"force-start"}), "missing field `schedule`"),
            (json!({"action":"plan","at":"tomorrow"}), "bad payload"),
            (json!({"hello":1}), "expected an EventBridge event"),
            (json!([1, 2]), "expected an EventBridge event"),
            (json!({"action":"run","dry":true}), "unknown field `dry`"),
            (
                json!({"action":"force-start","schedule":"Dev","now":"2026-12-21T09:30:00+09:00"}),
                "unknown field `now`",
            ),
        ] {
            let e = command(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    /// AWS's documented sample events, one per kind of state change the stack's
    /// rules send: each names the resource as the observer names it.
    #[test]
    fn the_documented_sample_events_name_their_resources_as_the_observer_does() {
        let samples = [
            (
                // EC2 Instance State-change Notification.
                json!({
                    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
                    "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
                    "account": "123456789012", "time": "2021-11-11T21:29:54Z", "region": "us-east-1",
                    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
                    "detail": {"instance-id": "i-abcd1111", "state": "pending"}
                }),
                "i-abcd1111",
            ),
            (
                // RDS DB Instance Event: the SourceIdentifier carries "rds:".
                json!({
                    "version": "0", "id": "68f6e973-1a0c-d37b-f2f2-94a7f62ffd4e",
                    "detail-type": "RDS DB Instance Event", "source": "aws.rds",
                    "account": "123456789012", "time": "2018-09-27T22:36:43Z", "region": "us-east-1",
                    "resources": ["arn:aws:rds:us-east-1:123456789012:db:my-db-instance"],
                    "detail": {
                        "EventCategories": ["failover"], "SourceType": "DB_INSTANCE",
                        "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:my-db-instance",
                        "Date": "2018-09-27T22:36:43.292Z", "Message": "A Multi-AZ failover has completed.",
                        "SourceIdentifier": "rds:my-db-instance", "EventID": "RDS-EVENT-0049"
                    }
                }),
                "my-db-instance",
            ),
            (
                // RDS DB Cluster Event.
                json!({
                    "version": "0", "id": "844e2571-85d4-695f-b930-0153b71dcb42",
                    "detail-type": "RDS DB Cluster Event", "source": "aws.rds",
                    "account": "123456789012", "time": "2018-10-06T12:26:13Z", "region": "us-east-1",
                    "resources": ["arn:aws:rds:us-east-1:123456789012:cluster:my-db-cluster"],
                    "detail": {
                        "EventCategories": ["notification"], "SourceType": "CLUSTER",
                        "SourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:my-db-cluster",
                        "Date": "2018-10-06T12:26:13.882Z", "Message": "Database cluster has been patched",
                        "SourceIdentifier": "rds:my-db-cluster", "EventID": "RDS-EVENT-0173"
                    }
                }),
                "my-db-cluster",
            ),
            (
                // EC2 Instance Launch Successful (Auto Scaling); the sample's
                // placeholder time is filled in, as every real event has one.
                json!({
                    "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
                    "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
                    "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
                    "resources": [
                        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/sampleLuanchSucASG",
                        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
                    ],
                    "detail": {
                        "StatusCode": "InProgress", "AutoScalingGroupName": "sampleLuanchSucASG",
                        "ActivityId": "9cabb81f-42de-417d-8aa7-ce16bf026590",
                        "Details": {"Availability Zone": "us-east-1b", "Subnet ID": "subnet-95bfcebe"},
                        "RequestId": "9cabb81f-42de-417d-8aa7-ce16bf026590",
                        "EndTime": "2015-11-11T21:31:47.208Z", "EC2InstanceId": "i-b188560f",
                        "StartTime": "2015-11-11T21:31:13.671Z", "Cause": "description-text"
                    }
                }),
                "sampleLuanchSucASG",
            ),
            (
                // EC2 Instance Terminate Successful (Auto Scaling).
                json!({
                    "version": "0", "id": "12345678-1234-1234-1234-123456789012",
                    "detail-type": "EC2 Instance Terminate Successful", "source": "aws.autoscaling",
                    "account": "123456789012", "time": "2026-11-30T09:00:00Z", "region": "us-west-2",
                    "resources": ["auto-scaling-group-arn", "instance-arn"],
                    "detail": {
                        "StatusCode": "InProgress", "Description": "Terminating EC2 instance: i-12345678",
                        "AutoScalingGroupName": "my-auto-scaling-group",
                        "ActivityId": "87654321-4321-4321-4321-210987654321",
                        "Details": {"Availability Zone": "us-west-2b", "Subnet ID": "subnet-12345678"},
                        "RequestId": "12345678-1234-1234-1234-123456789012", "StatusMessage": "",
                        "EndTime": "2026-11-30T09:00:00Z", "EC2InstanceId": "i-1234567890abcdef0",
                        "StartTime": "2026-11-30T08:59:00Z", "Cause": "description-text"
                    }
                }),
                "my-auto-scaling-group",
            ),
            (
                // ECS Service Action (service steady state).
                json!({
                    "version": "0", "id": "af3c496d-f4a8-65d1-70f4-a69d52e9b584",
                    "detail-type": "ECS Service Action", "source": "aws.ecs",
                    "account": "111122223333", "time": "2019-11-19T19:27:22Z", "region": "us-west-2",
                    "resources": ["arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"],
                    "detail": {
                        "eventType": "INFO", "eventName": "SERVICE_STEADY_STATE",
                        "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
                        "createdAt": "2019-11-19T19:27:22.695Z"
                    }
                }),
                "default/servicetest",
            ),
        ];
        for (sample, id) in samples {
            let Ok(Invocation::Event(event)) = Invocation::parse(sample.clone()) else {
                panic!("not an event: {sample}");
            };
            assert_eq!(
                request_of(&event),
                Request::Wake(vec![id.to_string()]),
                "{sample}"
            );
        }
    }

    #[test]
    fn identifiers_in_every_form_aws_writes_them() {
        assert_eq!(
            rds_name("arn:aws:rds:us-east-1:123456789012:db:my-db-instance").as_deref(),
            Some("my-db-instance")
        );
        assert_eq!(
            rds_name("arn:aws:rds:us-east-1:123456789012:pg:params"),
            None
        );
        for id in ["rds:my-db", "my-db", "cluster:my-db", "db:my-db"] {
            assert_eq!(rds_identifier(id), "my-db");
        }
        // An ECS service ARN of the older form has no cluster: clusterArn gives it.
        assert_eq!(
            ecs_service(
                "arn:aws:ecs:us-west-2:111122223333:service/servicetest",
                Some("arn:aws:ecs:us-west-2:111122223333:cluster/default")
            )
            .as_deref(),
            Some("default/servicetest")
        );
        assert_eq!(
            ecs_service(
                "arn:aws:ecs:us-west-2:111122223333:service/servicetest",
                None
            ),
            None
        );
    }
}
