//! The lab is live, like the real one: the workshop's own API calls, made with the
//! administrator's credentials through a host, change the controls, and the very next request
//! sees the change. Each change is undone again with the same APIs.

use e2e::lab::{assert_cli_error, assert_cli_timeout, Lab};

#[test]
fn changes_take_effect_on_the_next_request() {
    let lab = Lab::start("secured");
    let (restricted, queue) = (lab.output("RestrictedS3Bucket"), lab.output("SQSQueueURL"));
    let file = lab.write_file("day.csv", "date,order_id\n2026-01-02,1\n");
    let file = file.to_str().expect("utf-8 path");
    let cloud9_put =
        || lab.aws("cloud9", &["s3", "cp", file, &format!("s3://{restricted}/from-cloud9.csv")]);

    // The bucket policy, removed and restored (s3api get/delete/put-bucket-policy).
    assert_cli_error(&cloud9_put(), "AccessDenied");
    let policy = lab.aws(
        "cloud9",
        &[
            "s3api",
            "get-bucket-policy",
            "--bucket",
            &restricted,
            "--query",
            "Policy",
            "--output",
            "text",
        ],
    );
    policy.assert_ok();
    let saved = lab.write_file("bucket-policy.json", policy.stdout.trim());
    lab.aws("cloud9", &["s3api", "delete-bucket-policy", "--bucket", &restricted]).assert_ok();
    cloud9_put().assert_ok();
    assert_cli_error(
        &lab.aws("cloud9", &["s3api", "get-bucket-policy", "--bucket", &restricted]),
        "NoSuchBucketPolicy",
    );
    let policy_arg = format!("file://{}", saved.display());
    lab.aws(
        "cloud9",
        &["s3api", "put-bucket-policy", "--bucket", &restricted, "--policy", &policy_arg],
    )
    .assert_ok();
    assert_cli_error(&cloud9_put(), "AccessDenied");
    assert_cli_error(
        &lab.aws(
            "cloud9",
            &["s3api", "put-bucket-policy", "--bucket", &restricted, "--policy", "{not json"],
        ),
        "MalformedPolicy",
    );

    // The endpoint's security group: salesapp's rule revoked and authorized again.
    let (group, source) =
        (lab.output("InterfaceSecurityGroup"), lab.output("SecurityGroupForSalesApp"));
    let rule =
        format!("IpProtocol=tcp,FromPort=443,ToPort=443,UserIdGroupPairs=[{{GroupId={source}}}]");
    let send = || {
        lab.aws_quick(
            "salesapp",
            &["sqs", "send-message", "--queue-url", &queue, "--message-body", "live"],
        )
    };
    send().assert_ok();
    lab.aws(
        "cloud9",
        &["ec2", "revoke-security-group-ingress", "--group-id", &group, "--ip-permissions", &rule],
    )
    .assert_ok();
    assert_cli_timeout(&send());
    lab.aws(
        "reportsengine",
        &["sqs", "receive-message", "--queue-url", &queue, "--visibility-timeout", "0"],
    )
    .assert_ok();
    lab.aws(
        "cloud9",
        &[
            "ec2",
            "authorize-security-group-ingress",
            "--group-id",
            &group,
            "--ip-permissions",
            &rule,
        ],
    )
    .assert_ok();
    send().assert_ok();

    // The S3 gateway endpoint's policy, reset to AWS's default and set back.
    let endpoint = lab.output("S3VPCGatewayEndpoint");
    let current = lab.aws(
        "cloud9",
        &[
            "ec2",
            "describe-vpc-endpoints",
            "--vpc-endpoint-ids",
            &endpoint,
            "--query",
            "VpcEndpoints[0].PolicyDocument",
            "--output",
            "text",
        ],
    );
    current.assert_ok();
    assert!(current.stdout.contains("RestrictedBucketObjectsOnly"), "{}", current.output());
    let saved = lab.write_file("endpoint-policy.json", current.stdout.trim());
    // The administrator's keys on salesapp: its identity allows everything, so only the
    // endpoint's policy stands between it and a delete through the gateway endpoint.
    let delete = || {
        lab.aws_as(
            "salesapp",
            "cloud9",
            &["s3", "rm", &format!("s3://{restricted}/from-cloud9.csv")],
        )
    };
    assert_cli_error(&delete(), "AccessDenied");
    lab.aws(
        "cloud9",
        &["ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", &endpoint, "--reset-policy"],
    )
    .assert_ok();
    delete().assert_ok();
    let policy_arg = format!("file://{}", saved.display());
    lab.aws(
        "cloud9",
        &[
            "ec2",
            "modify-vpc-endpoint",
            "--vpc-endpoint-id",
            &endpoint,
            "--policy-document",
            &policy_arg,
        ],
    )
    .assert_ok();
    assert_cli_error(&delete(), "AccessDenied");

    // The workshop's own SQS endpoint policy names the account as its principal: the
    // account's roles pass it, and it allows nothing but the three message actions.
    let interface = lab.output("SQSVPCInterfaceEndpoint");
    let workshop = format!(
        r#"{{"Statement":[{{"Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Effect":"Allow","Resource":"{}","Principal":{{"AWS":"{}"}}}}]}}"#,
        lab.output("SQSQueueARN"),
        lab.output("AWSAccountID")
    );
    lab.aws(
        "cloud9",
        &[
            "ec2",
            "modify-vpc-endpoint",
            "--vpc-endpoint-id",
            &interface,
            "--policy-document",
            &workshop,
        ],
    )
    .assert_ok();
    send().assert_ok();
    assert_cli_error(&lab.aws("salesapp", &["sqs", "list-queues"]), "AccessDenied");

    // The queue policy (sqs set-queue-attributes Policy=…): from outside the VPC the queue
    // refuses messages; without its policy it takes them; with it again it refuses.
    let from_outside = || {
        lab.aws(
            "internet",
            &["sqs", "send-message", "--queue-url", &queue, "--message-body", "outside"],
        )
    };
    assert_cli_error(&from_outside(), "AccessDenied");
    let attributes = lab.aws(
        "internet",
        &["sqs", "get-queue-attributes", "--queue-url", &queue, "--attribute-names", "Policy"],
    );
    attributes.assert_ok();
    let value: serde_json::Value = serde_json::from_str(&attributes.stdout).expect("JSON");
    let saved = lab.write_file(
        "queue-attributes.json",
        serde_json::json!({"Policy": value["Attributes"]["Policy"]}).to_string(),
    );
    lab.aws(
        "internet",
        &["sqs", "set-queue-attributes", "--queue-url", &queue, "--attributes", r#"{"Policy":""}"#],
    )
    .assert_ok();
    from_outside().assert_ok();
    let attributes_arg = format!("file://{}", saved.display());
    lab.aws(
        "internet",
        &["sqs", "set-queue-attributes", "--queue-url", &queue, "--attributes", &attributes_arg],
    )
    .assert_ok();
    assert_cli_error(&from_outside(), "AccessDenied");

    // An identity policy (iam put-role-policy / delete-role-policy) on salesapp's role.
    let role = lab.output("IAMRoleForSalesApp");
    let describe = || lab.aws("salesapp", &["ec2", "describe-vpcs"]);
    assert_cli_error(&describe(), "UnauthorizedOperation");
    let grant = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}]}"#;
    lab.aws(
        "cloud9",
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            &role,
            "--policy-name",
            "describe-vpcs",
            "--policy-document",
            grant,
        ],
    )
    .assert_ok();
    describe().assert_ok();
    lab.aws(
        "cloud9",
        &["iam", "delete-role-policy", "--role-name", &role, "--policy-name", "describe-vpcs"],
    )
    .assert_ok();
    assert_cli_error(&describe(), "UnauthorizedOperation");

    // `why` tells the last of it in words.
    let why = lab.script(&["why", "1"]);
    why.assert_ok();
    assert!(
        why.stdout.contains("ec2:DescribeVpcs")
            && why.stdout.contains("no statement of the identity policies"),
        "{}",
        why.stdout
    );
}

/// `lab.sh start --state starting`: the workshop's starting point is deployed and served (the
/// walk from it to the secured state is the workshop's own).
#[test]
fn the_starting_state_is_the_workshops_starting_point() {
    let lab = Lab::start("starting");
    assert_eq!(lab.env["state"], "starting");
    assert_eq!(lab.output("LabState"), "starting");
    let (restricted, queue) = (lab.output("RestrictedS3Bucket"), lab.output("SQSQueueURL"));
    let file = lab.write_file("day.csv", "date,order_id\n2026-01-02,1\n");
    let file = file.to_str().expect("utf-8 path");
    lab.aws_quick(
        "cloud9",
        &["sqs", "send-message", "--queue-url", &queue, "--message-body", "open"],
    )
    .assert_ok();
    lab.aws("salesapp", &["sqs", "list-queues"]).assert_ok();
    lab.aws("cloud9", &["s3", "cp", file, &format!("s3://{restricted}/day.csv")]).assert_ok();
    lab.aws("salesapp", &["s3", "rm", &format!("s3://{restricted}/day.csv")]).assert_ok();
    assert_cli_error(
        &lab.aws("cloud9", &["s3api", "get-bucket-policy", "--bucket", &restricted]),
        "NoSuchBucketPolicy",
    );
    let missing = lab.aws(
        "reportsengine",
        &["s3api", "get-object", "--bucket", &restricted, "--key", "missing", "out"],
    );
    assert_cli_error(&missing, "AccessDenied");

    // doctor names the controls still missing.
    let doctor = e2e::run(lab.daemon("salesapp", "salesapp").args(["doctor", "--controls"]));
    doctor.assert_code(77);
    for control in ["DeleteObject denied", "unrestricted PutObject denied", "ListQueues denied"] {
        let line = doctor
            .stdout
            .lines()
            .find(|l| l.contains(control))
            .unwrap_or_else(|| panic!("no {control}:\n{}", doctor.stdout));
        assert!(line.starts_with("FAIL") && line.contains("NOT in place"), "{line}");
    }
}
