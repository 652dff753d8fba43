use super::keys::{ValueType, KEYS};
use super::*;

const MINIMAL: &str = r#"
bucket = "local-restrictedbucket"
queue_url = "http://127.0.0.1:5000/123456789012/q"
"#;

fn load(text: &str, env: &[(&str, &str)], sets: &[&str]) -> Result<Config> {
    let env: Vec<(String, String)> =
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::from_parts("test.toml", text, &env, &sets)
}

#[test]
fn defaults_are_documented_values() {
    let c = load(MINIMAL, &[], &[]).unwrap();
    assert_eq!(c.compensation.commission_bps, 500);
    assert_eq!(c.reportsengine.concurrency, 4);
    assert_eq!(c.reportsengine.wait_time, Duration::from_secs(20));
    assert_eq!(c.reportsengine.visibility_timeout, Duration::from_secs(30));
    assert_eq!(c.reportsengine.shutdown_grace, Duration::from_secs(25));
    assert_eq!(c.reportsengine.max_object_size, 10 << 30);
    assert_eq!(c.salesapp.spool_dir, PathBuf::from("/var/lib/salesapp/spool"));
    assert_eq!(c.salesapp.poll_interval, Duration::from_secs(2));
    assert_eq!(c.salesapp.settle_time, Duration::from_secs(5));
    assert_eq!(c.salesapp.shutdown_grace, Duration::from_secs(25));
    assert!(!c.endpoints.force_path_style);
    assert_eq!(c.endpoints.connect_timeout, Duration::from_secs(5));
    assert_eq!(c.endpoints.attempt_timeout, Duration::from_secs(30));
    assert_eq!(c.endpoints.give_up_after, Duration::from_secs(60));
    assert_eq!(c.reportsengine.input_prefix, None);
    assert_eq!((c.reportsengine.read_connections, c.reportsengine.read_part_size), (8, 4 << 20));
    assert_eq!(c.metrics, MetricsConfig::default());
    assert_eq!(c.metrics.listen, None);
    assert_eq!(c.metrics.textfile_interval, Duration::from_secs(15));
    assert_eq!(c.limits, Limits::default());
}

/// `[limits]` like every section: from the file, `VPCE_LAB_LIMITS_*`, `--set`; unknown
/// keys and values out of their range refused with the key named.
#[test]
fn limits_are_a_section_like_the_others() {
    let c = load(&format!("{MINIMAL}\n[limits]\nmax_reps = 5000\n"), &[], &[]).unwrap();
    assert_eq!(c.limits, Limits { max_reps: 5000, ..Limits::default() });
    let c =
        load(MINIMAL, &[("VPCE_LAB_LIMITS_MAX_PRODUCTS", "7")], &["limits.max_line_bytes=2048"])
            .unwrap();
    assert_eq!((c.limits.max_products, c.limits.max_line_bytes), (7, 2048));
    let err = load(&format!("{MINIMAL}\n[limits]\nmax_rep = 1\n"), &[], &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "test.toml:6: `limits.max_rep` is not a configuration key; did you mean \
             `limits.max_reps`?"
        ),
        "{err}"
    );
    for field in Limits::default().fields() {
        let listed = KEYS.iter().any(|k| k.section == "limits" && k.name == field.key);
        assert!(listed, "limits.{} has no VPCE_LAB_LIMITS_* / --set entry", field.key);
    }
    let err = load(MINIMAL, &[], &["limits.max_columns=3"]).unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.to_string()
            .starts_with("--set limits.max_columns: limits.max_columns = 3 must be 7 to"),
        "{err}"
    );
    // A range error in the file is located at its line, like any other key's.
    let err = load(&format!("{MINIMAL}\n[limits]\nmax_reps = 0\n"), &[], &[]).unwrap_err();
    assert!(err.to_string().starts_with("test.toml:6: limits.max_reps = 0 must be 1 to"), "{err}");
}

/// Without a file, the defaults with the variables and flags; with one, the file's.
#[test]
fn local_settings_need_no_file() {
    let env = [("VPCE_LAB_LIMITS_MAX_REPS".to_string(), "9".to_string())];
    let sets = ["compensation.commission_bps=250".to_string()];
    let s = LocalSettings::load(None, &env, &sets).unwrap();
    assert_eq!(s.limits, Limits { max_reps: 9, ..Limits::default() });
    assert_eq!((s.compensation.commission_bps, s.file), (250, None));
    // Checked and located as with a file: the flag or the variable, the key, the range.
    let err = LocalSettings::load(None, &[], &["limits.max_reps=0".into()]).unwrap_err();
    assert!(err.to_string().starts_with("--set limits.max_reps: limits.max_reps = 0"), "{err}");
    let env = [("VPCE_LAB_COMPENSATION_COMMISSION_BPS".to_string(), "20000".to_string())];
    let err = LocalSettings::load(None, &env, &[]).unwrap_err();
    assert!(err.to_string().starts_with("VPCE_LAB_COMPENSATION_COMMISSION_BPS: "), "{err}");
    assert!(LocalSettings::load(None, &[], &["limits.nope=1".into()]).is_err());
    // Keys of other sections are not these commands' to judge.
    let env = [("VPCE_LAB_REPORTSENGINE_WAIT_TIME".to_string(), "0s".to_string())];
    assert!(LocalSettings::load(None, &env, &[]).is_ok());
    let missing = Path::new("/nonexistent/vpce-lab.toml");
    assert_eq!(LocalSettings::load(Some(missing), &[], &[]).unwrap_err().exit_code(), 78);
}

#[test]
fn spec_example_parses() {
    let text = r#"
region = "us-east-1"
bucket = "123456789012-lab-us-east-1-restrictedbucket"
queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/lab-us-east-1-sqs-queue"
[endpoints]
s3 = "https://s3.us-east-1.amazonaws.com"
sqs = "https://sqs.us-east-1.amazonaws.com"
force_path_style = false
require_private_sqs = true
[compensation]
commission_bps = 500
[compensation.overrides]
"Ada Lovelace" = 700
[salesapp]
spool_dir = "/var/lib/salesapp/spool"
[reportsengine]
concurrency = 4
wait_time = "20s"
visibility_timeout = "30s"
shutdown_grace = "25s"
max_object_size = "10GiB"
"#;
    let c = load(text, &[], &[]).unwrap();
    assert_eq!(c.compensation.rate_bps("Ada Lovelace"), 700);
    assert_eq!(c.compensation.rate_bps("Grace Hopper"), 500);
    assert!(c.endpoints.require_private_sqs);
}

#[test]
fn unknown_key_is_named() {
    let err = load(&format!("{MINIMAL}\n[reportsengine]\nvisibilty_timeout = \"30s\"\n"), &[], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "test.toml:6: `reportsengine.visibilty_timeout` is not a configuration key; did \
             you mean `reportsengine.visibility_timeout`?"
        ),
        "{err}"
    );
    let err = load(&format!("{MINIMAL}\ncolour = 1\n"), &[], &[]).unwrap_err().to_string();
    assert!(err.starts_with("test.toml:5: `colour` is not a configuration key"), "{err}");
    assert!(!err.contains("did you mean"), "nothing near: {err}");
    let err = load(MINIMAL, &[("VPCE_LAB_REPORTSENGINE_CONCURENCY", "8")], &[]).unwrap_err();
    assert!(err.to_string().contains("did you mean VPCE_LAB_REPORTSENGINE_CONCURRENCY?"), "{err}");
    let err = load(MINIMAL, &[], &["reportengine.concurrency=8"]).unwrap_err();
    assert!(err.to_string().contains("did you mean `reportsengine.concurrency`?"), "{err}");
}

/// A value of the wrong type, or out of its bounds, names the key and where the value
/// came from: the file's line, the variable, or the flag.
#[test]
fn errors_name_the_key_and_where_its_value_came_from() {
    let file = format!("{MINIMAL}[reportsengine]\nconcurrency = \"one\"\n");
    let err = load(&file, &[], &[]).unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.to_string().starts_with(
            "test.toml:5: reportsengine.concurrency = \"one\": expected a whole number"
        ),
        "{err}"
    );
    let err = load(MINIMAL, &[("VPCE_LAB_REPORTSENGINE_WAIT_TIME", "0s")], &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "VPCE_LAB_REPORTSENGINE_WAIT_TIME: reportsengine.wait_time = 0s must be 1s to 20s"
        ),
        "{err}"
    );
    let err = load(MINIMAL, &[], &["salesapp.settle_time=forever"]).unwrap_err();
    assert!(err.to_string().starts_with("--set salesapp.settle_time: "), "{err}");
    assert!(err.to_string().contains("is not a duration"), "{err}");
    let file = format!("{MINIMAL}\n[compensation.overrides]\n\"Ada Lovelace\" = 20000\n");
    let err = load(&file, &[], &[]).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "test.toml:6: compensation.overrides.\"Ada Lovelace\" = 20000 bps is above 100 %"
        ),
        "{err}"
    );
    let err = load("bucket = \"b-b\"\n", &[], &[]).unwrap_err();
    assert!(err.to_string().starts_with("test.toml: queue_url is required"), "{err}");
    let err = load(&format!("{MINIMAL}reportsengine = 4\n"), &[], &[]).unwrap_err();
    assert!(err.to_string().starts_with("test.toml:4: `reportsengine` is a section"), "{err}");
}

/// A URL's user name and password are never echoed, not even in the error that refuses
/// them, nor in `config`'s listing.
#[test]
fn userinfo_in_a_url_is_refused_and_never_shown() {
    let file = format!("{MINIMAL}[endpoints]\ns3 = \"http://user:s3cr3t@127.0.0.1:1\"\n");
    let err = load(&file, &[], &[]).unwrap_err().to_string();
    assert!(err.starts_with("test.toml:5: endpoints.s3 = \"http://***@127.0.0.1:1\""), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    let err = load(MINIMAL, &[], &["queue_url=https://u:s3cr3t@q.example/1/q"]).unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    let err = load(MINIMAL, &[], &["https://u:s3cr3t@q.example"]).unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert_eq!(mask_url("https://u:p@h:1/x?y"), "https://***@h:1/x?y");
    assert_eq!(mask_url("https://h/x@y"), "https://h/x@y", "an @ in the path is not userinfo");
}

/// What `config` lists: every key, its value in effect and where it came from.
#[test]
fn the_effective_configuration_lists_each_value_s_source() {
    let text = format!("{MINIMAL}[compensation.overrides]\n\"Ada Lovelace\" = 700\n");
    let effective = Effective::from_parts(
        "c.toml",
        &text,
        &[("VPCE_LAB_REPORTSENGINE_CONCURRENCY".into(), "8".into())],
        &["reportsengine.wait_time=5s".into()],
    )
    .expect("loads");
    let rows = effective.rows();
    let row = |key: &str| {
        rows.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, s)| (v.clone(), s.to_string()))
            .unwrap_or_else(|| panic!("no row {key}: {rows:?}"))
    };
    assert_eq!(row("bucket"), ("\"local-restrictedbucket\"".into(), "c.toml:2".into()));
    assert_eq!(
        row("reportsengine.concurrency"),
        ("8".into(), "env VPCE_LAB_REPORTSENGINE_CONCURRENCY".into())
    );
    assert_eq!(row("reportsengine.wait_time"), ("\"5s\"".into(), "--set".into()));
    assert_eq!(row("reportsengine.visibility_timeout"), ("\"30s\"".into(), "default".into()));
    assert_eq!(row("region"), ("unset".into(), "default".into()));
    assert_eq!(row("compensation.overrides.\"Ada Lovelace\""), ("700".into(), "c.toml:5".into()));
    let listed = rows.len();
    let keys = KEYS.len();
    assert_eq!(listed, keys, "one row per key (the one override standing for its table)");
}

#[test]
fn env_beats_file_and_flag_beats_env() {
    let c = load(
        MINIMAL,
        &[("VPCE_LAB_REPORTSENGINE_CONCURRENCY", "8"), ("VPCE_LAB_BUCKET", "other-bucket")],
        &[],
    )
    .unwrap();
    assert_eq!(c.reportsengine.concurrency, 8);
    assert_eq!(c.bucket, "other-bucket");
    let c = load(
        MINIMAL,
        &[("VPCE_LAB_REPORTSENGINE_CONCURRENCY", "8")],
        &["reportsengine.concurrency=2", "endpoints.force_path_style=true"],
    )
    .unwrap();
    assert_eq!(c.reportsengine.concurrency, 2);
    assert!(c.endpoints.force_path_style);
}

#[test]
fn unknown_env_and_flag_keys_are_errors() {
    assert!(load(MINIMAL, &[("VPCE_LAB_REPORTSENGINE_CONCURENCY", "8")], &[]).is_err());
    assert!(load(MINIMAL, &[], &["reportsengine.nope=1"]).is_err());
    assert!(load(MINIMAL, &[], &["no-equals"]).is_err());
    // The config path variable itself is not a key.
    assert!(load(MINIMAL, &[("VPCE_LAB_CONFIG", "/x")], &[]).is_ok());
}

#[test]
fn every_listed_key_is_accepted() {
    // A limit takes its default: each has a range of its own (`Limits::fields`).
    let limit = |name: &str| {
        Limits::default().fields().into_iter().find(|f| f.key == name).map(|f| f.value.to_string())
    };
    for key in KEYS.iter().filter(|k| k.value != ValueType::Table) {
        let limit = if key.section == "limits" { limit(key.name) } else { None };
        let raw = match (key.value, key.name) {
            (ValueType::Int, _) if limit.is_some() => limit.as_deref().unwrap_or_default(),
            (ValueType::Int, _) => "4",
            (ValueType::Bool, _) => "true",
            (ValueType::Duration, _) => "5s",
            (ValueType::Size, _) => "8MiB",
            (_, "listen") => "127.0.0.1:9464",
            (_, "textfile") => "/var/lib/node_exporter/textfile_collector/x.prom",
            (_, "spool_dir") => "/srv/spool",
            (_, "input_prefix") => "incoming/",
            (_, "bucket") => "some-bucket",
            (_, "region") => "eu-west-1",
            (_, "queue_url" | "s3" | "sqs") => "https://example.invalid/1/q",
            _ => "value",
        };
        let dotted = key.dotted();
        load(MINIMAL, &[], &[&format!("{dotted}={raw}")])
            .unwrap_or_else(|e| panic!("{dotted}: {e}"));
    }
}

#[test]
fn validation_rejects_unsafe_values() {
    for bad in [
        "reportsengine.wait_time=21s",
        "reportsengine.shutdown_grace=30s",
        "salesapp.shutdown_grace=30s",
        "salesapp.poll_interval=0s",
        "reportsengine.concurrency=0",
        "reportsengine.max_object_size=0",
        "queue_url=ftp://x/q",
        "bucket=Bad_Bucket",
        "compensation.commission_bps=10001",
        "endpoints.attempt_timeout=0s",
        "endpoints.connect_timeout=10ms",
        "endpoints.give_up_after=2h",
        "reportsengine.input_prefix=reports/",
        "reportsengine.read_connections=0",
        "reportsengine.read_part_size=1KiB",
        "reportsengine.input_prefix=/abs/",
        "metrics.listen=8.8.8.8:9464",
        "metrics.listen=0.0.0.0:9464",
        "metrics.listen=[::]:9464",
        "metrics.listen=[2001:db8::1]:9464",
        "metrics.listen=localhost:9464",
        "metrics.listen=127.0.0.1",
        "metrics.textfile=relative.prom",
        "metrics.textfile_interval=100ms",
        "metrics.textfile=",
        "reportsengine.wait_time=0s",
        "reportsengine.wait_time=500ms",
        "reportsengine.visibility_timeout=13h",
        "reportsengine.input_prefix=",
        "salesapp.spool_dir=",
        "salesapp.spool_dir=spool",
        "salesapp.settle_time=2h",
        "endpoints.connect_timeout=2m",
        "endpoints.attempt_timeout=1h",
        "metrics.textfile_interval=2h",
        "limits.max_reps=0",
        "limits.max_message_bytes=2000000",
    ] {
        let err = load(MINIMAL, &[], &[bad]).expect_err(bad);
        // Located: the flag and its key, so the key is found in the message.
        let (key, _) = bad.split_once('=').unwrap_or((bad, ""));
        assert!(err.to_string().starts_with(&format!("--set {key}: ")), "{bad}: {err}");
    }
}

/// A metrics port may face only this host or the private network.
#[test]
fn metrics_listen_accepts_loopback_and_private_addresses() {
    for good in ["127.0.0.1:9464", "[::1]:9464", "10.0.1.5:9464", "192.168.1.2:1", "[fd00::5]:9"] {
        let c = load(MINIMAL, &[], &[&format!("metrics.listen={good}")])
            .unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(c.metrics.listen, Some(good.parse().unwrap()));
    }
    let err = load(MINIMAL, &[], &["metrics.listen=8.8.8.8:9464"]).unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(err.to_string().contains("metrics.listen"), "{err}");
    assert!(err.to_string().contains("public"), "{err}");
    let c = load(MINIMAL, &[("VPCE_LAB_METRICS_LISTEN", "127.0.0.1:9100")], &[]).unwrap();
    assert_eq!(c.metrics.listen, Some("127.0.0.1:9100".parse().unwrap()));
}

#[test]
fn sizes_and_urls() {
    assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
    assert_eq!(parse_size("512 MiB").unwrap(), 512 << 20);
    assert_eq!(parse_size("1000").unwrap(), 1000);
    assert!(parse_size("1.5GiB").is_err());
    assert!(parse_size("99999999999TiB").is_err());
    assert_eq!(
        url_host("https://sqs.us-east-1.amazonaws.com/1/q"),
        Some("sqs.us-east-1.amazonaws.com")
    );
    assert_eq!(url_host("http://127.0.0.1:5000"), Some("127.0.0.1"));
    assert_eq!(url_host("http://[::1]:5000/x"), Some("::1"));
    assert_eq!(url_port("http://127.0.0.1:5000"), 5000);
    assert_eq!(url_port("https://sqs.us-east-1.amazonaws.com/1/q"), 443);
    assert_eq!(url_port("http://[::1]/x"), 80);
}
