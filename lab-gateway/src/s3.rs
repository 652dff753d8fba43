//! S3 requests as AWS authorizes them: which bucket and key (path or virtual-host style, the
//! way the emulator reads them), which operation, and the IAM action and resource of each
//! check. HeadObject and GetObject are `s3:GetObject`; PutObject, CreateMultipartUpload,
//! UploadPart and CompleteMultipartUpload are `s3:PutObject`; a copy also reads its source;
//! `?versionId` selects the `…Version` actions; listing and HeadBucket are `s3:ListBucket`.
//! Operations follow the REST shape (method, key or not, subresource), never the `x-id` a
//! client adds, which it could set to anything.

use percent_encoding::percent_decode_str;

use crate::check::{bucket_arn, object_arn, Check, ANY_RESOURCE};
use crate::request::Head;

/// What the gateway does beyond deciding and forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    None,
    /// GetObject/HeadObject: a 404 becomes 403 unless the caller may list the bucket.
    ReadObject,
    /// Bucket policies are kept by the gateway, never stored in the emulator.
    PutBucketPolicy,
    GetBucketPolicy,
    DeleteBucketPolicy,
    /// DeleteObjects: one decision per key, answered per key inside a 200.
    DeleteObjects,
}

/// An S3 request, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Call {
    /// The API operation (`GetObject`, `ListObjects`, …).
    pub operation: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// What AWS checks, in order (empty for DeleteObjects: its keys are in the body).
    pub checks: Vec<Check>,
    pub special: Special,
}

/// The bucket named by the `Host` header in virtual-host style, as the emulator reads it
/// (moto 5.2.5's `subdomain_based_buckets` and `bucket_name_from_url`): loopback addresses,
/// dotless names, `localhost…` and the `s3.REGION.amazonaws.com` family are path style;
/// `B.s3….amazonaws.com` names `B`; any other dotted name names its first label. The gateway
/// authorizes the bucket the emulator will act on, so it must read the host the same way.
pub fn bucket_from_host(host: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.strip_prefix('[') {
        Some(_) => return None, // an IPv6 literal
        None => host.rsplit_once(':').map_or(host.as_str(), |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host.as_str()
            }
        }),
    };
    if name.is_empty()
        || !name.contains('.')
        || name.starts_with("localhost")
        || name.starts_with("localstack")
        || name.starts_with("host.docker.internal")
        || name.ends_with(".svc.cluster.local")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
    {
        return None;
    }
    let name = name.strip_prefix("www.").unwrap_or(name);
    if let Some(rest) = name.strip_suffix(".amazonaws.com") {
        // Path style: s3, s3.REGION, s3-REGION, s3.dualstack.REGION, s3-fips.REGION…
        let path_style = rest == "s3"
            || ((rest.starts_with("s3.") || rest.starts_with("s3-")) && !rest[3..].contains(".s3"));
        if path_style {
            return None;
        }
        // B.s3….amazonaws.com: the longest prefix before ".s3" (moto's greedy `(.+)\.s3`).
        return rest.rfind(".s3").map(|i| rest[..i].to_string()).filter(|b| !b.is_empty());
    }
    name.split('.').next().map(str::to_string)
}

/// The bucket and key a request addresses (decoded; `None` where absent).
pub fn locate(head: &Head) -> (Option<String>, Option<String>) {
    let path = head.decoded_path();
    let path = path.strip_prefix('/').unwrap_or(&path);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match head.header("host").and_then(bucket_from_host) {
        Some(bucket) => (Some(bucket), non_empty(path)),
        None => match path.split_once('/') {
            Some((bucket, key)) => (non_empty(bucket), non_empty(key)),
            None => (non_empty(path), None),
        },
    }
}

/// The source of a copy (`x-amz-copy-source: [/]BUCKET/KEY[?versionId=V]`, URL-encoded).
pub fn copy_source(value: &str) -> Option<(String, String, Option<String>)> {
    let (path, query) = value.split_once('?').unwrap_or((value, ""));
    let path = percent_decode_str(path).decode_utf8_lossy();
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = path.split_once('/')?;
    if bucket.is_empty() || key.is_empty() {
        return None;
    }
    let version = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "versionId")
        .map(|(_, v)| v.into_owned());
    Some((bucket.to_string(), key.to_string(), version))
}

/// The first of these subresources the query names.
fn subresource<'a>(head: &Head, names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().find(|n| head.has_query(n))
}

const BUCKET_SUBRESOURCES: &[&str] = &[
    "policy",
    "policyStatus",
    "acl",
    "cors",
    "encryption",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "ownershipControls",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "tagging",
    "versioning",
    "versions",
    "website",
    "uploads",
    "accelerate",
    "object-lock",
    "delete",
];

const OBJECT_SUBRESOURCES: &[&str] = &[
    "uploads",
    "uploadId",
    "tagging",
    "acl",
    "attributes",
    "retention",
    "legal-hold",
    "restore",
    "select",
    "torrent",
];

/// The action of a request the lab does not know: only `s3:*` or `*` grants it.
pub const UNRECOGNIZED: &str = "s3:UnrecognizedRequest";

/// Understands an S3 request (see the module doc).
pub fn map(head: &Head) -> S3Call {
    let (bucket, key) = locate(head);
    let method = head.method.as_str();
    let (operation, checks, special) = match (bucket.as_deref(), key.as_deref()) {
        // The service itself: only ListBuckets (GET /).
        (None, _) if method == "GET" => {
            ("ListBuckets", vec![Check::new("s3:ListAllMyBuckets", ANY_RESOURCE)], Special::None)
        }
        (None, _) => ("Unrecognized", vec![Check::new(UNRECOGNIZED, ANY_RESOURCE)], Special::None),
        (Some(b), None) => {
            let (op, action, special) = bucket_operation(head, method);
            // DeleteObjects is decided key by key.
            let checks = if special == Special::DeleteObjects {
                Vec::new()
            } else {
                vec![Check::new(action, bucket_arn(b))]
            };
            (op, checks, special)
        }
        (Some(b), Some(k)) => object_operation(head, method, b, k),
    };
    S3Call { operation, bucket, key, checks, special }
}

/// A request on an object: operation, the checks (the copy source's read too), special
/// handling.
fn object_operation(
    head: &Head,
    method: &str,
    bucket: &str,
    key: &str,
) -> (&'static str, Vec<Check>, Special) {
    let versioned = head.has_query("versionId");
    let pick = |plain: &'static str, version: &'static str| if versioned { version } else { plain };
    let target = object_arn(bucket, key);
    let copy = head.header("x-amz-copy-source").and_then(copy_source);
    let read_source = |checks: &mut Vec<Check>| {
        if let Some((sb, sk, sv)) = &copy {
            let action = if sv.is_some() { "s3:GetObjectVersion" } else { "s3:GetObject" };
            checks.push(Check::new(action, object_arn(sb, sk)));
        }
    };
    let sub = subresource(head, OBJECT_SUBRESOURCES);
    let single =
        |op, action: &'static str| (op, vec![Check::new(action, target.clone())], Special::None);
    match (method, sub) {
        ("GET", None) => (
            "GetObject",
            vec![Check::new(pick("s3:GetObject", "s3:GetObjectVersion"), target.clone())],
            Special::ReadObject,
        ),
        ("HEAD", None) => (
            "HeadObject",
            vec![Check::new(pick("s3:GetObject", "s3:GetObjectVersion"), target.clone())],
            Special::ReadObject,
        ),
        ("GET", Some("uploadId")) => single("ListParts", "s3:ListMultipartUploadParts"),
        ("GET", Some("tagging")) => {
            single("GetObjectTagging", pick("s3:GetObjectTagging", "s3:GetObjectVersionTagging"))
        }
        ("GET", Some("acl")) => {
            single("GetObjectAcl", pick("s3:GetObjectAcl", "s3:GetObjectVersionAcl"))
        }
        ("GET", Some("attributes")) => (
            "GetObjectAttributes",
            vec![
                Check::new(pick("s3:GetObject", "s3:GetObjectVersion"), target.clone()),
                Check::new(
                    pick("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
                    target.clone(),
                ),
            ],
            Special::None,
        ),
        ("GET", Some("retention")) => single("GetObjectRetention", "s3:GetObjectRetention"),
        ("GET", Some("legal-hold")) => single("GetObjectLegalHold", "s3:GetObjectLegalHold"),
        ("GET", Some("torrent")) => single("GetObjectTorrent", "s3:GetObjectTorrent"),
        ("PUT", Some("uploadId")) => {
            let mut checks = vec![Check::new("s3:PutObject", target.clone())];
            read_source(&mut checks);
            let op = if copy.is_some() { "UploadPartCopy" } else { "UploadPart" };
            (op, checks, Special::None)
        }
        ("PUT", None) => {
            let mut checks = vec![Check::new("s3:PutObject", target.clone())];
            read_source(&mut checks);
            let op = if copy.is_some() { "CopyObject" } else { "PutObject" };
            (op, checks, Special::None)
        }
        ("PUT", Some("tagging")) => {
            single("PutObjectTagging", pick("s3:PutObjectTagging", "s3:PutObjectVersionTagging"))
        }
        ("PUT", Some("acl")) => {
            single("PutObjectAcl", pick("s3:PutObjectAcl", "s3:PutObjectVersionAcl"))
        }
        ("PUT", Some("retention")) => single("PutObjectRetention", "s3:PutObjectRetention"),
        ("PUT", Some("legal-hold")) => single("PutObjectLegalHold", "s3:PutObjectLegalHold"),
        ("POST", Some("uploads")) => single("CreateMultipartUpload", "s3:PutObject"),
        ("POST", Some("uploadId")) => single("CompleteMultipartUpload", "s3:PutObject"),
        ("POST", Some("restore")) => single("RestoreObject", "s3:RestoreObject"),
        ("POST", Some("select")) => single("SelectObjectContent", "s3:GetObject"),
        ("DELETE", Some("uploadId")) => single("AbortMultipartUpload", "s3:AbortMultipartUpload"),
        ("DELETE", Some("tagging")) => single(
            "DeleteObjectTagging",
            pick("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
        ),
        ("DELETE", None) => {
            single("DeleteObject", pick("s3:DeleteObject", "s3:DeleteObjectVersion"))
        }
        _ => single("Unrecognized", UNRECOGNIZED),
    }
}

/// A request on a bucket (no key): operation, action, special handling.
fn bucket_operation(head: &Head, method: &str) -> (&'static str, &'static str, Special) {
    let plain = |op, action| (op, action, Special::None);
    match (method, subresource(head, BUCKET_SUBRESOURCES)) {
        ("GET", Some("policy")) => {
            ("GetBucketPolicy", "s3:GetBucketPolicy", Special::GetBucketPolicy)
        }
        ("PUT", Some("policy")) => {
            ("PutBucketPolicy", "s3:PutBucketPolicy", Special::PutBucketPolicy)
        }
        ("DELETE", Some("policy")) => {
            ("DeleteBucketPolicy", "s3:DeleteBucketPolicy", Special::DeleteBucketPolicy)
        }
        ("POST", Some("delete")) => ("DeleteObjects", "s3:DeleteObject", Special::DeleteObjects),
        ("GET", Some("policyStatus")) => plain("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"),
        ("GET", Some("acl")) => plain("GetBucketAcl", "s3:GetBucketAcl"),
        ("PUT", Some("acl")) => plain("PutBucketAcl", "s3:PutBucketAcl"),
        ("GET", Some("cors")) => plain("GetBucketCors", "s3:GetBucketCORS"),
        ("PUT", Some("cors")) | ("DELETE", Some("cors")) => {
            plain("PutBucketCors", "s3:PutBucketCORS")
        }
        ("GET", Some("encryption")) => {
            plain("GetBucketEncryption", "s3:GetEncryptionConfiguration")
        }
        ("PUT", Some("encryption")) | ("DELETE", Some("encryption")) => {
            plain("PutBucketEncryption", "s3:PutEncryptionConfiguration")
        }
        ("GET", Some("lifecycle")) => plain("GetBucketLifecycle", "s3:GetLifecycleConfiguration"),
        ("PUT", Some("lifecycle")) | ("DELETE", Some("lifecycle")) => {
            plain("PutBucketLifecycle", "s3:PutLifecycleConfiguration")
        }
        ("GET", Some("location")) => plain("GetBucketLocation", "s3:GetBucketLocation"),
        ("GET", Some("logging")) => plain("GetBucketLogging", "s3:GetBucketLogging"),
        ("PUT", Some("logging")) => plain("PutBucketLogging", "s3:PutBucketLogging"),
        ("GET", Some("notification")) => plain("GetBucketNotification", "s3:GetBucketNotification"),
        ("PUT", Some("notification")) => plain("PutBucketNotification", "s3:PutBucketNotification"),
        ("GET", Some("ownershipControls")) => {
            plain("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls")
        }
        ("PUT", Some("ownershipControls")) | ("DELETE", Some("ownershipControls")) => {
            plain("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls")
        }
        ("GET", Some("publicAccessBlock")) => {
            plain("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock")
        }
        ("PUT", Some("publicAccessBlock")) | ("DELETE", Some("publicAccessBlock")) => {
            plain("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock")
        }
        ("GET", Some("replication")) => {
            plain("GetBucketReplication", "s3:GetReplicationConfiguration")
        }
        ("PUT", Some("replication")) | ("DELETE", Some("replication")) => {
            plain("PutBucketReplication", "s3:PutReplicationConfiguration")
        }
        ("GET", Some("requestPayment")) => {
            plain("GetBucketRequestPayment", "s3:GetBucketRequestPayment")
        }
        ("PUT", Some("requestPayment")) => {
            plain("PutBucketRequestPayment", "s3:PutBucketRequestPayment")
        }
        ("GET", Some("tagging")) => plain("GetBucketTagging", "s3:GetBucketTagging"),
        ("PUT", Some("tagging")) | ("DELETE", Some("tagging")) => {
            plain("PutBucketTagging", "s3:PutBucketTagging")
        }
        ("GET", Some("versioning")) => plain("GetBucketVersioning", "s3:GetBucketVersioning"),
        ("PUT", Some("versioning")) => plain("PutBucketVersioning", "s3:PutBucketVersioning"),
        ("GET", Some("versions")) => plain("ListObjectVersions", "s3:ListBucketVersions"),
        ("GET", Some("website")) => plain("GetBucketWebsite", "s3:GetBucketWebsite"),
        ("PUT", Some("website")) => plain("PutBucketWebsite", "s3:PutBucketWebsite"),
        ("DELETE", Some("website")) => plain("DeleteBucketWebsite", "s3:DeleteBucketWebsite"),
        ("GET", Some("uploads")) => plain("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
        ("GET", Some("accelerate")) => {
            plain("GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration")
        }
        ("PUT", Some("accelerate")) => {
            plain("PutBucketAccelerateConfiguration", "s3:PutAccelerateConfiguration")
        }
        ("GET", Some("object-lock")) => {
            plain("GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration")
        }
        ("PUT", Some("object-lock")) => {
            plain("PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration")
        }
        ("GET", None) => plain("ListObjects", "s3:ListBucket"),
        ("HEAD", None) => plain("HeadBucket", "s3:ListBucket"),
        ("PUT", None) => plain("CreateBucket", "s3:CreateBucket"),
        ("DELETE", None) => plain("DeleteBucket", "s3:DeleteBucket"),
        _ => plain("Unrecognized", UNRECOGNIZED),
    }
}

/// One object named in a DeleteObjects body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    pub key: String,
    pub version: Option<String>,
}

impl DeleteEntry {
    /// The check AWS makes for this entry.
    pub fn check(&self, bucket: &str) -> Check {
        let action =
            if self.version.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
        Check::new(action, object_arn(bucket, &self.key))
    }
}

/// The objects a DeleteObjects body names, and whether it asks for a quiet answer.
pub fn parse_delete(body: &[u8]) -> Result<(Vec<DeleteEntry>, bool), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("malformed XML: {e}"))?;
    let child_text = |node: roxmltree::Node, name: &str| {
        node.children()
            .find(|c| c.tag_name().name() == name)
            .map(|c| c.text().unwrap_or_default().to_string())
    };
    let root = doc.root_element();
    let quiet = child_text(root, "Quiet").is_some_and(|q| q.trim() == "true");
    let mut entries = Vec::new();
    for object in root.children().filter(|c| c.tag_name().name() == "Object") {
        let key = child_text(object, "Key").ok_or("an Object without a Key")?;
        entries.push(DeleteEntry { key, version: child_text(object, "VersionId") });
    }
    Ok((entries, quiet))
}

/// Escapes text for an XML element.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A DeleteObjects body naming only `entries` (what is left to forward after denials).
pub fn delete_body(entries: &[DeleteEntry], quiet: bool) -> String {
    let mut body = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for e in entries {
        body.push_str("<Object><Key>");
        body.push_str(&xml_escape(&e.key));
        body.push_str("</Key>");
        if let Some(v) = &e.version {
            body.push_str("<VersionId>");
            body.push_str(&xml_escape(v));
            body.push_str("</VersionId>");
        }
        body.push_str("</Object>");
    }
    if quiet {
        body.push_str("<Quiet>true</Quiet>");
    }
    body.push_str("</Delete>");
    body
}

/// The `<Error>` elements of denied entries, to add to a DeleteResult.
pub fn delete_errors(denied: &[DeleteEntry]) -> String {
    let mut out = String::new();
    for e in denied {
        out.push_str("<Error><Key>");
        out.push_str(&xml_escape(&e.key));
        out.push_str("</Key>");
        if let Some(v) = &e.version {
            out.push_str("<VersionId>");
            out.push_str(&xml_escape(v));
            out.push_str("</VersionId>");
        }
        out.push_str("<Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    }
    out
}

/// `result` (the emulator's DeleteResult for the allowed entries, or `None` when none was
/// forwarded) with the denied entries' errors added.
pub fn merge_delete_result(result: Option<&str>, denied: &[DeleteEntry]) -> String {
    let errors = delete_errors(denied);
    match result.and_then(|r| r.rfind("</DeleteResult>").map(|i| (r, i))) {
        Some((r, i)) => format!("{}{errors}{}", &r[..i], &r[i..]),
        None => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{errors}</DeleteResult>"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: &str, target: &str, host: &str, extra: &[(&str, &str)]) -> Head {
        let mut headers = vec![("host", host)];
        headers.extend_from_slice(extra);
        Head::new(method, target, &headers)
    }

    fn mapped(method: &str, target: &str) -> S3Call {
        map(&head(method, target, "127.0.0.1:9000", &[]))
    }

    fn actions(call: &S3Call) -> Vec<(String, String)> {
        call.checks.iter().map(|c| (c.action.clone(), c.resource.clone())).collect()
    }

    #[test]
    fn hosts_are_read_as_the_emulator_reads_them() {
        for path_style in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "s3.amazonaws.com",
            "s3.us-east-1.amazonaws.com",
            "s3-us-west-2.amazonaws.com",
            "s3.dualstack.eu-west-1.amazonaws.com",
            "moto",
            "[::1]:5000",
        ] {
            assert_eq!(bucket_from_host(path_style), None, "{path_style}");
        }
        assert_eq!(bucket_from_host("b.s3.amazonaws.com").as_deref(), Some("b"));
        assert_eq!(bucket_from_host("b.s3.us-east-1.amazonaws.com").as_deref(), Some("b"));
        assert_eq!(
            bucket_from_host("my.dotted.bucket.s3.amazonaws.com").as_deref(),
            Some("my.dotted.bucket")
        );
        assert_eq!(bucket_from_host("b.localhost:5000").as_deref(), Some("b"));
        assert_eq!(bucket_from_host("first.second.example:80").as_deref(), Some("first"));
    }

    #[test]
    fn objects_the_daemons_and_the_cli_touch() {
        // The Rust SDK (path style, with x-id, which is ignored), the CLI's s3 cp / rm.
        let get = mapped("GET", "/bkt/sales/2026-01-02/sales.csv?x-id=GetObject");
        assert_eq!(get.operation, "GetObject");
        assert_eq!(get.special, Special::ReadObject);
        assert_eq!(
            actions(&get),
            [("s3:GetObject".into(), "arn:aws:s3:::bkt/sales/2026-01-02/sales.csv".into())]
        );
        let lying = mapped("DELETE", "/bkt/k?x-id=GetObject");
        assert_eq!(
            actions(&lying)[0].0,
            "s3:DeleteObject",
            "x-id is the client's word, not the shape"
        );
        assert_eq!(mapped("HEAD", "/bkt/day.csv").checks[0].action, "s3:GetObject");
        assert_eq!(mapped("HEAD", "/bkt/day.csv").special, Special::ReadObject);
        assert_eq!(
            mapped("PUT", "/bkt/compensation/ledger.csv?x-id=PutObject").operation,
            "PutObject"
        );
        assert_eq!(mapped("PUT", "/bkt/k").checks[0].action, "s3:PutObject");
        assert_eq!(mapped("DELETE", "/bkt/k").checks[0].action, "s3:DeleteObject");
        assert_eq!(mapped("GET", "/bkt/k?versionId=3").checks[0].action, "s3:GetObjectVersion");
        assert_eq!(
            mapped("DELETE", "/bkt/k?versionId=3").checks[0].action,
            "s3:DeleteObjectVersion"
        );
        let key = mapped("GET", "/bkt/a%20b/%C3%BC%2B.csv");
        assert_eq!(key.key.as_deref(), Some("a b/ü+.csv"));
        assert_eq!(key.checks[0].resource, "arn:aws:s3:::bkt/a b/ü+.csv");
    }

    #[test]
    fn multipart_uploads_are_put_object() {
        for (method, target, op) in [
            ("POST", "/bkt/big.csv?uploads&x-id=CreateMultipartUpload", "CreateMultipartUpload"),
            ("PUT", "/bkt/big.csv?partNumber=2&uploadId=abc&x-id=UploadPart", "UploadPart"),
            ("POST", "/bkt/big.csv?uploadId=abc", "CompleteMultipartUpload"),
        ] {
            let call = mapped(method, target);
            assert_eq!(call.operation, op);
            assert_eq!(
                actions(&call),
                [("s3:PutObject".into(), "arn:aws:s3:::bkt/big.csv".into())]
            );
        }
        assert_eq!(
            mapped("DELETE", "/bkt/big.csv?uploadId=abc").checks[0].action,
            "s3:AbortMultipartUpload"
        );
        assert_eq!(
            mapped("GET", "/bkt/big.csv?uploadId=abc").checks[0].action,
            "s3:ListMultipartUploadParts"
        );
    }

    #[test]
    fn a_copy_reads_its_source_and_writes_its_target() {
        let call = map(&head(
            "PUT",
            "/dst/new",
            "127.0.0.1",
            &[("x-amz-copy-source", "/src/old%20key?versionId=v1")],
        ));
        assert_eq!(call.operation, "CopyObject");
        assert_eq!(
            actions(&call),
            [
                ("s3:PutObject".into(), "arn:aws:s3:::dst/new".into()),
                ("s3:GetObjectVersion".into(), "arn:aws:s3:::src/old key".into())
            ]
        );
        let part = map(&head(
            "PUT",
            "/dst/new?partNumber=1&uploadId=u",
            "127.0.0.1",
            &[("x-amz-copy-source", "src/k")],
        ));
        assert_eq!(part.operation, "UploadPartCopy");
        assert_eq!(part.checks[1], Check::new("s3:GetObject", "arn:aws:s3:::src/k"));
    }

    #[test]
    fn buckets_and_the_service() {
        let list = mapped("GET", "/bkt?list-type=2&prefix=sales%2F");
        assert_eq!(actions(&list), [("s3:ListBucket".into(), "arn:aws:s3:::bkt".into())]);
        assert_eq!(mapped("GET", "/bkt/").operation, "ListObjects");
        assert_eq!(mapped("HEAD", "/bkt").checks[0].action, "s3:ListBucket");
        assert_eq!(mapped("GET", "/").checks[0], Check::new("s3:ListAllMyBuckets", "*"));
        assert_eq!(mapped("GET", "/bkt?versions").checks[0].action, "s3:ListBucketVersions");
        assert_eq!(mapped("GET", "/bkt?uploads").checks[0].action, "s3:ListBucketMultipartUploads");
        assert_eq!(mapped("PUT", "/bkt").checks[0].action, "s3:CreateBucket");
        assert_eq!(
            mapped("GET", "/bkt?encryption").checks[0].action,
            "s3:GetEncryptionConfiguration"
        );
        assert_eq!(mapped("GET", "/bkt?location").checks[0].action, "s3:GetBucketLocation");
        assert_eq!(mapped("PATCH", "/bkt").checks[0].action, UNRECOGNIZED);
        assert_eq!(mapped("GET", "/bkt/k?unknown-thing").operation, "GetObject");
    }

    #[test]
    fn bucket_policy_calls_are_the_gateways() {
        assert_eq!(mapped("PUT", "/bkt?policy").special, Special::PutBucketPolicy);
        assert_eq!(
            mapped("PUT", "/bkt?policy").checks[0],
            Check::new("s3:PutBucketPolicy", "arn:aws:s3:::bkt")
        );
        assert_eq!(mapped("GET", "/bkt?policy").special, Special::GetBucketPolicy);
        assert_eq!(mapped("DELETE", "/bkt?policy").special, Special::DeleteBucketPolicy);
        assert_eq!(mapped("GET", "/bkt?policyStatus").special, Special::None);
        let virtual_host = map(&head("PUT", "/?policy", "bkt.s3.us-east-1.amazonaws.com", &[]));
        assert_eq!(virtual_host.bucket.as_deref(), Some("bkt"));
        assert_eq!(virtual_host.special, Special::PutBucketPolicy);
    }

    #[test]
    fn virtual_host_style_objects() {
        let call = map(&head("GET", "/sales/a.csv", "bkt.localhost:4566", &[]));
        assert_eq!(
            (call.bucket.as_deref(), call.key.as_deref()),
            (Some("bkt"), Some("sales/a.csv"))
        );
    }

    #[test]
    fn delete_objects_per_key() {
        let call = mapped("POST", "/bkt?delete");
        assert_eq!(call.special, Special::DeleteObjects);
        assert!(call.checks.is_empty());
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>"#;
        let (entries, quiet) = parse_delete(body).expect("parses");
        assert!(quiet);
        assert_eq!(entries[0], DeleteEntry { key: "a&b".into(), version: None });
        assert_eq!(
            entries[1].check("bkt"),
            Check::new("s3:DeleteObjectVersion", "arn:aws:s3:::bkt/c")
        );
        let rebuilt = delete_body(&entries[..1], true);
        assert_eq!(parse_delete(rebuilt.as_bytes()).expect("again"), (entries[..1].to_vec(), true));
        let merged = merge_delete_result(
            Some("<DeleteResult><Deleted><Key>c</Key></Deleted></DeleteResult>"),
            &entries[..1],
        );
        assert_eq!(
            merged,
            "<DeleteResult><Deleted><Key>c</Key></Deleted><Error><Key>a&amp;b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"
        );
        assert!(merge_delete_result(None, &entries)
            .contains("<Error><Key>c</Key><VersionId>v</VersionId>"));
        assert!(parse_delete(b"<Delete><Object></Object></Delete>").is_err());
        assert!(parse_delete(b"not xml").is_err());
    }

    #[test]
    fn copy_sources() {
        assert_eq!(copy_source("b/k"), Some(("b".into(), "k".into(), None)));
        assert_eq!(
            copy_source("/b/a%2Fb?versionId=x"),
            Some(("b".into(), "a/b".into(), Some("x".into())))
        );
        assert_eq!(copy_source("/b"), None);
        assert_eq!(copy_source("/b/"), None);
    }
}
