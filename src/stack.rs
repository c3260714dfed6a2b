//! A deployment found by its stack's name, so that operators act through it rather
//! than around it: the tables and the scheduler function from the stack's outputs,
//! the Region from the SDK's configuration, and the function's own settings (its
//! environment, as the stack set it) from Lambda.
//!
//! `schedctl --stack NAME` reads the tables named here, plans with the settings named
//! here (the deployment's tag allow-list, zone, targets), and hands the commands that
//! change anything to the function itself ([`Deployment::invoke`]), so that its IAM
//! role, tag guard and protection apply, never the operator's credentials.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cloud::aws::error_text;
use crate::config::Config;
use crate::handoff::Command;
use crate::store::dynamo::Tables;

/// What can go wrong finding a deployment or talking to its function.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// No stack of that name in the Region.
    #[error(
        "stack \"{stack}\" not found in {region}: {message} (is the Region right? --region or AWS_REGION)"
    )]
    NotFound {
        /// The stack's name.
        stack: String,
        /// The Region looked in.
        region: String,
        /// CloudFormation's answer.
        message: String,
    },
    /// The stack lacks an output the scheduler's template always has.
    #[error("stack \"{stack}\" has no output {output}: is it a stack of infra/template.yaml?")]
    MissingOutput {
        /// The stack's name.
        stack: String,
        /// The output's key.
        output: &'static str,
    },
    /// A request to AWS failed.
    #[error("{what}: {message}")]
    Service {
        /// What was being done.
        what: String,
        /// The service's error.
        message: String,
    },
    /// The function answered with an error.
    #[error("the function {function} answered with an error: {message}")]
    Function {
        /// The function.
        function: String,
        /// Its error, as it reported it.
        message: String,
    },
}

/// One deployment of the scheduler, as its stack describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The stack's name.
    pub stack: String,
    /// The Region it runs in.
    pub region: String,
    /// The scheduler function's name (output `SchedulerFunctionName`).
    pub function: String,
    /// Its tables (outputs `ScheduleTableName`, `GroupTableName`,
    /// `ExceptionTableName`, `StateTableName`).
    pub tables: Tables,
    /// The function's environment as the stack set it.
    pub environment: BTreeMap<String, String>,
}

impl Deployment {
    /// Finds stack `stack` in the SDK configuration's Region: its outputs, then its
    /// function's configuration.
    pub async fn find(sdk: &aws_config::SdkConfig, stack: &str) -> Result<Deployment, StackError> {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let described = aws_sdk_cloudformation::Client::new(sdk)
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| StackError::NotFound {
                stack: stack.to_string(),
                region: region.clone(),
                message: error_text(&e),
            })?;
        let found = described
            .stacks()
            .iter()
            .find(|s| s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE"))
            .ok_or_else(|| StackError::NotFound {
                stack: stack.to_string(),
                region: region.clone(),
                message: "no such stack".into(),
            })?;
        let outputs: BTreeMap<String, String> = found
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect();
        let output = |key: &'static str| {
            outputs
                .get(key)
                .cloned()
                .ok_or_else(|| StackError::MissingOutput {
                    stack: stack.to_string(),
                    output: key,
                })
        };
        let function = output("SchedulerFunctionName")?;
        let tables = Tables {
            schedules: output("ScheduleTableName")?,
            groups: output("GroupTableName")?,
            exceptions: output("ExceptionTableName")?,
            state: output("StateTableName")?,
        };
        let configuration = aws_sdk_lambda::Client::new(sdk)
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
            .map_err(|e| StackError::Service {
                what: format!("read the configuration of function {function}"),
                message: error_text(&e),
            })?;
        let environment = configuration
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(Deployment {
            stack: stack.to_string(),
            region,
            function,
            tables,
            environment,
        })
    }

    /// The deployment's settings: the function's environment read as the function
    /// reads it, with the stack's tables.
    pub fn config(&self) -> Result<Config, String> {
        let mut config = Config::from_vars(|k| self.environment.get(k).cloned())
            .map_err(|e| format!("the settings of function {}: {e}", self.function))?;
        config.tables = self.tables.clone();
        Ok(config)
    }

    /// Invokes the function with `command` and waits for its answer: the operation
    /// runs as the deployment, with its role and its guards.
    pub async fn invoke(
        &self,
        sdk: &aws_config::SdkConfig,
        command: &Command,
    ) -> Result<Value, StackError> {
        let payload = serde_json::to_vec(command).map_err(|e| StackError::Service {
            what: "encode the command".into(),
            message: e.to_string(),
        })?;
        let answer = aws_sdk_lambda::Client::new(sdk)
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| StackError::Service {
                what: format!("invoke function {}", self.function),
                message: error_text(&e),
            })?;
        let body = answer
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        if answer.function_error().is_some() {
            let message = value
                .get("errorMessage")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_string);
            return Err(StackError::Function {
                function: self.function.clone(),
                message,
            });
        }
        Ok(value)
    }
}

/// What the scheduler holds stopped or at zero: per schedule, its resources that are
/// down. Nothing starts them once the deployment is gone (`make destroy` lists them
/// first).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Held {
    /// Per schedule, the resources that are down.
    pub schedules: Vec<HeldSchedule>,
}

/// One schedule's resources that are down.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldSchedule {
    /// The schedule.
    pub schedule: String,
    /// Its resources stopped (or scaled to zero), or on their way down.
    pub resources: Vec<crate::ops::InstanceStatus>,
}

impl Held {
    /// Whether anything is held down.
    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty()
    }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return writeln!(f, "the scheduler holds nothing stopped or at zero");
        }
        for s in &self.schedules {
            writeln!(f, "{}: {} resource(s) down", s.schedule, s.resources.len())?;
            for r in &s.resources {
                writeln!(f, "  {} ({}, {}): {:?}", r.name, r.id, r.kind, r.state)?;
            }
        }
        Ok(())
    }
}

/// What the scheduler holds down: every valid schedule's resources that are stopped
/// or on their way down, from the fleet as it is now.
pub async fn held<C, S, K>(
    runner: &crate::run::Runner<C, S, K>,
) -> Result<Held, crate::ops::OpError>
where
    C: crate::cloud::Cloud,
    S: crate::store::Store,
    K: crate::clock::Clock,
{
    use crate::fleet::Power;
    let catalog = runner.catalog().await?;
    let mut out = Held::default();
    for schedule in &catalog.schedules {
        let status = crate::ops::status(runner, &schedule.name).await?;
        let resources: Vec<crate::ops::InstanceStatus> = status
            .groups
            .into_iter()
            .flat_map(|g| g.instances)
            .filter(|i| matches!(i.state, Power::Stopped | Power::Stopping))
            .collect();
        if !resources.is_empty() {
            out.schedules.push(HeldSchedule {
                schedule: schedule.name.clone(),
                resources,
            });
        }
    }
    Ok(out)
}
