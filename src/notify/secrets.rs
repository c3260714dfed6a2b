//! Fetches webhook URLs kept in SSM Parameter Store (SecureString) or Secrets
//! Manager, once per cold start.

use crate::cloud::aws::error_text as reason;

use super::deliver::{UrlSource, Webhook, configs, resolve};

/// The webhooks configured in the environment, their URLs fetched where they are
/// kept. A webhook that cannot be set up is a start-up error naming its setting.
pub async fn webhooks_from_env(sdk: &aws_config::SdkConfig) -> Result<Vec<Webhook>, String> {
    let mut hooks = Vec::new();
    for c in configs(|k| std::env::var(k).ok())? {
        let url = match &c.url {
            UrlSource::Plain(url) => url.clone(),
            UrlSource::Ssm(name) => {
                let got = aws_sdk_ssm::Client::new(sdk)
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| format!("{}_URL_SSM {name}: {}", c.label, reason(&e)))?;
                got.parameter()
                    .and_then(|p| p.value())
                    .map(super::deliver::SecretUrl::new)
                    .ok_or_else(|| {
                        format!("{}_URL_SSM {name}: the parameter has no value", c.label)
                    })?
            }
            UrlSource::Secret(id) => {
                let got = aws_sdk_secretsmanager::Client::new(sdk)
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| format!("{}_URL_SECRET {id}: {}", c.label, reason(&e)))?;
                got.secret_string()
                    .map(super::deliver::SecretUrl::new)
                    .ok_or_else(|| {
                        format!("{}_URL_SECRET {id}: the secret has no string", c.label)
                    })?
            }
        };
        hooks.push(resolve(&c, url)?);
    }
    Ok(hooks)
}

/// A secret named `NAME` in the environment: given as `NAME`, or kept in SSM
/// (`NAME_SSM`, a SecureString's name) or Secrets Manager (`NAME_SECRET`, an id).
/// `None` when none of the three is set.
pub async fn secret_from_env(
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> Result<Option<String>, String> {
    let var = |suffix: &str| {
        std::env::var(format!("{name}{suffix}"))
            .ok()
            .filter(|v| !v.trim().is_empty())
    };
    match (var(""), var("_SSM"), var("_SECRET")) {
        (None, None, None) => Ok(None),
        (Some(v), None, None) => Ok(Some(v)),
        (None, Some(p), None) => {
            let got = aws_sdk_ssm::Client::new(sdk)
                .get_parameter()
                .name(&p)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| format!("{name}_SSM {p}: {}", reason(&e)))?;
            Ok(got.parameter().and_then(|p| p.value()).map(str::to_string))
        }
        (None, None, Some(id)) => {
            let got = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(&id)
                .send()
                .await
                .map_err(|e| format!("{name}_SECRET {id}: {}", reason(&e)))?;
            Ok(got.secret_string().map(str::to_string))
        }
        _ => Err(format!("set only one of {name}, {name}_SSM, {name}_SECRET")),
    }
}
