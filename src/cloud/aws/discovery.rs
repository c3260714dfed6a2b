//! Where targets come from beyond `TARGETS`, whose 4 KB of environment holds about
//! fifty: a list kept in SSM Parameter Store (one parameter, or every parameter under
//! a path, so the list has no ceiling), and AWS Organizations (every ACTIVE account
//! under the roots and OUs given, nested OUs included, through its spoke role, in
//! each Region given). Both are read once per process (a cold start) into the
//! `Vec<TargetSpec>` that [`super::targets::AwsTargets::connect`] takes.

use std::collections::BTreeSet;

use super::error_text;
use super::targets::{TargetSpec, parse_targets};

/// What can go wrong discovering targets. The function stops at start-up with it:
/// scheduling only the targets that happened to be found would leave the others'
/// resources running, or stopped, unseen.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// A setting does not parse.
    #[error("{setting}: {problem}")]
    Setting {
        /// The environment variable.
        setting: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The parameter could not be read.
    #[error("TARGETS_SSM {name}: {message}")]
    Parameter {
        /// The parameter or path.
        name: String,
        /// The service's error.
        message: String,
    },
    /// An item of the stored list is not a target.
    #[error("TARGETS_SSM {name}: {problem}")]
    Item {
        /// The parameter the item is in.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Organizations could not be read.
    #[error(
        "ORG_UNITS {unit}: {message} (discovery needs the organization's management account or a delegated administrator)"
    )]
    Organizations {
        /// The root or OU.
        unit: String,
        /// The service's error.
        message: String,
    },
}

/// The settings of discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// `TARGETS_SSM`: a parameter name, or a path ending in `/`.
    pub parameter: Option<String>,
    /// `ORG_UNITS`: root (`r-…`) and OU (`ou-…`) ids.
    pub units: Vec<String>,
    /// `ORG_REGIONS`: the Regions of every discovered account; empty: the function's.
    pub regions: Vec<String>,
    /// `ORG_EXCLUDE`: accounts discovery leaves out.
    pub exclude: BTreeSet<String>,
    /// `SPOKE_ROLE_NAME`: the role assumed in a discovered or listed account.
    pub spoke_role: String,
}

fn list(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Discovery {
    /// The settings from `get`, which answers a non-empty variable by name.
    pub fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Discovery, DiscoveryError> {
        let d = Discovery {
            parameter: get("TARGETS_SSM").map(|p| p.trim().to_string()),
            units: list(get("ORG_UNITS")),
            regions: list(get("ORG_REGIONS")),
            exclude: list(get("ORG_EXCLUDE")).into_iter().collect(),
            spoke_role: get("SPOKE_ROLE_NAME").unwrap_or_else(|| "instance-scheduler-spoke".into()),
        };
        if let Some(p) = &d.parameter
            && !p.starts_with('/')
        {
            return Err(DiscoveryError::Setting {
                setting: "TARGETS_SSM",
                problem: format!("\"{p}\" is not a parameter name or path (they start with /)"),
            });
        }
        if let Some(u) = d
            .units
            .iter()
            .find(|u| !(u.starts_with("r-") || u.starts_with("ou-")))
        {
            return Err(DiscoveryError::Setting {
                setting: "ORG_UNITS",
                problem: format!("\"{u}\" is not a root (r-…) or organizational unit (ou-…) id"),
            });
        }
        if let Some(a) = d
            .exclude
            .iter()
            .find(|a| a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(DiscoveryError::Setting {
                setting: "ORG_EXCLUDE",
                problem: format!("\"{a}\" is not an account id (12 digits)"),
            });
        }
        Ok(d)
    }

    /// Whether there is anything to discover.
    pub fn is_empty(&self) -> bool {
        self.parameter.is_none() && self.units.is_empty()
    }

    /// The role of `account` that targets assume.
    fn role(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:role/{}", self.spoke_role)
    }

    /// Reads one stored list: items separated by commas, spaces or lines, each as in
    /// `TARGETS` (`REGION`, `ROLE_ARN@REGION`) or `ACCOUNT@REGION[+REGION…]`, the
    /// account's spoke role.
    pub fn read_list(&self, name: &str, text: &str) -> Result<Vec<TargetSpec>, DiscoveryError> {
        let mut out = Vec::new();
        for item in list(Some(text.to_string())) {
            let expanded: Vec<String> = match item.split_once('@') {
                Some((account, regions))
                    if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) =>
                {
                    regions
                        .split('+')
                        .map(|r| format!("{}@{r}", self.role(account)))
                        .collect()
                }
                _ => vec![item.clone()],
            };
            let specs =
                parse_targets(&expanded.join(",")).map_err(|problem| DiscoveryError::Item {
                    name: name.to_string(),
                    problem,
                })?;
            out.extend(specs);
        }
        Ok(out)
    }
}

/// Every target: `listed` (from `TARGETS`), then the stored list, then the
/// discovered accounts, each place once. `own_account` is the function's: found
/// there, it is scheduled without a role. `own_region` stands for an empty
/// `ORG_REGIONS`.
pub async fn targets(
    sdk: &aws_config::SdkConfig,
    discovery: &Discovery,
    listed: Vec<TargetSpec>,
    own_account: Option<&str>,
) -> Result<Vec<TargetSpec>, DiscoveryError> {
    let mut out = listed;
    let add = |spec: TargetSpec, out: &mut Vec<TargetSpec>| {
        if !out.contains(&spec) {
            out.push(spec);
        }
    };
    if let Some(name) = &discovery.parameter {
        for spec in stored(sdk, discovery, name).await? {
            add(spec, &mut out);
        }
    }
    if !discovery.units.is_empty() {
        let own_region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let regions = if discovery.regions.is_empty() {
            vec![own_region]
        } else {
            discovery.regions.clone()
        };
        for account in accounts(sdk, discovery).await? {
            for region in &regions {
                let role =
                    (Some(account.as_str()) != own_account).then(|| discovery.role(&account));
                add(
                    TargetSpec {
                        region: region.clone(),
                        role,
                    },
                    &mut out,
                );
            }
        }
    }
    Ok(out)
}

/// The stored list: one parameter, or every parameter under a path (by name).
async fn stored(
    sdk: &aws_config::SdkConfig,
    discovery: &Discovery,
    name: &str,
) -> Result<Vec<TargetSpec>, DiscoveryError> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let failed = |e: String| DiscoveryError::Parameter {
        name: name.to_string(),
        message: e,
    };
    let mut texts: Vec<(String, String)> = Vec::new();
    if name.ends_with('/') {
        let mut pages = ssm
            .get_parameters_by_path()
            .path(name.trim_end_matches('/'))
            .recursive(true)
            .with_decryption(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| failed(error_text(&e)))?;
            for p in page.parameters() {
                texts.push((
                    p.name().unwrap_or(name).to_string(),
                    p.value().unwrap_or_default().to_string(),
                ));
            }
        }
        if texts.is_empty() {
            return Err(failed("no parameter under this path".into()));
        }
        texts.sort();
    } else {
        let got = ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| failed(error_text(&e)))?;
        let value = got.parameter().and_then(|p| p.value()).unwrap_or_default();
        texts.push((name.to_string(), value.to_string()));
    }
    let mut out = Vec::new();
    for (name, text) in texts {
        out.extend(discovery.read_list(&name, &text)?);
    }
    Ok(out)
}

/// The ACTIVE accounts under the roots and OUs, less the excluded, each once, in the
/// order found.
async fn accounts(
    sdk: &aws_config::SdkConfig,
    discovery: &Discovery,
) -> Result<Vec<String>, DiscoveryError> {
    use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType};
    let org = aws_sdk_organizations::Client::new(sdk);
    let mut found: Vec<String> = Vec::new();
    let keep = |account: &aws_sdk_organizations::types::Account, found: &mut Vec<String>| {
        let Some(id) = account.id() else { return };
        // State replaces Status in the API; either says ACTIVE.
        let active = match account.state() {
            Some(state) => *state == AccountState::Active,
            None => account.status() == Some(&AccountStatus::Active),
        };
        if active && !discovery.exclude.contains(id) && !found.iter().any(|f| f == id) {
            found.push(id.to_string());
        }
    };
    for unit in &discovery.units {
        let failed = |e: String| DiscoveryError::Organizations {
            unit: unit.clone(),
            message: e,
        };
        if unit.starts_with("r-") {
            // A root holds every account of the organization.
            let mut pages = org.list_accounts().into_paginator().send();
            while let Some(page) = pages.next().await {
                for a in page.map_err(|e| failed(error_text(&e)))?.accounts() {
                    keep(a, &mut found);
                }
            }
            continue;
        }
        let mut parents = vec![unit.clone()];
        while let Some(parent) = parents.pop() {
            let mut pages = org
                .list_accounts_for_parent()
                .parent_id(&parent)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for a in page.map_err(|e| failed(error_text(&e)))?.accounts() {
                    keep(a, &mut found);
                }
            }
            let mut children = org
                .list_children()
                .parent_id(&parent)
                .child_type(ChildType::OrganizationalUnit)
                .into_paginator()
                .send();
            while let Some(page) = children.next().await {
                for c in page.map_err(|e| failed(error_text(&e)))?.children() {
                    if let Some(id) = c.id() {
                        parents.push(id.to_string());
                    }
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn a_stored_list_takes_targets_items_and_accounts_with_several_regions() {
        let d = Discovery::from_vars(&vars(&[("SPOKE_ROLE_NAME", "spoke")])).unwrap();
        let got = d
            .read_list(
                "/t",
                "eu-west-1\n111122223333@us-east-1+ap-northeast-2, arn:aws:iam::444455556666:role/x@eu-central-1",
            )
            .unwrap();
        let shown: Vec<String> = got
            .iter()
            .map(|t| format!("{}@{}", t.role.as_deref().unwrap_or("-"), t.region))
            .collect();
        assert_eq!(
            shown,
            [
                "-@eu-west-1",
                "arn:aws:iam::111122223333:role/spoke@us-east-1",
                "arn:aws:iam::111122223333:role/spoke@ap-northeast-2",
                "arn:aws:iam::444455556666:role/x@eu-central-1",
            ]
        );
        let e = d.read_list("/t", "11112222@us-east-1").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("TARGETS_SSM /t: \"11112222@us-east-1\""),
            "{e}"
        );
    }

    #[test]
    fn settings_that_do_not_parse_are_named() {
        let e = Discovery::from_vars(&vars(&[("ORG_UNITS", "o-abc")])).unwrap_err();
        assert!(e.to_string().starts_with("ORG_UNITS"), "{e}");
        let e = Discovery::from_vars(&vars(&[("TARGETS_SSM", "targets")])).unwrap_err();
        assert!(e.to_string().starts_with("TARGETS_SSM"), "{e}");
        let e = Discovery::from_vars(&vars(&[("ORG_EXCLUDE", "123")])).unwrap_err();
        assert!(e.to_string().starts_with("ORG_EXCLUDE"), "{e}");
        assert!(Discovery::from_vars(&vars(&[])).unwrap().is_empty());
    }
}
