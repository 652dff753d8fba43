//! Policies as the engine reads them: parsed from the JSON AWS accepts, with the few
//! normalisations the engine needs to read them as AWS does, and a name that says where each
//! came from (for the decision log and `why`).
//!
//! # Normalisations
//! - A missing `Version` is AWS's default, `2008-10-17` (the engine requires the field).
//! - A single `Statement` object is a list of one.
//! - In a **VPC endpoint policy** an account principal (`"AWS": "123456789012"` or
//!   `"arn:aws:iam::123456789012:root"`), as the workshop's SQS endpoint policy has it, means
//!   "any principal of that account": AWS accepts it in an interface endpoint's policy and
//!   lets the account's roles and users through. The engine (iam-rs) matches such a principal
//!   against the account's root user only, so a role would be refused. It is rewritten as
//!   `"Principal": "*"` with `StringEquals aws:PrincipalAccount` (a statement that also names
//!   other principals is split in two, one for each kind). In bucket and queue policies the
//!   account principal keeps AWS's meaning there (the account delegates to its identity
//!   policies), which is the engine's.

use serde_json::{json, Map, Value};

/// Which of AWS's policy types a policy is: it decides how it takes part in a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Attached to the caller (user, group or role): inline or managed.
    Identity,
    /// A VPC endpoint's policy: through the endpoint, it must allow.
    Endpoint,
    /// A bucket policy (resource-based).
    Bucket,
    /// A queue policy (resource-based).
    Queue,
}

impl PolicyKind {
    /// Resource-based policies grant by themselves within the account.
    pub fn is_resource_based(self) -> bool {
        matches!(self, PolicyKind::Bucket | PolicyKind::Queue)
    }
}

/// A policy, parsed, with where it came from.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    pub kind: PolicyKind,
    /// Where it lives, in words: `role lab-SalesAppRole-X, inline policy salesapp`, `the S3
    /// gateway endpoint vpce-…`, `bucket lab-restrictedbucket-…`.
    pub name: String,
    /// As AWS stored it (what GetBucketPolicy and friends answer).
    pub text: String,
    pub policy: iam_rs::IAMPolicy,
}

/// Why a policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct PolicyError {
    pub name: String,
    pub reason: String,
}

/// Parses a policy of `kind` (see the module doc for what is normalised).
pub fn parse(kind: PolicyKind, name: &str, text: &str) -> Result<NamedPolicy, PolicyError> {
    let error = |reason: String| PolicyError { name: name.to_string(), reason };
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| error(format!("not JSON: {e}")))?;
    normalise(kind, &mut value).map_err(error)?;
    let policy: iam_rs::IAMPolicy =
        serde_json::from_value(value).map_err(|e| error(format!("not a policy: {e}")))?;
    if policy.statement.is_empty() {
        return Err(error("no statements".into()));
    }
    Ok(NamedPolicy { kind, name: name.to_string(), text: text.to_string(), policy })
}

fn normalise(kind: PolicyKind, value: &mut Value) -> Result<(), String> {
    let object = value.as_object_mut().ok_or("a policy is a JSON object")?;
    object.entry("Version").or_insert_with(|| json!("2008-10-17"));
    let statements = match object.remove("Statement") {
        Some(Value::Array(list)) => list,
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => return Err("Statement is neither an object nor a list".into()),
        None => return Err("no Statement".into()),
    };
    let statements = if kind == PolicyKind::Endpoint {
        statements.into_iter().flat_map(split_account_principals).collect()
    } else {
        statements
    };
    object.insert("Statement".into(), Value::Array(statements));
    Ok(())
}

/// The account of an account principal (`123456789012`, `arn:aws:iam::123456789012:root`).
fn account_principal(id: &str) -> Option<&str> {
    let account =
        id.strip_prefix("arn:aws:iam::").and_then(|rest| rest.strip_suffix(":root")).unwrap_or(id);
    (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then_some(account)
}

/// An endpoint policy's statement with its account principals rewritten (module doc).
fn split_account_principals(statement: Value) -> Vec<Value> {
    let ids: Vec<String> = match statement.get("Principal").and_then(|p| p.get("AWS")) {
        Some(Value::String(id)) => vec![id.clone()],
        Some(Value::Array(ids)) => {
            ids.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        _ => return vec![statement],
    };
    let (accounts, others): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| account_principal(id).is_some());
    if accounts.is_empty() {
        return vec![statement];
    }
    let accounts: Vec<Value> =
        accounts.iter().filter_map(|a| account_principal(a)).map(|a| json!(a)).collect();
    let mut by_account = statement.clone();
    if let Some(object) = by_account.as_object_mut() {
        object.insert("Principal".into(), json!("*"));
        let condition = object.entry("Condition").or_insert_with(|| Value::Object(Map::new()));
        if let Some(condition) = condition.as_object_mut() {
            let equals =
                condition.entry("StringEquals").or_insert_with(|| Value::Object(Map::new()));
            if let Some(equals) = equals.as_object_mut() {
                equals.insert("aws:PrincipalAccount".into(), Value::Array(accounts));
            }
        }
    }
    let mut out = vec![by_account];
    if !others.is_empty() {
        let mut by_arn = statement;
        if let Some(principal) = by_arn.get_mut("Principal").and_then(Value::as_object_mut) {
            principal.insert("AWS".into(), json!(others));
        }
        out.push(by_arn);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_a_single_statement() {
        let p = parse(
            PolicyKind::Identity,
            "x",
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        )
        .expect("parses");
        assert_eq!(p.policy.statement.len(), 1);
        assert_eq!(
            p.text, r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            "kept as given"
        );
        for bad in [
            "",
            "[]",
            r#"{"Statement":[]}"#,
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Statement":[{"Effect":"Maybe"}]}"#,
        ] {
            assert!(parse(PolicyKind::Bucket, "bad", bad).is_err(), "{bad}");
        }
    }

    /// The workshop's SQS endpoint policy names the account: rewritten for the engine.
    #[test]
    fn an_endpoint_policys_account_principal_means_the_accounts_principals() {
        let workshop = r#"{"Statement":[{"Sid":"Messages","Effect":"Allow","Principal":{"AWS":"123456789012"},
            "Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":"arn:aws:sqs:us-east-1:123456789012:q"}]}"#;
        let p = parse(PolicyKind::Endpoint, "e", workshop).expect("parses");
        let s = serde_json::to_value(&p.policy.statement[0]).expect("json");
        assert_eq!(s["Principal"], json!("*"), "{s}");
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:PrincipalAccount"],
            json!(["123456789012"]),
            "{s}"
        );
        assert_eq!(s["Sid"], "Messages");

        // Root ARN form, mixed with a role, and an existing condition kept.
        let mixed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","arn:aws:iam::210987654321:role/x"]},
            "Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
        let p = parse(PolicyKind::Endpoint, "e", mixed).expect("parses");
        assert_eq!(p.policy.statement.len(), 2);
        let both: Vec<Value> =
            p.policy.statement.iter().map(|s| serde_json::to_value(s).expect("json")).collect();
        assert_eq!(
            both[0]["Condition"]["StringEquals"]["aws:PrincipalAccount"],
            json!(["123456789012"])
        );
        assert!(both[0]["Condition"]["Bool"].is_object(), "{}", both[0]);
        assert_eq!(both[1]["Principal"]["AWS"], json!(["arn:aws:iam::210987654321:role/x"]));

        // Not in bucket or queue policies: there the account principal delegates to IAM.
        let queue = parse(PolicyKind::Queue, "q", workshop).expect("parses");
        let s = serde_json::to_value(&queue.policy.statement[0]).expect("json");
        assert_ne!(s["Principal"], json!("*"));
    }

    #[test]
    fn account_principals() {
        assert_eq!(account_principal("123456789012"), Some("123456789012"));
        assert_eq!(account_principal("arn:aws:iam::123456789012:root"), Some("123456789012"));
        assert_eq!(account_principal("arn:aws:iam::123456789012:role/r"), None);
        assert_eq!(account_principal("*"), None);
    }
}
