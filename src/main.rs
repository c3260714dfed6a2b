//! The Lambda function. Built with `cargo lambda build`; run locally with
//! `instance-scheduler invoke '{"action":"run"}'`, which calls the same handler once
//! and prints its answer.

use instance_scheduler::cloud::aws::AwsCloud;
use instance_scheduler::lambda::{config_from_env, handle, notifier_from_env};
use instance_scheduler::run::{Runner, SystemClock};
use instance_scheduler::store::dynamo::{DynamoStore, Tables};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let local = std::env::args().nth(1).as_deref() == Some("invoke");
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .without_time();
    if local {
        subscriber.with_writer(std::io::stderr).init();
    } else {
        subscriber.json().flatten_event(true).init();
    }

    let config = config_from_env().map_err(|e| format!("configuration: {e}"))?;
    let sdk = aws_config::load_from_env().await;
    let notifier = notifier_from_env(&sdk)
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let bot = instance_scheduler::chatbot::config_from_env(&sdk)
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let runner = Runner {
        cloud: AwsCloud::new(&sdk),
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::from_env()),
        clock: SystemClock,
        config,
        notifier,
        bot,
    };

    if local {
        let payload = std::env::args()
            .nth(2)
            .unwrap_or_else(|| r#"{"action":"run"}"#.into());
        let payload: Value = serde_json::from_str(&payload).map_err(|e| format!("payload: {e}"))?;
        let answer = handle(&runner, payload).await?;
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let runner = &runner;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(runner, event.payload).await
    }))
    .await
}
