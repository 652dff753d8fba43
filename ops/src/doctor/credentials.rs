//! The credentials row: which provider of the SDK's credential chain answered (never the
//! secret itself).

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
        // The same text, kind and hint a command gets when its call meets the same cause.
        CredentialsFound::Failed { text, kind, hint } => {
            t.push(Check::fail("credentials", kind, text, hint));
            false
        }
    }
}
