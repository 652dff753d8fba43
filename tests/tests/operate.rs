//! Operating the lab: `configure` from stack outputs, the CloudFormation template deployed into
//! the emulator and turned into a working configuration, `doctor` against the emulator, and
//! the release build's glibc check.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{bin_path, moto_server_path, run, workspace_root, Emulator, Run};

fn example_outputs() -> PathBuf {
    workspace_root().join("deploy/cloudformation/example-stack-outputs.json")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Both binaries write the same file; -o is 0600 and never overwritten without --force; a
/// file lacking outputs names every missing one and exits 78.
#[test]
fn configure_from_stack_outputs() {
    let em = Emulator::start();
    let printed = run(em
        .bare_command("salesapp")
        .args(["configure", "--stack-outputs"])
        .arg(example_outputs()));
    printed.assert_ok();
    assert!(printed.stdout.contains("bucket = \"111122223333-lab-us-east-1-restrictedbucket\""));
    assert!(printed.stdout.contains("require_private_sqs = true"));
    // Only what the stack gave (the example has our template's visibility timeout output)
    // and the lab requires is set: every default is a comment, so a default changed by a
    // later release reaches a host configured before it.
    let given = ["endpoints.require_private_sqs", "reportsengine.visibility_timeout"];
    for key in common::config::KEYS {
        let common::config::KeyDefault::Is(default) = key.default else { continue };
        let set = printed.stdout.lines().any(|l| l.starts_with(&format!("{} = ", key.name)));
        let commented = printed.stdout.contains(&format!("\n# {} = {default}\n", key.name));
        if given.contains(&key.dotted().as_str()) {
            assert!(set, "{} is not set:\n{}", key.dotted(), printed.stdout);
        } else {
            assert!(commented && !set, "{} is not a comment:\n{}", key.dotted(), printed.stdout);
        }
    }
    let same = run(em
        .bare_command("reportsengine")
        .args(["configure", "--stack-outputs"])
        .arg(example_outputs()));
    same.assert_ok();
    assert_eq!(printed.stdout, same.stdout, "one implementation, one output");

    let path = em.dir().join("etc/config.toml");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    run(em
        .bare_command("salesapp")
        .args(["configure", "--stack-outputs"])
        .arg(example_outputs())
        .arg("-o")
        .arg(&path))
    .assert_ok();
    assert_eq!(std::fs::read_to_string(&path).expect("written"), printed.stdout);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let again = run(em
        .bare_command("salesapp")
        .args(["configure", "--stack-outputs"])
        .arg(example_outputs())
        .arg("-o")
        .arg(&path));
    again.assert_code(78);
    assert!(again.stderr.contains("--force"), "{}", again.output());
    run(em
        .bare_command("salesapp")
        .args(["configure", "--force", "--stack-outputs"])
        .arg(example_outputs())
        .arg("-o")
        .arg(&path))
    .assert_ok();

    // The written file is a configuration both binaries accept (doctor loads it; its network
    // checks are not the point here, and would look up AWS names: only `config` is judged).
    let text = std::fs::read_to_string(&path).expect("read");
    common::config::Config::from_parts("written", &text, &[], &[]).expect("loads");

    let partial = em.write_file("partial.json", r#"{"VPCID": "vpc-1", "SQSQueueName": "q"}"#);
    let r = run(em.bare_command("salesapp").args(["configure", "--stack-outputs"]).arg(&partial));
    r.assert_code(78);
    for needed in ["RestrictedS3Bucket", "SQSQueueURL", "region"] {
        assert!(r.stderr.contains(needed), "{needed} not named:\n{}", r.output());
    }
    assert!(r.stdout.is_empty(), "nothing printed on error");
}

/// The template deploys into the emulator, `configure` turns its outputs into a config, and
/// with only the endpoints pointed at the emulator that config runs the whole pipeline.
#[test]
fn cloudformation_template_deploys_and_configures_a_working_pipeline() {
    let em = Emulator::start();
    let python = moto_server_path().with_file_name("python");
    let outputs_path = em.dir().join("outputs.json");
    let deploy = Command::new(&python)
        .arg(workspace_root().join("deploy/cloudformation/emulator_deploy.py"))
        .args(["--port", &em.port().to_string(), "--stack-name", "lab", "--template"])
        .arg(workspace_root().join("deploy/cloudformation/vpce-lab.yaml"))
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run emulator_deploy.py");
    assert!(
        deploy.status.success(),
        "deploy failed: {}\n{}",
        String::from_utf8_lossy(&deploy.stderr),
        em.server_log()
    );
    std::fs::write(&outputs_path, &deploy.stdout).expect("write outputs.json");
    let described: serde_json::Value = serde_json::from_slice(&deploy.stdout).expect("JSON");
    let outputs: std::collections::BTreeMap<String, String> = described["Stacks"][0]["Outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| {
            (
                o["OutputKey"].as_str().unwrap_or_default().to_string(),
                o["OutputValue"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // Every output name of the original workshop's stack, then ours.
    for name in [
        "StackName",
        "VPCID",
        "Cloud9Instance",
        "Cloud9InstanceURL",
        "EC2Instance1IP",
        "SSHtoSalesApp",
        "EC2Instance2IP",
        "SSHtoReportsEngine",
        "S3VPCGatewayEndpoint",
        "UnrestrictedS3Bucket",
        "UnrestrictedS3BucketPermsURL",
        "RestrictedS3Bucket",
        "RestrictedS3BucketPermsURL",
        "IAMRoleForSalesApp",
        "IAMRoleForSalesAppURL",
        "IAMRoleForReportsEngine",
        "IAMRoleForReportsEngineURL",
        "SecurityGroupForSalesApp",
        "SecurityGroupForSalesAppURL",
        "SecurityGroupForReportsEngine",
        "SecurityGroupForReportsEngineURL",
        "InterfaceSecurityGroupURL",
        "InterfaceEndpointPolicyURL",
        "SQSQueueName",
        "SQSQueueARN",
        "SQSQueueURL",
        "SQSVPCInterfaceEndpoint",
        "PrivateSubnet1ARouteTable",
        "PrivateSubnet2ARouteTable",
        "PublicSubnetRouteTable",
        "AWSAccountID",
        "keypairName",
        "SalesAppInstanceId",
        "ReportsEngineInstanceId",
        "SQSQueueVisibilityTimeout",
        "ArtifactsS3Bucket",
        "LabState",
    ] {
        assert!(outputs.get(name).is_some_and(|v| !v.is_empty()), "output {name}: {outputs:?}");
    }
    assert_eq!(
        outputs["SSHtoSalesApp"],
        format!(
            "aws ssm start-session --region us-east-1 --target {}",
            outputs["SalesAppInstanceId"]
        )
    );
    assert_eq!(outputs["LabState"], "secured");
    assert!(outputs["S3VPCGatewayEndpoint"].starts_with("vpce-"));
    assert!(outputs["EC2Instance1IP"].starts_with("10.0.1."), "private subnet 1");
    assert!(outputs["EC2Instance2IP"].starts_with("10.0.2."), "private subnet 2");
    let bucket = outputs["RestrictedS3Bucket"].clone();

    // The lifecycle rule that cleans up what the apps cannot abort: moto's CloudFormation
    // does not apply LifecycleConfiguration, so the template itself is checked.
    let template =
        std::fs::read_to_string(workspace_root().join("deploy/cloudformation/vpce-lab.yaml"))
            .expect("template");
    let days: Vec<u32> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DaysAfterInitiation:"))
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    assert!(days.len() >= 2 && days.iter().all(|d| (1..=7).contains(d)), "abort-MPU: {days:?}");

    // The stack's resources as the template asks: encryption, visibility timeout.
    em.block_on(async {
        let enc = em.s3().get_bucket_encryption().bucket(&bucket).send().await.expect("enc");
        let rule = &enc.server_side_encryption_configuration().expect("sse").rules()[0];
        assert_eq!(
            rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().as_str()),
            Some("AES256")
        );
        let attrs = em
            .sqs()
            .get_queue_attributes()
            .queue_url(&outputs["SQSQueueURL"])
            .attribute_names(e2e::aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .expect("queue attributes");
        let vt: u32 = attrs
            .attributes()
            .and_then(|a| a.get(&e2e::aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout))
            .and_then(|v| v.parse().ok())
            .expect("visibility timeout");
        assert!(vt >= 30, "visibility timeout {vt}");
    });

    let config = em.dir().join("lab-config.toml");
    run(em
        .bare_command("salesapp")
        .args(["configure", "--stack-outputs"])
        .arg(&outputs_path)
        .arg("-o")
        .arg(&config))
    .assert_ok();
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.contains(&format!("bucket = \"{bucket}\"")), "{text}");

    // Only the endpoints change for the emulator; everything else is configure's output.
    let endpoint = em.endpoint();
    let sets = [
        format!("endpoints.s3={endpoint}"),
        format!("endpoints.sqs={endpoint}"),
        "endpoints.force_path_style=true".to_string(),
        "reportsengine.wait_time=1s".to_string(),
        format!("salesapp.spool_dir={}", em.dir().join("spool").display()),
    ];
    let with_config = |name: &str| {
        let mut cmd = em.bare_command(name);
        cmd.arg("--config").arg(&config);
        for s in &sets {
            cmd.arg("--set").arg(s);
        }
        cmd
    };
    let day = em.dir().join("day.csv");
    run(with_config("salesapp")
        .args(["generate", "--date", "2026-03-02", "--rows", "50", "-o"])
        .arg(&day))
    .assert_ok();
    run(with_config("salesapp").arg("upload").arg(&day)).assert_ok();
    run(with_config("reportsengine").arg("once")).assert_ok();
    em.block_on(async {
        let out = em
            .s3()
            .get_object()
            .bucket(&bucket)
            .key("reports/2026-03-02/report.json")
            .send()
            .await
            .expect("report.json in the stack's bucket");
        let body = out.body.collect().await.expect("body").into_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("report JSON");
        assert_eq!(v["totals"]["orders"].as_u64(), Some(50), "{v}");
    });

    // doctor with the same config and overrides: everything passes, and it says where it is.
    let doctor = run(with_config("salesapp").arg("doctor"));
    doctor.assert_ok();
    assert!(doctor.stdout.contains("local emulator"), "{}", doctor.output());
}

/// Runs doctor; returns the run and the table's rows as (status, check) pairs.
fn doctor(cmd: &mut Command) -> (Run, Vec<(String, String)>) {
    let r = run(cmd);
    let rows = r
        .stdout
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let status = l.get(..6).unwrap_or("").trim().to_string();
            let rest = l.get(8..).unwrap_or("");
            let check = rest.split("  ").next().unwrap_or("").trim().to_string();
            (status, check)
        })
        .collect();
    (r, rows)
}

#[test]
fn doctor_against_the_emulator() {
    let em = Emulator::start();
    em.start_recording();
    let canary = "doctor-secret-canary-0451";
    let (r, rows) = doctor(e2e::salesapp(&em).env("AWS_SECRET_ACCESS_KEY", canary).arg("doctor"));
    let actions: Vec<String> = em.stop_recording().iter().map(|x| x.action()).collect();
    r.assert_ok();
    assert!(!r.stdout.contains(canary) && !r.stderr.contains(canary), "a secret was printed");
    for check in [
        "config",
        "region",
        "sdk",
        "credentials",
        "s3 dns",
        "sqs dns",
        "s3 tcp",
        "sqs tcp",
        "s3 write",
        "s3 read",
        "sqs receive",
        "sqs delete",
        "proxy",
    ] {
        assert!(
            rows.iter().any(|(s, c)| s == "PASS" && c == check),
            "{check} did not pass:\n{}",
            r.output()
        );
    }
    assert!(r.stdout.contains("environment variables"), "credential source named");
    assert!(r.stdout.contains("controls"), "says controls are not enforced here");
    // Without --controls doctor makes only calls the lab allows.
    for a in &actions {
        assert!(
            ["s3:PutObject", "s3:GetObject", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
                .contains(&a.as_str()),
            "doctor called {a}: {actions:?}"
        );
    }
    // The ReceiveMessage hid nothing: a message on the queue stays visible.
    em.send_raw("{\"datafilelocation\":\"s3://x/y\"}");
    doctor(e2e::reportsengine(&em).arg("doctor")).0.assert_ok();
    assert_eq!(em.queue_counts(), (1, 0), "doctor's receive left the message visible");
    em.drain_messages();

    // --controls on the emulator: the denials do not hold, and doctor says so (exit 77).
    let (r, rows) = doctor(
        e2e::salesapp(&em).args(["doctor", "--controls", "--unrestricted-bucket"]).arg(em.bucket()),
    );
    r.assert_code(77);
    for denied in [
        "control: DeleteObject denied",
        "control: ListBuckets denied",
        "control: ListQueues denied",
    ] {
        assert!(
            rows.iter().any(|(s, c)| s == "FAIL" && c == denied),
            "{denied} not FAIL:\n{}",
            r.output()
        );
    }
    assert!(r.stdout.contains("not enforced"), "{}", r.output());
    assert!(
        rows.iter().any(|(s, c)| s == "PASS" && c == "control: SendMessage allowed"),
        "{}",
        r.output()
    );
    assert!(r.stdout.contains("received back and deleted"), "{}", r.output());
    assert_eq!(em.queue_counts(), (0, 0), "the probe message was taken back");

    // No configuration: one FAIL, exit 78, and a hint naming configure.
    let (r, rows) = doctor(em.bare_command("reportsengine").args([
        "--config",
        "/nonexistent/config.toml",
        "doctor",
    ]));
    r.assert_code(78);
    assert_eq!(rows.first().map(|(s, c)| (s.as_str(), c.as_str())), Some(("FAIL", "config")));
    assert!(r.stdout.contains("configure --stack-outputs"), "{}", r.output());
}

/// `doctor --json`: the table's rows, in order, as one JSON document, with the same exit
/// code, for a passing run, a failing `--controls` run (77) and no configuration (78).
#[test]
fn doctor_json_is_the_table_as_a_document() {
    let em = Emulator::start();
    let config = em.config_path().to_string_lossy().into_owned();
    for (args, want) in [
        (vec!["--config", &config, "doctor"], 0),
        (
            vec!["--config", &config, "doctor", "--controls", "--unrestricted-bucket", em.bucket()],
            77,
        ),
        (vec!["--config", "/nonexistent/config.toml", "doctor"], 78),
    ] {
        let (table, rows) = doctor(em.bare_command("salesapp").args(&args));
        table.assert_code(want);
        let json = run(em.bare_command("salesapp").args(&args).arg("--json"));
        json.assert_code(want);
        let doc: serde_json::Value = serde_json::from_str(&json.stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", json.output()));
        assert_eq!(doc["program"], "salesapp");
        assert_eq!(doc["exit_code"], want);
        assert!(doc["version"].as_str().is_some_and(|v| v.starts_with("0.")), "{doc}");
        let checks = doc["checks"].as_array().expect("checks");
        let pairs: Vec<(String, String)> = checks
            .iter()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or_else(|| panic!("{k} in {c}")).to_string();
                assert!(c["hint"].is_null() || c["hint"].is_string(), "{c}");
                (s("status"), s("check"))
            })
            .collect();
        assert_eq!(pairs, rows, "the same rows as the table");
        let fails = checks.iter().filter(|c| c["status"] == "FAIL").count();
        assert_eq!(doc["summary"]["fail"], fails);
        for c in checks.iter().filter(|c| c["status"] == "FAIL") {
            assert!(c["hint"].is_string(), "a FAIL has a hint: {c}");
        }
        assert!(doc["notes"].is_array());
    }
}

/// The release build's glibc gate (deploy/check-glibc.sh) on saved `objdump -T` text: a
/// binary needing GLIBC_2.34 is refused, one needing at most GLIBC_2.25 passes. The real
/// release build takes minutes and runs in deploy/build-release.sh, not here.
#[test]
fn glibc_check_accepts_2_25_and_rejects_2_34() {
    let script = workspace_root().join("deploy/check-glibc.sh");
    let dir = std::env::temp_dir().join(format!("glibc-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let header = "\nsalesapp:     file format elf64-x86-64\n\nDYNAMIC SYMBOL TABLE:\n";
    let ok = dir.join("ok.txt");
    std::fs::write(
        &ok,
        format!(
            "{header}0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) malloc\n\
             0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.25) getrandom\n\
             0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.18) __cxa_thread_atexit_impl\n\
             0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.3.2) pthread_cond_wait\n"
        ),
    )
    .expect("write");
    let new = dir.join("new.txt");
    std::fs::write(
        &new,
        format!(
            "{header}0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.34) __libc_start_main\n\
             0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.33) stat\n\
             0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.9) pipe2\n"
        ),
    )
    .expect("write");
    let none = dir.join("none.txt");
    std::fs::write(&none, header).expect("write");
    let check = |files: &[&Path]| {
        let r = run(Command::new("bash")
            .arg(&script)
            .args(["--max", "2.26", "--objdump-output"])
            .args(files));
        (r.code(), r.stdout)
    };
    let (code, out) = check(&[&ok]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("highest GLIBC_2.25 (limit GLIBC_2.26) OK"), "{out}");
    let (code, out) = check(&[&new]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("highest GLIBC_2.34") && out.contains("TOO NEW"), "{out}");
    // 2.9 < 2.26 < 2.33: versions compare numerically, not as text.
    let (code, _) = check(&[&ok, &new]);
    assert_eq!(code, Some(1), "one binary too new fails the set");
    let (code, _) = check(&[&none]);
    assert_eq!(code, Some(2), "no symbol versions is not a pass");

    // On a real binary (this machine's debug build): the check runs and names a version.
    if Command::new("objdump").arg("--version").output().is_ok_and(|o| o.status.success()) {
        let r = run(Command::new("bash").arg(&script).arg(bin_path("salesapp")));
        assert!(matches!(r.code(), Some(0 | 1)), "{}", r.output());
        assert!(r.stdout.contains("highest GLIBC_2."), "{}", r.output());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
