//! Scraping a daemon's `/metrics` and reading it with the Prometheus project's own parser
//! (Python's `prometheus_client.parser`, from `$E2E_PROM_PYTHON`, else
//! `<workspace>/.venv-prom/bin/python`; `deploy/local/test.sh` creates it), so the tests see
//! what Prometheus would, not what a hand-rolled reading of the text would.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::daemon::Daemon;

/// The parser: reads an exposition on stdin, prints its families as JSON.
const PARSE: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels,
                             "value": s.value if math.isfinite(s.value) else str(s.value)}
                            for s in f.samples]})
json.dump(out, sys.stdout)
"#;

/// One sample: its full name (`…_bucket`, `…_total`), labels and value.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One family as the parser read it.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: String,
    pub samples: Vec<Sample>,
}

/// A whole scrape, parsed.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub text: String,
    pub families: Vec<Family>,
}

/// The address a daemon logged it serves its metrics on ("serving metrics on http://…").
#[track_caller]
pub fn address_of(daemon: &mut Daemon) -> SocketAddr {
    const SAID: &str = "serving metrics on http://";
    daemon.wait_for_log(SAID, 1, crate::scenario::LONG);
    let log = daemon.log();
    let rest = &log[log.find(SAID).map_or(0, |i| i + SAID.len())..];
    let addr = rest.split("/metrics").next().unwrap_or_default();
    addr.parse().unwrap_or_else(|e| panic!("metrics address {addr:?}: {e}"))
}

/// `GET path` from `addr` (loopback only), one request on its own connection: the
/// response's head and body. A server that does not answer fails the test after 30 s.
#[track_caller]
pub fn get(addr: SocketAddr, path: &str) -> (String, String) {
    assert!(addr.ip().is_loopback(), "tests scrape loopback only: {addr}");
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"));
    let response = String::from_utf8(response).expect("UTF-8 answer");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_string(), body.to_string())
}

/// `GET /metrics` from `addr` (loopback only): 200, the Prometheus text content type, and a
/// body the parser reads whole.
#[track_caller]
pub fn scrape(addr: SocketAddr) -> Scrape {
    let (head, body) = get(addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.lines()
            .any(|l| l
                .eq_ignore_ascii_case("content-type: text/plain; version=0.0.4; charset=utf-8")),
        "not the Prometheus text format: {head}"
    );
    parse(&body)
}

/// Parses an exposition with the Prometheus parser; panics (with the text) where it refuses.
#[track_caller]
pub fn parse(text: &str) -> Scrape {
    let mut child = Command::new(python())
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", python().display()));
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write exposition");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("the parser's JSON");
    let families = parsed.iter().map(family).collect();
    Scrape { text: text.to_string(), families }
}

fn family(v: &Value) -> Family {
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let samples = v["samples"].as_array().cloned().unwrap_or_default();
    Family {
        name: text("name"),
        kind: text("type"),
        help: text("help"),
        samples: samples
            .iter()
            .map(|s| Sample {
                name: s["name"].as_str().unwrap_or_default().to_string(),
                labels: s["labels"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                value: s["value"].as_f64().unwrap_or(f64::NAN),
            })
            .collect(),
    }
}

fn python() -> PathBuf {
    std::env::var_os("E2E_PROM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join(".venv-prom/bin/python"))
}

impl Scrape {
    /// The value of the sample `name` whose labels are exactly `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> =
            labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples().find(|s| s.name == name && s.labels == want).map(|s| s.value)
    }

    /// [`Scrape::get`], which must be there.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.text))
    }

    /// The sum of the samples `name` whose labels include `labels` (0 when there are none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples()
            .filter(|s| s.name == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v)))
            .map(|s| s.value)
            .sum()
    }

    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.families.iter().flat_map(|f| f.samples.iter())
    }

    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// What Prometheus relies on beyond the syntax: every family has its HELP and TYPE, and
    /// every histogram's buckets grow with `le` up to `+Inf`, which equals its `_count`.
    #[track_caller]
    pub fn assert_well_formed(&self) {
        for f in &self.families {
            assert!(!f.help.is_empty(), "{} has no HELP:\n{}", f.name, self.text);
            assert!(f.kind != "unknown", "{} has no TYPE:\n{}", f.name, self.text);
            if f.kind == "histogram" {
                self.assert_histogram(f);
            }
        }
    }

    #[track_caller]
    fn assert_histogram(&self, f: &Family) {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let key = |s: &Sample| {
            let mut l = s.labels.clone();
            l.remove("le");
            format!("{l:?}")
        };
        for s in f.samples.iter().filter(|s| s.name.ends_with("_bucket")) {
            let le = s.labels.get("le").expect("le");
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().expect("le number") };
            series.entry(key(s)).or_default().push((le, s.value));
        }
        assert!(!series.is_empty(), "{} has no buckets", f.name);
        for (labels, buckets) in series {
            assert!(
                buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{} {labels}: buckets {buckets:?}",
                f.name
            );
            let count = f
                .samples
                .iter()
                .find(|s| s.name.ends_with("_count") && key(s) == labels)
                .map(|s| s.value);
            assert_eq!(
                buckets.last().map(|b| (b.0, b.1)),
                count.map(|c| (f64::INFINITY, c)),
                "{} {labels}",
                f.name
            );
        }
    }
}
