//! The configuration as an operator meets it (docs/configuration.md): an error names the
//! key, the file and the line, and the nearest valid key for an unknown one, the same in
//! `doctor` as in the commands; `config` shows every value in effect and where it came
//! from; every duration is bounded and no path is empty; a file others may write is refused;
//! nothing that could be a secret is echoed.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{run, Emulator, Run};

/// The emulator's configuration with `edit` applied, written beside it (mode 0600).
fn config_with(em: &Emulator, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(em.config_path()).expect("config.toml");
    let path = em.dir().join(name);
    std::fs::write(&path, edit(&text)).expect("write config");
    set_mode(&path, 0o600);
    path
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The 1-based line of `path` that starts with `start`.
fn line_of(path: &Path, start: &str) -> usize {
    let text = std::fs::read_to_string(path).expect("read");
    text.lines().position(|l| l.starts_with(start)).map(|i| i + 1).expect("line")
}

fn with_config(em: &Emulator, name: &str, config: &Path) -> Command {
    let mut cmd = em.bare_command(name);
    cmd.arg("--config").arg(config);
    cmd
}

/// The command's message (its `program: …` line) and doctor's config row must both say
/// `said`, and both exit 78.
#[track_caller]
fn assert_both_say(em: &Emulator, config: &Path, said: &str) {
    let (path, _) = e2e::generate(em, "2026-09-01", 5, 1);
    for (program, args) in [
        ("salesapp", vec!["upload".to_string(), path.display().to_string()]),
        ("reportsengine", vec!["once".to_string()]),
    ] {
        let r = run(with_config(em, program, config).args(&args));
        r.assert_code(78);
        let first = r.stderr.lines().next().unwrap_or_default();
        assert!(first.starts_with(&format!("{program}: {said}")), "{}", r.output());
    }
    let r = run(with_config(em, "salesapp", config).args(["doctor", "--json"]));
    r.assert_code(78);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    let row = &doc["checks"][0];
    assert_eq!((row["check"].as_str(), row["status"].as_str()), (Some("config"), Some("FAIL")));
    let detail = row["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with(said), "doctor says {detail:?}, want {said:?}");
}

/// A value of the wrong type names the key and its line (before: `invalid type: string
/// "one", expected usize`).
#[test]
fn a_value_of_the_wrong_type_names_the_key_the_file_and_the_line() {
    let em = Emulator::start();
    let config = config_with(&em, "bad-type.toml", |t| {
        t.replace("concurrency = 4", "concurrency = \"one\"")
    });
    let line = line_of(&config, "concurrency =");
    let said = format!(
        "{}:{line}: reportsengine.concurrency = \"one\": expected a whole number",
        config.display()
    );
    assert_both_say(&em, &config, &said);
}

/// An unknown key names its line and the key meant (before: every valid key listed, none
/// suggested).
#[test]
fn an_unknown_key_names_its_line_and_the_nearest_valid_key() {
    let em = Emulator::start();
    let config = config_with(&em, "unknown.toml", |t| {
        t.replace("visibility_timeout = ", "visibilty_timeout = ")
    });
    let line = line_of(&config, "visibilty_timeout");
    let said = format!(
        "{}:{line}: `reportsengine.visibilty_timeout` is not a configuration key; did you mean \
         `reportsengine.visibility_timeout`?",
        config.display()
    );
    assert_both_say(&em, &config, &said);
    let r = run(e2e::salesapp(&em).args(["--set", "reportsengine.concurency=2", "config"]));
    r.assert_code(78);
    assert!(r.stderr.contains("did you mean `reportsengine.concurrency`?"), "{}", r.output());
    let r = run(e2e::salesapp(&em).env("VPCE_LAB_REPORTSENGINE_CONCURENCY", "2").arg("config"));
    r.assert_code(78);
    assert!(
        r.stderr.contains("did you mean VPCE_LAB_REPORTSENGINE_CONCURRENCY?"),
        "{}",
        r.output()
    );
}

/// `config` lists every key with its value and source: the file's line, the variable, the
/// flag, or the default; and what chose the file.
#[test]
fn config_shows_each_value_and_where_it_comes_from() {
    let em = Emulator::start();
    let r = run(e2e::salesapp(&em).env("VPCE_LAB_REPORTSENGINE_CONCURRENCY", "8").args([
        "--set",
        "endpoints.give_up_after=10s",
        "config",
        "--set",
        "limits.max_reps=20000",
    ]));
    r.assert_ok();
    let path = em.config_path().display().to_string();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("configuration file: {path} (chosen by --config)"),
        "{}",
        r.stdout
    );
    let row = |key: &str| -> Vec<String> {
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no row {key}:\n{}", r.stdout));
        line.split_whitespace().map(str::to_string).collect()
    };
    let bucket_line = line_of(em.config_path(), "bucket =");
    assert_eq!(
        row("bucket"),
        ["bucket".to_string(), format!("\"{}\"", em.bucket()), format!("{path}:{bucket_line}"),]
    );
    assert_eq!(
        row("reportsengine.concurrency"),
        ["reportsengine.concurrency", "8", "env", "VPCE_LAB_REPORTSENGINE_CONCURRENCY"]
    );
    assert_eq!(row("endpoints.give_up_after"), ["endpoints.give_up_after", "\"10s\"", "--set"]);
    assert_eq!(
        row("endpoints.connect_timeout"),
        ["endpoints.connect_timeout", "\"5s\"", "default"]
    );
    assert_eq!(
        row("doctor.unrestricted_bucket"),
        ["doctor.unrestricted_bucket", "unset", "default"]
    );
    // The limits are keys like the others: set, or their default.
    assert_eq!(row("limits.max_reps"), ["limits.max_reps", "20000", "--set"]);
    assert_eq!(row("limits.max_line_bytes"), ["limits.max_line_bytes", "65536", "default"]);
    for key in common::config::KEYS {
        row(&key.dotted());
    }
    let r = run(em
        .bare_command("reportsengine")
        .env("VPCE_LAB_CONFIG", em.config_path())
        .arg("config"));
    r.assert_ok();
    assert!(r
        .stdout
        .starts_with(&format!("configuration file: {path} (chosen by VPCE_LAB_CONFIG)")));
}

/// Every duration has bounds: a 0 s long poll (which would short-poll, a paid request each
/// time) and a day of settle time are refused at start; so is an empty spool directory
/// (before: all three accepted, the last as the current directory).
#[test]
fn durations_are_bounded_and_paths_are_not_empty() {
    let em = Emulator::start();
    for (set, program, command, said) in [
        (
            "reportsengine.wait_time=0s",
            "reportsengine",
            "run",
            "--set reportsengine.wait_time: reportsengine.wait_time = 0s must be 1s to 20s",
        ),
        (
            "salesapp.settle_time=1day",
            "salesapp",
            "watch",
            "--set salesapp.settle_time: salesapp.settle_time = 1day must be 0s to 1h",
        ),
        (
            "salesapp.spool_dir=",
            "salesapp",
            "watch",
            "--set salesapp.spool_dir: salesapp.spool_dir is empty",
        ),
        (
            "endpoints.attempt_timeout=2h",
            "salesapp",
            "doctor",
            "--set endpoints.attempt_timeout: endpoints.attempt_timeout = 2h must be 100ms to 10m",
        ),
    ] {
        let mut cmd =
            if program == "salesapp" { e2e::salesapp(&em) } else { e2e::reportsengine(&em) };
        let r = run(cmd.args(["--set", set, command]));
        r.assert_code(78);
        let out = format!("{}{}", r.stdout, r.stderr);
        assert!(out.contains(said), "{set}: want {said:?}:\n{}", r.output());
    }
}

/// A file its group or everyone may write is refused, as ssh refuses such files: whoever can
/// write it chooses where the daemons send data.
#[test]
fn a_configuration_others_may_write_is_refused() {
    let em = Emulator::start();
    let config = config_with(&em, "writable.toml", str::to_string);
    set_mode(&config, 0o664);
    let said = format!("{} may be changed by its group (mode 0664)", config.display());
    assert_both_say(&em, &config, &said);
    set_mode(&config, 0o640);
    run(with_config(&em, "salesapp", &config).arg("config")).assert_ok();
}

/// Nothing that could be a secret is echoed: not the line of a TOML syntax error (before:
/// quoted whole), not a URL's password in a refused value.
#[test]
fn errors_never_echo_what_could_be_a_secret() {
    let em = Emulator::start();
    let secret = "s3cr3t-canary-0452";
    let syntax = config_with(&em, "syntax.toml", |t| {
        format!("{t}[doctor]\nunrestricted_bucket = \"{secret}\n")
    });
    let r = run(with_config(&em, "salesapp", &syntax).arg("config"));
    r.assert_code(78);
    assert_no_secret(&r, secret);
    let line = line_of(&syntax, "unrestricted_bucket");
    assert!(
        r.stderr.starts_with(&format!("salesapp: {}:{line}:", syntax.display())),
        "{}",
        r.output()
    );
    assert!(r.stderr.contains("not valid TOML"), "{}", r.output());

    let userinfo = config_with(&em, "userinfo.toml", |t| {
        t.replacen("s3 = \"http://", &format!("s3 = \"http://user:{secret}@"), 1)
    });
    let r = run(with_config(&em, "salesapp", &userinfo).args(["doctor", "--json"]));
    r.assert_code(78);
    assert_no_secret(&r, secret);
    assert!(r.stdout.contains("http://***@127.0.0.1:"), "{}", r.output());
}

#[track_caller]
fn assert_no_secret(r: &Run, secret: &str) {
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "echoed:\n{}", r.output());
}
