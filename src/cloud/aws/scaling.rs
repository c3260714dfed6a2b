//! Resources that scale to zero rather than stop: Auto Scaling groups, ECS services
//! and EKS managed node groups. A stop writes the sizes the resource ran with onto
//! the resource itself (a tag; for a node group, a node label set in the same call
//! as its sizes), so they survive a lost state; a start sets them back.

use aws_sdk_autoscaling::types::{Filter as AsgFilter, LifecycleState, Tag as AsgTag};

use super::listing::Listing;
use super::{AwsCloud, error_text, next, tag_map};
use crate::fleet::{Capacity, Direction, Failure, Instance, Kind, Power, Size, Target};
use crate::schedule::SCHEDULE_TAG;

/// The tag (or, on an EKS node group, the label) keeping the sizes a resource ran
/// with before the scheduler set them to zero: `min,desired,max`.
pub const SAVED_CAPACITY_TAG: &str = "SchedulerSavedCapacity";

/// The node label keeping an EKS node group's sizes (label values allow no commas).
const SAVED_CAPACITY_LABEL: &str = "instance-scheduler.saved-capacity";

/// The power of a resource that scales: its desired size, and how many of it are
/// up now.
fn scaled_power(desired: i32, up: i32, present: i32) -> Power {
    match (desired, up, present) {
        (0, _, 0) => Power::Stopped,
        (0, _, _) => Power::Stopping,
        (d, u, _) if u >= d => Power::Running,
        _ => Power::Starting,
    }
}

impl AwsCloud {
    /// Auto Scaling groups carrying the schedule tag key, in pages of up to 100.
    pub(super) async fn auto_scaling_groups(&self, l: &mut Listing) {
        let mut token = None;
        loop {
            let call = self
                .asg
                .describe_auto_scaling_groups()
                .filters(
                    AsgFilter::builder()
                        .name("tag-key")
                        .values(SCHEDULE_TAG)
                        .build(),
                )
                .max_records(self.page.clamp(1, 100))
                .set_next_token(token);
            let Some(page) = page!(l, call) else { return };
            for g in page.auto_scaling_groups() {
                let Some(name) = g.auto_scaling_group_name() else {
                    continue;
                };
                let tags = tag_map(g.tags().iter().map(|t| (t.key(), t.value())));
                let capacity = Capacity {
                    min: g.min_size().unwrap_or(0),
                    desired: g.desired_capacity().unwrap_or(0),
                    max: g.max_size().unwrap_or(0),
                };
                let present = g.instances().len() as i32;
                let in_service = g
                    .instances()
                    .iter()
                    .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
                    .count() as i32;
                let saved = tags
                    .get(SAVED_CAPACITY_TAG)
                    .and_then(|t| Capacity::from_tag(t));
                let power = scaled_power(capacity.desired, in_service, present);
                let mut i = Instance::new(self.key(name), Kind::Asg, tags, power);
                i.capacity = Some(capacity);
                i.saved = saved;
                i.zone = g.availability_zones().first().cloned();
                // Priced through its instances' type.
                i.size = g
                    .instances()
                    .iter()
                    .find_map(|x| x.instance_type())
                    .map(Size::class);
                l.found.push(i);
            }
            token = next(page.next_token());
            if token.is_none() {
                return;
            }
        }
    }

    /// ECS services carrying the schedule tag key: the clusters and their services
    /// in pages of up to 100, and the services described ten at a time with their
    /// tags.
    pub(super) async fn ecs_services(&self, l: &mut Listing) {
        let page_size = self.page.clamp(1, 100);
        let mut clusters = Vec::new();
        let mut token = None;
        loop {
            let call = self
                .ecs
                .list_clusters()
                .max_results(page_size)
                .set_next_token(token);
            let Some(page) = page!(l, call) else { return };
            clusters.extend(page.cluster_arns().iter().cloned());
            token = next(page.next_token());
            if token.is_none() {
                break;
            }
        }
        for cluster in clusters {
            let mut services = Vec::new();
            let mut token = None;
            loop {
                let call = self
                    .ecs
                    .list_services()
                    .cluster(&cluster)
                    .max_results(page_size)
                    .set_next_token(token);
                let Some(page) = page!(l, call) else { return };
                services.extend(page.service_arns().iter().cloned());
                token = next(page.next_token());
                if token.is_none() {
                    break;
                }
            }
            for chunk in services.chunks(10) {
                let call = self
                    .ecs
                    .describe_services()
                    .cluster(&cluster)
                    .set_services(Some(chunk.to_vec()))
                    .include(aws_sdk_ecs::types::ServiceField::Tags);
                let Some(described) = page!(l, call) else {
                    return;
                };
                for s in described.services() {
                    let tags = tag_map(s.tags().iter().map(|t| (t.key(), t.value())));
                    if !tags.contains_key(SCHEDULE_TAG) {
                        continue;
                    }
                    let (Some(arn), Some(name)) = (s.service_arn(), s.service_name()) else {
                        continue;
                    };
                    let cluster_name = cluster.rsplit('/').next().unwrap_or(&cluster);
                    let desired = s.desired_count();
                    let capacity = Capacity {
                        min: 0,
                        desired,
                        max: desired,
                    };
                    let running = s.running_count();
                    let present = running + s.pending_count();
                    let saved = tags
                        .get(SAVED_CAPACITY_TAG)
                        .and_then(|t| Capacity::from_tag(t));
                    let power = if s.status() == Some("INACTIVE") {
                        Power::Gone
                    } else {
                        scaled_power(desired, running, present)
                    };
                    let mut i = Instance::new(
                        self.key(&format!("{cluster_name}/{name}")),
                        Kind::Ecs,
                        tags,
                        power,
                    );
                    i.capacity = Some(capacity);
                    i.saved = saved;
                    i.arn = Some(arn.to_string());
                    // Priced per task: on Fargate by its task definition.
                    i.size = Some(Size {
                        class: match s.launch_type() {
                            Some(aws_sdk_ecs::types::LaunchType::Fargate) => "fargate".into(),
                            _ => String::new(),
                        },
                        task: s
                            .task_definition()
                            .and_then(|t| t.rsplit('/').next())
                            .map(str::to_string),
                        ..Size::default()
                    });
                    l.found.push(i);
                }
            }
        }
    }

    /// EKS managed node groups carrying the schedule tag key: the clusters and their
    /// node groups in pages of up to 100, and each node group described (EKS has no
    /// batch describe).
    pub(super) async fn eks_node_groups(&self, l: &mut Listing) {
        let page_size = self.page.clamp(1, 100);
        let mut clusters = Vec::new();
        let mut token = None;
        loop {
            let call = self
                .eks
                .list_clusters()
                .max_results(page_size)
                .set_next_token(token);
            let Some(page) = page!(l, call) else { return };
            clusters.extend(page.clusters().iter().cloned());
            token = next(page.next_token());
            if token.is_none() {
                break;
            }
        }
        for cluster in clusters {
            let mut groups = Vec::new();
            let mut token = None;
            loop {
                let call = self
                    .eks
                    .list_nodegroups()
                    .cluster_name(&cluster)
                    .max_results(page_size)
                    .set_next_token(token);
                let Some(page) = page!(l, call) else { return };
                groups.extend(page.nodegroups().iter().cloned());
                token = next(page.next_token());
                if token.is_none() {
                    break;
                }
            }
            for group in groups {
                let call = self
                    .eks
                    .describe_nodegroup()
                    .cluster_name(&cluster)
                    .nodegroup_name(&group);
                let Some(described) = page!(l, call) else {
                    return;
                };
                let Some(n) = described.nodegroup() else {
                    continue;
                };
                let tags: std::collections::BTreeMap<String, String> = n
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                if !tags.contains_key(SCHEDULE_TAG) {
                    continue;
                }
                let scaling = n.scaling_config();
                let capacity = Capacity {
                    min: scaling.and_then(|s| s.min_size()).unwrap_or(0),
                    desired: scaling.and_then(|s| s.desired_size()).unwrap_or(0),
                    max: scaling.and_then(|s| s.max_size()).unwrap_or(0),
                };
                let saved = n
                    .labels()
                    .and_then(|l| l.get(SAVED_CAPACITY_LABEL))
                    .and_then(|v| Capacity::from_tag(&v.replace('.', ",")));
                use aws_sdk_eks::types::NodegroupStatus;
                let power = match n.status() {
                    Some(NodegroupStatus::Active) if capacity.desired == 0 => Power::Stopped,
                    Some(NodegroupStatus::Active) => Power::Running,
                    Some(NodegroupStatus::Updating | NodegroupStatus::Creating) => {
                        if capacity.desired == 0 {
                            Power::Stopping
                        } else {
                            Power::Starting
                        }
                    }
                    Some(NodegroupStatus::Degraded) => Power::Busy,
                    _ => Power::Gone,
                };
                let mut i = Instance::new(
                    self.key(&format!("{cluster}/{group}")),
                    Kind::Eks,
                    tags,
                    power,
                );
                i.capacity = Some(capacity);
                i.saved = saved;
                // Priced through its instances' type.
                i.size = n.instance_types().first().map(|t| Size::class(t.as_str()));
                l.found.push(i);
            }
        }
    }

    /// Scales one resource to zero (remembering its sizes on it) or back.
    pub(super) async fn scale(&self, direction: Direction, target: &Target) -> Option<Failure> {
        let id = self.local(&target.id).to_string();
        let fail = |error: String| {
            Some(Failure {
                id: target.id.clone(),
                error,
            })
        };
        let Some(capacity) = target.capacity else {
            return fail("no sizes to set (the scheduler knows none for it)".into());
        };
        let result = match (target.kind, direction) {
            (Kind::Asg, Direction::Stop) => {
                let tag = AsgTag::builder()
                    .resource_id(&id)
                    .resource_type("auto-scaling-group")
                    .key(SAVED_CAPACITY_TAG)
                    .value(capacity.to_tag())
                    .propagate_at_launch(false)
                    .build();
                match self.asg.create_or_update_tags().tags(tag).send().await {
                    Err(e) => Err(error_text(&e)),
                    Ok(_) => self
                        .asg
                        .update_auto_scaling_group()
                        .auto_scaling_group_name(&id)
                        .min_size(0)
                        .desired_capacity(0)
                        .max_size(0)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| error_text(&e)),
                }
            }
            (Kind::Asg, Direction::Start) => self
                .asg
                .update_auto_scaling_group()
                .auto_scaling_group_name(&id)
                .min_size(capacity.min)
                .max_size(capacity.max)
                .desired_capacity(capacity.desired)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error_text(&e)),
            (Kind::Ecs, direction) => {
                let (cluster, service) = id.split_once('/').unwrap_or(("default", id.as_str()));
                let tagged = match (direction, &target.arn) {
                    (Direction::Stop, Some(arn)) => self
                        .ecs
                        .tag_resource()
                        .resource_arn(arn)
                        .tags(
                            aws_sdk_ecs::types::Tag::builder()
                                .key(SAVED_CAPACITY_TAG)
                                .value(capacity.to_tag())
                                .build(),
                        )
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| error_text(&e)),
                    _ => Ok(()),
                };
                match tagged {
                    Err(e) => Err(e),
                    Ok(()) => self
                        .ecs
                        .update_service()
                        .cluster(cluster)
                        .service(service)
                        .desired_count(if direction == Direction::Stop {
                            0
                        } else {
                            capacity.desired
                        })
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| error_text(&e)),
                }
            }
            (Kind::Eks, direction) => {
                use aws_sdk_eks::types::{NodegroupScalingConfig, UpdateLabelsPayload};
                let (cluster, group) = id.split_once('/').unwrap_or(("", id.as_str()));
                // EKS wants a maximum of at least one: a stop keeps the maximum.
                let (sizes, labels) = match direction {
                    Direction::Stop => (
                        NodegroupScalingConfig::builder()
                            .min_size(0)
                            .desired_size(0)
                            .max_size(capacity.max.max(1))
                            .build(),
                        UpdateLabelsPayload::builder()
                            .add_or_update_labels(
                                SAVED_CAPACITY_LABEL,
                                capacity.to_tag().replace(',', "."),
                            )
                            .build(),
                    ),
                    Direction::Start => (
                        NodegroupScalingConfig::builder()
                            .min_size(capacity.min)
                            .desired_size(capacity.desired)
                            .max_size(capacity.max.max(1))
                            .build(),
                        UpdateLabelsPayload::builder()
                            .remove_labels(SAVED_CAPACITY_LABEL)
                            .build(),
                    ),
                };
                self.eks
                    .update_nodegroup_config()
                    .cluster_name(cluster)
                    .nodegroup_name(group)
                    .scaling_config(sizes)
                    .labels(labels)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| error_text(&e))
            }
            (kind, _) => Err(format!("{kind} does not scale")),
        };
        result.err().and_then(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_power_follows_desired_and_up() {
        assert_eq!(scaled_power(0, 0, 0), Power::Stopped);
        assert_eq!(scaled_power(0, 1, 1), Power::Stopping);
        assert_eq!(scaled_power(2, 1, 2), Power::Starting);
        assert_eq!(scaled_power(2, 2, 2), Power::Running);
    }
}
