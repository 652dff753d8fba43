//! No credential, session token or signature in the logs at any level, and
//! files written with restrictive modes whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use e2e::journal::JournalSocket;
use e2e::{reportsengine, run, salesapp, Emulator, Run};

/// Recognisable fake credentials (moto accepts any key while IAM enforcement is off).
const ACCESS_KEY_ID: &str = "AKIAE2ESECRETSTEST01";
const SECRET_KEY: &str = "e2eSeCrEtKeY/do+not+log/0123456789abcdefgh";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjE2eSESSIONTOKENdoNotLog0123456789";

fn with_secrets<'a>(cmd: &'a mut Command, format: &str) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("RUST_LOG", "trace")
        // The SDK's own switches that print request and response bodies unredacted.
        .env("LOG_SENSITIVE_BODIES", "true")
        .env("LOG_SIGNABLE_BODY", "true");
    cmd.args(["--log-level", "trace", "--log-format", format])
}

/// Everything that must never be logged, by name.
fn leaks(output: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (name, needle) in [
        ("the secret access key", SECRET_KEY),
        ("the session token", SESSION_TOKEN),
        ("the access key id", ACCESS_KEY_ID),
        ("an X-Amz-Signature", "X-Amz-Signature"),
        ("an Authorization header value", "AWS4-HMAC-SHA256 Credential"),
        ("a URL-encoded secret", "e2eSeCrEtKeY%2F"),
    ] {
        if output.contains(needle) {
            found.push(name);
        }
    }
    // `Signature=` followed by hex digits: a SigV4 signature.
    let sig = output.match_indices("Signature=").any(|(i, m)| {
        output[i + m.len()..].chars().take(16).filter(char::is_ascii_hexdigit).count() == 16
    });
    if sig {
        found.push("a Signature= value");
    }
    found
}

#[track_caller]
fn assert_no_leak(r: &Run) {
    let all = format!("{}\n{}", r.stdout, r.stderr);
    let found = leaks(&all);
    assert!(found.is_empty(), "{} logged {found:?}", r.what);
    // Trace logging really was on (the test would prove nothing otherwise).
    assert!(r.stderr.lines().count() > 100, "{}: too little output for trace", r.what);
    assert!(
        r.stderr.contains("TRACE") || r.stderr.contains("PRIORITY=7"),
        "{}: no TRACE lines",
        r.what
    );
}

/// upload + once at trace level, as text, as JSON and as journal entries, with the SDK's
/// body-logging switches on: no secret, token, access key id or signature in the output.
#[test]
fn no_credentials_or_signatures_in_trace_logs() {
    let em = Emulator::start();
    let mut journal = JournalSocket::bind(em.dir());
    for (i, format) in ["text", "json", "journal"].into_iter().enumerate() {
        let date = format!("2026-10-0{}", i + 1);
        let path = em.dir().join(format!("{date}.csv"));
        run(salesapp(&em).args(["generate", "--date", &date, "--rows", "50", "-o"]).arg(&path))
            .assert_ok();
        for mut cmd in [salesapp(&em), reportsengine(&em)] {
            cmd.arg("--journal-socket").arg(&journal.path);
            with_secrets(&mut cmd, format);
            if cmd.get_program().to_string_lossy().ends_with("salesapp") {
                cmd.arg("upload").arg(&path);
            } else {
                cmd.arg("once");
            }
            let mut r = run(&mut cmd);
            r.assert_ok();
            if format == "journal" {
                // The entries, as `journalctl -o export` would show them.
                journal.drain();
                let all = std::mem::take(&mut journal.entries);
                assert!(
                    r.stderr.trim().is_empty(),
                    "journal format wrote to stderr:\n{}",
                    r.stderr
                );
                r.stderr = all
                    .iter()
                    .map(|e| e.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>())
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(all.iter().any(|e| e["PRIORITY"] == "7"), "no TRACE entries");
            }
            assert_no_leak(&r);
        }
        assert!(em.get_object(&format!("reports/{date}/report.json")).is_some());
    }
    assert!(leaks(&format!("x Signature={}", "ab".repeat(32))).contains(&"a Signature= value"));
}

/// Runs the harness's `cmd` through `sh -c 'umask 000; exec …'`: the laxest umask, to show
/// the modes come from the code, not from the environment.
fn with_umask_000(cmd: &Command) -> Command {
    let mut sh = Command::new("/bin/sh");
    sh.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh.arg("-c").arg("umask 000 && exec \"$0\" \"$@\"").arg(cmd.get_program()).args(cmd.get_args());
    sh
}

#[track_caller]
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Files the binaries write carry per-rep sales and pay: 0640 at most, never world-readable
/// or -writable, even under `umask 000`.
#[test]
fn written_files_are_not_world_accessible_even_with_umask_000() {
    let em = Emulator::start();
    let csv = em.dir().join("day.csv");
    let mut cmd = salesapp(&em);
    cmd.args(["generate", "--date", "2026-10-05", "--rows", "30", "-o"]).arg(&csv);
    run(&mut with_umask_000(&cmd)).assert_ok();
    assert_eq!(mode(&csv) & 0o007, 0, "generate -o: {:o}", mode(&csv));

    let out = em.dir().join("report");
    let mut cmd = reportsengine(&em);
    cmd.arg("build").arg(&csv).arg("-o").arg(&out);
    run(&mut with_umask_000(&cmd)).assert_ok();
    assert_eq!(mode(&out) & 0o002, 0, "build -o creates {:o}", mode(&out));
    for name in ["report.csv", "report.json", "report.html"] {
        let m = mode(&out.join(name));
        assert_eq!(m & 0o007, 0, "build -o {name}: {m:o}");
    }

    // The configuration `configure -o` writes: owner only (from the flat outputs form).
    let outputs = em.write_file(
        "outputs.json",
        r#"{"RestrictedS3Bucket": "111122223333-lab-us-east-1-restrictedbucket",
            "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/111122223333/lab-us-east-1-sqs-queue"}"#,
    );
    let written = em.dir().join("vpce-lab.toml");
    let mut cmd = salesapp(&em);
    cmd.arg("configure").arg("--stack-outputs").arg(&outputs).arg("-o").arg(&written);
    run(&mut with_umask_000(&cmd)).assert_ok();
    assert_eq!(mode(&written), 0o600, "configure -o: {:o}", mode(&written));
}
