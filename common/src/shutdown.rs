//! The daemons' lifetime: the runtime they run on, the signals that stop them, and the
//! guarantee that a stop ends the process in time (docs/design.md, Shutdown).
//!
//! The first SIGTERM or SIGINT resolves the [`Shutdown`] future: loops stop receiving at
//! once (an in-flight long poll is dropped, not waited out) and let in-flight work finish
//! within the grace period. A second signal means "now": the process exits immediately with
//! 130, as an operator who presses Ctrl-C twice expects.
//!
//! SIGHUP is logged and ignored: the configuration is read once, at start, and a reload
//! would have to swap clients, limits and the spool under work in progress. Without a
//! handler the kernel's default action would kill the daemon (exit 129, no log line), which
//! is what a `kill -HUP` or a `systemctl kill -s HUP` sent out of habit must not do.
//!
//! The handlers are installed when [`signals`] is *called* (not when its future is first
//! polled), so a SIGTERM that arrives while the daemon is still connecting is already
//! graceful instead of killing the process with the default action.
//!
//! # Nothing holds the process after the grace
//! Work on tokio's blocking pool (reading a local file, say) cannot be cancelled: a thread
//! stuck in a system call stays stuck. Dropping a tokio runtime waits for every such thread,
//! so one stuck read would keep a stopped daemon alive until systemd's SIGKILL. [`run`]
//! therefore shuts its runtime down without waiting for the blocking pool
//! ([`LEFTOVER_WAIT`]), and a watchman thread outside the runtime ends the process at the
//! [`deadline`] after the first signal whatever the runtime is doing.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::config::SYSTEMD_STOP_TIMEOUT;
use crate::Program;

/// Resolves on the first SIGTERM or SIGINT.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// How long a stopped daemon's runtime waits for its blocking pool once the daemon's own
/// work is over (or abandoned at the end of the grace).
pub const LEFTOVER_WAIT: Duration = Duration::from_secs(1);

/// How long after the grace the watchman lets the daemon end by itself.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// What a daemon is stopped with: its program (for the words of its log lines), its
/// `shutdown_grace`, and the exit code if the watchman has to end it.
#[derive(Debug, Clone, Copy)]
pub struct Stop {
    pub program: Program,
    pub grace: Duration,
    /// The exit code when the process had to be ended at the deadline: 0 for a daemon
    /// (stopped by a signal, whatever failed on the way), what the command's own rule says
    /// otherwise.
    pub exit_code_if_stuck: i32,
}

/// When the watchman ends the process, counted from the first signal: the grace and a
/// margin for the daemon to wind up by itself, always before systemd's stop timeout (when
/// systemd would send SIGKILL and log a failure).
pub fn deadline(grace: Duration) -> Duration {
    let before_systemd = SYSTEMD_STOP_TIMEOUT.saturating_sub(Duration::from_millis(500));
    (grace + DEADLINE_MARGIN).min(before_systemd).max(grace)
}

/// Runs a daemon on a runtime of its own until `daemon` returns, then shuts the runtime
/// down without waiting for its blocking pool beyond [`LEFTOVER_WAIT`]. `daemon` gets the
/// [`Shutdown`] future, whose handlers are installed before it runs.
pub fn run<T, F, Fut>(stop: Stop, daemon: F) -> std::io::Result<T>
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let out = runtime.block_on(async {
        let shutdown = signals(stop);
        daemon(shutdown).await
    });
    runtime.shutdown_timeout(LEFTOVER_WAIT);
    Ok(out)
}

/// Installs the SIGTERM/SIGINT/SIGHUP handlers now (call it inside the runtime, as early as
/// possible) and returns a future that resolves on the first SIGTERM or SIGINT; afterwards
/// a second one exits the process with 130, and the watchman ends it at the [`deadline`].
pub fn signals(stop: Stop) -> Shutdown {
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    match signal(SignalKind::hangup()) {
        Ok(mut hangup) => {
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    tracing::warn!(
                        signal = "SIGHUP",
                        "SIGHUP ignored: the configuration is read once, at start; restart the \
                         daemon to apply a change (systemctl restart {})",
                        stop.program.name()
                    );
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot install the SIGHUP handler"),
    }
    Box::pin(async move {
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
        let words = Words::of(stop.program);
        tracing::info!(signal = name, grace = ?stop.grace, "shutting down: {}", words.stopping);
        watchman(stop, words);
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::warn!("second signal: exiting now; {}", words.cut_short);
            std::process::exit(130);
        });
    })
}

/// What a stop means for a program's work, in the words of its log lines.
#[derive(Debug, Clone, Copy)]
struct Words {
    stopping: &'static str,
    cut_short: &'static str,
}

impl Words {
    fn of(program: Program) -> Words {
        match program {
            Program::Reportsengine => Words {
                stopping: "no new messages; finishing the messages in flight",
                cut_short: "unfinished messages will be delivered again",
            },
            Program::Salesapp => Words {
                stopping: "no new files are taken; finishing the file being uploaded",
                cut_short: "a file not finished stays in incoming/ and is uploaded again on \
                            the next start",
            },
        }
    }
}

/// A thread outside the runtime that ends the process at the deadline, should the daemon
/// not have ended by itself (a runtime thread stuck in a system call, say).
fn watchman(stop: Stop, words: Words) {
    let after = deadline(stop.grace);
    let spawned = std::thread::Builder::new().name("shutdown-deadline".into()).spawn(move || {
        std::thread::sleep(after);
        tracing::error!(
            after = ?after,
            exit_code = stop.exit_code_if_stuck,
            "still running past the shutdown grace: exiting now; {}",
            words.cut_short
        );
        std::process::exit(stop.exit_code_if_stuck);
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the shutdown deadline's thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_follows_the_grace_and_stays_before_systemd_s_kill() {
        assert_eq!(deadline(Duration::from_secs(5)), Duration::from_secs(7));
        assert_eq!(deadline(Duration::from_secs(25)), Duration::from_secs(27));
        assert_eq!(deadline(Duration::from_secs(29)), Duration::from_millis(29_500));
        assert_eq!(deadline(Duration::from_millis(29_800)), Duration::from_millis(29_800));
    }

    /// A blocking-pool thread that never returns does not hold the runtime (and so the
    /// process) once the daemon is done: `run` returns, where dropping the runtime would
    /// wait for that thread for ever.
    #[test]
    fn a_stuck_blocking_thread_does_not_hold_the_process() {
        let (done, finished) = std::sync::mpsc::channel();
        let (_keep, never) = std::sync::mpsc::channel::<()>();
        let stop = Stop {
            program: Program::Salesapp,
            grace: Duration::from_secs(1),
            exit_code_if_stuck: 0,
        };
        std::thread::spawn(move || {
            let out = run(stop, |_shutdown| async move {
                tokio::task::spawn_blocking(move || never.recv()); // blocks for ever
                tokio::time::sleep(Duration::from_millis(50)).await;
                "stopped"
            });
            let _ = done.send(out.map_err(|e| e.to_string()));
        });
        let out = finished.recv_timeout(Duration::from_secs(30)).expect("run returned");
        assert_eq!(out, Ok("stopped"));
    }
}
