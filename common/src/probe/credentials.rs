//! Which provider of the SDK's credential chain answers (never the secret itself).

use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;

use super::Sdk;
use crate::aws::{credentials_answer, Answer};
use crate::failure::{Kind, Operation};

/// What the credential chain answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsFound {
    /// Credentials, from `source` (a provider named for people, and their lifetime);
    /// `instance_profile`: the EC2 instance role answered, through IMDS.
    Found { source: String, instance_profile: bool },
    /// None could be had: what the chain said (`text`), and what the failure model makes of
    /// it when a daemon's call meets the same cause: its `kind` (so its exit code) and its
    /// `hint`.
    Failed { text: String, kind: Kind, hint: String },
}

impl Sdk {
    /// Asks the credential chain, as the daemons would, for at most `timeout`.
    pub async fn credentials(&self, timeout: Duration) -> CredentialsFound {
        let answer = match self.config.credentials_provider() {
            None => credentials_answer(
                &aws_credential_types::provider::error::CredentialsError::not_loaded(
                    "no credentials provider configured",
                ),
            ),
            Some(provider) => {
                match tokio::time::timeout(timeout, provider.provide_credentials()).await {
                    Ok(Ok(creds)) => {
                        let (source, instance_profile) = credential_source(&creds);
                        return CredentialsFound::Found { source, instance_profile };
                    }
                    Ok(Err(e)) => credentials_answer(&e),
                    // IMDS that does not answer, typically: no credentials either way.
                    Err(_) => Answer::Credentials {
                        detail: format!(
                            "the credential chain gave no answer within {}s (an instance \
                             metadata service that does not answer?)",
                            timeout.as_secs()
                        ),
                        refused: false,
                    },
                }
            }
        };
        // The advice on credentials is the same whatever the call and the endpoint.
        let hint = answer.advice(Operation::GetObject, "").unwrap_or_default();
        CredentialsFound::Failed { text: answer.detail(), kind: answer.kind(), hint }
    }
}

/// Names the provider of the credential chain that answered, never the secret itself.
fn credential_source(creds: &aws_credential_types::Credentials) -> (String, bool) {
    use aws_credential_types::credential_feature::AwsCredentialFeature as F;
    let features = creds.get_property::<Vec<F>>().cloned().unwrap_or_default();
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    // (label, is_instance_profile)
    let (label, instance) = if features.contains(&F::CredentialsImds) {
        ("the instance profile (EC2 instance role, via IMDS)".to_string(), true)
    } else if features.contains(&F::CredentialsEnvVars) {
        ("environment variables (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)".to_string(), false)
    } else if features.iter().any(|f| {
        matches!(
            f,
            F::CredentialsStsAssumeRoleWebId
                | F::CredentialsEnvVarsStsWebIdToken
                | F::CredentialsProfileStsWebIdToken
        )
    }) {
        ("web identity token (STS AssumeRoleWithWebIdentity)".to_string(), false)
    } else if features.contains(&F::CredentialsHttp) {
        ("the container credentials endpoint (ECS)".to_string(), false)
    } else if features.iter().any(|f| matches!(f, F::CredentialsSso | F::CredentialsProfileSso)) {
        (format!("SSO (profile {profile})"), false)
    } else if features
        .iter()
        .any(|f| matches!(f, F::CredentialsProcess | F::CredentialsProfileProcess))
    {
        (format!("credential_process (profile {profile})"), false)
    } else if features.contains(&F::CredentialsStsAssumeRole) {
        (format!("an assumed role (profile {profile})"), false)
    } else if features.iter().any(|f| {
        matches!(
            f,
            F::CredentialsProfile
                | F::CredentialsProfileSourceProfile
                | F::CredentialsProfileNamedProvider
        )
    }) {
        (format!("profile {profile} (shared credentials/config file)"), false)
    } else {
        ("an unnamed provider".to_string(), false)
    };
    let lifetime = match creds.expiry() {
        Some(at) => match at.duration_since(std::time::SystemTime::now()) {
            Ok(left) => format!("temporary, expire in {} min", left.as_secs() / 60),
            Err(_) => "temporary, already expired".to_string(),
        },
        None => "long-term".to_string(),
    };
    (format!("{label}; {lifetime}"), instance)
}
