//! IAM enforcement in the emulator, for the least-privilege tests (moto's
//! `/moto-api/reset-auth` switch; docs/testing.md): create users with identity policies
//! while enforcement is still off, then turn it on; from then on every request (the
//! harness's own included) must be signed by a known user's keys and is authorized against
//! that user's policies.
//!
//! ```no_run
//! # use e2e::Emulator;
//! let mut em = Emulator::start();
//! let app = em.create_user("app", &e2e::iam::lab_policy(&em, &[]));
//! let admin = em.create_user("admin", &e2e::iam::admin_policy());
//! em.enforce_iam(&admin); // the harness now signs with `admin`
//! let mut cmd = e2e::salesapp(&em);
//! app.apply(&mut cmd); // the binary runs as `app`
//! ```

use std::process::Command;

use aws_sdk_s3::config::Credentials;
use serde_json::{json, Value};

use crate::{Emulator, HARNESS_APP_NAME};

/// An IAM user's access key.
#[derive(Debug, Clone)]
pub struct Keys {
    pub user: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Keys {
    /// Makes `cmd` (from [`crate::salesapp`] / [`crate::reportsengine`]) run with these keys.
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key)
    }
}

/// The emulator's account (moto's default).
pub const ACCOUNT: &str = "123456789012";

/// `arn:aws:sqs:us-east-1:ACCOUNT:QUEUE` of the emulator's queue.
pub fn queue_arn(em: &Emulator) -> String {
    let name = em.queue_url().trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
}

/// Everything on everything: the harness's own identity once enforcement is on.
pub fn admin_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
}

/// The lab's effective permissions (docs/design.md, The lab's controls): `s3:GetObject`/`s3:PutObject` on the restricted
/// bucket (`arn:aws:s3:::B` and `B/*`), `sqs:SendMessage`/`ReceiveMessage`/`DeleteMessage` on
/// the queue, plus the batch names moto checks (AWS authorizes batches as the single forms).
/// `without` removes actions (e.g. `["s3:PutObject"]`) to provoke a denial.
pub fn lab_policy(em: &Emulator, without: &[&str]) -> Value {
    let bucket = format!("arn:aws:s3:::{}", em.bucket());
    let s3: Vec<&str> =
        ["s3:GetObject", "s3:PutObject"].into_iter().filter(|a| !without.contains(a)).collect();
    let sqs: Vec<&str> = [
        "sqs:SendMessage",
        "sqs:SendMessageBatch",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:DeleteMessageBatch",
    ]
    .into_iter()
    .filter(|a| !without.iter().any(|w| a.starts_with(w)))
    .collect();
    let mut statements = Vec::new();
    if !s3.is_empty() {
        statements.push(json!({"Effect": "Allow", "Action": s3,
            "Resource": [bucket.clone(), format!("{bucket}/*")]}));
    }
    if !sqs.is_empty() {
        statements.push(json!({"Effect": "Allow", "Action": sqs, "Resource": queue_arn(em)}));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// `policy` with one more statement appended (e.g. an explicit Deny).
pub fn with_statement(mut policy: Value, statement: Value) -> Value {
    if let Some(list) = policy["Statement"].as_array_mut() {
        list.push(statement);
    }
    policy
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

impl Emulator {
    /// One IAM Query API call (`Action=…&Version=2010-05-08`), *before* enforcement is on:
    /// unsigned, with an Authorization header whose credential scope names `iam` only so that
    /// moto routes it to IAM. Panics unless it answers 2xx; returns the XML.
    pub fn iam(&self, action: &str, params: &[(&str, &str)]) -> String {
        let mut body = format!("Action={action}&Version=2010-05-08");
        for (k, v) in params {
            body.push_str(&format!("&{k}={}", form_encode(v)));
        }
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, \
                    SignedHeaders=host, Signature=0";
        let (status, out) = self.http_with_body(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("Authorization", auth),
                ("User-Agent", HARNESS_APP_NAME),
            ],
            body.as_bytes(),
        );
        let text = String::from_utf8_lossy(&out).into_owned();
        assert!((200..300).contains(&status), "IAM {action}: HTTP {status}: {text}");
        text
    }

    /// Creates IAM user `name` with the inline identity policy `policy` and an access key.
    /// Call before [`Emulator::enforce_iam`].
    pub fn create_user(&self, name: &str, policy: &Value) -> Keys {
        self.iam("CreateUser", &[("UserName", name)]);
        self.iam(
            "PutUserPolicy",
            &[
                ("UserName", name),
                ("PolicyName", &format!("{name}-policy")),
                ("PolicyDocument", &policy.to_string()),
            ],
        );
        let xml = self.iam("CreateAccessKey", &[("UserName", name)]);
        Keys {
            user: name.to_string(),
            access_key_id: xml_text(&xml, "AccessKeyId").expect("AccessKeyId").to_string(),
            secret_access_key: xml_text(&xml, "SecretAccessKey")
                .expect("SecretAccessKey")
                .to_string(),
        }
    }

    /// Turns IAM enforcement on (`POST /moto-api/reset-auth`, body `0`) and makes the
    /// harness's own clients sign with `admin`'s keys from now on (the default `test` keys
    /// belong to no user, so they would be refused).
    pub fn enforce_iam(&mut self, admin: &Keys) {
        let (status, body) = self.http_with_body(
            "POST",
            "/moto-api/reset-auth",
            &[("Content-Type", "text/plain")],
            b"0",
        );
        assert!(status < 300, "reset-auth: {status} {}", String::from_utf8_lossy(&body));
        let (s3, sqs) = self.clients_for(admin);
        self.s3 = s3;
        self.sqs = sqs;
    }

    /// S3 and SQS clients signing with `keys` (tagged as the harness's, so the recorder
    /// leaves their requests out): e.g. to show that a restricted user is refused a call.
    pub fn clients_for(&self, keys: &Keys) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
        let creds =
            Credentials::new(&keys.access_key_id, &keys.secret_access_key, None, None, "e2e-iam");
        let endpoint = self.endpoint();
        crate::harness_clients(&endpoint, creds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(form_encode("a b/{\"x\":1}"), "a%20b%2F%7B%22x%22%3A1%7D");
        assert_eq!(xml_text("<a><B>x</B></a>", "B"), Some("x"));
        assert_eq!(xml_text("<a></a>", "B"), None);
    }
}
