//! One-time wake-ups: when the plan says to look again before the next regular tick
//! (a start due at 09:16:45, a warning, a group expected up), the function asks
//! EventBridge Scheduler to invoke it then. One schedule, updated in place, in the
//! stack's own schedule group. The wake-up's input is the serialised
//! [`crate::invocation::Command`] of the run to make.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::cloud::aws::error_text;

/// Why a wake-up could not be set; the regular tick still comes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WakeupError {
    /// The request could not be built (an empty group, role or target).
    #[error("cannot set a wake-up: {0}")]
    Invalid(String),
    /// EventBridge Scheduler refused it.
    #[error("cannot set a wake-up: {0}")]
    Refused(String),
}

/// Where wake-ups go.
#[derive(Debug, Clone, Default)]
pub enum Wakeups {
    /// Nowhere: the regular tick (and state-change events) only.
    #[default]
    Off,
    /// EventBridge Scheduler.
    Scheduler(SchedulerWakeups),
    /// Asked for, and honoured by whatever drives the runs on a virtual clock (the
    /// simulator), which reads each [`RunReport::wakeup`](crate::run::RunReport).
    Simulated,
}

/// EventBridge Scheduler: the group, the function to invoke and the role to do it.
#[derive(Debug, Clone)]
pub struct SchedulerWakeups {
    client: aws_sdk_scheduler::Client,
    group: String,
    target: String,
    role: String,
}

/// The schedule a run that plans every schedule keeps in the group.
pub const NEXT_LOOK: &str = "next-look";

impl Wakeups {
    /// EventBridge Scheduler wake-ups in `group`, invoking `target` as `role`.
    pub fn scheduler(
        sdk: &aws_config::SdkConfig,
        group: String,
        target: String,
        role: String,
    ) -> Wakeups {
        Wakeups::Scheduler(SchedulerWakeups {
            client: aws_sdk_scheduler::Client::new(sdk),
            group,
            target,
            role,
        })
    }

    /// [`Wakeups::Simulated`], with a log that stays empty: what `simulate.rs`
    /// still asks for until it uses [`Wakeups::Simulated`] itself (it reads
    /// [`RunReport::wakeup`](crate::run::RunReport), never the log).
    pub fn recorder() -> (Wakeups, Arc<Mutex<Vec<DateTime<Utc>>>>) {
        (Wakeups::Simulated, Arc::default())
    }

    /// Whether wake-ups go anywhere.
    pub fn enabled(&self) -> bool {
        !matches!(self, Wakeups::Off)
    }

    /// Asks to be invoked at `at` (whole seconds, UTC) with `input`; `name` tells
    /// apart the wake-ups of runs that share a tick (shards), each kept in place.
    pub async fn set(&self, name: &str, at: DateTime<Utc>, input: &str) -> Result<(), WakeupError> {
        match self {
            Wakeups::Off | Wakeups::Simulated => Ok(()),
            Wakeups::Scheduler(s) => s.set(name, at, input).await,
        }
    }
}

impl SchedulerWakeups {
    async fn set(&self, name: &str, at: DateTime<Utc>, input: &str) -> Result<(), WakeupError> {
        use aws_sdk_scheduler::types::{
            ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState,
            Target,
        };
        let expression = format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"));
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| WakeupError::Invalid(e.to_string()))?;
        let target = Target::builder()
            .arn(&self.target)
            .role_arn(&self.role)
            .input(input)
            .build()
            .map_err(|e| WakeupError::Invalid(e.to_string()))?;
        let updated = self
            .client
            .update_schedule()
            .name(name)
            .group_name(&self.group)
            .schedule_expression(&expression)
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window.clone())
            .target(target.clone())
            .state(ScheduleState::Enabled)
            .action_after_completion(ActionAfterCompletion::None)
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_schedule()
                    .name(name)
                    .group_name(&self.group)
                    .schedule_expression(&expression)
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(window)
                    .target(target)
                    .state(ScheduleState::Enabled)
                    .action_after_completion(ActionAfterCompletion::None)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| WakeupError::Refused(error_text(&e)))
            }
            Err(e) => Err(WakeupError::Refused(error_text(&e))),
        }
    }
}
