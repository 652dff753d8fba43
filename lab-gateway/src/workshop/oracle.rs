//! The walkthrough's own reading of one policy: does it allow, deny, or say nothing about one
//! request?
//!
//! Written by hand on purpose, apart from the gateway's engine (iam-rs) and its evaluation
//! logic: the walkthrough's expectations are an oracle for the gateway, and an oracle that
//! runs the code under test agrees with it whatever it does. It is deliberately small: the
//! statement shapes the workshop's policies use (`Allow`/`Deny`; `Principal` `*`, an account,
//! its root or an ARN; `Action`/`NotAction` and `Resource`/`NotResource` with `*` and `?`; the
//! string, ARN and `Bool` condition operators, `…IfExists` included). Anything else makes the
//! answer [`Says::Unknown`], and the walkthrough then says it cannot tell rather than guess.
//!
//! Within one account an account principal (`"AWS": "123456789012"` or its `:root` ARN) is
//! read as "the account's principals": what an interface endpoint's policy means by it. In a
//! resource policy it strictly means "delegated to the account's identity policies"; the
//! walkthrough's probes only ask such policies what they *deny*, where the two readings agree.

use std::collections::BTreeMap;

use serde_json::Value;

/// Who asks.
#[derive(Debug, Clone)]
pub struct Principal {
    /// As policies name it: a user's ARN, or an assumed role's *role* ARN.
    pub arn: String,
    pub account: String,
}

/// One request, as a policy sees it. Context keys are lower-case (AWS matches them so).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    pub action: &'a str,
    /// An ARN, or `*` for an action that names no resource.
    pub resource: &'a str,
    pub context: &'a BTreeMap<String, String>,
}

/// What one policy says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Says {
    Allow,
    Deny,
    Nothing,
    /// A shape this reader does not know.
    Unknown(String),
}

/// `*` and `?` wildcards; case-insensitive when `fold` (action names).
pub fn wildcard(pattern: &str, text: &str, fold: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if fold {
        (pattern.to_lowercase().chars().collect(), text.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative matching with one backtrack point for the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// A string or a list of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(list) => list.iter().map(|v| v.as_str().map(str::to_string)).collect(),
        Value::Bool(b) => Some(vec![b.to_string()]),
        _ => None,
    }
}

fn principal_matches(principal: Option<&Value>, who: &Principal) -> Result<bool, String> {
    let Some(principal) = principal else { return Ok(true) }; // an identity policy
    if principal.as_str() == Some("*") {
        return Ok(true);
    }
    let Some(map) = principal.as_object() else {
        return Err(format!("Principal {principal}"));
    };
    let mut matched = false;
    for (kind, names) in map {
        let names = strings(names).ok_or_else(|| format!("Principal {principal}"))?;
        if kind != "AWS" {
            continue; // a service or a federated principal: never the lab's callers
        }
        matched |= names.iter().any(|n| {
            n == "*"
                || *n == who.account
                || *n == format!("arn:aws:iam::{}:root", who.account)
                || *n == who.arn
        });
    }
    Ok(matched)
}

/// `Action`/`NotAction` (or `Resource`/`NotResource`) against one value.
fn listed(statement: &Value, key: &str, value: &str, fold: bool) -> Result<bool, String> {
    let negated = format!("Not{key}");
    let (patterns, negate) = match (statement.get(key), statement.get(&negated)) {
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        _ => return Err(format!("a statement with neither or both of {key} and {negated}")),
    };
    let patterns = strings(patterns).ok_or_else(|| format!("{key} {patterns}"))?;
    let any = patterns.iter().any(|p| wildcard(p, value, fold));
    Ok(any != negate)
}

/// The condition operators this reader knows (each also with `IfExists`).
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Bool",
];

/// One condition operator on one key's values.
fn condition(
    operator: &str,
    key: &str,
    wanted: &[String],
    context: &BTreeMap<String, String>,
) -> Result<bool, String> {
    let (base, if_exists) = match operator.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (operator, false),
    };
    if !OPERATORS.contains(&base) {
        return Err(format!("the condition operator {operator}"));
    }
    let Some(got) = context.get(&key.to_lowercase()) else {
        // An absent key: a negated operator matches, any other does not (…IfExists: matches).
        return Ok(if_exists || base.contains("Not"));
    };
    let any = |f: &dyn Fn(&str) -> bool| wanted.iter().any(|w| f(w));
    Ok(match base {
        "StringEquals" | "ArnEquals" => any(&|w| w == got),
        "StringNotEquals" | "ArnNotEquals" => !any(&|w| w == got),
        "StringEqualsIgnoreCase" => any(&|w| w.eq_ignore_ascii_case(got)),
        "StringNotEqualsIgnoreCase" => !any(&|w| w.eq_ignore_ascii_case(got)),
        "StringLike" | "ArnLike" => any(&|w| wildcard(w, got, false)),
        "StringNotLike" | "ArnNotLike" => !any(&|w| wildcard(w, got, false)),
        _ => any(&|w| w.eq_ignore_ascii_case(got)), // Bool
    })
}

fn conditions_hold(statement: &Value, context: &BTreeMap<String, String>) -> Result<bool, String> {
    let Some(block) = statement.get("Condition") else { return Ok(true) };
    let operators = block.as_object().ok_or_else(|| format!("Condition {block}"))?;
    for (operator, keys) in operators {
        let keys = keys.as_object().ok_or_else(|| format!("Condition {operator} {keys}"))?;
        for (key, values) in keys {
            let wanted = strings(values).ok_or_else(|| format!("Condition {key} {values}"))?;
            if !condition(operator, key, &wanted, context)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn statement_applies(statement: &Value, request: &Request) -> Result<bool, String> {
    if statement.get("NotPrincipal").is_some() {
        return Err("NotPrincipal".into());
    }
    Ok(principal_matches(statement.get("Principal"), request.principal)?
        && listed(statement, "Action", request.action, true)?
        && listed(statement, "Resource", request.resource, false)?
        && conditions_hold(statement, request.context)?)
}

/// What `policy` (a policy document) says about `request`: an explicit Deny wins, then an
/// Allow; nothing else is said.
pub fn says(policy: &Value, request: &Request) -> Says {
    let list = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return Says::Unknown("no Statement".into()),
    };
    let mut allowed = false;
    for statement in &list {
        match statement_applies(statement, request) {
            Ok(false) => {}
            Ok(true) => match statement.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return Says::Deny,
                Some("Allow") => allowed = true,
                other => return Says::Unknown(format!("Effect {other:?}")),
            },
            Err(shape) => return Says::Unknown(shape),
        }
    }
    if allowed {
        Says::Allow
    } else {
        Says::Nothing
    }
}

/// [`says`] of several policies together (a role's): a Deny in any wins, then an Allow in any.
pub fn say_all(policies: &[Value], request: &Request) -> Says {
    let answers: Vec<Says> = policies.iter().map(|p| says(p, request)).collect();
    if let Some(unknown) = answers.iter().find(|a| matches!(a, Says::Unknown(_))) {
        return unknown.clone();
    }
    if answers.contains(&Says::Deny) {
        Says::Deny
    } else if answers.contains(&Says::Allow) {
        Says::Allow
    } else {
        Says::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("s3:*", "s3:GetObject", true));
        assert!(wildcard("S3:get*", "s3:GetObject", true));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b.csv", false));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b", false));
        assert!(wildcard("arn:aws:s3:::b?", "arn:aws:s3:::bx", false));
        assert!(wildcard("*", "*", false));
        assert!(!wildcard("arn:aws:sqs:us-east-1:1:q", "*", false), "ListQueues is on *");
        assert!(wildcard("a*b*c", "aXXbYYc", false) && !wildcard("a*b*c", "aXXbYY", false));
    }

    fn ask(policy: &str, action: &str, resource: &str, context: &[(&str, &str)]) -> Says {
        let principal = Principal {
            arn: "arn:aws:iam::123456789012:role/app".into(),
            account: "123456789012".into(),
        };
        let context = context.iter().map(|(k, v)| (k.to_lowercase(), v.to_string())).collect();
        let policy: Value = serde_json::from_str(policy).expect("json");
        says(&policy, &Request { principal: &principal, action, resource, context: &context })
    }

    #[test]
    fn statements_conditions_and_principals() {
        let bucket = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:PutObject",
            "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
            "Condition":{"StringNotEquals":{"aws:sourceVpce":"vpce-1"}}}}"#;
        assert_eq!(
            ask(bucket, "s3:PutObject", "arn:aws:s3:::b/k", &[]),
            Says::Deny,
            "no vpce at all"
        );
        assert_eq!(
            ask(bucket, "s3:PutObject", "arn:aws:s3:::b/k", &[("aws:SourceVpce", "vpce-1")]),
            Says::Nothing
        );
        assert_eq!(ask(bucket, "s3:DeleteObject", "arn:aws:s3:::b/k", &[]), Says::Nothing);
        let endpoint = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},
            "Action":["sqs:SendMessage"],"Resource":"arn:aws:sqs:us-east-1:123456789012:q"}]}"#;
        assert_eq!(
            ask(endpoint, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q", &[]),
            Says::Allow
        );
        assert_eq!(ask(endpoint, "sqs:ListQueues", "*", &[]), Says::Nothing);
        let other_account = endpoint.replace("123456789012\"}", "999999999999\"}");
        assert_eq!(
            ask(&other_account, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q", &[]),
            Says::Nothing
        );
        let not_action =
            r#"{"Statement":[{"Effect":"Allow","NotAction":"s3:Delete*","Resource":"*"}]}"#;
        assert_eq!(ask(not_action, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Says::Allow);
        assert_eq!(ask(not_action, "s3:DeleteObject", "arn:aws:s3:::b/k", &[]), Says::Nothing);
        let tls = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*",
            "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert_eq!(
            ask(tls, "s3:GetObject", "x", &[("aws:SecureTransport", "true")]),
            Says::Nothing
        );
        let odd = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"x"}}}]}"#;
        assert!(matches!(ask(odd, "s3:GetObject", "x", &[]), Says::Unknown(_)));
        let if_exists = r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
            "Condition":{"StringEqualsIfExists":{"aws:SourceVpce":"vpce-9"}}}]}"#;
        assert_eq!(
            ask(if_exists, "s3:GetObject", "x", &[]),
            Says::Deny,
            "an absent key, …IfExists"
        );
    }
}
