//! The workshop, runnable: every observation of the VPC endpoint workshop through the secured
//! lab (`lab.sh walkthrough`), each as the `aws` command a person types on that host, with the
//! workshop's final answers; denials every client (Rust SDK, boto3, the CLI; SQS in both protocols) reads as
//! AccessDenied; the host the endpoint's security group refuses times out; `lab.sh` itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e::lab::{assert_answers, assert_cli_error, Lab, SECURED_REFUSALS};
use e2e::{run, workspace_root};
use serde_json::Value;

/// The workshop's checks, in its order, in the secured state (`lab.sh walkthrough`: each the
/// `aws` command a person types on that host), with the workshop's final answers; then the
/// lab's own view of them: the decision log and `why`.
#[test]
fn the_workshops_observations_in_the_secured_lab() {
    let lab = Lab::start("secured");
    let walk = lab.walkthrough();
    assert_answers(&walk, SECURED_REFUSALS, "the secured lab");
    let check = |id: &str| -> Value {
        walk["checks"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id)).cloned().expect(id)
    };
    // The commands as a person types them on the host, with the lab's variables.
    assert_eq!(check("salesapp-sqs-list-queues")["command"], "aws sqs list-queues");
    assert_eq!(
        check("cloud9-s3-put-restricted")["command"],
        "aws s3 cp sales.csv s3://$LAB_BUCKET/walkthrough/cloud9.csv"
    );
    assert_eq!(
        check("cloud9-s3-put-restricted")["observed"]["statement"],
        "DenyPutObjectOutsideTheGatewayEndpoint"
    );
    for (name, state) in [
        ("s3_endpoint_policy", "workshop"),
        ("bucket_policy", "workshop"),
        ("sqs_endpoint_policy", "workshop"),
        ("queue_policy", "workshop"),
    ] {
        assert_eq!(walk["controls"][name], state, "{name}: {:#}", walk["controls"]);
    }
    assert_eq!(walk["controls"]["roles"]["salesapp"], "secured");
    // The existing object came back byte for byte; the missing one was asked with a HEAD.
    let work = lab.state_dir().join("walkthrough");
    assert_eq!(
        std::fs::read(work.join("got.csv")).expect("got.csv"),
        std::fs::read(work.join("sales.csv")).expect("sales.csv")
    );
    assert!(
        check("reportsengine-s3-get-missing")["observed"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("(403)") && d.contains("HeadObject")),
        "{:#}",
        check("reportsengine-s3-get-missing")
    );

    // Every denial says what refused it.
    let decisions = lab.decisions();
    let refused = |host: &str, action: &str| -> Value {
        decisions
            .iter()
            .rev()
            .find(|d| d["host"] == host && d["action"] == action && d["decision"] != "allow")
            .cloned()
            .unwrap_or_else(|| panic!("no refusal of {action} from {host} in {decisions:#?}"))
    };
    let list = refused("salesapp", "sqs:ListQueues");
    assert_eq!(
        (list["policy"].as_str(), list["statement"].as_str()),
        (Some("endpoint"), None),
        "{list}"
    );
    assert!(list["reason"].as_str().is_some_and(|r| r.contains("no statement")), "{list}");
    assert!(list["agent"].as_str().is_some_and(|a| a.starts_with("aws-cli/")), "{list}");
    let put = refused("cloud9", "s3:PutObject");
    assert_eq!(
        (put["policy"].as_str(), put["statement"].as_str()),
        (Some("bucket"), Some("DenyPutObjectOutsideTheGatewayEndpoint"))
    );
    let missing = refused("reportsengine", "s3:GetObject");
    assert_eq!(missing["policy"], "object_missing", "{missing}");
    assert!(decisions.iter().any(|d| d["host"] == "cloud9"
        && d["decision"] == "no-answer"
        && d["policy"] == "security_group"));
    for d in decisions.iter().filter(|d| d["decision"] != "allow") {
        for key in ["time", "host", "principal", "action", "resource", "policy", "reason"] {
            assert!(d[key].as_str().is_some_and(|v| !v.is_empty()), "a refusal without {key}: {d}");
        }
    }
    // `why` tells them in words (the walkthrough's lanes run side by side: any order).
    let why = lab.script(&["why", "20"]);
    why.assert_ok();
    for words in [
        "salesapp: s3:DeleteObject (DeleteObject)",
        "DENIED: no statement of the VPC endpoint policy of",
        "internet: sqs:SendMessage",
        "DENIED: explicitly denied by statement \"DenyPutObjectOutsideTheGatewayEndpoint\"",
    ] {
        assert!(why.stdout.contains(words), "{words}:\n{}", why.stdout);
    }
    let three = lab.script(&["why", "3"]);
    three.assert_ok();
    assert_eq!(three.stdout.matches("\n    by ").count(), 3, "{}", three.stdout);
}

/// A call the template does not grant: a 403 every client reads as AccessDenied (S3 with and
/// without a body, SQS in the JSON and the query protocol), and the security group's refusal
/// as a timeout for the Rust SDK too; then `lab.sh` itself.
#[test]
fn every_client_reads_the_denials_and_the_lab_script_works() {
    let lab = Lab::start("secured");
    let (restricted, queue) = (lab.output("RestrictedS3Bucket"), lab.output("SQSQueueURL"));

    // The Rust SDK.
    let (s3, sqs) = lab.sdk("salesapp");
    lab.block_on(async {
        let e = s3
            .delete_object()
            .bucket(&restricted)
            .key("k")
            .send()
            .await
            .expect_err("DeleteObject denied");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
        assert_eq!(
            e.as_service_error().and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s)),
            Some("AccessDenied"),
            "{e:?}"
        );
        let e = s3
            .head_object()
            .bucket(&restricted)
            .key("missing")
            .send()
            .await
            .expect_err("HeadObject of a missing key");
        assert_eq!(
            e.raw_response().map(|r| r.status().as_u16()),
            Some(403),
            "the lab's 403, not 404"
        );
        let e = s3
            .get_object()
            .bucket(&restricted)
            .key("missing")
            .send()
            .await
            .expect_err("GetObject of a missing key");
        assert_eq!(
            e.as_service_error().and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s)),
            Some("AccessDenied")
        );
        let e = sqs.list_queues().send().await.expect_err("ListQueues denied");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
        assert_eq!(
            e.as_service_error().and_then(|s| aws_sdk_sqs::error::ProvideErrorMetadata::code(s)),
            Some("AccessDenied"),
            "{e:?}"
        );
    });
    let (_, cloud9_sqs) = lab.sdk("cloud9");
    lab.block_on(async {
        let e = cloud9_sqs
            .send_message()
            .queue_url(&queue)
            .message_body("x")
            .send()
            .await
            .expect_err("times out");
        let timed_out = matches!(e, aws_sdk_sqs::error::SdkError::TimeoutError(_))
            || matches!(&e, aws_sdk_sqs::error::SdkError::DispatchFailure(d) if d.is_timeout());
        assert!(timed_out, "Cloud9's SQS call should time out: {e:?}");
    });

    // boto3.
    let script = format!(
        r#"
import boto3, botocore.config, botocore.exceptions
c = botocore.config.Config(retries={{"max_attempts": 1}}, s3={{"addressing_style": "path"}})
s3, sqs = boto3.client("s3", config=c), boto3.client("sqs", config=c)
def code(f):
    try:
        f()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return "allowed", 200
print(code(lambda: s3.delete_object(Bucket="{restricted}", Key="k")))
print(code(lambda: s3.head_object(Bucket="{restricted}", Key="missing")))
print(code(lambda: sqs.list_queues()))
print(code(lambda: sqs.get_queue_attributes(QueueUrl="{queue}", AttributeNames=["All"])))
"#
    );
    let boto = lab.boto3("salesapp", &script);
    boto.assert_ok();
    let lines: Vec<&str> = boto.stdout.lines().collect();
    assert_eq!(
        lines,
        ["('AccessDenied', 403)", "('403', 403)", "('AccessDenied', 403)", "('AccessDenied', 403)"],
        "boto3 reads the lab's denials as AccessDenied (a HEAD has no body: botocore names it by its status)"
    );

    // The CLI.
    assert_cli_error(
        &lab.aws("salesapp", &["s3api", "delete-object", "--bucket", &restricted, "--key", "k"]),
        "AccessDenied",
    );
    assert_cli_error(
        &lab.aws(
            "salesapp",
            &["s3api", "get-object", "--bucket", &restricted, "--key", "missing", "out"],
        ),
        "AccessDenied",
    );
    assert_cli_error(&lab.aws("salesapp", &["sqs", "list-queues"]), "AccessDenied");

    // SQS's query protocol (Action=… in a form body), as older clients send it.
    let host = lab.host("salesapp");
    let body = "Action=ListQueues&Version=2012-11-05";
    let (status, answer) = raw_post(
        &host.sqs,
        &[
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            (
                "Authorization",
                &format!("AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0", host.access_key_id),
            ),
        ],
        body,
    );
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("<Error><Type>Sender</Type><Code>AccessDenied</Code>"), "{answer}");

    // The bucket policy lives in the gateway, not in the emulator.
    let policy = lab.aws("cloud9", &["s3api", "get-bucket-policy", "--bucket", &restricted]);
    policy.assert_ok();
    assert!(
        policy.stdout.contains("DenyPutObjectOutsideTheGatewayEndpoint"),
        "{}",
        policy.output()
    );
    let lab_json: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.state_dir().join("lab.json")).expect("lab.json"),
    )
    .expect("json");
    let emulator = lab_json["emulator"].as_str().expect("emulator").to_string();
    let mut direct = std::process::Command::new(e2e::aws_cli_path());
    direct
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", lab.dir().join("home"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .args(["--endpoint-url", &emulator, "s3api", "get-bucket-policy", "--bucket", &restricted]);
    assert_cli_error(&run(&mut direct), "NoSuchBucketPolicy");
    let queue_policy = lab.aws(
        "internet",
        &["sqs", "get-queue-attributes", "--queue-url", &queue, "--attribute-names", "Policy"],
    );
    queue_policy.assert_ok();
    assert!(
        queue_policy.stdout.contains("AllowMessagesThroughTheInterfaceEndpoint"),
        "{}",
        queue_policy.output()
    );

    // `lab.sh env --json`, `status` and `stop` as docs/lab.md says; the instance hosts'
    // config files pinned to their own listeners.
    for key in ["state", "region", "account", "outputs", "hosts"] {
        assert!(!lab.env[key].is_null(), "env --json has no {key}: {}", lab.env);
    }
    assert_eq!(
        (lab.env["state"].as_str(), lab.env["region"].as_str()),
        (Some("secured"), Some("us-east-1"))
    );
    for output in [
        "RestrictedS3Bucket",
        "UnrestrictedS3Bucket",
        "SQSQueueURL",
        "SQSQueueARN",
        "S3VPCGatewayEndpoint",
        "SQSVPCInterfaceEndpoint",
        "LabState",
    ] {
        assert!(
            lab.env["outputs"][output].as_str().is_some_and(|v| !v.is_empty()),
            "output {output}"
        );
    }
    let hosts = lab.env["hosts"].as_object().expect("hosts");
    assert_eq!(
        hosts.keys().map(String::as_str).collect::<Vec<_>>(),
        ["cloud9", "internet", "reportsengine", "salesapp"]
    );
    for (name, h) in hosts {
        assert!(
            h["endpoint"].as_str().is_some_and(|e| e.starts_with("http://127.0.0.1:")),
            "{name}: {h}"
        );
        assert!(
            h["credentials"]["AWS_ACCESS_KEY_ID"].is_string()
                && h["credentials"]["AWS_SECRET_ACCESS_KEY"].is_string()
        );
        let instance = name == "salesapp" || name == "reportsengine";
        assert_eq!(
            h["credentials"]["AWS_SESSION_TOKEN"].is_string(),
            instance,
            "{name}: role credentials are temporary"
        );
        assert_eq!(h["config"].is_string(), instance, "{name}: {h}");
    }
    assert_eq!(
        hosts["cloud9"]["credentials"], hosts["internet"]["credentials"],
        "the administrator's"
    );
    for name in ["salesapp", "reportsengine"] {
        let host = lab.host(name);
        let text =
            std::fs::read_to_string(host.config.as_ref().expect("config")).expect("config.toml");
        let config = common::config::Config::from_parts("lab", &text, &[], &[])
            .expect("the daemons accept it");
        assert_eq!(config.bucket, lab.output("RestrictedS3Bucket"));
        assert_eq!(config.queue_url, lab.output("SQSQueueURL"));
        assert_eq!(config.endpoints.s3.as_deref(), Some(host.endpoint.as_str()), "{text}");
        assert_eq!(config.endpoints.sqs.as_deref(), Some(host.sqs.as_str()), "{text}");
        assert!(config.endpoints.force_path_style, "{text}");
        // The daemons refuse a configuration file others could write, or another user's:
        // configure's, 0600, owned by whoever started the lab (as the test's own directory).
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(host.config.as_ref().expect("config")).expect("stat");
        assert_eq!(meta.mode() & 0o777, 0o600, "{name}'s config.toml");
        assert_eq!(meta.uid(), std::fs::metadata(lab.dir()).expect("stat").uid(), "{name}");
    }
    let exports = lab.script(&["env", "cloud9"]);
    exports.assert_ok();
    assert!(
        exports.stdout.contains("export AWS_ACCESS_KEY_ID=") && exports.stdout.contains("aws() {"),
        "{}",
        exports.stdout
    );

    let status = lab.script(&["status"]);
    status.assert_ok();
    assert!(status.stdout.contains("running (secured)"), "{}", status.stdout);
    lab.script(&["stop"]).assert_ok();
    lab.script(&["status"]).assert_code(3);
    lab.script(&["env", "--json"]).assert_code(3);
}

/// One HTTP/1.1 POST to a `http://127.0.0.1:PORT` URL: the status and the body as text.
fn raw_post(url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

/// The gateway's unit-test fixtures are the template as it is now.
#[test]
fn the_gateways_fixtures_are_the_templates_policies() {
    let python = workspace_root().join(".venv-moto/bin/python");
    for state in ["secured", "starting"] {
        let rendered = run(std::process::Command::new(&python)
            .arg(workspace_root().join("deploy/local/lab_setup.py"))
            .args(["fixture", "--state", state]));
        rendered.assert_ok();
        let path =
            workspace_root().join(format!("lab-gateway/tests/fixtures/template-{state}.json"));
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json");
        let now: Value = serde_json::from_str(&rendered.stdout).expect("json");
        assert!(
            committed == now,
            "{} is out of date: deploy/local/lab_setup.py fixture --state {state} > {}",
            path.display(),
            path.display()
        );
    }
}
