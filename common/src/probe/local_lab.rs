//! Whether doctor's probes were answered by the local lab's gateway (`lab-gateway`, started
//! by `deploy/local/lab.sh`; docs/lab.md, The daemons in the lab).
//!
//! The gateway puts an `x-vpce-lab-host` header on every answer: the lab host whose endpoint
//! answered. Like the bare emulator it listens on loopback, but unlike the emulator it
//! enforces the lab's controls, so doctor judges them there as on AWS. The header is read by
//! an interceptor on the probes' own clients (the daemons' clients have none: they behave
//! the same in the lab as on AWS) and handed to doctor as plain data, the host's name.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The answer header naming the lab host whose gateway answered.
pub const LOCAL_LAB_HOST_HEADER: &str = "x-vpce-lab-host";

/// Remembers the lab host named by any answer of the clients it is attached to; shared by
/// the S3 and the SQS client of one set of probes.
#[derive(Debug, Clone, Default)]
pub(super) struct LocalLabAnswers(Arc<Mutex<Option<String>>>);

impl LocalLabAnswers {
    /// The host named by the last answer that carried the header, if any did.
    pub(super) fn host(&self) -> Option<String> {
        // A poisoned lock only means a panic while storing a name: nothing seen is the
        // honest answer then.
        self.0.lock().ok().and_then(|host| host.clone())
    }
}

impl Intercept for LocalLabAnswers {
    fn name(&self) -> &'static str {
        "LocalLabAnswers"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(host) = context.response().headers().get(LOCAL_LAB_HOST_HEADER) {
            if let Ok(mut seen) = self.0.lock() {
                *seen = Some(host.to_string());
            }
        }
        Ok(())
    }
}
