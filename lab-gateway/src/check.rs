//! One authorization AWS makes for a request: an IAM action on a resource. Most requests are
//! one check; a copy is two (read the source, write the target), a multi-object delete one
//! per key.

/// An IAM action (`s3:GetObject`) on a resource ARN, or on `*` for actions that take none
/// (`sqs:ListQueues`, `s3:ListAllMyBuckets`, most of EC2 and IAM as the lab models them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Check {
    pub action: String,
    pub resource: String,
}

/// The resource of an action that names none.
pub const ANY_RESOURCE: &str = "*";

impl Check {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Check {
        Check { action: action.into(), resource: resource.into() }
    }

    /// The action's service prefix (`s3` of `s3:GetObject`).
    pub fn service(&self) -> &str {
        self.action.split_once(':').map_or("", |(service, _)| service)
    }
}

/// `arn:aws:s3:::BUCKET`.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// `arn:aws:s3:::BUCKET/KEY` (the key as stored, not percent-encoded).
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The bucket named by an S3 ARN (`arn:aws:s3:::BUCKET` or `…:::BUCKET/KEY`).
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:s3:::")?;
    let bucket = rest.split('/').next()?;
    (!bucket.is_empty() && bucket != "*").then_some(bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(object_arn("b", "a/b c"), "arn:aws:s3:::b/a/b c");
        assert_eq!(bucket_of_arn("arn:aws:s3:::b/a/b"), Some("b"));
        assert_eq!(bucket_of_arn("arn:aws:s3:::b"), Some("b"));
        assert_eq!(bucket_of_arn("arn:aws:s3:::*"), None);
        assert_eq!(bucket_of_arn("arn:aws:sqs:us-east-1:1:q"), None);
        assert_eq!(Check::new("sqs:SendMessage", "*").service(), "sqs");
    }
}
