//! A stand-in for an instance's metadata service (IMDSv2 only), one per instance host, so
//! the daemons run as on EC2: no keys in their environment, the instance role's credentials
//! from `AWS_EC2_METADATA_SERVICE_ENDPOINT`. The emulator's own IMDS answers the token
//! request without the `X-aws-ec2-metadata-token-ttl-seconds` header the SDK requires.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lab::CredentialsDoc;

/// One instance's metadata.
#[derive(Debug, Clone)]
pub struct Instance {
    pub role: String,
    pub credentials: CredentialsDoc,
    pub region: String,
    pub account: String,
    pub instance_id: String,
    pub private_ip: String,
}

/// How long the credentials are said to last: the SDK refreshes them before that.
const CREDENTIALS_LIFETIME: time::Duration = time::Duration::minutes(15);
/// Tokens remembered (the oldest are forgotten first).
const MAX_TOKENS: usize = 1024;

/// The metadata service: tokens handed out and the instance's answers.
pub struct Service {
    instance: Instance,
    tokens: Mutex<VecDeque<(String, Instant)>>,
}

/// An answer: status, extra headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

impl Service {
    pub fn new(instance: Instance) -> Service {
        Service { instance, tokens: Mutex::new(VecDeque::new()) }
    }

    /// Answers one request. `header` gives a request header by (lower-case) name.
    pub fn answer(
        &self,
        method: &str,
        path: &str,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> Answer {
        let text =
            |status, body: String| (status, vec![("content-type", "text/plain".to_string())], body);
        if method == "PUT" && path == "/latest/api/token" {
            let ttl = header("x-aws-ec2-metadata-token-ttl-seconds")
                .and_then(|v| v.trim().parse::<u64>().ok());
            let Some(ttl) = ttl.filter(|t| (1..=21600).contains(t)) else {
                return text(400, "X-aws-ec2-metadata-token-ttl-seconds must be 1 to 21600".into());
            };
            let token = format!("{:032x}", fastrand::u128(..));
            if let Ok(mut tokens) = self.tokens.lock() {
                if tokens.len() >= MAX_TOKENS {
                    tokens.pop_front();
                }
                tokens.push_back((token.clone(), Instant::now() + Duration::from_secs(ttl)));
            }
            return (
                200,
                vec![
                    ("content-type", "text/plain".into()),
                    ("x-aws-ec2-metadata-token-ttl-seconds", ttl.to_string()),
                ],
                token,
            );
        }
        if method != "GET" {
            return text(405, "method not allowed".into());
        }
        let token = header("x-aws-ec2-metadata-token").unwrap_or_default();
        let valid = self
            .tokens
            .lock()
            .map(|t| t.iter().any(|(known, until)| *known == token && Instant::now() < *until))
            .unwrap_or(false);
        if !valid {
            // IMDSv2 only (the template's instances require tokens).
            return text(401, "Unauthorized".into());
        }
        let i = &self.instance;
        let role_path = format!("/latest/meta-data/iam/security-credentials/{}", i.role);
        match path {
            "/latest/meta-data/iam/security-credentials/"
            | "/latest/meta-data/iam/security-credentials" => text(200, i.role.clone()),
            p if p == role_path => {
                let now = time::OffsetDateTime::now_utc();
                let stamp = |t: time::OffsetDateTime| {
                    t.replace_nanosecond(0)
                        .ok()
                        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                        .unwrap_or_default()
                };
                let body = serde_json::json!({
                    "Code": "Success",
                    "LastUpdated": stamp(now),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": i.credentials.access_key_id,
                    "SecretAccessKey": i.credentials.secret_access_key,
                    "Token": i.credentials.session_token.clone().unwrap_or_default(),
                    "Expiration": stamp(now + CREDENTIALS_LIFETIME),
                });
                (200, vec![("content-type", "application/json".into())], body.to_string())
            }
            "/latest/meta-data/placement/region" => text(200, i.region.clone()),
            "/latest/meta-data/placement/availability-zone" => text(200, format!("{}a", i.region)),
            "/latest/meta-data/instance-id" => text(200, i.instance_id.clone()),
            "/latest/meta-data/local-ipv4" => text(200, i.private_ip.clone()),
            "/latest/dynamic/instance-identity/document" => {
                let body = serde_json::json!({
                    "accountId": i.account,
                    "region": i.region,
                    "availabilityZone": format!("{}a", i.region),
                    "instanceId": i.instance_id,
                    "privateIp": i.private_ip,
                });
                (200, vec![("content-type", "application/json".into())], body.to_string())
            }
            _ => text(404, "Not Found".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service::new(Instance {
            role: "lab-SalesAppRole-X".into(),
            credentials: CredentialsDoc {
                access_key_id: "ASIA1".into(),
                secret_access_key: "s".into(),
                session_token: Some("t".into()),
            },
            region: "us-east-1".into(),
            account: "123456789012".into(),
            instance_id: "i-1".into(),
            private_ip: "10.0.1.4".into(),
        })
    }

    #[test]
    fn imdsv2_token_then_the_roles_credentials() {
        let s = service();
        let none = |_: &str| None;
        assert_eq!(s.answer("PUT", "/latest/api/token", &none).0, 400, "the TTL is required");
        let (status, headers, token) = s.answer("PUT", "/latest/api/token", &|h: &str| {
            (h == "x-aws-ec2-metadata-token-ttl-seconds").then(|| "21600".into())
        });
        assert_eq!(status, 200);
        assert!(
            headers.contains(&("x-aws-ec2-metadata-token-ttl-seconds", "21600".into())),
            "the SDK needs this header"
        );
        assert_eq!(
            s.answer("GET", "/latest/meta-data/iam/security-credentials/", &none).0,
            401,
            "IMDSv1 is off"
        );
        let with = move |h: &str| (h == "x-aws-ec2-metadata-token").then(|| token.clone());
        assert_eq!(
            s.answer("GET", "/latest/meta-data/iam/security-credentials/", &with).2,
            "lab-SalesAppRole-X"
        );
        let (status, _, body) =
            s.answer("GET", "/latest/meta-data/iam/security-credentials/lab-SalesAppRole-X", &with);
        assert_eq!(status, 200);
        let creds: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            (creds["AccessKeyId"].as_str(), creds["Token"].as_str()),
            (Some("ASIA1"), Some("t"))
        );
        assert!(creds["Expiration"].as_str().is_some_and(|e| e.ends_with('Z')), "{body}");
        assert_eq!(s.answer("GET", "/latest/meta-data/placement/region", &with).2, "us-east-1");
        assert_eq!(s.answer("GET", "/latest/meta-data/other", &with).0, 404);
        assert_eq!(
            s.answer("GET", "/latest/meta-data/instance-id", &|_: &str| Some("wrong".into())).0,
            401
        );
    }
}
