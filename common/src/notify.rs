//! systemd `Type=notify` support: READY, STATUS and WATCHDOG. Each is a no-op when the
//! process was not started by systemd (`NOTIFY_SOCKET` unset), so the same code runs on a
//! terminal, in tests and under systemd.

use std::time::Duration;

use sd_notify::NotifyState;

/// Tells systemd the daemon is ready (configuration valid, first request in flight).
pub fn ready() {
    let _ = sd_notify::notify(false, &[NotifyState::Ready]);
}

/// Sets the one-line status shown by `systemctl status`.
pub fn status(text: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Status(text)]);
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// Pings the watchdog at half its interval for as long as the returned task runs. The ping
/// comes from the runtime, so a wedged runtime stops pinging and systemd restarts it.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    let every = Duration::from_micros(usec / 2);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
        }
    }))
}
