//! Shutdown on SIGTERM / SIGINT, passed into the run loops as a future.
//!
//! The first signal resolves the future: loops stop receiving at once (an in-flight long
//! poll is dropped, not waited out) and let in-flight work finish within the grace period.
//! A second signal means "now": the process exits immediately with 130, as an operator who
//! presses Ctrl-C twice expects. Messages not yet deleted are redelivered by SQS.
//!
//! The handlers are installed when [`signals`] is *called* (not when its future is first
//! polled), so a SIGTERM that arrives while the daemon is still connecting is already
//! graceful instead of killing the process with the default action.

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};

/// Installs the SIGTERM/SIGINT handlers now (call it inside the runtime, as early as
/// possible) and returns a future that resolves on the first signal; afterwards, a second
/// one exits the process with 130.
pub fn signals() -> impl Future<Output = ()> + Send + 'static {
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            // Registering a handler only fails when the runtime has no signal driver, a bug
            // of ours; waiting forever keeps the daemon running rather than stopping it at once.
            tracing::error!("cannot install signal handlers; SIGTERM will not be graceful");
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "shutting down: no new messages; finishing in-flight work");
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::warn!("second signal: exiting now; unfinished messages will be redelivered");
            std::process::exit(130);
        });
    }
}
