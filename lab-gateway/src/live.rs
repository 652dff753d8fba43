//! Reading the lab's live state from the emulator's own APIs (EC2 DescribeVpcEndpoints and
//! DescribeSecurityGroups, IAM's policy calls, STS GetCallerIdentity), as unsigned-but-scoped
//! query requests: the emulator's IAM enforcement is off, so it checks no signature, and the
//! credential scope routes each request to its service.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::BodyExt;
use percent_encoding::percent_decode_str;

use crate::lab::{EndpointDoc, PolicyDoc, RuleDoc, Snapshot};
use crate::upstream::{self, full, UpstreamError};

/// The most a state answer may be (policies are at most a few KiB each).
const ANSWER_LIMIT: usize = 8 << 20;

/// Why the live state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("{action}: HTTP {status}: {body}")]
    Status { action: String, status: u16, body: String },
    #[error("{action}: the answer is not readable XML: {reason}")]
    Xml { action: String, reason: String },
}

/// The emulator, as a source of the lab's state.
#[derive(Debug, Clone)]
pub struct Emulator {
    pub addr: SocketAddr,
    pub region: String,
}

/// `http://127.0.0.1:PORT` → the socket address; only loopback is accepted.
pub fn emulator_addr(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url:?}: not http://"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let addr: SocketAddr = hostport.parse().map_err(|e| format!("{url:?}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{url:?}: the emulator must be on loopback"));
    }
    Ok(addr)
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.tag_name().name() == name)
}

fn child_text(node: roxmltree::Node, name: &str) -> Option<String> {
    child(node, name).map(|c| c.text().unwrap_or_default().to_string())
}

/// The `<item>`/`<member>` children of a node's child `set`.
fn items<'a, 'i>(node: roxmltree::Node<'a, 'i>, set: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    child(node, set)
        .map(|s| {
            s.children().filter(|c| matches!(c.tag_name().name(), "item" | "member")).collect()
        })
        .unwrap_or_default()
}

/// All texts of the elements named `name`, anywhere in the document.
fn all_texts(doc: &roxmltree::Document, name: &str) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

/// A policy document as IAM answers it: URL-encoded JSON (AWS), or the JSON itself.
pub fn policy_text(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        trimmed.to_string()
    } else {
        percent_decode_str(trimmed).decode_utf8_lossy().into_owned()
    }
}

impl Emulator {
    /// One query-protocol call; the answer's text when it is 2xx.
    async fn call(
        &self,
        service: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, LiveError> {
        self.call_as("lab-gateway", service, action, params).await
    }

    /// [`Emulator::call`] under an access key's credential scope (the emulator answers STS's
    /// GetCallerIdentity for that key).
    async fn call_as(
        &self,
        access_key: &str,
        service: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, LiveError> {
        let version = match service {
            "ec2" => "2016-11-15",
            "iam" => "2010-05-08",
            _ => "2011-06-15",
        };
        // The serializer is not Send: it must not live across the awaits below.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action).append_pair("Version", version);
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let request = http::Request::post("/")
            .header("host", self.addr.to_string())
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential={access_key}/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
                    self.region
                ),
            )
            .header("user-agent", "lab-gateway")
            .body(full(body))
            .map_err(|e| LiveError::Status { action: action.into(), status: 0, body: e.to_string() })?;
        let answer = upstream::send(self.addr, request).await?;
        let status = answer.status().as_u16();
        let bytes = upstream::collect(answer.into_body(), ANSWER_LIMIT).await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !(200..300).contains(&status) {
            return Err(LiveError::Status {
                action: action.into(),
                status,
                body: text.chars().take(300).collect(),
            });
        }
        Ok(text)
    }

    /// Whether a bucket exists (HeadBucket).
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, LiveError> {
        // A bucket's name is lower-case letters, digits, dots and dashes: nothing to encode.
        let valid = !bucket.is_empty()
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return Ok(false);
        }
        let path = format!("/{bucket}");
        let request = http::Request::head(path)
            .header("host", self.addr.to_string())
            .header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=lab-gateway/20260101/{}/s3/aws4_request, SignedHeaders=host, Signature=0", self.region),
            )
            .body(full(Bytes::new()))
            .map_err(|e| LiveError::Status { action: "HeadBucket".into(), status: 0, body: e.to_string() })?;
        let answer = upstream::send(self.addr, request).await?;
        let status = answer.status().as_u16();
        let _ = answer.into_body().collect().await;
        Ok((200..300).contains(&status))
    }

    /// The ARN an access key belongs to (`sts get-caller-identity` signed with it); `None` for
    /// a key the emulator does not know (it answers those as its default user, `user/moto`).
    pub async fn caller_arn(&self, access_key: &str) -> Result<Option<String>, LiveError> {
        let text = self.call_as(access_key, "sts", "GetCallerIdentity", &[]).await?;
        let doc = parse("GetCallerIdentity", &text)?;
        let arn = all_texts(&doc, "Arn").into_iter().next().unwrap_or_default();
        Ok((!arn.is_empty() && !arn.ends_with(":user/moto")).then_some(arn))
    }

    /// The lab's VPC endpoints, their security groups' inbound rules, and the identity
    /// policies of `principals` (user or role ARNs).
    pub async fn snapshot(
        &self,
        endpoint_ids: &[String],
        principals: &BTreeSet<String>,
    ) -> Result<Snapshot, LiveError> {
        let endpoints = self.endpoints(endpoint_ids).await?;
        let groups: BTreeSet<String> =
            endpoints.iter().flat_map(|e| e.groups.iter().cloned()).collect();
        let security_groups = self.security_groups(&groups).await?;
        let mut identity_policies = BTreeMap::new();
        for principal in principals {
            identity_policies.insert(principal.clone(), self.identity_policies(principal).await?);
        }
        Ok(Snapshot { endpoints, security_groups, identity_policies })
    }

    async fn endpoints(&self, ids: &[String]) -> Result<Vec<EndpointDoc>, LiveError> {
        let params: Vec<(String, String)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("VpcEndpointId.{}", i + 1), id.clone()))
            .collect();
        let text = self.call("ec2", "DescribeVpcEndpoints", &params).await?;
        let doc = parse("DescribeVpcEndpoints", &text)?;
        let Some(set) = doc.descendants().find(|n| n.tag_name().name() == "vpcEndpointSet") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in set.children().filter(|c| c.tag_name().name() == "item") {
            let policy = child_text(item, "policyDocument").filter(|p| !p.trim().is_empty());
            out.push(EndpointDoc {
                id: child_text(item, "vpcEndpointId").unwrap_or_default(),
                kind: child_text(item, "vpcEndpointType").unwrap_or_else(|| "Gateway".into()),
                service_name: child_text(item, "serviceName").unwrap_or_default(),
                vpc_id: child_text(item, "vpcId").unwrap_or_default(),
                policy: policy.map(|p| policy_text(&p)),
                route_tables: items(item, "routeTableIdSet")
                    .iter()
                    .filter_map(|n| n.text())
                    .map(str::to_string)
                    .collect(),
                groups: items(item, "groupSet")
                    .iter()
                    .filter_map(|n| child_text(*n, "groupId"))
                    .collect(),
                private_dns: child_text(item, "privateDnsEnabled").is_some_and(|v| v == "true"),
            });
        }
        Ok(out)
    }

    async fn security_groups(
        &self,
        ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<RuleDoc>>, LiveError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let params: Vec<(String, String)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("GroupId.{}", i + 1), id.clone()))
            .collect();
        let text = self.call("ec2", "DescribeSecurityGroups", &params).await?;
        let doc = parse("DescribeSecurityGroups", &text)?;
        let mut out = BTreeMap::new();
        let Some(info) = doc.descendants().find(|n| n.tag_name().name() == "securityGroupInfo")
        else {
            return Ok(out);
        };
        for group in info.children().filter(|c| c.tag_name().name() == "item") {
            let id = child_text(group, "groupId").unwrap_or_default();
            let rules = items(group, "ipPermissions")
                .into_iter()
                .map(|p| RuleDoc {
                    protocol: child_text(p, "ipProtocol").unwrap_or_else(|| "-1".into()),
                    from_port: child_text(p, "fromPort").and_then(|v| v.parse().ok()),
                    to_port: child_text(p, "toPort").and_then(|v| v.parse().ok()),
                    cidrs: items(p, "ipRanges")
                        .iter()
                        .filter_map(|r| child_text(*r, "cidrIp"))
                        .collect(),
                    groups: items(p, "groups")
                        .iter()
                        .filter_map(|g| child_text(*g, "groupId"))
                        .collect(),
                })
                .collect();
            out.insert(id, rules);
        }
        Ok(out)
    }

    /// A principal's identity policies: its inline and attached policies, and for a user
    /// those of its groups. (Permission boundaries and organizations' policies are not
    /// modelled.)
    pub async fn identity_policies(&self, principal: &str) -> Result<Vec<PolicyDoc>, LiveError> {
        let Some((kind, name)) = principal.rsplit_once(':').and_then(|(_, r)| r.split_once('/'))
        else {
            return Ok(Vec::new());
        };
        let name = name.rsplit('/').next().unwrap_or(name).to_string();
        match kind {
            "role" => self.entity_policies("Role", &name).await,
            "user" => {
                let mut out = self.entity_policies("User", &name).await?;
                let text = self
                    .call("iam", "ListGroupsForUser", &[("UserName".into(), name.clone())])
                    .await?;
                let doc = parse("ListGroupsForUser", &text)?;
                for group in all_texts(&doc, "GroupName") {
                    out.extend(self.entity_policies("Group", &group).await?);
                }
                Ok(out)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The inline and attached policies of a role, user or group (`entity` is `Role`,
    /// `User` or `Group`, as in IAM's action names).
    async fn entity_policies(&self, entity: &str, name: &str) -> Result<Vec<PolicyDoc>, LiveError> {
        let key = format!("{entity}Name");
        let who = format!("{} {name}", entity.to_lowercase());
        let mut out = Vec::new();
        let list = format!("List{entity}Policies");
        let text = self.call("iam", &list, &[(key.clone(), name.to_string())]).await?;
        for policy in all_texts(&parse(&list, &text)?, "member") {
            let get = format!("Get{entity}Policy");
            let text = self
                .call(
                    "iam",
                    &get,
                    &[(key.clone(), name.to_string()), ("PolicyName".into(), policy.clone())],
                )
                .await?;
            let document = all_texts(&parse(&get, &text)?, "PolicyDocument")
                .into_iter()
                .next()
                .unwrap_or_default();
            out.push(PolicyDoc {
                name: format!("{who}, inline policy {policy}"),
                document: policy_text(&document),
            });
        }
        let attached = format!("ListAttached{entity}Policies");
        let text = self.call("iam", &attached, &[(key, name.to_string())]).await?;
        for arn in all_texts(&parse(&attached, &text)?, "PolicyArn") {
            let text = self.call("iam", "GetPolicy", &[("PolicyArn".into(), arn.clone())]).await?;
            let version = all_texts(&parse("GetPolicy", &text)?, "DefaultVersionId")
                .into_iter()
                .next()
                .unwrap_or_default();
            let text = self
                .call(
                    "iam",
                    "GetPolicyVersion",
                    &[("PolicyArn".into(), arn.clone()), ("VersionId".into(), version)],
                )
                .await?;
            let document = all_texts(&parse("GetPolicyVersion", &text)?, "Document")
                .into_iter()
                .next()
                .unwrap_or_default();
            out.push(PolicyDoc {
                name: format!("{who}, managed policy {arn}"),
                document: policy_text(&document),
            });
        }
        Ok(out)
    }
}

fn parse<'i>(action: &str, text: &'i str) -> Result<roxmltree::Document<'i>, LiveError> {
    roxmltree::Document::parse(text)
        .map_err(|e| LiveError::Xml { action: action.into(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_addresses_are_loopback_only() {
        assert_eq!(emulator_addr("http://127.0.0.1:5000").expect("ok").port(), 5000);
        assert_eq!(emulator_addr("http://127.0.0.1:5000/").expect("ok").port(), 5000);
        assert!(emulator_addr("http://10.0.0.1:5000").is_err());
        assert!(emulator_addr("https://127.0.0.1:5000").is_err());
        assert!(emulator_addr("http://localhost:5000").is_err(), "an address, not a name");
    }

    #[test]
    fn policy_documents_as_iam_answers_them() {
        assert_eq!(policy_text(" {\"a\":1} "), "{\"a\":1}");
        assert_eq!(policy_text("%7B%22a%22%3A1%7D"), "{\"a\":1}");
    }

    #[test]
    fn xml_helpers() {
        let doc = roxmltree::Document::parse(
            "<R><vpcEndpointSet><item><routeTableIdSet><item>rtb-1</item><item>rtb-2</item></routeTableIdSet><groupSet/></item></vpcEndpointSet></R>",
        )
        .expect("xml");
        let item = doc
            .descendants()
            .find(|n| n.tag_name().name() == "vpcEndpointSet")
            .and_then(|s| s.first_element_child())
            .expect("item");
        let tables: Vec<&str> =
            items(item, "routeTableIdSet").iter().filter_map(|n| n.text()).collect();
        assert_eq!(tables, ["rtb-1", "rtb-2"]);
        assert!(items(item, "groupSet").is_empty());
        assert!(items(item, "nothing").is_empty());
    }
}
