//! Self-test of the harness: needs only moto, not the binaries.

use e2e::Emulator;

#[test]
fn emulator_roundtrip() {
    let em = Emulator::start();
    assert!(em.port() > 0);
    assert!(em.queue_url().ends_with("-sqs-queue"), "{}", em.queue_url());
    let config = std::fs::read_to_string(em.config_path()).unwrap();
    assert!(config.contains(&format!("bucket = \"{}\"", em.bucket())), "{config}");
    assert!(config.contains("wait_time = \"1s\""), "{config}");

    // S3: absent → None; put/get; default encryption applies; listing.
    assert_eq!(em.get_object("nope/missing.csv"), None);
    assert!(em.head_object("nope/missing.csv").is_none());
    em.put_object("a/b.txt", b"hello".to_vec());
    assert_eq!(em.get_object("a/b.txt").as_deref(), Some(&b"hello"[..]));
    assert_eq!(em.head_object("a/b.txt").unwrap().sse.as_deref(), Some("AES256"));
    assert_eq!(em.list_keys(), vec!["a/b.txt".to_string()]);

    // SQS: send, count, peek (stays), drain (gone).
    assert_eq!(em.queue_counts(), (0, 0));
    em.send_raw("{datafilelocation:s3://x/y}");
    assert_eq!(em.queue_messages_visible(), 1);
    assert_eq!(em.peek_messages(), vec!["{datafilelocation:s3://x/y}".to_string()]);
    assert_eq!(em.drain_messages(), vec!["{datafilelocation:s3://x/y}".to_string()]);
    assert_eq!(em.queue_counts(), (0, 0));
}

#[test]
fn emulators_are_independent() {
    let a = Emulator::start();
    let b = Emulator::start();
    assert_ne!(a.port(), b.port());
    a.put_object("k", b"a".to_vec());
    assert_eq!(b.get_object("k"), None);
    let pid_dir = a.dir().to_path_buf();
    drop(a);
    assert!(!pid_dir.exists(), "temp dir removed on drop");
    assert!(b.list_keys().is_empty());
}

/// The recorder sees other clients' requests, not the harness's own.
#[test]
fn recorder_ignores_the_harness() {
    let em = Emulator::start();
    em.start_recording();
    em.put_object("x/y.csv", b"1".to_vec());
    em.send_raw("hello");
    assert!(em.stop_recording().is_empty());
    let r = e2e::Recorded {
        method: "PUT".into(),
        url: format!("{}/{}/sales/2026-01-01/sales.csv?x-id=PutObject", em.endpoint(), em.bucket()),
        target: None,
        user_agent: None,
    };
    assert_eq!(r.action(), "s3:PutObject");
    assert_eq!(r.bucket().as_deref(), Some(em.bucket()));
    let r = e2e::Recorded {
        method: "GET".into(),
        url: format!("{}/b/k", em.endpoint()),
        target: None,
        user_agent: None,
    };
    assert_eq!(r.action(), "s3:GetObject");
    let r = e2e::Recorded {
        method: "POST".into(),
        url: em.endpoint(),
        target: Some("AmazonSQS.ReceiveMessage".into()),
        user_agent: None,
    };
    assert_eq!(r.action(), "sqs:ReceiveMessage");
}

/// The checks accept objects built exactly as the contract says (from the reference), so a
/// failing pipeline test points at the binaries, not at the checks.
#[test]
fn checks_accept_a_correct_report() {
    use e2e::checks;
    use e2e::reference;
    let em = Emulator::start();
    let file = "\u{feff}date,order_id,sales_rep,region,product,quantity,unit_price,extra\r\n\
                2026-01-02,1,\"Smith, J\",North,P,2,0.05,\"a\r\nb\"\r\n\
                2026-01-02,2,Zoë,South,Q,1,0.30,\r\n\
                2026-01-02,3,Zoë,North,P,3,1,\r\n";
    let before = "date,order_id,sales_rep,region,product,quantity,unit_price\n\
                  2026-01-01,1,Zoë,North,P,1,100.10\n";
    let day = reference::compute(file.as_bytes(), 500, &Default::default()).unwrap();
    let prev = reference::compute(before.as_bytes(), 500, &Default::default()).unwrap();
    let history = [&prev, &day];

    let put = |key: &str, body: Vec<u8>, sha: Option<String>| {
        em.block_on(async {
            let mut req = em
                .s3()
                .put_object()
                .bucket(em.bucket())
                .key(key)
                .server_side_encryption(e2e::aws_sdk_s3::types::ServerSideEncryption::Aes256)
                .body(body.into());
            if let Some(sha) = sha {
                req = req.metadata("sha256", sha);
            }
            req.send().await.unwrap();
        })
    };
    put("sales/2026-01-02/sales.csv", file.as_bytes().to_vec(), Some(day.sha256.clone()));
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in reference::report_csv_records(&day, &history) {
        w.write_record(&r).unwrap();
    }
    put("reports/2026-01-02/report.csv", w.into_inner().unwrap(), None);
    let mut json = reference::report_json(&day, "sales/2026-01-02/sales.csv", &history);
    json["generated_by"] = "reportsengine 0.1.0".into();
    put("reports/2026-01-02/report.json", serde_json::to_vec_pretty(&json).unwrap(), None);
    let html = "<!doctype html><html><body><h1>2026-01-02</h1><svg></svg></body></html>";
    put("reports/2026-01-02/report.html", html.as_bytes().to_vec(), None);
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in reference::ledger_records(&[&prev, &day]) {
        w.write_record(&r).unwrap();
    }
    put(checks::LEDGER_KEY, w.into_inner().unwrap(), None);

    checks::assert_sales_object(&em, "2026-01-02", file.as_bytes());
    checks::assert_report(&em, &day, &history);
    checks::assert_ledger(&em, &[&prev, &day]);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
    // Zoë: 100.10 → 5.005 → 5.00 on the 1st; 0.30 + 3.00 → 0.165 → 0.16 on the 2nd.
    assert_eq!(reference::report_csv_records(&day, &history)[2][5], "5.16");
}
