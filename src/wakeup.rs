//! One-time wake-ups: when the plan says to look again before the next regular tick
//! (a start due at 09:16:45, a warning, a group expected up), the function asks
//! EventBridge Scheduler to invoke it then. One schedule, updated in place, in the
//! stack's own schedule group.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::cloud::aws::error_text;

/// Where wake-ups go.
#[derive(Debug, Clone, Default)]
pub enum Wakeups {
    /// Nowhere: the regular tick (and state-change events) only.
    #[default]
    Off,
    /// EventBridge Scheduler.
    Scheduler(SchedulerWakeups),
    /// Kept in memory, for the simulator and tests.
    Recorded(Arc<Mutex<Vec<DateTime<Utc>>>>),
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

    /// A recorder, and a handle to read what it recorded.
    pub fn recorder() -> (Wakeups, Arc<Mutex<Vec<DateTime<Utc>>>>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        (Wakeups::Recorded(log.clone()), log)
    }

    /// Whether wake-ups go anywhere.
    pub fn enabled(&self) -> bool {
        !matches!(self, Wakeups::Off)
    }

    /// Asks to be invoked at `at` (whole seconds, UTC) with `input`; `name` tells
    /// apart the wake-ups of runs that share a tick (shards), each kept in place.
    pub async fn set(&self, name: &str, at: DateTime<Utc>, input: &str) -> Result<(), String> {
        match self {
            Wakeups::Off => Ok(()),
            Wakeups::Recorded(log) => {
                log.lock().unwrap_or_else(|p| p.into_inner()).push(at);
                Ok(())
            }
            Wakeups::Scheduler(s) => s.set(name, at, input).await,
        }
    }
}

impl SchedulerWakeups {
    async fn set(&self, name: &str, at: DateTime<Utc>, input: &str) -> Result<(), String> {
        use aws_sdk_scheduler::types::{
            ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState,
            Target,
        };
        let expression = format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"));
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| e.to_string())?;
        let target = Target::builder()
            .arn(&self.target)
            .role_arn(&self.role)
            .input(input)
            .build()
            .map_err(|e| e.to_string())?;
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
                    .map_err(|e| format!("cannot set a wake-up: {}", error_text(&e)))
            }
            Err(e) => Err(format!("cannot set a wake-up: {}", error_text(&e))),
        }
    }
}
