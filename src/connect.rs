//! The adapters of one deployment, built once per process from its [`Config`]: the
//! SDK configuration, the accounts and Regions to schedule, the tables, the chat
//! channels, the wake-ups and the shards. The Lambda binary and `schedctl` both
//! start here, so they act on the same fleet and tables in the same way.

use aws_config::SdkConfig;

use crate::clock::Clock;
use crate::cloud::aws::discovery::{self, DiscoveryError};
use crate::cloud::aws::sdk_config;
use crate::cloud::aws::targets::AwsTargets;
use crate::config::Config;
use crate::handoff::LambdaHandoff;
use crate::notify::deliver;
use crate::outlets::{EventBus, MetricSink, Outlets};
use crate::run::{Runner, Shards};
use crate::store::dynamo::DynamoStore;
use crate::wakeup::Wakeups;

/// The SDK configuration of this process (credentials, Region, `AWS_ENDPOINT_URL`),
/// with the time limits and retries every client of this crate uses.
pub async fn sdk() -> SdkConfig {
    sdk_config(aws_config::defaults(aws_config::BehaviorVersion::latest())).await
}

impl<K: Clock> Runner<AwsTargets, DynamoStore, K> {
    /// The runner of the deployment `config` describes, on `clock`: its targets
    /// (this account is found out once with STS when other targets are configured),
    /// its tables, its chat channels (their URLs fetched), its wake-ups and, with
    /// `SHARDS` above 1, this very function to hand each shard to.
    ///
    /// Fails only when the targets cannot be found (a stored list or Organizations
    /// that cannot be read): scheduling the targets that happened to be found would
    /// leave the others unseen.
    pub async fn connect(
        sdk: &SdkConfig,
        config: &Config,
        clock: K,
    ) -> Result<Self, DiscoveryError> {
        let wakeups = match &config.wakeup {
            Some(w) => Wakeups::scheduler(sdk, w.group.clone(), w.target.clone(), w.role.clone()),
            None => Wakeups::Off,
        };
        let shards = Shards {
            count: config.shards,
            invoke: match &config.function_name {
                Some(name) if config.shards > 1 => Some(LambdaHandoff::new(sdk, name.clone())),
                _ => None,
            },
        };
        Ok(Runner {
            cloud: targets(sdk, config).await?,
            store: store(sdk, config),
            clock,
            config: config.run.clone(),
            notifier: deliver::connect(sdk, &config.chat, config.function_name.clone())
                .await
                .with_outlets(outlets(sdk, config)),
            wakeups,
            shards,
        })
    }
}

/// The schedule tables, and the history table when one is kept.
fn store(sdk: &SdkConfig, config: &Config) -> DynamoStore {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.tables.clone())
        .with_absent(config.absent);
    match &config.history {
        Some(history) => store.with_history(history.clone()),
        None => store,
    }
}

/// Metric lines into the function's log (in Lambda, unless `METRICS=off`), events
/// to `EVENT_BUS`, and the weekly summary when a history is kept.
fn outlets(sdk: &SdkConfig, config: &Config) -> Outlets {
    Outlets {
        metrics: if config.metrics && config.function_name.is_some() {
            MetricSink::Stdout
        } else {
            MetricSink::Off
        },
        events: match &config.event_bus {
            Some(bus) => EventBus::aws(sdk, bus.clone()),
            None => EventBus::Off,
        },
        // The weekly summary reads the history, so there is none without one.
        summary: config.history.as_ref().and(config.summary),
        prices: config
            .history
            .as_ref()
            .map(|_| crate::pricing::PriceList::new(sdk)),
        home_region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
    }
}

/// The accounts and Regions to schedule: `TARGETS`, the stored list and
/// Organizations discovery. With targets configured, a resource's id names its
/// account and Region unless it is the function's own Region; this account is found
/// out once with STS.
async fn targets(sdk: &SdkConfig, config: &Config) -> Result<AwsTargets, DiscoveryError> {
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
