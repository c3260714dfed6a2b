//! Where the schedule bot hands work that takes longer than a chat waits for (a
//! force-start follows a dependency chain for minutes): the scheduler function,
//! invoked asynchronously. The bot answers at once; the scheduler's run tells the
//! chat how it went.

use crate::cloud::aws::error_text;
use crate::lambda::Command;

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
