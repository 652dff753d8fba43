//! Journal entries, not just lines: under systemd (detected as systemd documents it) the
//! binaries send each event in the journal's native protocol to the journal's socket — here
//! a socket the test owns (`--journal-socket`) — with a `PRIORITY` and the event's fields;
//! off systemd they write to stderr. A level or format that is not one of the accepted
//! values is a usage error, and `NO_COLOR` turns the text colours off.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::journal::{Entry, JournalSocket};
use e2e::{reportsengine, run, salesapp, Emulator};

/// Runs `cmd` with stderr to a file the test made, and `JOURNAL_STREAM` naming that file's
/// device and inode when `matching` (as systemd names the stream it connected), else a
/// stream that is not stderr. Returns the exit code and what reached stderr.
fn with_journal_stream(cmd: &mut Command, dir: &std::path::Path, matching: bool) -> (i32, String) {
    let path = dir.join(format!("stderr-{}.log", std::process::id()));
    let file = std::fs::File::create(&path).expect("stderr file");
    let meta = file.metadata().expect("stat stderr file");
    let stream = if matching {
        format!("{}:{}", meta.dev(), meta.ino())
    } else {
        format!("{}:1", meta.dev())
    };
    let status = cmd
        .env_remove("RUST_LOG")
        .env("JOURNAL_STREAM", stream)
        .stdout(Stdio::null())
        .stderr(file)
        .status()
        .expect("run");
    let stderr = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    (status.code().unwrap_or(-1), stderr)
}

#[track_caller]
fn entry(journal: &mut JournalSocket, message: &str) -> Entry {
    journal.wait_for(&format!("{message:?}"), Duration::from_secs(10), |e| {
        e.get("MESSAGE").is_some_and(|m| m == message)
    })
}

/// `JOURNAL_STREAM` matching stderr: entries on the journal socket, nothing on stderr; the
/// info event has priority 5 and its fields upper-cased, the quarantine warning priority 4
/// (`journalctl -p warning` shows it) with the fields of its event and of its span.
#[test]
fn journal_entries_carry_priority_and_fields() {
    let em = Emulator::start();
    let path = em.dir().join("day.csv");
    run(salesapp(&em).args(["generate", "--date", "2026-04-05", "--rows", "20", "-o"]).arg(&path))
        .assert_ok();
    let mut journal = JournalSocket::bind(em.dir());

    let mut cmd = salesapp(&em);
    cmd.arg("--journal-socket").arg(&journal.path).arg("upload").arg(&path);
    let (code, stderr) = with_journal_stream(&mut cmd, em.dir(), true);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "entries go to the journal, not stderr:\n{stderr}");
    let queued = entry(&mut journal, "queued for the reports engine");
    eprintln!("journal entry: {queued:#?}");
    assert_eq!(queued["PRIORITY"], "5");
    assert_eq!(queued["SYSLOG_IDENTIFIER"], "salesapp");
    assert_eq!(queued["KEY"], "sales/2026-04-05/sales.csv");
    assert!(queued["MESSAGE_ID"].len() >= 32, "the SQS message id: {queued:?}");
    assert!(queued["TARGET"].starts_with("salesapp"), "{queued:?}");
    assert!(queued["CODE_FILE"].ends_with(".rs") && queued["CODE_LINE"].parse::<u32>().is_ok());

    em.send_raw("{not json");
    let mut cmd = reportsengine(&em);
    cmd.arg("--journal-socket").arg(&journal.path).arg("once");
    let (code, stderr) = with_journal_stream(&mut cmd, em.dir(), true);
    assert_eq!(code, 0, "{stderr}");
    let warning = entry(&mut journal, "message quarantined");
    assert_eq!(warning["PRIORITY"], "4", "{warning:?}");
    assert_eq!(warning["SYSLOG_IDENTIFIER"], "reportsengine");
    assert_eq!(warning["KIND"], "bad input");
    assert!(!warning["OPERATION"].is_empty() && !warning["REASON"].is_empty(), "{warning:?}");
    assert!(warning["MESSAGE_ID"].len() >= 32, "the span's message id: {warning:?}");
    let warnings = journal.drain().iter().filter(|e| ["3", "4"].contains(&e["PRIORITY"].as_str()));
    assert!(warnings.count() >= 1, "`journalctl -p warning` would show the quarantine");

    // A JOURNAL_STREAM that is not stderr (a shell redirected it): stderr, not the journal.
    // Counted: salesapp's entries, once the engine's last ones (still on their way to the
    // socket's reader thread on a busy machine) have arrived.
    let from_salesapp = |journal: &mut JournalSocket| {
        std::thread::sleep(Duration::from_millis(200));
        journal
            .drain()
            .iter()
            .filter(|e| e.get("SYSLOG_IDENTIFIER").is_some_and(|v| v == "salesapp"))
            .count()
    };
    let before = from_salesapp(&mut journal);
    let mut cmd = salesapp(&em);
    cmd.arg("--journal-socket").arg(&journal.path).arg("upload").arg(&path);
    let (code, stderr) = with_journal_stream(&mut cmd, em.dir(), false);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("queued for the reports engine"), "{stderr}");
    assert_eq!(from_salesapp(&mut journal), before, "nothing sent to the journal");

    // --log-format journal with no journal listening: JSON lines on stderr, and it says so.
    let gone = em.dir().join("no-journal.sock");
    let out = run(salesapp(&em)
        .env_remove("RUST_LOG")
        .args(["--log-format", "journal", "--journal-socket"])
        .arg(&gone)
        .arg("upload")
        .arg(&path));
    out.assert_ok();
    let first: serde_json::Value = serde_json::from_str(out.stderr.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("JSON expected ({e}):\n{}", out.stderr));
    assert_eq!(first["level"], "WARN");
    assert!(first["message"].as_str().unwrap_or("").contains("journal"), "{first}");
}

/// A level or format outside the accepted values, or a `RUST_LOG` that is not a filter, is a
/// usage error (64) naming what is accepted, instead of logs silenced by a typo.
#[test]
fn log_level_and_format_are_checked() {
    let em = Emulator::start();
    let r = run(salesapp(&em)
        .args(["--log-level", "inf", "generate", "--date", "2026-01-01"])
        .args(["--rows", "1"]));
    r.assert_code(64);
    assert!(r.stderr.contains("error, warn, info, debug, trace"), "{}", r.output());
    let r = run(reportsengine(&em).args(["--log-format", "xml", "once"]));
    r.assert_code(64);
    assert!(r.stderr.contains("auto, journal, json, text"), "{}", r.output());
    let r = run(reportsengine(&em).env("RUST_LOG", "info,aws_config=loud").arg("once"));
    r.assert_code(64);
    assert!(r.stderr.contains("RUST_LOG") && r.stderr.contains("trace"), "{}", r.output());
}

/// On a terminal (util-linux `script` gives the binary one) text is coloured, unless
/// `NO_COLOR` is set.
#[test]
fn no_color_turns_colours_off_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) not installed: skipped");
        return;
    }
    let em = Emulator::start();
    let csv = em.dir().join("day.csv");
    run(salesapp(&em).args(["generate", "--date", "2026-04-06", "--rows", "10", "-o"]).arg(&csv))
        .assert_ok();
    let bin = e2e::bin_path("reportsengine");
    let line = format!(
        "{} --log-level info build {} -o {}",
        bin.display(),
        csv.display(),
        em.dir().join("out").display()
    );
    // `build` without a configuration logs an INFO line: the text to look at.
    let on_terminal = |no_color: bool| {
        let cmd = em.bare_command("reportsengine");
        let mut script = Command::new("script");
        script.env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                script.env(k, v);
            }
        }
        script.env("TERM", "xterm").current_dir(em.dir());
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let r = run(script.args(["-qec", &line, "/dev/null"]));
        r.assert_ok();
        assert!(r.stdout.contains("default commission rate"), "{}", r.output());
        r.stdout
    };
    assert!(on_terminal(false).contains("\x1b["), "colours on a terminal");
    assert!(!on_terminal(true).contains("\x1b["), "NO_COLOR: no colours");
}
