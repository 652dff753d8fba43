//! Which provider of the SDK's credential chain answered (never the secret itself).

use super::table::{Check, Table};
use super::CALL_TIMEOUT;
use crate::failure::Kind;

/// The credentials row; true when there are credentials to make calls with. Outside the
/// emulator, anything but the instance profile is a warning: it bypasses the role.
pub(super) async fn check(sdk: &aws_config::SdkConfig, emulator: bool, t: &mut Table) -> bool {
    let answer = match sdk.credentials_provider() {
        Some(p) => {
            use aws_credential_types::provider::ProvideCredentials;
            tokio::time::timeout(CALL_TIMEOUT, p.provide_credentials()).await
        }
        None => Ok(Err(aws_credential_types::provider::error::CredentialsError::not_loaded(
            "no credentials provider configured",
        ))),
    };
    match answer {
        Ok(Ok(creds)) => {
            let (source, instance) = credential_source(&creds);
            if instance || emulator {
                t.push(Check::pass("credentials", source));
            } else {
                t.push(Check::warn(
                    "credentials",
                    source,
                    "on the lab's instances the instance profile (IAMRoleFor…) should answer: \
                     other credentials bypass the role's least privilege",
                ));
            }
            true
        }
        Ok(Err(e)) => {
            t.push(Check::fail(
                "credentials",
                Kind::Denied,
                format!("no provider of the chain answered: {e}"),
                "on EC2 attach the instance profile (IAMRoleForSalesApp / IAMRoleForReportsEngine) \
                 and make sure IMDSv2 is reachable; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID",
            ));
            false
        }
        Err(_) => {
            t.push(Check::fail(
                "credentials",
                Kind::Transient,
                format!("the credential chain gave no answer within {}s", CALL_TIMEOUT.as_secs()),
                "IMDS did not answer: on EC2 check the instance metadata options (IMDSv2, hop \
                 limit); elsewhere set AWS_EC2_METADATA_DISABLED=true and other credentials",
            ));
            false
        }
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
