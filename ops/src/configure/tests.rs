//! `configure` on the shapes of stack outputs it meets: the original workshop's, ours, a flat
//! object, a bare list, broken ones; and the file it writes.

use super::*;
use common::config::Config;

/// The shape `aws cloudformation describe-stacks` prints, with the original workshop's
/// output names (a subset of them, and its extras).
const DESCRIBE_STACKS: &str = r#"{
  "Stacks": [{
    "StackName": "lab", "StackStatus": "CREATE_COMPLETE",
    "Outputs": [
      {"OutputKey": "StackName", "OutputValue": "lab", "Description": "Stack name."},
      {"OutputKey": "VPCID", "OutputValue": "vpc-0a1b2c3d4e5f60718"},
      {"OutputKey": "Cloud9InstanceURL", "OutputValue": "https://console.aws.amazon.com/cloud9"},
      {"OutputKey": "S3VPCGatewayEndpoint", "OutputValue": "vpce-0123456789abcdef0"},
      {"OutputKey": "UnrestrictedS3Bucket", "OutputValue": "111122223333-lab-us-east-1-unrestrictedbucket"},
      {"OutputKey": "RestrictedS3Bucket", "OutputValue": "111122223333-lab-us-east-1-restrictedbucket"},
      {"OutputKey": "SQSQueueName", "OutputValue": "lab-us-east-1-sqs-queue"},
      {"OutputKey": "SQSQueueARN", "OutputValue": "arn:aws:sqs:us-east-1:111122223333:lab-us-east-1-sqs-queue"},
      {"OutputKey": "SQSQueueURL", "OutputValue": "https://sqs.us-east-1.amazonaws.com/111122223333/lab-us-east-1-sqs-queue"},
      {"OutputKey": "SQSVPCInterfaceEndpoint", "OutputValue": "vpce-0fedcba9876543210"},
      {"OutputKey": "AWSAccountID", "OutputValue": "111122223333"},
      {"OutputKey": "keypairName", "OutputValue": "vpce.pem"}
    ]
  }]
}"#;

fn loads(text: &str) -> Config {
    Config::from_parts("configured.toml", text, &[], &[]).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn describe_stacks_of_the_original_workshop() {
    let outputs = parse_outputs("f.json", DESCRIBE_STACKS).unwrap();
    assert_eq!(outputs.stack_name.as_deref(), Some("lab"));
    let r = render(&outputs, None, &[]).unwrap();
    assert_eq!(r.region, "us-east-1");
    let c = loads(&r.toml);
    assert_eq!(c.region.as_deref(), Some("us-east-1"));
    assert_eq!(c.bucket, "111122223333-lab-us-east-1-restrictedbucket");
    assert_eq!(
        c.queue_url,
        "https://sqs.us-east-1.amazonaws.com/111122223333/lab-us-east-1-sqs-queue"
    );
    assert_eq!(c.endpoints.s3, None, "gateway endpoint: keep the regional default");
    assert_eq!(c.endpoints.sqs, None, "private DNS: keep the regional default");
    assert!(c.endpoints.require_private_sqs);
    assert!(!c.endpoints.force_path_style);
    assert_eq!(c.reportsengine.visibility_timeout, std::time::Duration::from_secs(30));
    assert_eq!(
        c.doctor.unrestricted_bucket.as_deref(),
        Some("111122223333-lab-us-east-1-unrestrictedbucket")
    );
    assert!(r.toml.contains("vpce-0123456789abcdef0"), "names the gateway endpoint");
    assert!(r.toml.contains("vpce-0fedcba9876543210"), "names the interface endpoint");
    assert!(r.toml.contains("stack \"lab\" (CREATE_COMPLETE)"));
}

#[test]
fn the_shared_example_file_configures() {
    let text = include_str!("../../../deploy/cloudformation/example-stack-outputs.json");
    let r = render(&parse_outputs("example", text).unwrap(), None, &[]).unwrap();
    loads(&r.toml);
}

#[test]
fn flat_object_and_bare_list() {
    let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                   "SQSQueueURL": "https://sqs.eu-west-1.amazonaws.com/1/q",
                   "SQSQueueVisibilityTimeout": "120", "Extra": 7}"#;
    let r = render(&parse_outputs("flat", flat).unwrap(), None, &[]).unwrap();
    let c = loads(&r.toml);
    assert_eq!(c.region.as_deref(), Some("eu-west-1"));
    assert_eq!(c.reportsengine.visibility_timeout, std::time::Duration::from_secs(120));
    assert_eq!(c.doctor.unrestricted_bucket, None);

    let list = r#"[{"OutputKey": "RestrictedS3Bucket", "OutputValue": "b-restrictedbucket"},
                   {"OutputKey": "SQSQueueURL", "OutputValue": "https://sqs.ap-south-1.amazonaws.com/1/q"}]"#;
    let r = render(&parse_outputs("list", list).unwrap(), None, &[]).unwrap();
    assert_eq!(loads(&r.toml).region.as_deref(), Some("ap-south-1"));
    assert!(!r.toml.contains("LabState"), "the end state says nothing about it");
}

#[test]
fn the_starting_state_is_said_where_doctor_reads() {
    let outputs = r#"{"RestrictedS3Bucket": "b-restrictedbucket", "LabState": "starting",
                      "SQSQueueURL": "https://sqs.eu-west-1.amazonaws.com/1/q"}"#;
    let r = render(&parse_outputs("flat", outputs).unwrap(), None, &[]).unwrap();
    assert!(r.toml.contains("LabState=starting") && r.toml.contains("NOT in place"), "{}", r.toml);
    loads(&r.toml);
}

#[test]
fn every_missing_output_is_named_at_once() {
    let flat = r#"{"VPCID": "vpc-1", "SQSQueueName": "q"}"#;
    let err = render(&parse_outputs("f", flat).unwrap(), None, &[]).unwrap_err();
    assert_eq!(err.exit_code(), 78);
    let msg = err.to_string();
    for needed in
        ["RestrictedS3Bucket", "SQSQueueURL", "region", "Outputs found: SQSQueueName, VPCID"]
    {
        assert!(msg.contains(needed), "{needed} not in: {msg}");
    }
    let empty = r#"{"Stacks": [{"StackName": "x", "StackStatus": "CREATE_COMPLETE"}]}"#;
    let msg = render(&parse_outputs("f", empty).unwrap(), None, &[]).unwrap_err().to_string();
    assert!(msg.contains("no outputs at all"), "{msg}");
    // An output present with an empty value counts as missing.
    let blank =
        r#"{"RestrictedS3Bucket": "", "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/1/q"}"#;
    let msg = render(&parse_outputs("f", blank).unwrap(), None, &[]).unwrap_err().to_string();
    assert!(msg.contains("RestrictedS3Bucket"), "{msg}");
}

#[test]
fn region_sources_and_conflicts() {
    assert_eq!(
        region_from_queue_url("https://sqs.us-west-2.amazonaws.com/1/q").as_deref(),
        Some("us-west-2")
    );
    assert_eq!(
        region_from_queue_url("https://eu-central-1.queue.amazonaws.com/1/q").as_deref(),
        Some("eu-central-1")
    );
    assert_eq!(
        region_from_queue_url("https://vpce-0a-b1.sqs.us-east-2.vpce.amazonaws.com/1/q").as_deref(),
        Some("us-east-2")
    );
    assert_eq!(region_from_queue_url("http://127.0.0.1:5000/123456789012/q"), None);
    assert_eq!(region_from_arn("arn:aws:sqs:ca-central-1:1:q").as_deref(), Some("ca-central-1"));
    // A loopback queue URL (the emulator): the ARN gives the region.
    let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                   "SQSQueueURL": "http://127.0.0.1:5000/123456789012/q",
                   "SQSQueueARN": "arn:aws:sqs:us-east-1:123456789012:q"}"#;
    let outputs = parse_outputs("f", flat).unwrap();
    assert_eq!(render(&outputs, None, &[]).unwrap().region, "us-east-1");
    assert_eq!(render(&outputs, Some("eu-west-3"), &[]).unwrap().region, "eu-west-3");
    assert!(render(&outputs, Some("Not A Region"), &[]).is_err());
    let conflict = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                   "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/1/q",
                   "SQSQueueARN": "arn:aws:sqs:eu-west-1:1:q"}"#;
    let msg = render(&parse_outputs("f", conflict).unwrap(), None, &[]).unwrap_err().to_string();
    assert!(msg.contains("eu-west-1") && msg.contains("us-east-1"), "{msg}");
}

#[test]
fn queue_url_from_name_and_account() {
    let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket", "SQSQueueName": "q",
                   "AWSAccountID": "111122223333",
                   "SQSQueueARN": "arn:aws:sqs:us-east-1:111122223333:q"}"#;
    let r = render(&parse_outputs("f", flat).unwrap(), None, &[]).unwrap();
    assert_eq!(r.queue_url, "https://sqs.us-east-1.amazonaws.com/111122223333/q");
}

#[test]
fn not_outputs_at_all() {
    assert!(parse_outputs("f", "not json").is_err());
    assert!(parse_outputs("f", "42").is_err());
    assert!(parse_outputs("f", r#"{"Stacks": []}"#).is_err());
    assert!(parse_outputs("f", r#"[{"OutputValue": "x"}]"#).is_err());
    assert!(parse_outputs("f", r#"{"k": {"nested": 1}}"#).is_err());
}

#[test]
fn strings_are_escaped() {
    let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                   "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/1/q\"x"}"#;
    // A quote cannot break out of the TOML string; validation then judges the URL.
    let r = render(&parse_outputs("f", flat).unwrap(), None, &[]).unwrap();
    assert!(toml::from_str::<toml::Table>(&r.toml).is_ok());
}

#[test]
fn writes_0600_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("configure-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    let _ = std::fs::remove_file(&path);
    write_private(&path, "a = 1\n", false).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let err = write_private(&path, "a = 2\n", false).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 1\n");
    write_private(&path, "a = 3\n", true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 3\n");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The outputs of our own template in the secured state (a flat object, as `lab.sh env`'s
/// `outputs` or a `--query` would give them).
const OURS: &str = r#"{"RestrictedS3Bucket": "111122223333-lab-us-east-1-restrictedbucket",
    "UnrestrictedS3Bucket": "111122223333-lab-us-east-1-unrestrictedbucket",
    "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/111122223333/lab-us-east-1-sqs-queue",
    "SQSQueueVisibilityTimeout": "45", "LabState": "secured",
    "S3VPCGatewayEndpoint": "vpce-0123456789abcdef0", "SQSVPCInterfaceEndpoint": "vpce-0fedcba9876543210"}"#;

/// The keys a written file sets, dotted, from its text read as TOML.
fn set_keys(text: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut keys = Vec::new();
    for (name, value) in table {
        match value {
            toml::Value::Table(section) => {
                for (key, value) in section {
                    match value {
                        toml::Value::Table(inner) => {
                            keys.extend(inner.keys().map(|k| format!("{name}.{key}.{k}")))
                        }
                        _ => keys.push(format!("{name}.{key}")),
                    }
                }
            }
            _ => keys.push(name),
        }
    }
    keys.sort();
    keys
}

#[test]
fn only_what_the_stack_gave_and_the_lab_requires_is_set() {
    let r = render(&parse_outputs("ours", OURS).unwrap(), None, &[]).unwrap();
    assert_eq!(
        set_keys(&r.toml),
        [
            "bucket",
            "doctor.unrestricted_bucket",
            "endpoints.require_private_sqs",
            "queue_url",
            "region",
            "reportsengine.visibility_timeout",
        ]
    );
    let c = loads(&r.toml);
    assert_eq!(c.reportsengine.visibility_timeout, std::time::Duration::from_secs(45));

    // The original workshop's stack has no visibility timeout output: the queue keeps SQS's
    // default, which is ours, so nothing is pinned.
    let r = render(&parse_outputs("f.json", DESCRIBE_STACKS).unwrap(), None, &[]).unwrap();
    assert!(!set_keys(&r.toml).contains(&"reportsengine.visibility_timeout".to_string()));
}

/// Every other key is in the file as a comment at its default, so a later release's default
/// reaches the host, and the configuration loaded is the defaults' own.
#[test]
fn defaults_are_comments_so_a_later_default_reaches_the_host() {
    let r = render(&parse_outputs("ours", OURS).unwrap(), None, &[]).unwrap();
    let chosen = set_keys(&r.toml);
    for key in common::config::KEYS {
        if chosen.contains(&key.dotted()) {
            continue;
        }
        if let common::config::KeyDefault::Is(default) = key.default {
            let line = format!("\n# {} = {default}\n", key.name);
            assert!(
                r.toml.contains(&line),
                "{} not shown at its default:\n{}",
                key.dotted(),
                r.toml
            );
        }
    }
    assert!(!r.toml.contains("\nconcurrency = "), "no default written as a setting");
    let c = loads(&r.toml);
    let defaults =
        loads("bucket = \"b-b-b\"\nqueue_url = \"https://sqs.us-east-1.amazonaws.com/1/q\"\n");
    assert_eq!(c.salesapp, defaults.salesapp);
    assert_eq!(c.compensation, defaults.compensation);
    assert_eq!(c.metrics, defaults.metrics);
    assert_eq!(
        (c.endpoints.connect_timeout, c.endpoints.attempt_timeout, c.endpoints.give_up_after),
        (
            defaults.endpoints.connect_timeout,
            defaults.endpoints.attempt_timeout,
            defaults.endpoints.give_up_after
        )
    );
    let engine = common::config::EngineConfig {
        visibility_timeout: c.reportsengine.visibility_timeout,
        ..defaults.reportsengine
    };
    assert_eq!(c.reportsengine, engine);
}

/// Each commented setting, uncommented where it stands, gives a file both binaries load:
/// the comments are settings an operator can take as they are.
#[test]
fn every_commented_setting_can_be_uncommented_in_place() {
    let r = render(&parse_outputs("ours", OURS).unwrap(), None, &[]).unwrap();
    let lines: Vec<&str> = r.toml.lines().collect();
    let mut tried = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(setting) = line.strip_prefix("# ") else { continue };
        let name = setting.split(" = ").next().unwrap_or("");
        let is_setting = setting.contains(" = ")
            && (name.starts_with('"')
                || name.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        if !is_setting {
            continue;
        }
        let mut variant = lines.clone();
        variant[i] = setting;
        let text = variant.join("\n");
        Config::from_parts("uncommented", &text, &[], &[])
            .unwrap_or_else(|e| panic!("uncommenting {line:?}: {e}"));
        tried += 1;
    }
    assert!(tried >= 20, "only {tried} commented settings found:\n{}", r.toml);
}

/// `configure --set section.key=value` writes the operator's choice as a setting, typed as
/// the key is, in place of its commented default; the keys taken from the stack cannot be
/// chosen, and an unknown key is the run-time error.
#[test]
fn the_operators_choices_are_settings() {
    let outputs = parse_outputs("ours", OURS).unwrap();
    let chosen = [
        "endpoints.s3=http://127.0.0.1:4566".to_string(),
        "endpoints.sqs=http://127.0.0.1:4567".to_string(),
        "endpoints.force_path_style=true".to_string(),
        "reportsengine.concurrency=8".to_string(),
    ];
    let r = render(&outputs, None, &chosen).unwrap();
    let keys = set_keys(&r.toml);
    for key in ["endpoints.s3", "endpoints.sqs", "endpoints.force_path_style"] {
        assert!(keys.contains(&key.to_string()), "{key} not set:\n{}", r.toml);
    }
    assert!(r.toml.contains("\nconcurrency = 8\n"), "{}", r.toml);
    assert!(!r.toml.contains("# concurrency = "), "no default beside the choice:\n{}", r.toml);
    assert!(!r.toml.contains("# s3 = "), "no example beside the choice:\n{}", r.toml);
    let c = loads(&r.toml);
    assert_eq!(c.endpoints.s3.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(c.endpoints.sqs.as_deref(), Some("http://127.0.0.1:4567"));
    assert!(c.endpoints.force_path_style);
    assert_eq!(c.reportsengine.concurrency, 8);
    assert_eq!(c.bucket, render(&outputs, None, &[]).unwrap().bucket);

    for (set, says) in [
        ("bucket=other-bucket", "from the stack's outputs"),
        ("region=eu-west-1", "--region"),
        ("endpoints.s4=http://x", "is not a configuration key"),
        ("endpoints.force_path_style=maybe", "not true or false"),
    ] {
        let err = render(&outputs, None, &[set.to_string()]).unwrap_err().to_string();
        assert!(err.contains(says), "{set}: {err}");
    }
}
