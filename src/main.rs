//! The Lambda function. Built with `cargo lambda build`; run locally with
//! `instance-scheduler invoke [--at RFC3339] PAYLOAD`, which calls the same handler
//! once and prints its answer (`--at` runs it on a clock set to that instant, which
//! is how `make demo` drives a working day in a minute).

use chrono::DateTime;
use instance_scheduler::chatbot::{self, BotConfig};
use instance_scheduler::clock::{Clock, SystemClock, VirtualClock};
use instance_scheduler::cloud::aws::targets::AwsTargets;
use instance_scheduler::config::{Config, Role};
use instance_scheduler::connect;
use instance_scheduler::handoff::LambdaHandoff;
use instance_scheduler::invocation::{Command, Invocation};
use instance_scheduler::lambda::{event_subjects, handle};
use instance_scheduler::run::{Runner, Shards};
use instance_scheduler::store::dynamo::DynamoStore;
use instance_scheduler::wakeup::Wakeups;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

/// mimalloc rather than glibc's allocator: a pass allocates and frees many small
/// strings and maps, and malloc and free were a fifth of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        // Each line carries its invocation's span (`"span": {"request_id": …}`), so
        // one run's lines can be found among overlapping runs in CloudWatch Logs.
        subscriber
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    }

    let mut config = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    // A local invocation prints its answer on standard output: no metric lines there.
    config.metrics &= !local;
    let sdk = connect::sdk().await;
    let bot = BotConfig::connect(&sdk, &config.bot)
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    // Where the bot hands force-starts and force-stops (the configuration makes
    // sure the bot has one).
    let handoff = LambdaHandoff::new(&sdk, config.scheduler_function.clone().unwrap_or_default());
    let local_call = Local {
        role: config.role,
        bot: &bot,
        handoff: &handoff,
    };

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
                let mut runner = Runner::connect(&sdk, &config, VirtualClock::at(at.to_utc()))
                    .await
                    .map_err(|e| format!("configuration: {e}"))?;
                // A local run on a chosen clock sets no real wake-ups and starts no
                // shards: it answers here, on its own clock.
                runner.wakeups = Wakeups::Off;
                runner.shards = Shards::default();
                local_call.invoke(&runner, payload).await?
            }
            None => {
                let runner = Runner::connect(&sdk, &config, SystemClock)
                    .await
                    .map_err(|e| format!("configuration: {e}"))?;
                local_call.invoke(&runner, payload).await?
            }
        };
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let runner = &Runner::connect(&sdk, &config, SystemClock)
        .await
        .map_err(|e| format!("configuration: {e}"))?;
    let (bot, handoff) = (&bot, &handoff);
    match config.role {
        Role::Scheduler => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let span = invocation_span("scheduler", &event.context.request_id);
                async move {
                    let scheduled = scheduled_run(&event.payload);
                    let answer = handle(runner, event.payload).await;
                    if scheduled && answer.is_ok() {
                        heartbeat();
                    }
                    answer
                }
                .instrument(span)
            }))
            .await
        }
        Role::Bot => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let span = invocation_span("bot", &event.context.request_id);
                chatbot::handle(runner, bot, handoff, event.payload).instrument(span)
            }))
            .await
        }
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
        runner: &Runner<AwsTargets, DynamoStore, K>,
        payload: Value,
    ) -> Result<Value, Error> {
        Ok(match self.role {
            Role::Scheduler => {
                let scheduled = scheduled_run(&payload);
                let answer = handle(runner, payload).await?;
                if scheduled {
                    heartbeat();
                }
                answer
            }
            Role::Bot => serde_json::to_value(
                chatbot::handle(runner, self.bot, self.handoff, payload).await?,
            )?,
        })
    }
}

/// The span every line of one invocation is logged in: the function's role and
/// Lambda's request id.
fn invocation_span(role: &'static str, request_id: &str) -> tracing::Span {
    tracing::info_span!("invocation", role, request_id = %request_id)
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
