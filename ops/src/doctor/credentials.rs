//! The credentials row: which provider of the SDK's credential chain answered (never the
//! secret itself).

use common::failure::Kind;
use common::probe::{CredentialsFound, Sdk};

use super::table::{Check, Table};
use super::CALL_TIMEOUT;

/// The credentials row; true when there are credentials to make calls with. Outside the
/// emulator, anything but the instance profile is a warning: it bypasses the role.
pub(super) async fn check(sdk: &Sdk, emulator: bool, t: &mut Table) -> bool {
    match sdk.credentials(CALL_TIMEOUT).await {
        CredentialsFound::Found { source, instance_profile } => {
            if instance_profile || emulator {
                t.push(Check::pass("credentials", source));
            } else {
                t.push(Check::warn(
                    "credentials",
                    source,
                    "on the lab's instances the instance profile (IAMRoleFor…) should answer: \
                     other credentials bypass the role's least privilege",
                ));
            }
            true
        }
        CredentialsFound::NotFound(why) => {
            t.push(Check::fail(
                "credentials",
                Kind::Denied,
                format!("no provider of the chain answered: {why}"),
                "on EC2 attach the instance profile (IAMRoleForSalesApp / IAMRoleForReportsEngine) \
                 and make sure IMDSv2 is reachable; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID",
            ));
            false
        }
        CredentialsFound::TimedOut => {
            t.push(Check::fail(
                "credentials",
                Kind::Transient,
                format!("the credential chain gave no answer within {}s", CALL_TIMEOUT.as_secs()),
                "IMDS did not answer: on EC2 check the instance metadata options (IMDSv2, hop \
                 limit); elsewhere set AWS_EC2_METADATA_DISABLED=true and other credentials",
            ));
            false
        }
    }
}
