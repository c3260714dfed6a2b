//! The Lambda function. Built with `cargo lambda build`; run locally with
//! `instance-scheduler invoke [--at RFC3339] PAYLOAD`, which calls the same handler
//! once and prints its answer (`--at` runs it on a clock set to that instant, which
//! is how `make demo` drives a working day in a minute).

use chrono::DateTime;
use instance_scheduler::chatbot::{self, BotConfig};
use instance_scheduler::clock::{Clock, SystemClock, VirtualClock};
use instance_scheduler::cloud::aws::discovery;
use instance_scheduler::cloud::aws::sdk_config;
use instance_scheduler::cloud::aws::targets::AwsTargets;
use instance_scheduler::config::{Config, Role};
use instance_scheduler::handoff::Command;
use instance_scheduler::handoff::LambdaHandoff;
use instance_scheduler::lambda::{Invocation, event_subjects, handle};
use instance_scheduler::notify::deliver::{Notifier, connect};
use instance_scheduler::run::{Runner, Shards};
use instance_scheduler::store::dynamo::DynamoStore;
use instance_scheduler::wakeup::Wakeups;
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
    let cloud = targets(&sdk, &config)
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.tables.clone())
        .with_absent(config.absent);

    let handoff = match (config.role, &config.scheduler_function) {
        (Role::Bot, None) => {
            return Err("configuration: FUNCTION_ROLE=bot needs SCHEDULER_FUNCTION_NAME".into());
        }
        (_, name) => LambdaHandoff::new(&sdk, name.clone().unwrap_or_default()),
    };
    let role = config.role;

    if local {
        let (at, payload) = match args.get(1).map(String::as_str) {
            Some("--at") => (args.get(2).cloned(), args.get(3).cloned()),
            _ => (None, args.get(1).cloned()),
        };
        let payload = payload.unwrap_or_else(|| r#"{"action":"run"}"#.into());
        let payload: Value = serde_json::from_str(&payload).map_err(|e| format!("payload: {e}"))?;
        let local = Local {
            role,
            bot: &bot,
            handoff: &handoff,
        };
        let answer = match at {
            Some(at) => {
                let at = DateTime::parse_from_rfc3339(&at).map_err(|e| format!("--at: {e}"))?;
                let clock = VirtualClock::at(at.to_utc());
                // A local run on a chosen clock sets no real wake-ups.
                local
                    .invoke(runner(None, cloud, store, clock, config, notifier), payload)
                    .await?
            }
            None => {
                local
                    .invoke(
                        runner(Some(&sdk), cloud, store, SystemClock, config, notifier),
                        payload,
                    )
                    .await?
            }
        };
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let runner = &runner(Some(&sdk), cloud, store, SystemClock, config, notifier);
    let (bot, handoff) = (&bot, &handoff);
    match role {
        Role::Scheduler => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                let scheduled = scheduled_run(&event.payload);
                let answer = handle(runner, event.payload).await;
                if scheduled && answer.is_ok() {
                    heartbeat();
                }
                answer
            }))
            .await
        }
        Role::Bot => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                chatbot::handle(runner, bot, handoff, event.payload).await
            }))
            .await
        }
    }
}

fn runner<K: Clock>(
    sdk: Option<&aws_config::SdkConfig>,
    cloud: AwsTargets,
    store: DynamoStore,
    clock: K,
    config: Config,
    notifier: Notifier,
) -> Runner<AwsTargets, DynamoStore, K> {
    let wakeups = match (&config.wakeup, sdk) {
        (Some(w), Some(sdk)) => {
            Wakeups::scheduler(sdk, w.group.clone(), w.target.clone(), w.role.clone())
        }
        _ => Wakeups::Off,
    };
    // A sharded tick invokes this very function once per shard.
    let shards = Shards {
        count: config.shards,
        invoke: match (sdk, &config.function_name) {
            (Some(sdk), Some(name)) if config.shards > 1 => {
                Some(LambdaHandoff::new(sdk, name.clone()))
            }
            _ => None,
        },
    };
    Runner {
        cloud,
        store,
        clock,
        config: config.run,
        notifier,
        wakeups,
        shards,
    }
}

/// One local invocation, answered as the function of `role` would.
struct Local<'a> {
    role: Role,
    bot: &'a BotConfig,
    handoff: &'a LambdaHandoff,
}

impl Local<'_> {
    async fn invoke<K: Clock>(
        &self,
        runner: Runner<AwsTargets, DynamoStore, K>,
        payload: Value,
    ) -> Result<Value, Error> {
        Ok(match self.role {
            Role::Scheduler => {
                let scheduled = scheduled_run(&payload);
                let answer = handle(&runner, payload).await?;
                if scheduled {
                    heartbeat();
                }
                answer
            }
            Role::Bot => serde_json::to_value(
                chatbot::handle(&runner, self.bot, self.handoff, payload).await?,
            )?,
        })
    }
}

/// Whether an invocation is a scheduled run (the tick, or a shard of it), whose
/// completion the heartbeat counts.
fn scheduled_run(payload: &Value) -> bool {
    match Invocation::parse(payload.clone()) {
        Ok(Invocation::Event(event)) => event_subjects(&event).is_none(),
        Ok(Invocation::Command(Command::Run { now: None, .. })) => true,
        _ => false,
    }
}

/// The line the template's heartbeat alarm counts (`{ $.action = "run_completed" }`):
/// a scheduled run completed. Two ticks without one raise the alarm.
fn heartbeat() {
    tracing::info!(action = "run_completed", "a scheduled run completed");
}

/// The accounts and Regions to schedule: `TARGETS`, the stored list and
/// Organizations discovery. With targets configured, a resource's id names its
/// account and Region unless it is the function's own Region; this account is found
/// out once with STS.
async fn targets(
    sdk: &aws_config::SdkConfig,
    config: &Config,
) -> Result<AwsTargets, discovery::DiscoveryError> {
    if config.targets.is_empty() && config.discovery.is_empty() {
        return Ok(AwsTargets::own(sdk));
    }
    let own = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|who| who.account().map(str::to_string));
    let specs = discovery::targets(
        sdk,
        &config.discovery,
        config.targets.clone(),
        own.as_deref(),
    )
    .await?;
    tracing::info!(action = "targets", count = specs.len(), "targets found");
    Ok(AwsTargets::connect(sdk, &specs, config.external_id.as_deref(), own.as_deref()).await)
}
