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
///
/// The status names spool files and failures, which an attacker with write access to the spool
/// can choose. The notify protocol is newline-separated `KEY=value` assignments and
/// `sd_notify` writes the text as it is, so a name holding `\nMAINPID=1` or `\nSTOPPING=1`
/// would be a second assignment that systemd obeys. [`status_assignment`] keeps it one line.
pub fn status(text: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Status(&status_assignment(text))]);
}

/// `text` as the value of one `STATUS=` assignment: every control character (newline first)
/// escaped as the text log format escapes it, so the datagram holds exactly one assignment.
fn status_assignment(text: &str) -> std::borrow::Cow<'_, str> {
    sales_domain::text::escape_control(text)
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// The watchdog interval systemd asks for, by sd_watchdog_enabled(3)'s rules: `WATCHDOG_USEC`
/// set to a positive number, and `WATCHDOG_PID`, *if set*, naming this process (a child that
/// inherited the variables must not ping for its parent). `sd_notify::watchdog_enabled`
/// insists on `WATCHDOG_PID`, which systemd does set but a test harness cannot know before
/// spawning; this follows libsystemd instead.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    match pid {
        Some(pid) if pid.trim().parse::<u32>().ok() != Some(me) => None,
        _ => Some(Duration::from_micros(usec)),
    }
}

/// Pings the watchdog at half its interval for as long as the returned task runs. The ping
/// comes from the runtime, so a wedged runtime stops pinging and systemd restarts it.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let interval = watchdog_interval(
        std::env::var("WATCHDOG_USEC").ok().as_deref(),
        std::env::var("WATCHDOG_PID").ok().as_deref(),
        std::process::id(),
    )?;
    tracing::debug!(?interval, "systemd watchdog enabled");
    let every = interval / 2;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_one_assignment_whatever_the_name_holds() {
        let hostile = "uploading x.csv\nMAINPID=1\rSTOPPING=1\x1b[2J";
        let datagram = format!("{}\n", NotifyState::Status(&status_assignment(hostile)));
        assert_eq!(datagram.lines().count(), 1, "{datagram:?}");
        assert!(!datagram.contains('\r') && !datagram.contains('\x1b'), "{datagram:?}");
        assert_eq!(datagram, "STATUS=uploading x.csv\\nMAINPID=1\\rSTOPPING=1\\x1b[2J\n");
        assert_eq!(status_assignment("salesapp: 3 uploaded"), "salesapp: 3 uploaded");
    }

    #[test]
    fn watchdog_follows_libsystemd_rules() {
        let d = Some(Duration::from_secs(2));
        assert_eq!(watchdog_interval(Some("2000000"), None, 42), d);
        assert_eq!(watchdog_interval(Some("2000000"), Some("42"), 42), d);
        assert_eq!(watchdog_interval(Some("2000000"), Some("41"), 42), None);
        assert_eq!(watchdog_interval(Some("0"), None, 42), None);
        assert_eq!(watchdog_interval(Some("x"), None, 42), None);
        assert_eq!(watchdog_interval(None, Some("42"), 42), None);
    }
}
