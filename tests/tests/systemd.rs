//! The daemons under systemd, without systemd: `NOTIFY_SOCKET` pointed at a datagram socket
//! this test owns (READY, WATCHDOG, STATUS with counters, STOPPING), which also makes them
//! log journal entries (to a journal socket the test owns: the priorities and fields are
//! checked in `journal.rs` too), the `json` and `text` log formats, and the unit files in
//! `systemd/` agreeing with the code.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::daemon::Daemon;
use e2e::journal::JournalSocket;
use e2e::{reportsengine, run, salesapp, workspace_root, Emulator};

const LONG: Duration = Duration::from_secs(60);

/// The test's end of `NOTIFY_SOCKET`: every datagram received so far, in order.
struct NotifySocket {
    sock: UnixDatagram,
    path: PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
        NotifySocket { sock, path, seen: Vec::new() }
    }

    /// Reads datagrams until `pred` holds over everything received, or panics after `timeout`.
    #[track_caller]
    fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 4096];
        loop {
            if pred(&self.seen) {
                return;
            }
            if Instant::now() > deadline {
                panic!("no {what} within {timeout:?}; received: {:#?}", self.seen);
            }
            if let Ok(n) = self.sock.recv(&mut buf) {
                self.seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }

    /// Waits for a datagram with the line `line`.
    #[track_caller]
    fn wait_line(&mut self, line: &str, timeout: Duration) {
        self.wait_for(line, timeout, |seen| count(seen, line) > 0);
    }

    /// Waits for a `STATUS=` line containing every one of `parts`; returns it.
    #[track_caller]
    fn wait_status(&mut self, parts: &[&str], timeout: Duration) -> String {
        let matches = |m: &String| {
            m.lines().any(|l| l.starts_with("STATUS=") && parts.iter().all(|p| l.contains(p)))
        };
        self.wait_for(&format!("STATUS with {parts:?}"), timeout, |seen| seen.iter().any(matches));
        self.seen.iter().rev().find(|m| matches(m)).cloned().unwrap_or_default()
    }
}

fn count(seen: &[String], line: &str) -> usize {
    seen.iter().filter(|m| m.lines().any(|l| l == line)).count()
}

/// The end of each daemon's story: at least 3 watchdog pings, then SIGTERM → exit 0 after
/// `STOPPING=1`.
fn pings_then_stops_on_sigterm(notify: &mut NotifySocket, d: &mut Daemon) {
    notify.wait_for("3 watchdog pings", LONG, |seen| count(seen, "WATCHDOG=1") >= 3);

    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(30)).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", d.log());
    notify.wait_line("STOPPING=1", Duration::from_secs(5));
}

/// `reportsengine run`: READY before the first receive, watchdog pings at half of
/// `WATCHDOG_USEC` (no `WATCHDOG_PID`: libsystemd's rules make it optional), STATUS with the
/// counters and the last message's queue lag after a report and a quarantine, STOPPING on
/// SIGTERM, exit 0.
#[test]
fn reportsengine_run_speaks_sd_notify() {
    let em = Emulator::start();
    let mut notify = NotifySocket::bind(em.dir());
    let mut journal = JournalSocket::bind(em.dir());
    let mut cmd = reportsengine(&em);
    cmd.arg("--journal-socket").arg(&journal.path);
    cmd.arg("run").env("NOTIFY_SOCKET", &notify.path).env("WATCHDOG_USEC", "400000");
    let mut d = Daemon::spawn(cmd, em.dir(), "reportsengine");

    notify.wait_line("READY=1", LONG);
    let idle = ["processed 0", "quarantined 0", "failed 0", "last report none", "lag none"];
    notify.wait_status(&idle, LONG);

    let path = em.dir().join("day.csv");
    run(salesapp(&em).args(["generate", "--date", "2026-04-01", "--rows", "50", "-o"]).arg(&path))
        .assert_ok();
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    em.send_raw("{not json");
    let status =
        notify.wait_status(&["processed 1", "quarantined 1", "last report 2026-04-01"], LONG);
    // The queue's lag of the last message, in tenths of a second: it waited a moment.
    let lag = status.split(", lag ").nth(1).and_then(|l| l.split([',', ';', '\n']).next());
    let secs = lag.and_then(|l| l.trim().strip_suffix('s')).and_then(|l| l.parse::<f64>().ok());
    assert!(secs.is_some_and(|s| (0.0..60.0).contains(&s)), "{status}");
    // As systemd 219 starts a Type=notify unit (NOTIFY_SOCKET, no JOURNAL_STREAM): journal
    // entries, the quarantine a warning with the message's id from its span.
    let quarantined = journal.wait_for("'message quarantined'", LONG, |e| {
        e.get("MESSAGE").is_some_and(|m| m == "message quarantined")
    });
    assert_eq!(quarantined["PRIORITY"], "4", "{quarantined:?}");
    assert_eq!(quarantined["SYSLOG_IDENTIFIER"], "reportsengine");
    assert!(quarantined.get("MESSAGE_ID").is_some_and(|id| !id.is_empty()), "{quarantined:?}");
    assert!(quarantined["QUARANTINE"].starts_with("quarantine/"), "{quarantined:?}");
    assert_eq!(quarantined["KIND"], "bad input");
    assert!(d.log().trim().is_empty(), "journal entries, nothing on stderr:\n{}", d.log());
    // 400 ms watchdog: a ping every 200 ms.
    pings_then_stops_on_sigterm(&mut notify, &mut d);
}

/// `salesapp watch` started the way systemd starts it: `WATCHDOG_PID` set to the daemon's
/// own PID (a shell exports `$$` and execs it). READY, pings, STATUS with uploaded/failed
/// counters and the last file, STOPPING, exit 0.
#[test]
fn salesapp_watch_speaks_sd_notify() {
    let em = Emulator::start();
    let mut notify = NotifySocket::bind(em.dir());
    let mut journal = JournalSocket::bind(em.dir());
    let base = {
        let mut c = salesapp(&em);
        c.args(["--set", "salesapp.poll_interval=100ms", "--set", "salesapp.settle_time=200ms"])
            .arg("--journal-socket")
            .arg(&journal.path)
            .arg("watch");
        c
    };
    let mut cmd = Command::new("sh");
    cmd.env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.current_dir(em.dir())
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "400000")
        .arg("-c")
        .arg(r#"export WATCHDOG_PID=$$; exec "$0" "$@""#)
        .arg(base.get_program())
        .args(base.get_args());
    let mut d = Daemon::spawn(cmd, em.dir(), "watch");

    notify.wait_line("READY=1", LONG);
    notify.wait_status(&["uploaded 0", "failed 0", "last file none"], LONG);
    let incoming = em.dir().join("spool/incoming");
    let staged = em.dir().join("staged.csv");
    run(salesapp(&em)
        .args(["generate", "--date", "2026-04-02", "--rows", "30", "-o"])
        .arg(&staged))
    .assert_ok();
    std::fs::rename(&staged, incoming.join("good.csv")).unwrap();
    // Two problems: the error's text has a line each, so it travels in the protocol's
    // length-prefixed form.
    std::fs::write(
        em.dir().join("bad.tmp"),
        "date,order_id,sales_rep,region,product,quantity,unit_price\n\
         2026-04-02,A1,Ada,EU,Pen,0,1.00\n2026-04-02,A2,Ada,EU,Pen,1,-1\n",
    )
    .unwrap();
    std::fs::rename(em.dir().join("bad.tmp"), incoming.join("bad.csv")).unwrap();
    // Which one is last depends on which settled first.
    let status = notify.wait_status(&["uploaded 1", "failed 1"], LONG);
    assert!(
        status.contains("last file good.csv (done)")
            || status.contains("last file bad.csv (failed)"),
        "{status}"
    );
    assert!(notify.seen.iter().any(|m| m.starts_with("STATUS=uploading good.csv;")));
    let failed = journal.wait_for("for bad.csv", LONG, |e| {
        e.get("FILE").is_some_and(|f| f.contains("bad.csv")) && e["PRIORITY"] == "3"
    });
    assert_eq!(failed["SYSLOG_IDENTIFIER"], "salesapp");
    assert_eq!(failed["KIND"], "bad input", "{failed:?}");
    assert!(failed["ERROR"].lines().count() >= 2, "a multi-line value: {failed:?}");
    assert!(failed["MOVED_TO"].contains("failed"), "{failed:?}");
    let done = |m: &String| m == "uploaded: now in done/";
    let uploaded = journal.wait_for("for good.csv", LONG, |e| e.get("MESSAGE").is_some_and(done));
    assert!(uploaded["MOVED_TO"].ends_with("done/good.csv"), "{uploaded:?}");
    pings_then_stops_on_sigterm(&mut notify, &mut d);
}

/// `--log-format json`: every log line is one JSON object with the event's fields as keys;
/// `text` (and `auto` off systemd, including a `JOURNAL_STREAM` that is not stderr's) is
/// human text. `--log-level` and `RUST_LOG` (which wins) are respected.
#[test]
fn json_and_text_log_formats() {
    let em = Emulator::start();
    let path = em.dir().join("day.csv");
    run(salesapp(&em).args(["generate", "--date", "2026-04-03", "--rows", "20", "-o"]).arg(&path))
        .assert_ok();

    let mut cmd = salesapp(&em);
    cmd.env_remove("RUST_LOG").args(["--log-format", "json"]).arg("upload").arg(&path);
    let out = run(&mut cmd);
    out.assert_ok();
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no log lines:\n{}", out.output());
    for line in &lines {
        for key in ["timestamp", "level", "target", "message"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
    }
    let queued = lines
        .iter()
        .find(|l| l["message"] == "queued for the reports engine")
        .unwrap_or_else(|| panic!("no 'queued' event:\n{}", out.stderr));
    assert_eq!(queued["level"], "INFO");
    assert_eq!(queued["key"], "sales/2026-04-03/sales.csv", "fields are JSON keys: {queued}");
    assert!(queued["message_id"].as_str().is_some_and(|s| !s.is_empty()), "{queued}");

    // --log-level warn: no INFO events; RUST_LOG=debug beats the flag.
    let mut cmd = salesapp(&em);
    cmd.env_remove("RUST_LOG").args(["--log-format", "json", "--log-level", "warn"]);
    let quiet = run(cmd.arg("upload").arg(&path));
    quiet.assert_ok();
    assert!(!quiet.stderr.contains("\"INFO\""), "{}", quiet.stderr);
    let mut cmd = salesapp(&em);
    cmd.env("RUST_LOG", "debug").args(["--log-format", "json", "--log-level", "warn"]);
    let loud = run(cmd.arg("upload").arg(&path));
    loud.assert_ok();
    assert!(loud.stderr.contains("\"level\":\"DEBUG\""), "RUST_LOG wins:\n{}", loud.stderr);

    // auto with a JOURNAL_STREAM that is not stderr (a pipe here), and explicit text: text.
    for args in [&["--log-format", "auto"][..], &["--log-format", "text"]] {
        let mut cmd = salesapp(&em);
        cmd.env_remove("RUST_LOG").env("JOURNAL_STREAM", "8:123456").args(args);
        let text = run(cmd.arg("upload").arg(&path));
        text.assert_ok();
        assert!(text.stderr.contains("queued for the reports engine"), "{}", text.stderr);
        assert!(
            text.stderr.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
            "text expected:\n{}",
            text.stderr
        );
    }
}

/// `[Service]` settings of a unit file, last assignment winning (lists accumulate).
fn service_section(unit: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(workspace_root().join("systemd").join(unit))
        .unwrap_or_else(|e| panic!("systemd/{unit}: {e}"));
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[Service]" {
            if let Some((k, v)) = line.split_once('=') {
                out.entry(k.trim().to_string()).or_default().push(v.trim().to_string());
            }
        }
    }
    out
}

/// systemd parses `TimeoutStopSec=30`, `30s`, `1min 30s`…: seconds for what our units use.
fn seconds(value: &str) -> u64 {
    let v = value.trim();
    if let Some(min) = v.strip_suffix("min") {
        return min.trim().parse::<u64>().expect("minutes") * 60;
    }
    v.trim_end_matches('s').trim().parse().unwrap_or_else(|_| panic!("a duration: {value:?}"))
}

/// The daemons' units: `Type=notify` with a watchdog, and a `TimeoutStopSec=` equal to
/// `common::config::SYSTEMD_STOP_TIMEOUT`, which the shutdown graces are validated against:
/// if the two drifted apart, systemd would SIGKILL work the daemon was told it could finish.
#[test]
fn unit_files_agree_with_the_code() {
    let stop = common::config::SYSTEMD_STOP_TIMEOUT.as_secs();
    for (unit, exec) in [
        ("salesapp.service", "/usr/bin/salesapp"),
        ("reportsengine.service", "/usr/bin/reportsengine"),
        ("salesapp-upload@.service", "/usr/bin/salesapp"),
    ] {
        let s = service_section(unit);
        let one = |k: &str| {
            s.get(k).and_then(|v| v.last()).cloned().unwrap_or_else(|| panic!("{unit}: no {k}="))
        };
        assert_eq!(seconds(&one("TimeoutStopSec")), stop, "{unit}: TimeoutStopSec");
        assert!(one("ExecStart").starts_with(exec), "{unit}: ExecStart");
        assert_eq!(one("UMask"), "0077", "{unit}");
        assert_eq!(one("ProtectSystem"), "strict", "{unit}");
        assert_eq!(one("RestrictAddressFamilies"), "AF_INET AF_INET6 AF_UNIX", "{unit}");
        if unit.ends_with("@.service") {
            assert_eq!(one("Type"), "oneshot", "{unit}");
        } else {
            assert_eq!(one("Type"), "notify", "{unit}");
            assert!(seconds(&one("WatchdogSec")) > 0, "{unit}: WatchdogSec");
            assert_eq!(one("Restart"), "on-failure", "{unit}");
        }
    }
    assert!(service_section("salesapp.service")["ExecStart"][0].ends_with(" watch"));
    assert!(service_section("reportsengine.service")["ExecStart"][0].ends_with(" run"));
    // The engine's and the spool's defaults fit inside the stop timeout.
    let defaults = common::config::Config::from_parts(
        "defaults",
        "bucket = \"b-b-b\"\nqueue_url = \"https://sqs.us-east-1.amazonaws.com/1/q\"\n",
        &[],
        &[],
    )
    .expect("defaults");
    assert!(defaults.reportsengine.shutdown_grace.as_secs() < stop);
    assert!(defaults.salesapp.shutdown_grace.as_secs() < stop);
}
