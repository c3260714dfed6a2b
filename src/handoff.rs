//! How one invocation hands a command to the scheduler function without waiting:
//! the schedule bot hands over work that takes longer than a chat waits for (a
//! force-start follows a dependency chain for minutes), and a sharded tick hands each
//! shard its run. The scheduler's run tells the chat how it went. The payload is the
//! serialised [`Command`], which the scheduler reads back as it reads any.

use crate::cloud::aws::error_text;
pub use crate::invocation::{Command, Shard};

/// Hands a command to the scheduler without waiting for it.
#[allow(async_fn_in_trait)]
pub trait Handoff {
    /// Queues `command` for the scheduler; `Err` says why it could not be queued.
    async fn hand_off(&self, command: &Command) -> Result<(), String>;
}

/// Why a command could not be handed to the scheduler function.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    /// No function to hand it to is configured.
    #[error("cannot hand the command to the scheduler: no scheduler function is configured")]
    NoFunction,
    /// Lambda refused the invocation.
    #[error("cannot hand the command to the scheduler: {0}")]
    Invoke(String),
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

    /// Queues `command` for the scheduler function.
    pub async fn send(&self, command: &Command) -> Result<(), HandoffError> {
        if self.function.is_empty() {
            return Err(HandoffError::NoFunction);
        }
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(command.payload()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| HandoffError::Invoke(error_text(&e)))
    }
}

impl Handoff for LambdaHandoff {
    async fn hand_off(&self, command: &Command) -> Result<(), String> {
        self.send(command).await.map_err(|e| e.to_string())
    }
}
