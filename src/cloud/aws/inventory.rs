//! The [`Inventory`] of AWS: what the report and the weekly summary ask besides the
//! history (ECS task definitions' vCPU and memory, the EBS volumes of EC2 instances),
//! in the function's own account and Region and in each target's.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use super::AwsCloud;
use super::targets::AwsTargets;
use crate::cloud::inventory::{Inventory, VOLUME_BATCH, Volume};

/// The place (`account/region`, `""` for the function's own) an id names, and the
/// service's own id.
fn split(id: &str) -> (&str, &str) {
    id.rsplit_once('@')
        .map_or((id, ""), |(local, place)| (local, place))
}

impl Inventory for AwsCloud {
    async fn task_sizes(&self, services: &[(String, String)]) -> BTreeMap<String, (u32, u32)> {
        let tasks: BTreeSet<&str> = services.iter().map(|(_, t)| t.as_str()).collect();
        let mut sizes = BTreeMap::new();
        for task in tasks {
            match self
                .ecs_client()
                .describe_task_definition()
                .task_definition(task)
                .send()
                .await
            {
                Ok(out) => {
                    let Some(d) = out.task_definition() else {
                        continue;
                    };
                    let cpu = d.cpu().and_then(|c| c.trim().parse::<u32>().ok());
                    let memory = d.memory().and_then(|m| m.trim().parse::<u32>().ok());
                    if let (Some(cpu), Some(memory)) = (cpu, memory) {
                        sizes.insert(task, (cpu, memory));
                    }
                }
                Err(e) => tracing::warn!(
                    action = "report",
                    task,
                    "cannot read the task definition: {}",
                    super::error_text(&e)
                ),
            }
        }
        services
            .iter()
            .filter_map(|(id, task)| Some((id.clone(), *sizes.get(task.as_str())?)))
            .collect()
    }

    async fn volumes(&self, ids: &[String]) -> BTreeMap<String, Vec<Volume>> {
        let mut out: BTreeMap<String, Vec<Volume>> = BTreeMap::new();
        let by_local: BTreeMap<&str, &String> = ids.iter().map(|id| (split(id).0, id)).collect();
        let locals: Vec<&str> = by_local.keys().copied().collect();
        for chunk in locals.chunks(VOLUME_BATCH) {
            let mut pages = self
                .ec2_client()
                .describe_volumes()
                .filters(
                    Filter::builder()
                        .name("attachment.instance-id")
                        .set_values(Some(chunk.iter().map(|s| s.to_string()).collect()))
                        .build(),
                )
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(
                            action = "report",
                            "cannot list the EBS volumes: {}",
                            super::error_text(&e)
                        );
                        break;
                    }
                };
                for v in page.volumes() {
                    let (Some(vid), Some(size)) = (v.volume_id(), v.size()) else {
                        continue;
                    };
                    for a in v.attachments() {
                        if let Some(id) = a.instance_id().and_then(|i| by_local.get(i)) {
                            out.entry((*id).clone()).or_default().push(Volume {
                                id: vid.to_string(),
                                volume_type: v
                                    .volume_type()
                                    .map_or("standard".into(), |t| t.as_str().to_string()),
                                gib: u32::try_from(size).unwrap_or(0),
                            });
                        }
                    }
                }
            }
        }
        out
    }
}

impl Inventory for AwsTargets {
    async fn task_sizes(&self, services: &[(String, String)]) -> BTreeMap<String, (u32, u32)> {
        let mut out = BTreeMap::new();
        for (label, cloud) in self.clouds() {
            let mine: Vec<(String, String)> = services
                .iter()
                .filter(|(id, _)| split(id).1 == label)
                .cloned()
                .collect();
            if !mine.is_empty() {
                out.extend(Inventory::task_sizes(cloud, &mine).await);
            }
        }
        out
    }

    async fn volumes(&self, ids: &[String]) -> BTreeMap<String, Vec<Volume>> {
        let mut out = BTreeMap::new();
        for (label, cloud) in self.clouds() {
            let mine: Vec<String> = ids
                .iter()
                .filter(|id| split(id).1 == label)
                .cloned()
                .collect();
            if !mine.is_empty() {
                out.extend(Inventory::volumes(cloud, &mine).await);
            }
        }
        out
    }
}
