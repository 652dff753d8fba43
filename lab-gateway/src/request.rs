//! What a request says about itself before it is understood: its method, path, query and
//! headers, and who signed it for which service and region (SigV4's credential scope).
//!
//! The service is taken from the credential scope, never from the path or the host: one
//! listener sees S3, SQS, EC2, IAM, STS and CloudFormation alike, every SDK and the CLI name
//! the service there, and the signature (were it checked) covers it.

use percent_encoding::percent_decode_str;

/// The parts of an HTTP request the mapping looks at. Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The path as sent (percent-encoded), without the query.
    pub path: String,
    /// The query's pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// A head from a method, a request target (`/path?query`) and headers (any case).
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)]) -> Head {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Head {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
            headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect(),
        }
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter (`Some("")` for a bare `?policy`).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has_query(&self, name: &str) -> bool {
        self.query(name).is_some()
    }

    /// The path, percent-decoded (an S3 key may hold any character).
    pub fn decoded_path(&self) -> String {
        percent_decode_str(&self.path).decode_utf8_lossy().into_owned()
    }
}

/// SigV4's credential scope: `AKID/DATE/REGION/SERVICE/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub access_key: String,
    /// Empty for SigV4a (which signs for a set of regions, not one).
    pub region: String,
    pub service: String,
}

/// The credential scope of a signed request: the `Authorization` header (SigV4 or SigV4a),
/// else a presigned URL's `X-Amz-Credential`. `None` for an unsigned request.
pub fn scope(head: &Head) -> Option<Scope> {
    let credential = match head.header("authorization") {
        Some(auth) => {
            let (_, rest) = auth.split_once("Credential=")?;
            rest.split([',', ' ']).next()?.to_string()
        }
        None => head.query("X-Amz-Credential")?.to_string(),
    };
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, _date, region, service, "aws4_request"] => Some(Scope {
            access_key: key.to_string(),
            region: region.to_string(),
            service: service.to_string(),
        }),
        // SigV4a: AKID/DATE/SERVICE/aws4_request.
        [key, _date, service, "aws4_request"] => Some(Scope {
            access_key: key.to_string(),
            region: String::new(),
            service: service.to_string(),
        }),
        _ => None,
    }
}

/// A percent-encoded form body's or query's pairs, decoded.
pub fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// The value of the first pair named `name`.
pub fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_from_the_authorization_header() {
        let head = Head::new(
            "post",
            "/",
            &[(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=ASIAXYZ/20260101/us-east-1/sqs/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=abc",
            )],
        );
        assert_eq!(
            scope(&head),
            Some(Scope {
                access_key: "ASIAXYZ".into(),
                region: "us-east-1".into(),
                service: "sqs".into()
            })
        );
        assert_eq!(head.method, "POST");
    }

    #[test]
    fn scope_from_a_presigned_url_and_sigv4a() {
        let head = Head::new(
            "GET",
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA1%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Signature=x",
            &[],
        );
        let s = scope(&head).expect("scope");
        assert_eq!(
            (s.access_key.as_str(), s.region.as_str(), s.service.as_str()),
            ("AKIA1", "eu-west-1", "s3")
        );
        let v4a = Head::new(
            "GET",
            "/",
            &[("authorization", "AWS4-ECDSA-P256-SHA256 Credential=AKIA2/20260101/s3/aws4_request, SignedHeaders=host, Signature=1")],
        );
        assert_eq!(scope(&v4a).map(|s| (s.region, s.service)), Some((String::new(), "s3".into())));
    }

    #[test]
    fn unsigned_and_malformed_requests_have_no_scope() {
        assert_eq!(scope(&Head::new("GET", "/", &[])), None);
        let odd = Head::new("GET", "/", &[("authorization", "AWS AKIA:sig")]);
        assert_eq!(scope(&odd), None);
        let short =
            Head::new("GET", "/", &[("authorization", "AWS4-HMAC-SHA256 Credential=a/b, X")]);
        assert_eq!(scope(&short), None);
    }

    #[test]
    fn query_and_path() {
        let head = Head::new("GET", "/b/a%20b%2Fc?policy&versionId=v%2B1&x=a+b", &[]);
        assert_eq!(head.query("policy"), Some(""));
        assert_eq!(head.query("versionId"), Some("v+1"));
        assert_eq!(head.query("x"), Some("a b"));
        assert!(!head.has_query("acl"));
        assert_eq!(head.decoded_path(), "/b/a b/c");
    }
}
