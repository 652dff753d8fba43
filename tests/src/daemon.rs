//! Long-running binaries for fault-injection tests: a [`Daemon`] runs a command in the
//! background with its output in files (readable while it runs), can be signalled by PID
//! and is killed on drop. [`wait_until`] polls a condition with a generous deadline instead
//! of sleeping a fixed time.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Sends `SIG<name>` (`TERM`, `KILL`, `STOP`, `CONT`, `INT`) to `pid` with kill(1).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run kill(1)");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `timeout` naming `what`.
#[track_caller]
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A background process whose stdout/stderr go to files in `dir`.
pub struct Daemon {
    pub name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Daemon {
    /// Spawns `cmd` (e.g. `reportsengine(&em).arg("run")`), output into `dir/NAME-N.{out,err}`.
    pub fn spawn(mut cmd: Command, dir: &std::path::Path, name: &str) -> Daemon {
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdout = dir.join(format!("{name}-{n}.out"));
        let stderr = dir.join(format!("{name}-{n}.err"));
        let out = std::fs::File::create(&stdout).expect("create stdout file");
        let err = std::fs::File::create(&stderr).expect("create stderr file");
        let child =
            cmd.stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Daemon { name: format!("{name}-{n}"), child, stdout, stderr, status: None }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `SIG<name>` unless the process has already been reaped.
    pub fn signal(&mut self, name: &str) {
        if self.try_status().is_none() {
            signal(self.pid(), name);
        }
    }

    /// stderr so far (the logs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Lines of the log containing `pat`.
    pub fn log_lines(&self, pat: &str) -> Vec<String> {
        self.log().lines().filter(|l| l.contains(pat)).map(str::to_string).collect()
    }

    /// Waits until the log contains `pat` at least `count` times; panics (with the log)
    /// after `timeout` or if the process exits first.
    #[track_caller]
    pub fn wait_for_log(&mut self, pat: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.matches(pat).count() >= count {
                return;
            }
            if let Some(st) = self.try_status() {
                panic!("{} exited ({st}) before logging {pat:?} ×{count}:\n{log}", self.name);
            }
            if Instant::now() > deadline {
                panic!("{}: no {pat:?} ×{count} within {timeout:?}; log:\n{log}", self.name);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits for the process to exit; `None` after `timeout` (it is left running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_status() {
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.name, self.log());
        }
    }
}
