//! Counts and times every attempt of every call the clients make, from inside the SDK: an
//! interceptor sees each attempt the retry strategy makes (a call that succeeds on its third
//! try is three requests at the endpoint, and three here), with the answer's HTTP status,
//! or "timeout" / "error" when there was none. Call sites need not, and cannot, forget it.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The interceptor registered on both clients ([`super::s3_client`], [`super::sqs_client`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Metered;

/// When the attempt in progress started; kept in the call's own state, so concurrent calls
/// on one client never see each other's.
#[derive(Debug, Clone)]
struct AttemptStarted(Instant);

impl Storable for AttemptStarted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Metered {
    fn name(&self) -> &'static str {
        "vpce-lab-metrics"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(AttemptStarted(Instant::now()));
        Ok(())
    }

    /// Runs after every attempt that started, timed out or not (the SDK settles an attempt
    /// its timeout cut short before deciding on a retry).
    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(started) = cfg.load::<AttemptStarted>().map(|s| s.0) else { return Ok(()) };
        cfg.interceptor_state().unset::<AttemptStarted>();
        let (service, operation) =
            cfg.load::<Metadata>().map_or(("unknown", "unknown"), |m| (m.service(), m.name()));
        let error = context.output_or_error().and_then(Result::err);
        let status = attempt_status(context.response().map(|r| r.status().as_u16()), error);
        crate::metrics::aws_attempt(service, operation, &status, started.elapsed());
        Ok(())
    }
}

/// The `status` label of an attempt: "timeout" when it ran out of time (connecting, or
/// waiting for the answer), else the HTTP status of the answer, else "error" (a refused or
/// reset connection, a DNS failure).
fn attempt_status<E>(http_status: Option<u16>, error: Option<&OrchestratorError<E>>) -> String {
    let timed_out = error.is_some_and(|e| {
        e.is_timeout_error() || e.as_connector_error().is_some_and(|c| c.is_timeout())
    });
    match (timed_out, http_status) {
        (true, _) => "timeout".to_string(),
        (false, Some(code)) => code.to_string(),
        (false, None) => "error".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    type Failure = OrchestratorError<std::io::Error>;

    #[test]
    fn the_status_of_an_attempt() {
        assert_eq!(attempt_status::<std::io::Error>(Some(200), None), "200");
        let denied = Failure::operation(std::io::Error::other("AccessDenied"));
        assert_eq!(attempt_status(Some(403), Some(&denied)), "403");
        let timeout = Failure::timeout("attempt timeout".into());
        assert_eq!(attempt_status(None, Some(&timeout)), "timeout");
        let connect = Failure::connector(ConnectorError::timeout("connect timeout".into()));
        assert_eq!(attempt_status(None, Some(&connect)), "timeout");
        let refused = Failure::connector(ConnectorError::io("connection refused".into()));
        assert_eq!(attempt_status(None, Some(&refused)), "error");
    }
}
