//! The real fleet in one account and Region: EC2 instances, RDS DB instances,
//! Aurora (DocumentDB, Neptune) clusters, and the kinds that scale to zero
//! ([`scaling`]), through the AWS SDK. A run costs one paginated listing per kind in
//! use, whatever the number of schedules: tags come with the listings, never one
//! request per resource to read them. The listings run at once, in bounded pages,
//! within the time the look allows ([`listing`]); one that does not finish returns
//! what it listed and is named.

pub mod discovery;
pub mod inventory;
/// Sends one page's request of a [`listing::Listing`], bounded by its deadline.
macro_rules! page {
    ($listing:expr, $call:expr) => {{
        let bound = $listing.bound();
        $listing
            .page($call.customize().interceptor(bound).send())
            .await
    }};
}

pub mod listing;
mod scaling;
pub mod targets;

pub use listing::{Deadline, TimeUp};
pub use scaling::SAVED_CAPACITY_TAG;

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ec2::types::{Filter, InstanceStateName};
use futures::StreamExt;

use super::{Cloud, Look, Observation, ObserveError};
use crate::fleet::{Direction, Failure, Instance, Kind, Power, Size, Target};
use crate::schedule::SCHEDULE_TAG;
use listing::Listing;

/// The clients of one account and Region, built once per process.
#[derive(Debug, Clone)]
pub struct AwsCloud {
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    asg: aws_sdk_autoscaling::Client,
    ecs: aws_sdk_ecs::Client,
    eks: aws_sdk_eks::Client,
    ssm: aws_sdk_ssm::Client,
    /// The page size asked for, within each API's own bounds.
    page: i32,
    /// How its resources are told apart from those of other accounts and Regions:
    /// empty for the function's own (ids as they are), else `account/region`,
    /// appended to each id as `id@account/region`.
    place: String,
}

/// The most instance ids one StartInstances or StopInstances call takes here: EC2
/// documents no limit, but large requests are the ones throttled first.
pub const EC2_BATCH: usize = 100;

/// Calls of one kind in flight at once, so that a wave of hundreds of schedules does
/// not become hundreds of simultaneous requests (and throttling).
pub const CONCURRENT_CALLS: usize = 4;

/// Whether an SDK error is the service throttling us (after the SDK's own retries).
pub fn is_throttling<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some(
            "RequestLimitExceeded"
                | "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "RequestThrottledException"
                | "ProvisionedThroughputExceededException"
        )
    )
}

/// `Code: message` of an SDK error, or its full context when the service sent no code.
pub fn error_text<E>(e: &E) -> String
where
    E: ProvideErrorMetadata + std::error::Error,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(e).to_string(),
    }
}

/// How long an AWS request may take when nothing tells it more: a service that
/// accepts a connection and never answers must end a run with an error well within
/// the function's timeout: each attempt gets `ATTEMPT`, and the whole operation,
/// retries included, `OPERATION`. Within a run, the listings and the tables' requests
/// are bounded by the run's remaining time instead ([`Deadline`]).
pub mod limits {
    use std::time::Duration;

    /// Connecting.
    pub const CONNECT: Duration = Duration::from_secs(3);
    /// One attempt, from sending to the whole answer.
    pub const ATTEMPT: Duration = Duration::from_secs(10);
    /// One operation with its retries.
    pub const OPERATION: Duration = Duration::from_secs(25);
    /// Attempts per operation: the SDK retries throttling (`RequestLimitExceeded`,
    /// `ThrottlingException`) and transient errors with exponential backoff and jitter.
    pub const ATTEMPTS: u32 = 5;
}

/// The SDK configuration every client of this crate is built from: `loader` with
/// the timeouts and retries of [`limits`].
pub async fn sdk_config(loader: aws_config::ConfigLoader) -> aws_config::SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    loader
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(limits::CONNECT)
                .operation_attempt_timeout(limits::ATTEMPT)
                .operation_timeout(limits::OPERATION)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(limits::ATTEMPTS)
                .with_initial_backoff(std::time::Duration::from_millis(200))
                .with_max_backoff(std::time::Duration::from_secs(5)),
        )
        .load()
        .await
}

impl AwsCloud {
    /// Clients from one shared SDK configuration, for the function's own account
    /// and Region.
    pub fn new(config: &aws_config::SdkConfig) -> AwsCloud {
        AwsCloud {
            ec2: aws_sdk_ec2::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            asg: aws_sdk_autoscaling::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            eks: aws_sdk_eks::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            page: 1000,
            place: String::new(),
        }
    }

    /// Its ECS client (the report's task definitions).
    pub(crate) fn ecs_client(&self) -> &aws_sdk_ecs::Client {
        &self.ecs
    }

    /// Its EC2 client (the report's EBS volumes).
    pub(crate) fn ec2_client(&self) -> &aws_sdk_ec2::Client {
        &self.ec2
    }

    /// The same, for resources elsewhere: their ids carry `@place`.
    pub fn at_place(mut self, place: impl Into<String>) -> AwsCloud {
        self.place = place.into();
        self
    }

    /// The id the rest of the scheduler knows a resource by.
    fn key(&self, id: &str) -> String {
        if self.place.is_empty() {
            id.to_string()
        } else {
            format!("{id}@{}", self.place)
        }
    }

    /// The service's own id of a resource known by `key`.
    fn local<'a>(&self, key: &'a str) -> &'a str {
        if self.place.is_empty() {
            key
        } else {
            key.strip_suffix(&format!("@{}", self.place)).unwrap_or(key)
        }
    }

    /// Lists in pages of `size`, within each API's limits (EC2 5 to 1,000
    /// instances, RDS 20 to 100, the others 1 to 100), for tests of pagination. By
    /// default each page is the largest the API gives.
    pub fn with_page_size(mut self, size: i32) -> AwsCloud {
        self.page = size.max(1);
        self
    }

    /// EC2 instances carrying the schedule tag key, in pages of up to 1,000.
    async fn ec2_instances(&self, l: &mut Listing) {
        let mut token = None;
        loop {
            let call = self
                .ec2
                .describe_instances()
                .filters(
                    Filter::builder()
                        .name("tag-key")
                        .values(SCHEDULE_TAG)
                        .build(),
                )
                .max_results(self.page.clamp(5, 1000))
                .set_next_token(token);
            let Some(page) = page!(l, call) else { return };
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                let Some(id) = i.instance_id() else { continue };
                let power = match i.state().and_then(|s| s.name()) {
                    Some(InstanceStateName::Running) => Power::Running,
                    Some(InstanceStateName::Pending) => Power::Starting,
                    Some(InstanceStateName::Stopping | InstanceStateName::ShuttingDown) => {
                        Power::Stopping
                    }
                    Some(InstanceStateName::Stopped) => Power::Stopped,
                    _ => Power::Gone,
                };
                let tags = i
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                let mut instance = Instance::new(self.key(id), Kind::Ec2, tags, power);
                instance.zone = i
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .map(str::to_string);
                // Why a stopped instance stopped: an instance that could not start
                // (a KMS key it may not use, say) says Client.InternalError here.
                if power == Power::Stopped {
                    instance.reason = i
                        .state_reason()
                        .and_then(|r| r.message())
                        .map(str::to_string);
                }
                instance.hibernation = i
                    .hibernation_options()
                    .and_then(|h| h.configured())
                    .unwrap_or(false);
                // What it is billed as, for the history and the report.
                instance.size = i.instance_type().map(|t| Size::class(t.as_str()));
                l.found.push(instance);
            }
            token = next(page.next_token());
            if token.is_none() {
                return;
            }
        }
    }

    /// RDS DB instances carrying the schedule tag key (not members of a cluster), in
    /// pages of up to 100.
    async fn rds_instances(&self, l: &mut Listing) {
        let mut marker = None;
        loop {
            let call = self
                .rds
                .describe_db_instances()
                .max_records(self.page.clamp(20, 100))
                .set_marker(marker);
            let Some(page) = page!(l, call) else { return };
            for db in page.db_instances() {
                // Members of an Aurora cluster start and stop with their cluster.
                if db.db_cluster_identifier().is_some() {
                    continue;
                }
                let tags = tag_map(db.tag_list().iter().map(|t| (t.key(), t.value())));
                let (Some(id), true) =
                    (db.db_instance_identifier(), tags.contains_key(SCHEDULE_TAG))
                else {
                    continue;
                };
                let status = db.db_instance_status().unwrap_or_default();
                let power = rds_power(status);
                let mut instance = Instance::new(self.key(id), Kind::Rds, tags, power);
                instance.zone = db.availability_zone().map(str::to_string);
                // What it is billed as, and the storage that bills while it is stopped.
                instance.size = db.db_instance_class().map(|class| Size {
                    class: class.to_string(),
                    engine: db.engine().map(str::to_string),
                    multi_az: db.multi_az().unwrap_or(false),
                    storage_gib: db.allocated_storage().and_then(|g| u32::try_from(g).ok()),
                    ..Size::default()
                });
                if power == Power::Failed {
                    instance.reason = Some(status.to_string());
                }
                l.found.push(instance);
            }
            marker = next(page.marker());
            if marker.is_none() {
                return;
            }
        }
    }

    /// Aurora (DocumentDB, Neptune) clusters carrying the schedule tag key, in pages
    /// of up to 100.
    async fn aurora_clusters(&self, l: &mut Listing) {
        let mut marker = None;
        loop {
            let call = self
                .rds
                .describe_db_clusters()
                .max_records(self.page.clamp(20, 100))
                .set_marker(marker);
            let Some(page) = page!(l, call) else { return };
            for c in page.db_clusters() {
                let tags = tag_map(c.tag_list().iter().map(|t| (t.key(), t.value())));
                let (Some(id), true) = (c.db_cluster_identifier(), tags.contains_key(SCHEDULE_TAG))
                else {
                    continue;
                };
                let status = c.status().unwrap_or_default();
                let power = rds_power(status);
                let mut instance = Instance::new(self.key(id), Kind::Aurora, tags, power);
                instance.zone = c.availability_zones().first().cloned();
                // Its engine and storage; its instances' classes are not listed here.
                instance.size = Some(Size {
                    engine: c.engine().map(str::to_string),
                    storage_gib: c.allocated_storage().and_then(|g| u32::try_from(g).ok()),
                    ..Size::default()
                });
                if power == Power::Failed {
                    instance.reason = Some(status.to_string());
                }
                l.found.push(instance);
            }
            marker = next(page.marker());
            if marker.is_none() {
                return;
            }
        }
    }

    /// Every kind `look` asks for, listed at once, each stopping at `until`: what
    /// was listed, and the kinds that did not finish. `Err` when every listing was
    /// refused before it listed anything (the place cannot be observed at all).
    pub(super) async fn observe_until(
        &self,
        look: &Look,
        until: Option<Instant>,
    ) -> Result<Observation, ObserveError> {
        let listing = |what, kind| Listing::new(what, kind, &self.place, look.within, until);
        let mut ec2 = listing("EC2 instances", Kind::Ec2);
        let mut rds = listing("RDS DB instances", Kind::Rds);
        let mut aurora = listing("Aurora DB clusters", Kind::Aurora);
        let mut asg = listing("Auto Scaling groups", Kind::Asg);
        let mut ecs = listing("ECS services", Kind::Ecs);
        let mut eks = listing("EKS node groups", Kind::Eks);
        let wants = |k: Kind| look.kinds.contains(&k);
        tokio::join!(
            async {
                if wants(Kind::Ec2) {
                    self.ec2_instances(&mut ec2).await
                }
            },
            async {
                if wants(Kind::Rds) {
                    self.rds_instances(&mut rds).await
                }
            },
            async {
                if wants(Kind::Aurora) {
                    self.aurora_clusters(&mut aurora).await
                }
            },
            async {
                if wants(Kind::Asg) {
                    self.auto_scaling_groups(&mut asg).await
                }
            },
            async {
                if wants(Kind::Ecs) {
                    self.ecs_services(&mut ecs).await
                }
            },
            async {
                if wants(Kind::Eks) {
                    self.eks_node_groups(&mut eks).await
                }
            },
        );
        let listings: Vec<Listing> = [ec2, rds, aurora, asg, ecs, eks]
            .into_iter()
            .filter(|l| wants(l.kind))
            .collect();
        if !listings.is_empty() && listings.iter().all(Listing::refused_outright) {
            let first = &listings[0];
            return Err(ObserveError {
                what: first.what,
                message: first.failure().unwrap_or_default().to_string(),
            });
        }
        let mut instances = Vec::new();
        let mut unreachable = Vec::new();
        for mut l in listings {
            if let Some(u) = l.unfinished() {
                tracing::warn!(action = "observe", place = %u.place, kind = %l.kind, "{}", u.error);
                unreachable.push(u);
            }
            instances.append(&mut l.found);
        }
        Ok(Observation {
            instances: std::sync::Arc::new(instances),
            unreachable,
            index: None,
        })
    }

    /// Starts or stops EC2 instances, up to [`EC2_BATCH`] per call and a few calls at
    /// once. When a call fails for one of its instances (one not found, one in the
    /// wrong state), the batch is split and the halves are tried again, so one bad
    /// instance costs only itself; a throttled call has already been retried by the
    /// SDK with backoff, and is not split into more calls.
    async fn ec2_act(
        &self,
        direction: Direction,
        ids: Vec<String>,
        hibernate: bool,
    ) -> Vec<Failure> {
        let batches: Vec<Vec<String>> = ids
            .iter()
            .map(|k| self.local(k).to_string())
            .collect::<Vec<_>>()
            .chunks(EC2_BATCH)
            .map(<[String]>::to_vec)
            .collect();
        let results: Vec<Vec<Failure>> = futures::stream::iter(batches)
            .map(|batch| self.ec2_batch(direction, batch, hibernate))
            .buffer_unordered(CONCURRENT_CALLS)
            .collect()
            .await;
        results
            .into_iter()
            .flatten()
            .map(|f| Failure {
                id: self.key(&f.id),
                error: f.error,
            })
            .collect()
    }

    async fn ec2_batch(
        &self,
        direction: Direction,
        ids: Vec<String>,
        hibernate: bool,
    ) -> Vec<Failure> {
        let mut failures = Vec::new();
        let mut batches = vec![ids];
        while let Some(batch) = batches.pop() {
            if batch.is_empty() {
                continue;
            }
            let result = match direction {
                Direction::Start => self
                    .ec2
                    .start_instances()
                    .set_instance_ids(Some(batch.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| (is_throttling(&e), error_text(&e))),
                Direction::Stop => self
                    .ec2
                    .stop_instances()
                    .set_instance_ids(Some(batch.clone()))
                    .set_hibernate(hibernate.then_some(true))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| (is_throttling(&e), error_text(&e))),
            };
            match result {
                Ok(()) => {}
                Err((throttled, error)) if throttled || batch.len() == 1 => {
                    failures.extend(batch.into_iter().map(|id| Failure {
                        id,
                        error: error.clone(),
                    }));
                }
                Err(_) => {
                    let mut left = batch;
                    let right = left.split_off(left.len() / 2);
                    batches.push(right);
                    batches.push(left);
                }
            }
        }
        failures
    }

    async fn rds_act(&self, direction: Direction, target: &Target) -> Option<Failure> {
        let id = self.local(&target.id).to_string();
        let result = match (target.kind, direction) {
            (Kind::Rds, Direction::Start) => self
                .rds
                .start_db_instance()
                .db_instance_identifier(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error_text(&e)),
            (Kind::Rds, Direction::Stop) => self
                .rds
                .stop_db_instance()
                .db_instance_identifier(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error_text(&e)),
            (Kind::Aurora, Direction::Start) => self
                .rds
                .start_db_cluster()
                .db_cluster_identifier(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error_text(&e)),
            (Kind::Aurora, Direction::Stop) => self
                .rds
                .stop_db_cluster()
                .db_cluster_identifier(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error_text(&e)),
            _ => return None,
        };
        result.err().map(|error| Failure {
            id: target.id.clone(),
            error,
        })
    }
}

/// The token of the next page; none (or an empty one) after the last.
fn next(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_string)
}

pub(crate) fn tag_map<'a>(
    tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    tags.filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string())))
        .collect()
}

/// Folds an RDS instance or cluster status into a [`Power`].
pub fn rds_power(status: &str) -> Power {
    match status {
        "available" => Power::Running,
        "starting" => Power::Starting,
        "stopping" => Power::Stopping,
        "stopped" => Power::Stopped,
        "deleting" | "deleted" => Power::Gone,
        // Where a start ends when it cannot succeed: a member still, reported with
        // this status as its reason, never "up".
        "failed"
        | "inaccessible-encryption-credentials"
        | "inaccessible-encryption-credentials-recoverable"
        | "incompatible-network"
        | "incompatible-option-group"
        | "incompatible-parameters"
        | "incompatible-restore"
        | "insufficient-capacity"
        | "restore-error" => Power::Failed,
        // backing-up, modifying, maintenance, upgrading, rebooting, creating, ...: up
        // or on its way, and not to be acted on now.
        _ => Power::Busy,
    }
}

impl Cloud for AwsCloud {
    async fn observe(&self, look: &Look) -> Result<Observation, ObserveError> {
        self.observe_until(look, look.within.map(|w| Instant::now() + w))
            .await
    }

    async fn task_sizes(
        &self,
        services: &[(String, String)],
    ) -> std::collections::BTreeMap<String, (u32, u32)> {
        crate::cloud::inventory::Inventory::task_sizes(self, services).await
    }

    async fn volumes(
        &self,
        ids: &[String],
    ) -> std::collections::BTreeMap<String, Vec<crate::cloud::inventory::Volume>> {
        crate::cloud::inventory::Inventory::volumes(self, ids).await
    }

    async fn maintenance_windows(
        &self,
    ) -> Result<Vec<crate::schedule::window::MaintenanceWindow>, ObserveError> {
        let mut out = Vec::new();
        let mut pages = self
            .ssm
            .describe_maintenance_windows()
            .max_results(50)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ObserveError {
                what: "SSM maintenance windows",
                message: error_text(&e),
            })?;
            for w in page.window_identities() {
                let (Some(id), Some(schedule)) = (w.window_id(), w.schedule()) else {
                    continue;
                };
                out.push(crate::schedule::window::MaintenanceWindow {
                    id: id.to_string(),
                    name: w.name().unwrap_or(id).to_string(),
                    schedule: schedule.to_string(),
                    duration_hours: w
                        .duration()
                        .and_then(|d| u32::try_from(d).ok())
                        .unwrap_or(0),
                    time_zone: w.schedule_timezone().map(str::to_string),
                    start_date: w
                        .start_date()
                        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                        .map(|d| d.with_timezone(&chrono::Utc)),
                    enabled: w.enabled(),
                });
            }
        }
        Ok(out)
    }

    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure> {
        let ec2 = |hibernate: bool| -> Vec<String> {
            targets
                .iter()
                .filter(|t| t.kind == Kind::Ec2 && t.hibernate == hibernate)
                .map(|t| t.id.clone())
                .collect()
        };
        // RDS and the scaling kinds have no batch call: one call a resource, a few
        // at once.
        let others = futures::stream::iter(targets.iter().filter(|t| t.kind != Kind::Ec2))
            .map(|t| async move {
                if t.kind.scales() {
                    self.scale(direction, t).await
                } else {
                    self.rds_act(direction, t).await
                }
            })
            .buffer_unordered(CONCURRENT_CALLS)
            .collect::<Vec<_>>();
        let (mut failures, hibernated, others) = tokio::join!(
            self.ec2_act(direction, ec2(false), false),
            self.ec2_act(direction, ec2(true), direction == Direction::Stop),
            others
        );
        failures.extend(hibernated);
        failures.extend(others.into_iter().flatten());
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_statuses_fold_into_power() {
        assert_eq!(rds_power("available"), Power::Running);
        assert_eq!(rds_power("stopped"), Power::Stopped);
        assert_eq!(rds_power("backing-up"), Power::Busy);
        assert_eq!(rds_power("deleting"), Power::Gone);
        assert_eq!(rds_power("incompatible-parameters"), Power::Failed);
    }
}
