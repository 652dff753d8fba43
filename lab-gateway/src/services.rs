//! The other services the workshop uses through every host (EC2, IAM, STS, CloudFormation,
//! and any other): the action from the query protocol's `Action=` or the JSON protocol's
//! `X-Amz-Target`, authorized by the caller's identity policy alone (the lab models no
//! resource-level permissions for them: the resource is `*`, or the role of an AssumeRole).

use crate::check::{Check, ANY_RESOURCE};
use crate::request::{form_pairs, form_value, Head};

/// A request to another service, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCall {
    /// The signing name (`ec2`, `iam`, `sts`, `cloudformation`, …), also the IAM prefix.
    pub service: String,
    pub operation: String,
    /// JSON protocol (`X-Amz-Target`), else query.
    pub json: bool,
    pub checks: Vec<Check>,
}

/// AWS's default VPC endpoint policy: what `modify-vpc-endpoint --reset-policy` restores.
pub const DEFAULT_ENDPOINT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// Understands a request to `service` from its head and (whole, bounded) body.
pub fn map(service: &str, head: &Head, body: &[u8]) -> Result<ServiceCall, String> {
    let (operation, json, pairs) = match head.header("x-amz-target") {
        Some(target) => {
            let op = target.rsplit_once('.').map_or(target, |(_, op)| op);
            (op.to_string(), true, Vec::new())
        }
        None => {
            let mut pairs = head.query.clone();
            pairs.extend(form_pairs(body));
            let op = form_value(&pairs, "Action")
                .ok_or_else(|| format!("a {service} request without an Action"))?
                .to_string();
            (op, false, pairs)
        }
    };
    let resource = match (service, operation.as_str()) {
        ("sts", "AssumeRole") => form_value(&pairs, "RoleArn").unwrap_or(ANY_RESOURCE).to_string(),
        _ => ANY_RESOURCE.to_string(),
    };
    let checks = vec![Check::new(format!("{service}:{operation}"), resource)];
    Ok(ServiceCall { service: service.to_string(), operation, json, checks })
}

/// Whether an operation only reads (the lab's view of the stack cannot have changed).
pub fn is_read_only(operation: &str) -> bool {
    ["Describe", "Get", "List", "Lookup", "Validate", "Estimate", "Detect"]
        .iter()
        .any(|p| operation.starts_with(p))
}

/// AWS authorizes no permission for `sts:GetCallerIdentity`: even an explicit Deny does not
/// stop it.
pub fn needs_no_permission(check: &Check) -> bool {
    check.action.eq_ignore_ascii_case("sts:GetCallerIdentity")
}

/// A ModifyVpcEndpoint body asking for `ResetPolicy=true`, rewritten to set AWS's default
/// policy instead: the emulator accepts `ResetPolicy` and keeps the old policy (moto 5.2.5).
/// `None` when the body does not reset the policy.
pub fn reset_policy_body(body: &[u8]) -> Option<Vec<u8>> {
    let pairs = form_pairs(body);
    if !pairs.iter().any(|(k, v)| k == "ResetPolicy" && v.eq_ignore_ascii_case("true")) {
        return None;
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != "ResetPolicy" && k != "PolicyDocument") {
        out.append_pair(k, v);
    }
    out.append_pair("PolicyDocument", DEFAULT_ENDPOINT_POLICY);
    Some(out.finish().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_protocol_services() {
        let head = Head::new("POST", "/", &[]);
        let modify = map(
            "ec2",
            &head,
            b"Action=ModifyVpcEndpoint&VpcEndpointId=vpce-1&ResetPolicy=true&Version=2016-11-15",
        )
        .expect("maps");
        assert_eq!((modify.operation.as_str(), modify.json), ("ModifyVpcEndpoint", false));
        assert_eq!(modify.checks, [Check::new("ec2:ModifyVpcEndpoint", "*")]);
        let put = map("iam", &head, b"Action=PutRolePolicy&RoleName=r").expect("maps");
        assert_eq!(put.checks[0].action, "iam:PutRolePolicy");
        let assume =
            map("sts", &head, b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr")
                .expect("maps");
        assert_eq!(assume.checks[0], Check::new("sts:AssumeRole", "arn:aws:iam::1:role/r"));
        let get = map("cloudformation", &Head::new("GET", "/?Action=DescribeStacks", &[]), b"")
            .expect("maps");
        assert_eq!(get.checks[0].action, "cloudformation:DescribeStacks");
        assert!(map("ec2", &head, b"Version=1").is_err());
    }

    #[test]
    fn json_protocol_services() {
        let head = Head::new("POST", "/", &[("X-Amz-Target", "AmazonSSM.GetParameter")]);
        let call = map("ssm", &head, b"{}").expect("maps");
        assert_eq!((call.checks[0].action.as_str(), call.json), ("ssm:GetParameter", true));
    }

    #[test]
    fn read_only_and_free_calls() {
        assert!(is_read_only("DescribeVpcEndpoints"));
        assert!(is_read_only("GetRolePolicy"));
        assert!(!is_read_only("ModifyVpcEndpoint"));
        assert!(!is_read_only("RevokeSecurityGroupIngress"));
        assert!(needs_no_permission(&Check::new("sts:GetCallerIdentity", "*")));
        assert!(!needs_no_permission(&Check::new("sts:AssumeRole", "*")));
    }

    #[test]
    fn reset_policy_becomes_the_default_policy() {
        let body =
            reset_policy_body(b"Action=ModifyVpcEndpoint&VpcEndpointId=vpce-1&ResetPolicy=true")
                .expect("rewritten");
        let pairs = form_pairs(&body);
        assert_eq!(form_value(&pairs, "PolicyDocument"), Some(DEFAULT_ENDPOINT_POLICY));
        assert_eq!(form_value(&pairs, "ResetPolicy"), None);
        assert_eq!(form_value(&pairs, "VpcEndpointId"), Some("vpce-1"));
        assert_eq!(reset_policy_body(b"Action=ModifyVpcEndpoint&PolicyDocument=x"), None);
    }
}
