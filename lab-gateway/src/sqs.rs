//! SQS requests as AWS authorizes them, in both protocols: JSON (`X-Amz-Target:
//! AmazonSQS.<Action>`, what the Rust SDK, boto3 and the CLI send today) and query
//! (`Action=<Action>` in a form body, the older clients and the workshop's era). The batch
//! calls are authorized as their single forms, ListQueues on `*`, everything else on the queue
//! named by `QueueUrl` (or the request's path, in the query protocol) or `QueueName`.
//!
//! Queue policies are the gateway's (the emulator stores the attribute but enforces nothing):
//! [`take_policy`] removes a `Policy` attribute from a SetQueueAttributes request and
//! [`add_policy`] puts the gateway's into a GetQueueAttributes answer.

use serde_json::Value;

use crate::check::{Check, ANY_RESOURCE};
use crate::request::{form_pairs, form_value, Head};

/// How the request is encoded, and so how its answer (and a denial) must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Query,
}

/// An SQS request, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsCall {
    pub protocol: Protocol,
    /// The API operation (`SendMessageBatch`, …).
    pub operation: String,
    /// The queue's ARN, when the request names one.
    pub queue_arn: Option<String>,
    pub checks: Vec<Check>,
}

/// The queue ARN of a queue URL: `…/ACCOUNT/NAME` (the emulator, like SQS, takes the last
/// segment as the name; the account is the one before it, else `default_account`).
pub fn queue_arn(url: &str, region: &str, default_account: &str) -> Option<String> {
    let path =
        url.split_once("://").map_or(url, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let name = segments.next().filter(|n| !n.is_empty())?;
    let account = segments
        .next()
        .filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or(default_account);
    Some(format!("arn:aws:sqs:{region}:{account}:{name}"))
}

/// The IAM action of an SQS operation: the batch calls are their single forms.
pub fn action_of(operation: &str) -> String {
    let single = match operation {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    format!("sqs:{single}")
}

/// Understands an SQS request from its head and (whole, bounded) body. `region` and
/// `account` are the signer's region and the lab's account.
pub fn map(head: &Head, body: &[u8], region: &str, account: &str) -> Result<SqsCall, String> {
    let (protocol, operation, queue_url, queue_name, owner) = match head.header("x-amz-target") {
        Some(target) => {
            let operation = target
                .strip_prefix("AmazonSQS.")
                .ok_or_else(|| format!("X-Amz-Target {target:?} is not an SQS action"))?;
            let json: Value = if body.is_empty() {
                Value::Object(Default::default())
            } else {
                serde_json::from_slice(body)
                    .map_err(|e| format!("the JSON body does not parse: {e}"))?
            };
            let field = |name: &str| json.get(name).and_then(Value::as_str).map(str::to_string);
            (
                Protocol::Json,
                operation.to_string(),
                field("QueueUrl"),
                field("QueueName"),
                field("QueueOwnerAWSAccountId"),
            )
        }
        None => {
            let mut pairs = head.query.clone();
            pairs.extend(form_pairs(body));
            let operation = form_value(&pairs, "Action")
                .ok_or("neither X-Amz-Target nor Action: not an SQS request")?
                .to_string();
            // In the query protocol the queue may be the request's own path.
            let from_path = (head.path.trim_matches('/').contains('/'))
                .then(|| format!("https://sqs.{region}.amazonaws.com{}", head.path));
            let value = |name: &str| form_value(&pairs, name).map(str::to_string);
            (
                Protocol::Query,
                operation,
                value("QueueUrl").or(from_path),
                value("QueueName"),
                value("QueueOwnerAWSAccountId"),
            )
        }
    };
    let resource = match operation.as_str() {
        "ListQueues" => Some(ANY_RESOURCE.to_string()),
        "CreateQueue" | "GetQueueUrl" => queue_name.map(|name| {
            let owner = owner.as_deref().unwrap_or(account);
            format!("arn:aws:sqs:{region}:{owner}:{name}")
        }),
        _ => queue_url.as_deref().and_then(|url| queue_arn(url, region, account)),
    };
    let queue_arn = resource.clone().filter(|r| r != ANY_RESOURCE);
    let checks =
        vec![Check::new(action_of(&operation), resource.unwrap_or_else(|| ANY_RESOURCE.into()))];
    Ok(SqsCall { protocol, operation, queue_arn, checks })
}

/// A SetQueueAttributes body with its `Policy` attribute taken out: the policy (`""`
/// removes it), the body to forward (`None` when nothing else was set).
pub fn take_policy(
    protocol: Protocol,
    body: &[u8],
) -> Result<(Option<String>, Option<Vec<u8>>), String> {
    match protocol {
        Protocol::Json => {
            let mut json: Value = serde_json::from_slice(body)
                .map_err(|e| format!("the JSON body does not parse: {e}"))?;
            let Some(attributes) = json.get_mut("Attributes").and_then(Value::as_object_mut) else {
                return Ok((None, Some(body.to_vec())));
            };
            let Some(policy) = attributes.remove("Policy") else {
                return Ok((None, Some(body.to_vec())));
            };
            let policy = policy.as_str().ok_or("Attributes.Policy is not a string")?.to_string();
            let rest = (!attributes.is_empty()).then(|| json.to_string().into_bytes());
            Ok((Some(policy), rest))
        }
        Protocol::Query => {
            let pairs = form_pairs(body);
            // Attribute.N.Name=Policy / Attribute.N.Value=…
            let index = pairs.iter().find_map(|(k, v)| {
                let n = k.strip_prefix("Attribute.")?.strip_suffix(".Name")?;
                (v == "Policy").then(|| n.to_string())
            });
            let Some(n) = index else { return Ok((None, Some(body.to_vec()))) };
            let name_key = format!("Attribute.{n}.Name");
            let value_key = format!("Attribute.{n}.Value");
            let policy = form_value(&pairs, &value_key).unwrap_or_default().to_string();
            let rest: Vec<&(String, String)> =
                pairs.iter().filter(|(k, _)| *k != name_key && *k != value_key).collect();
            let others = rest.iter().any(|(k, _)| k.starts_with("Attribute."));
            let body = others.then(|| {
                let mut out = form_urlencoded::Serializer::new(String::new());
                for (k, v) in rest {
                    out.append_pair(k, v);
                }
                out.finish().into_bytes()
            });
            Ok((Some(policy), body))
        }
    }
}

/// Whether a GetQueueAttributes request asks for the `Policy` attribute (by name or `All`).
pub fn asks_for_policy(protocol: Protocol, head: &Head, body: &[u8]) -> bool {
    let wanted = |name: &str| name == "Policy" || name == "All";
    match protocol {
        Protocol::Json => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|j| j.get("AttributeNames").and_then(Value::as_array).cloned())
            .is_some_and(|names| names.iter().filter_map(Value::as_str).any(wanted)),
        Protocol::Query => {
            let mut pairs = head.query.clone();
            pairs.extend(form_pairs(body));
            pairs.iter().any(|(k, v)| k.starts_with("AttributeName") && wanted(v))
        }
    }
}

/// A GetQueueAttributes answer with the gateway's `Policy` attribute in it.
pub fn add_policy(protocol: Protocol, answer: &[u8], policy: &str) -> Result<Vec<u8>, String> {
    match protocol {
        Protocol::Json => {
            let mut json: Value = serde_json::from_slice(answer)
                .map_err(|e| format!("the answer does not parse: {e}"))?;
            let object = json.as_object_mut().ok_or("the answer is not an object")?;
            let attributes = object
                .entry("Attributes")
                .or_insert_with(|| Value::Object(Default::default()))
                .as_object_mut()
                .ok_or("Attributes is not an object")?;
            attributes.insert("Policy".into(), Value::String(policy.to_string()));
            Ok(json.to_string().into_bytes())
        }
        Protocol::Query => {
            let text = std::str::from_utf8(answer).map_err(|_| "the answer is not UTF-8")?;
            let close = "</GetQueueAttributesResult>";
            let attribute = format!(
                "<Attribute><Name>Policy</Name><Value>{}</Value></Attribute>",
                crate::s3::xml_escape(policy)
            );
            if let Some(i) = text.find(close) {
                return Ok(format!("{}{attribute}{}", &text[..i], &text[i..]).into_bytes());
            }
            // An empty result element: <GetQueueAttributesResult/>.
            let empty = "<GetQueueAttributesResult/>";
            let i = text.find(empty).ok_or("no GetQueueAttributesResult in the answer")?;
            Ok(format!(
                "{}<GetQueueAttributesResult>{attribute}{close}{}",
                &text[..i],
                &text[i + empty.len()..]
            )
            .into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/lab-Queue-1";
    const ARN: &str = "arn:aws:sqs:us-east-1:123456789012:lab-Queue-1";

    fn json(target: &str, body: &str) -> SqsCall {
        let head = Head::new(
            "POST",
            "/",
            &[("X-Amz-Target", target), ("Content-Type", "application/x-amz-json-1.0")],
        );
        map(&head, body.as_bytes(), "us-east-1", "123456789012").expect("maps")
    }

    fn query(path: &str, body: &str) -> SqsCall {
        let head =
            Head::new("POST", path, &[("Content-Type", "application/x-www-form-urlencoded")]);
        map(&head, body.as_bytes(), "us-east-1", "123456789012").expect("maps")
    }

    #[test]
    fn json_protocol_as_the_sdks_and_the_cli_send_it() {
        let send =
            json("AmazonSQS.SendMessage", &format!(r#"{{"QueueUrl":"{URL}","MessageBody":"x"}}"#));
        assert_eq!(send.protocol, Protocol::Json);
        assert_eq!(send.checks, [Check::new("sqs:SendMessage", ARN)]);
        assert_eq!(send.queue_arn.as_deref(), Some(ARN));
        let batch =
            json("AmazonSQS.SendMessageBatch", &format!(r#"{{"QueueUrl":"{URL}","Entries":[]}}"#));
        assert_eq!(
            (batch.operation.as_str(), batch.checks[0].action.as_str()),
            ("SendMessageBatch", "sqs:SendMessage")
        );
        let delete = json("AmazonSQS.DeleteMessageBatch", &format!(r#"{{"QueueUrl":"{URL}"}}"#));
        assert_eq!(delete.checks[0].action, "sqs:DeleteMessage");
        let receive = json(
            "AmazonSQS.ReceiveMessage",
            &format!(r#"{{"QueueUrl":"{URL}","WaitTimeSeconds":20}}"#),
        );
        assert_eq!(receive.checks, [Check::new("sqs:ReceiveMessage", ARN)]);
        assert_eq!(json("AmazonSQS.ListQueues", "{}").checks, [Check::new("sqs:ListQueues", "*")]);
        assert_eq!(json("AmazonSQS.ListQueues", "").checks[0].resource, "*");
        let url = json("AmazonSQS.GetQueueUrl", r#"{"QueueName":"q"}"#);
        assert_eq!(
            url.checks,
            [Check::new("sqs:GetQueueUrl", "arn:aws:sqs:us-east-1:123456789012:q")]
        );
        let visibility =
            json("AmazonSQS.ChangeMessageVisibilityBatch", &format!(r#"{{"QueueUrl":"{URL}"}}"#));
        assert_eq!(visibility.checks[0].action, "sqs:ChangeMessageVisibility");
    }

    #[test]
    fn query_protocol_with_the_queue_in_the_body_or_the_path() {
        let body = format!(
            "Action=SendMessage&QueueUrl={}&MessageBody=x&Version=2012-11-05",
            urlencode(URL)
        );
        let send = query("/", &body);
        assert_eq!(
            (send.protocol, send.checks.clone()),
            (Protocol::Query, vec![Check::new("sqs:SendMessage", ARN)])
        );
        let by_path =
            query("/123456789012/lab-Queue-1", "Action=DeleteMessageBatch&Version=2012-11-05");
        assert_eq!(by_path.checks, [Check::new("sqs:DeleteMessage", ARN)]);
        assert_eq!(query("/", "Action=ListQueues").checks[0].resource, "*");
        let head = Head::new("GET", "/?Action=ListQueues", &[]);
        assert_eq!(map(&head, b"", "us-east-1", "1").expect("maps").operation, "ListQueues");
    }

    #[test]
    fn not_sqs() {
        let head = Head::new("POST", "/", &[("X-Amz-Target", "AmazonSSM.GetParameter")]);
        assert!(map(&head, b"{}", "us-east-1", "1").is_err());
        assert!(map(&Head::new("POST", "/", &[]), b"x=1", "us-east-1", "1").is_err());
    }

    #[test]
    fn queue_urls() {
        assert_eq!(queue_arn(URL, "us-east-1", "999999999999").as_deref(), Some(ARN));
        assert_eq!(
            queue_arn("http://127.0.0.1:5000/q/", "eu-west-1", "111111111111").as_deref(),
            Some("arn:aws:sqs:eu-west-1:111111111111:q")
        );
        assert_eq!(queue_arn("https://sqs.us-east-1.amazonaws.com/", "us-east-1", "1"), None);
    }

    fn urlencode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    #[test]
    fn policy_attribute_taken_out_of_set_queue_attributes() {
        let body = format!(
            r#"{{"QueueUrl":"{URL}","Attributes":{{"Policy":"{{}}","VisibilityTimeout":"40"}}}}"#
        );
        let (policy, rest) = take_policy(Protocol::Json, body.as_bytes()).expect("json");
        assert_eq!(policy.as_deref(), Some("{}"));
        let rest: Value = serde_json::from_slice(&rest.expect("the rest")).expect("json");
        assert_eq!(rest["Attributes"], serde_json::json!({"VisibilityTimeout": "40"}));
        let only = format!(r#"{{"QueueUrl":"{URL}","Attributes":{{"Policy":""}}}}"#);
        assert_eq!(
            take_policy(Protocol::Json, only.as_bytes()).expect("json"),
            (Some(String::new()), None)
        );
        let other = br#"{"Attributes":{"DelaySeconds":"1"}}"#;
        assert_eq!(take_policy(Protocol::Json, other).expect("json"), (None, Some(other.to_vec())));

        let form = format!(
            "Action=SetQueueAttributes&QueueUrl={}&Attribute.1.Name=Policy&Attribute.1.Value={}&Attribute.2.Name=DelaySeconds&Attribute.2.Value=1",
            urlencode(URL),
            urlencode(r#"{"Statement":[]}"#)
        );
        let (policy, rest) = take_policy(Protocol::Query, form.as_bytes()).expect("query");
        assert_eq!(policy.as_deref(), Some(r#"{"Statement":[]}"#));
        let rest = String::from_utf8(rest.expect("the rest")).expect("utf-8");
        assert!(
            rest.contains("Attribute.2.Name=DelaySeconds") && !rest.contains("Policy"),
            "{rest}"
        );
        let alone = "Action=SetQueueAttributes&Attribute.1.Name=Policy&Attribute.1.Value=";
        assert_eq!(
            take_policy(Protocol::Query, alone.as_bytes()).expect("query"),
            (Some(String::new()), None)
        );
    }

    #[test]
    fn policy_attribute_added_to_get_queue_attributes() {
        let head = Head::new("POST", "/", &[]);
        assert!(asks_for_policy(Protocol::Json, &head, br#"{"AttributeNames":["All"]}"#));
        assert!(asks_for_policy(
            Protocol::Json,
            &head,
            br#"{"AttributeNames":["Policy","QueueArn"]}"#
        ));
        assert!(!asks_for_policy(Protocol::Json, &head, br#"{"AttributeNames":["QueueArn"]}"#));
        assert!(asks_for_policy(
            Protocol::Query,
            &head,
            b"Action=GetQueueAttributes&AttributeName.1=Policy"
        ));
        assert!(!asks_for_policy(
            Protocol::Query,
            &head,
            b"Action=GetQueueAttributes&AttributeName.1=QueueArn"
        ));

        let answer = add_policy(Protocol::Json, br#"{"Attributes":{"QueueArn":"a"}}"#, "{\"x\":1}")
            .expect("json");
        let answer: Value = serde_json::from_slice(&answer).expect("json");
        assert_eq!(answer["Attributes"]["Policy"], "{\"x\":1}");
        let empty = add_policy(Protocol::Json, b"{}", "p").expect("json");
        assert_eq!(
            serde_json::from_slice::<Value>(&empty).expect("json")["Attributes"]["Policy"],
            "p"
        );
        let xml = add_policy(
            Protocol::Query,
            b"<GetQueueAttributesResponse><GetQueueAttributesResult><Attribute><Name>A</Name><Value>1</Value></Attribute></GetQueueAttributesResult></GetQueueAttributesResponse>",
            "{\"a\":\"<\"}",
        )
        .expect("xml");
        let xml = String::from_utf8(xml).expect("utf-8");
        assert!(xml.contains("<Attribute><Name>Policy</Name><Value>{&quot;a&quot;:&quot;&lt;&quot;}</Value></Attribute></GetQueueAttributesResult>"), "{xml}");
        let bare =
            add_policy(Protocol::Query, b"<R><GetQueueAttributesResult/></R>", "p").expect("xml");
        assert_eq!(bare, b"<R><GetQueueAttributesResult><Attribute><Name>Policy</Name><Value>p</Value></Attribute></GetQueueAttributesResult></R>");
    }
}
