//! The commands the scheduler function takes, and how one invocation hands a
//! command to it without waiting: the schedule bot hands over work that takes longer
//! than a chat waits for (a force-start follows a dependency chain for minutes), and
//! a sharded tick hands each shard its run. The scheduler's run tells the chat how
//! it went.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::cloud::aws::error_text;

/// A manual invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// A normal run; with `now`, a preview of a run at that instant.
    Run {
        /// Preview a run at this instant instead (acts on nothing, records nothing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<DateTime<FixedOffset>>,
        /// Run one shard of the schedules (`{"index":0,"count":4}`): what a sharded
        /// tick hands each invocation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard: Option<Shard>,
    },
    /// Start the schedule now, in dependency order.
    ForceStart {
        /// The schedule.
        schedule: String,
    },
    /// Stop the schedule now, in reverse dependency order.
    ForceStop {
        /// The schedule.
        schedule: String,
    },
    /// Today's stop becomes `until` (`HH:MM`, the schedule's zone).
    Extend {
        /// The schedule.
        schedule: String,
        /// The new stop time.
        until: String,
    },
    /// The schedule's groups, instances and states, and today's times.
    Status {
        /// The schedule.
        schedule: String,
    },
    /// What a run at `at` would do; changes nothing.
    Plan {
        /// The instant.
        at: DateTime<FixedOffset>,
    },
}

/// One shard of a tick's schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many there are.
    pub count: u32,
}

/// Hands a command to the scheduler without waiting for it.
#[allow(async_fn_in_trait)]
pub trait Handoff {
    /// Queues `command` for the scheduler; `Err` says why it could not be queued.
    async fn hand_off(&self, command: &Command) -> Result<(), String>;
}

/// The scheduler function, invoked with `InvocationType=Event`: Lambda queues the
/// invocation and answers at once.
#[derive(Debug, Clone)]
pub struct LambdaHandoff {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaHandoff {
    /// Hands commands to `function` (a name or ARN).
    pub fn new(sdk: &aws_config::SdkConfig, function: impl Into<String>) -> LambdaHandoff {
        LambdaHandoff {
            client: aws_sdk_lambda::Client::new(sdk),
            function: function.into(),
        }
    }
}

impl Handoff for LambdaHandoff {
    async fn hand_off(&self, command: &Command) -> Result<(), String> {
        let payload = serde_json::to_vec(command).map_err(|e| e.to_string())?;
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "cannot hand the command to the scheduler: {}",
                    error_text(&e)
                )
            })
    }
}
