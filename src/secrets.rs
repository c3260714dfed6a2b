//! Secrets named in the configuration and fetched once per cold start: given as a
//! plain value (local use), or kept in SSM Parameter Store (a SecureString) or
//! Secrets Manager.

use crate::cloud::aws::error_text as reason;

/// Why a secret cannot be had; never holds the secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// More than one place is configured for one secret.
    #[error("set only one of {0}, {0}_SSM, {0}_SECRET")]
    MoreThanOne(String),
    /// The place configured does not give a value.
    #[error("{setting} {place}: {reason}")]
    Unreadable {
        /// The setting that names the place (`WEBHOOK_URL_SSM`).
        setting: String,
        /// The parameter's name or the secret's id.
        place: String,
        /// Why: the service's error, or what is missing.
        reason: String,
    },
}

/// Where a secret is, as configured; not yet fetched.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Given in the environment.
    Plain(String),
    /// An SSM Parameter Store parameter (SecureString), by name.
    Ssm(String),
    /// A Secrets Manager secret, by id; its string is the value.
    SecretsManager(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Plain(_) => f.write_str("Plain(…)"),
            SecretSource::Ssm(name) => write!(f, "Ssm({name:?})"),
            SecretSource::SecretsManager(id) => write!(f, "SecretsManager({id:?})"),
        }
    }
}

impl SecretSource {
    /// The secret `NAME` as configured through `var`: `NAME` (plain), `NAME_SSM` (a
    /// SecureString's name) or `NAME_SECRET` (a Secrets Manager id); `None` when none
    /// is set, an error when more than one is.
    pub fn from_vars(
        var: &impl Fn(&str) -> Option<String>,
        name: &str,
    ) -> Result<Option<SecretSource>, SecretError> {
        let get = |suffix: &str| {
            var(&format!("{name}{suffix}"))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        match (get(""), get("_SSM"), get("_SECRET")) {
            (None, None, None) => Ok(None),
            (Some(v), None, None) => Ok(Some(SecretSource::Plain(v))),
            (None, Some(p), None) => Ok(Some(SecretSource::Ssm(p))),
            (None, None, Some(s)) => Ok(Some(SecretSource::SecretsManager(s))),
            _ => Err(SecretError::MoreThanOne(name.to_string())),
        }
    }

    /// The secret's value; `label` names it in errors (never the value).
    pub async fn fetch(
        &self,
        sdk: &aws_config::SdkConfig,
        label: &str,
    ) -> Result<String, SecretError> {
        let unreadable = |suffix: &str, place: &str, reason: String| SecretError::Unreadable {
            setting: format!("{label}{suffix}"),
            place: place.to_string(),
            reason,
        };
        match self {
            SecretSource::Plain(v) => Ok(v.clone()),
            SecretSource::Ssm(name) => {
                let got = aws_sdk_ssm::Client::new(sdk)
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| unreadable("_SSM", name, reason(&e)))?;
                got.parameter()
                    .and_then(|p| p.value())
                    .map(str::to_string)
                    .ok_or_else(|| unreadable("_SSM", name, "the parameter has no value".into()))
            }
            SecretSource::SecretsManager(id) => {
                let got = aws_sdk_secretsmanager::Client::new(sdk)
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| unreadable("_SECRET", id, reason(&e)))?;
                got.secret_string()
                    .map(str::to_string)
                    .ok_or_else(|| unreadable("_SECRET", id, "the secret has no string".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_per_secret_and_plain_values_never_print() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let plain = SecretSource::from_vars(&vars(&[("TOKEN", "s3cr3t")]), "TOKEN").unwrap();
        assert!(!format!("{plain:?}").contains("s3cr3t"));
        assert_eq!(
            SecretSource::from_vars(&vars(&[("TOKEN_SSM", "/x")]), "TOKEN").unwrap(),
            Some(SecretSource::Ssm("/x".into()))
        );
        assert_eq!(SecretSource::from_vars(&vars(&[]), "TOKEN").unwrap(), None);
        assert_eq!(
            SecretSource::from_vars(&vars(&[("TOKEN", "a"), ("TOKEN_SECRET", "b")]), "TOKEN"),
            Err(SecretError::MoreThanOne("TOKEN".into()))
        );
    }
}
