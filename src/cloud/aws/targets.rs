//! Many accounts and Regions: each target is the function's own account in a Region,
//! or a role in another account (assumed with `sts:AssumeRole`, its credentials
//! cached and refreshed by the SDK before they expire). The fleet is observed and
//! acted on in every target at once, a few at a time; a target that fails is
//! reported by name and its resources are left alone, while every other proceeds.

use std::time::Instant;

use futures::StreamExt;

use super::AwsCloud;
use crate::cloud::{Cloud, Look, Observation, ObserveError, Unreachable};
use crate::fleet::{Direction, Failure, Instance, Target};

/// Targets observed or acted on at once.
const AT_ONCE: usize = 8;

/// One place the function schedules, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The Region.
    pub region: String,
    /// The role to assume there; `None` for the function's own account.
    pub role: Option<String>,
}

impl TargetSpec {
    /// The account of the role, when its ARN says.
    pub fn account(&self) -> Option<&str> {
        let role = self.role.as_deref()?;
        let account = role.split(':').nth(4)?;
        (!account.is_empty()).then_some(account)
    }
}

/// Reads `TARGETS`: comma-separated items, each `REGION` (the function's own
/// account) or `ROLE_ARN@REGION`.
pub fn parse_targets(text: &str) -> Result<Vec<TargetSpec>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let spec = match item.rsplit_once('@') {
            Some((role, region)) => {
                if !role.starts_with("arn:") || role.split(':').count() < 6 {
                    return Err(format!("\"{item}\": \"{role}\" is not a role ARN"));
                }
                TargetSpec {
                    region: region.trim().to_string(),
                    role: Some(role.trim().to_string()),
                }
            }
            None => TargetSpec {
                region: item.to_string(),
                role: None,
            },
        };
        let region_ok = !spec.region.is_empty()
            && spec
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(format!("\"{item}\": \"{}\" is not a Region", spec.region));
        }
        if out.contains(&spec) {
            return Err(format!("\"{item}\" is listed twice"));
        }
        out.push(spec);
    }
    Ok(out)
}

/// The fleet across targets.
#[derive(Debug, Clone)]
pub struct AwsTargets {
    /// Each target's label (`account/region`; empty for the function's own
    /// Region) and clients.
    places: Vec<(String, AwsCloud)>,
    /// How people see the function's own place among others (`account/region`);
    /// `None` when it is the only target.
    home: Option<String>,
}

impl AwsTargets {
    /// The function's own account and Region only: ids as they are.
    pub fn own(sdk: &aws_config::SdkConfig) -> AwsTargets {
        AwsTargets {
            places: vec![(String::new(), AwsCloud::new(sdk))],
            home: None,
        }
    }

    /// Clients for `targets`; no target means the function's own account and
    /// Region. Roles are assumed lazily, on the first call, so one that cannot be
    /// assumed fails its own target's calls only. The function's own Region keeps
    /// plain ids; `own_account` labels its other Regions (`account/region`), or
    /// they go by their Region.
    pub async fn connect(
        sdk: &aws_config::SdkConfig,
        targets: &[TargetSpec],
        external_id: Option<&str>,
        own_account: Option<&str>,
    ) -> AwsTargets {
        if targets.is_empty() {
            return AwsTargets::own(sdk);
        }
        let mut places = Vec::new();
        let mut home_place = None;
        for t in targets {
            let region = aws_config::Region::new(t.region.clone());
            let regional = sdk.to_builder().region(Some(region.clone())).build();
            let config = match &t.role {
                None => regional,
                Some(role) => {
                    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role)
                        .session_name("instance-scheduler")
                        .region(region)
                        .configure(sdk);
                    if let Some(id) = external_id {
                        provider = provider.external_id(id);
                    }
                    let provider = provider.build().await;
                    // One cache for the target's clients: the role is assumed once
                    // and renewed before it expires, not once per service.
                    regional
                        .to_builder()
                        .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                            provider,
                        ))
                        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
                        .build()
                }
            };
            // The function's own account and Region keeps plain ids, so turning
            // TARGETS on later does not rename every resource the state and the
            // reported problems already know.
            let home = t.role.is_none() && sdk.region().map(|r| r.as_ref()) == Some(&t.region);
            let mut label = match t.account().or(own_account) {
                Some(a) => format!("{a}/{}", t.region),
                None => t.region.clone(),
            };
            if home {
                home_place = Some(std::mem::take(&mut label));
            }
            places.push((label.clone(), AwsCloud::new(&config).at_place(label)));
        }
        AwsTargets {
            home: home_place.filter(|_| places.len() > 1),
            places,
        }
    }

    /// The targets' labels, as resources' ids carry them.
    pub fn labels(&self) -> Vec<&str> {
        self.places.iter().map(|(l, _)| l.as_str()).collect()
    }

    /// Lists in pages of `size` in every target, for tests of pagination.
    pub fn with_page_size(mut self, size: i32) -> AwsTargets {
        for (_, c) in &mut self.places {
            *c = c.clone().with_page_size(size);
        }
        self
    }
}

impl AwsTargets {
    /// Each place's clients, by label (`""` for the function's own).
    pub(crate) fn clouds(&self) -> impl Iterator<Item = (&str, &AwsCloud)> {
        self.places.iter().map(|(label, c)| (label.as_str(), c))
    }
}

impl Cloud for AwsTargets {
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

    async fn observe(&self, look: &Look) -> Result<Observation, ObserveError> {
        // One deadline for every target, however many wait for a turn.
        let until = look.within.map(|w| Instant::now() + w);
        if let [(_, only)] = self.places.as_slice() {
            return only.observe_until(look, until).await;
        }
        let looks: Vec<(String, Result<Observation, ObserveError>)> =
            futures::stream::iter(self.places.iter().filter(|(label, _)| look.includes(label)))
                .map(|(label, cloud)| async move {
                    (label.clone(), cloud.observe_until(look, until).await)
                })
                .buffer_unordered(AT_ONCE)
                .collect()
                .await;
        let mut instances = Vec::new();
        let mut unreachable = Vec::new();
        let mut lost = 0;
        for (place, look) in looks {
            match look {
                Ok(seen) => {
                    instances.extend(seen.instances.iter().map(|i| Instance {
                        home: if place.is_empty() {
                            self.home.clone()
                        } else {
                            None
                        },
                        ..i.clone()
                    }));
                    // Kinds whose listing did not finish there.
                    unreachable.extend(seen.unreachable.iter().cloned());
                }
                Err(e) => {
                    tracing::error!(action = "observe", place = %place, "{e}");
                    lost += 1;
                    unreachable.push(Unreachable::place(place, e.to_string()));
                }
            }
        }
        if lost > 0 && instances.is_empty() && lost == self.places.len() {
            let names: Vec<String> = unreachable
                .iter()
                .map(|u| format!("{}: {}", u.place, u.error))
                .collect();
            return Err(ObserveError {
                what: "any target",
                message: names.join("; "),
            });
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Observation {
            instances: std::sync::Arc::new(instances),
            unreachable,
            index: None,
        })
    }

    async fn maintenance_windows(
        &self,
    ) -> Result<Vec<crate::schedule::window::MaintenanceWindow>, ObserveError> {
        // Windows are read in the function's own account and Region, where the
        // schedules live.
        let own = self
            .places
            .iter()
            .find(|(label, _)| label.is_empty())
            .or(self.places.first());
        match own {
            Some((_, cloud)) => cloud.maintenance_windows().await,
            None => Ok(Vec::new()),
        }
    }

    async fn act(&self, direction: Direction, targets: &[Target]) -> Vec<Failure> {
        let place_of = |t: &Target| t.id.rsplit_once('@').map_or("", |(_, p)| p).to_string();
        let acts = self.places.iter().map(|(label, cloud)| {
            let mine: Vec<Target> = targets
                .iter()
                .filter(|t| place_of(t) == *label)
                .cloned()
                .collect();
            async move {
                if mine.is_empty() {
                    Vec::new()
                } else {
                    cloud.act(direction, &mine).await
                }
            }
        });
        let mut failures: Vec<Failure> = futures::stream::iter(acts)
            .buffer_unordered(AT_ONCE)
            .collect::<Vec<Vec<Failure>>>()
            .await
            .into_iter()
            .flatten()
            .collect();
        // A target of no configured place (its target was removed meanwhile).
        for t in targets {
            let place = place_of(t);
            if !self.places.iter().any(|(l, _)| *l == place) {
                failures.push(Failure {
                    id: t.id.clone(),
                    error: format!("no target {place} is configured"),
                });
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_as_regions_and_roles() {
        let t = parse_targets(
            "ap-northeast-2, arn:aws:iam::222222222222:role/instance-scheduler@eu-west-1",
        )
        .unwrap();
        assert_eq!(t[0].role, None);
        assert_eq!(t[0].region, "ap-northeast-2");
        assert_eq!(t[1].account(), Some("222222222222"));
        assert_eq!(t[1].region, "eu-west-1");
        assert!(parse_targets("").unwrap().is_empty());
        assert!(
            parse_targets("role/x@eu-west-1")
                .unwrap_err()
                .contains("not a role ARN")
        );
        assert!(
            parse_targets("Europe West")
                .unwrap_err()
                .contains("not a Region")
        );
        assert!(
            parse_targets("eu-west-1,eu-west-1")
                .unwrap_err()
                .contains("twice")
        );
    }
}
