//! The Lambda function. Built with `cargo lambda build`; run locally with
//! `instance-scheduler invoke [--at RFC3339] PAYLOAD`, which calls the same handler
//! once and prints its answer (`--at` runs it on a clock set to that instant, which
//! is how `make demo` drives a working day in a minute).

use chrono::DateTime;
use instance_scheduler::chatbot::BotConfig;
use instance_scheduler::clock::{Clock, SystemClock, VirtualClock};
use instance_scheduler::cloud::aws::{AwsCloud, sdk_config};
use instance_scheduler::config::Config;
use instance_scheduler::lambda::handle;
use instance_scheduler::notify::deliver::connect;
use instance_scheduler::run::Runner;
use instance_scheduler::store::dynamo::DynamoStore;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let local = args.first().map(String::as_str) == Some("invoke");
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

    let config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let sdk = sdk_config(aws_config::defaults(aws_config::BehaviorVersion::latest())).await;
    let notifier = connect(&sdk, &config.chat, config.function_name.clone()).await;
    let bot = BotConfig::connect(&sdk, &config.bot)
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let cloud = AwsCloud::new(&sdk);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.tables.clone());

    if local {
        let (at, payload) = match args.get(1).map(String::as_str) {
            Some("--at") => (args.get(2).cloned(), args.get(3).cloned()),
            _ => (None, args.get(1).cloned()),
        };
        let payload = payload.unwrap_or_else(|| r#"{"action":"run"}"#.into());
        let payload: Value = serde_json::from_str(&payload).map_err(|e| format!("payload: {e}"))?;
        let answer = match at {
            Some(at) => {
                let at = DateTime::parse_from_rfc3339(&at).map_err(|e| format!("--at: {e}"))?;
                let clock = VirtualClock::at(at.to_utc());
                invoke(cloud, store, clock, config, notifier, &bot, payload).await?
            }
            None => invoke(cloud, store, SystemClock, config, notifier, &bot, payload).await?,
        };
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let runner = Runner {
        cloud,
        store,
        clock: SystemClock,
        config: config.run,
        notifier,
    };
    let (runner, bot) = (&runner, &bot);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(runner, bot, event.payload).await
    }))
    .await
}

/// One local invocation on `clock`.
async fn invoke<K: Clock>(
    cloud: AwsCloud,
    store: DynamoStore,
    clock: K,
    config: Config,
    notifier: instance_scheduler::notify::deliver::Notifier,
    bot: &BotConfig,
    payload: Value,
) -> Result<Value, Error> {
    let runner = Runner {
        cloud,
        store,
        clock,
        config: config.run,
        notifier,
    };
    Ok(handle(&runner, bot, payload).await?)
}
