//! The walkthrough and `secure` in words: a compact table on a terminal, plain lines
//! otherwise (logs, pipes, the tests), and what changed from one walk to the next.

use std::fmt::Write as _;

use super::checks::Outcome;
use super::controls::{Controls, Recognised, Role};
use super::edits::{shell_words, Planned};
use super::observe::{Observed, CONNECT_TIMEOUT};
use super::walkthrough::{CheckResult, Walkthrough};

/// How the commands run, said once above the checks.
pub fn how() -> String {
    format!(
        "Each check is the `aws` command a person types on that host after `eval \"$(deploy/local/lab.sh env HOST)\"`, \
         run with --cli-connect-timeout {CONNECT_TIMEOUT} and one attempt (AWS_MAX_ATTEMPTS=1)."
    )
}

/// An endpoint's policy, absent or open, in words.
const ENDPOINT_OPEN: (&str, &str) = ("AWS's default: full access", "full access");
/// A bucket's or queue's policy, absent or open, in words.
const RESOURCE_OPEN: (&str, &str) = ("none", "one that refuses nothing the checks do");

/// The controls in place, one line each: what the expectations are worked out from.
pub fn controls_lines(c: &Controls) -> Vec<(&'static str, String)> {
    let policy = |r: Recognised, (absent, open): (&str, &str), workshop: &str| match r {
        Recognised::Absent => absent.to_string(),
        Recognised::Open => open.to_string(),
        Recognised::Workshop => workshop.to_string(),
        Recognised::Other => "a policy the workshop does not know".to_string(),
    };
    let admitted: Vec<&str> = c
        .endpoint_security_group
        .iter()
        .filter(|(_, admitted)| **admitted)
        .map(|(h, _)| h.as_str())
        .collect();
    let refused: Vec<&str> = c
        .endpoint_security_group
        .iter()
        .filter(|(_, admitted)| !**admitted)
        .map(|(h, _)| h.as_str())
        .collect();
    let group = match (admitted.is_empty(), refused.is_empty()) {
        (false, true) => format!("admits {}", admitted.join(", ")),
        (true, _) => "admits none of the hosts".to_string(),
        (false, false) => format!("admits {}, not {}", admitted.join(", "), refused.join(", ")),
    };
    let roles = c
        .roles
        .iter()
        .map(|(host, role)| {
            let words = match role {
                Role::Starting => "the workshop's starting grants",
                Role::Secured => "least privilege (the secured template's)",
                Role::Other => "policies the workshop does not know",
            };
            format!("{host}: {words}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    vec![
        (
            "S3 gateway endpoint policy",
            policy(
                c.s3_endpoint_policy,
                ENDPOINT_OPEN,
                "the workshop's: GetObject and PutObject on the restricted bucket",
            ),
        ),
        (
            "restricted bucket policy",
            policy(
                c.bucket_policy,
                RESOURCE_OPEN,
                "the workshop's: PutObject only through the gateway endpoint",
            ),
        ),
        ("SQS endpoint security group", group),
        (
            "SQS endpoint policy",
            policy(
                c.sqs_endpoint_policy,
                ENDPOINT_OPEN,
                "the workshop's: the three message actions on the queue",
            ),
        ),
        (
            "queue policy",
            policy(
                c.queue_policy,
                RESOURCE_OPEN,
                "the workshop's: the message actions only through the interface endpoint",
            ),
        ),
        ("instance roles", roles),
    ]
}

/// A refusal's decider, or the policy that allowed, in two or three words.
fn short(observed: &Observed) -> String {
    if let Some(by) = observed.by {
        return by.short().to_string();
    }
    let allowed = &observed.decided;
    allowed.split(" of ").next().unwrap_or(allowed).to_string()
}

fn mark(r: &CheckResult) -> &'static str {
    match (&r.expected, r.matches) {
        (None, _) => "?",
        (Some(_), true) => "ok",
        (Some(_), false) => "DIFFERS",
    }
}

fn expected_words(r: &CheckResult) -> String {
    match &r.expected {
        Some(e) => match e.by {
            Some(by) => format!("{} (by {}): {}", e.outcome.words(), by.words(), e.why),
            None => format!("{}: {}", e.outcome.words(), e.why),
        },
        None => format!("cannot tell: {}", r.unknown.as_deref().unwrap_or("?")),
    }
}

/// At most `n` characters of `text`, cut at a space, with `…` when cut.
fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let cut: String = text.chars().take(n).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", &cut[..at])
}

fn observed_words(o: &Observed) -> String {
    if o.detail.is_empty() {
        o.outcome.words().to_string()
    } else {
        format!("{}: {}", o.outcome.words(), clip(&o.detail, 160))
    }
}

fn decided_words(o: &Observed) -> String {
    let decided = clip(&o.decided, 200);
    if o.by.is_none() && o.outcome == Outcome::Allowed {
        format!("allowed by the {decided}")
    } else {
        decided
    }
}

/// One check as plain lines.
pub fn check_lines(r: &CheckResult) -> String {
    format!(
        "[{}] {:>2}. {}: {}\n      expected  {}\n      observed  {}\n      decided   {}\n",
        mark(r),
        r.n,
        r.host,
        r.command,
        expected_words(r),
        observed_words(&r.observed),
        decided_words(&r.observed)
    )
}

/// The walk's closing line.
pub fn verdict(w: &Walkthrough) -> String {
    let unknown = w.checks.iter().filter(|c| c.expected.is_none()).count();
    let mut s = format!("{} of {} as expected", w.matched, w.total);
    if w.matched < w.total {
        let differ = w.total - w.matched - unknown;
        let _ = write!(s, ": {differ} differ");
        if unknown > 0 {
            let _ = write!(s, ", {unknown} cannot be told from the controls in place");
        }
    }
    s
}

/// A whole walk: the controls, the checks, the verdict.
pub fn walkthrough(w: &Walkthrough, table: bool) -> String {
    let mut s =
        String::from("The controls in place (what the expectations are worked out from):\n");
    for (name, state) in controls_lines(&w.controls) {
        let _ = writeln!(s, "  {name:<28} {state}");
    }
    if let Some(problem) = &w.setup {
        let _ = writeln!(s, "\nsetup: {problem}");
    }
    let _ = writeln!(s, "\n{}\n", how());
    if table {
        s.push_str(&table_rows(&w.checks));
    } else {
        for r in &w.checks {
            s.push_str(&check_lines(r));
        }
    }
    let _ = writeln!(s, "\n{}", verdict(w));
    s
}

/// The checks as a compact table (the long message body abbreviated).
fn table_rows(checks: &[CheckResult]) -> String {
    let command = |r: &CheckResult| {
        r.command.replace(
            "\"{datafilelocation:s3://$LAB_BUCKET/walkthrough/sales.csv}\"",
            "\"{datafilelocation:…}\"",
        )
    };
    let width = checks.iter().map(|r| command(r).len()).max().unwrap_or(0);
    let expected = |r: &CheckResult| r.expected.as_ref().map_or("?", |e| e.outcome.words());
    let mut s = format!(
        "{:<7} {:>2}  {:<14} {:<width$}  {:<14} {:<14} decided by\n",
        "", "#", "host", "command", "expected", "observed"
    );
    for r in checks {
        let _ = writeln!(
            s,
            "{:<7} {:>2}  {:<14} {:<width$}  {:<14} {:<14} {}",
            mark(r),
            r.n,
            r.host,
            command(r),
            expected(r),
            r.observed.outcome.words(),
            short(&r.observed)
        );
    }
    s
}

/// The checks whose outcome (or what decided it) changed between two walks.
pub fn changes<'a>(before: &Walkthrough, after: &'a Walkthrough) -> Vec<&'a CheckResult> {
    after
        .checks
        .iter()
        .filter(|a| {
            before.checks.iter().find(|b| b.id == a.id).is_none_or(|b| {
                (b.observed.outcome, b.observed.by) != (a.observed.outcome, a.observed.by)
            })
        })
        .collect()
}

/// What changed, in words.
pub fn changes_lines(before: &Walkthrough, after: &Walkthrough) -> String {
    let changed = changes(before, after);
    if changed.is_empty() {
        return "    no check's answer changed\n".into();
    }
    let mut s = String::new();
    for a in changed {
        let was = before.checks.iter().find(|b| b.id == a.id);
        let was = was.map_or("-".to_string(), |b| b.observed.outcome.words().to_string());
        let now = match a.observed.by {
            Some(by) => format!("{} by {}", a.observed.outcome.words(), by.words()),
            None => a.observed.outcome.words().to_string(),
        };
        let _ = writeln!(
            s,
            "    [{}] {:>2}. {}: {}\n          {was} -> {now}",
            mark(a),
            a.n,
            a.host,
            a.command
        );
    }
    s
}

/// An edit: where its values come from and the commands.
pub fn edit_lines(p: &Planned, n: usize, total: usize) -> String {
    let mut s = format!("== edit {n} of {total}: {} ({})\n", p.title, p.name);
    let outputs: Vec<String> = p.outputs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let _ = writeln!(s, "   from the stack's outputs: {}", outputs.join("; "));
    for (path, _) in &p.files {
        let _ = writeln!(s, "   document: {}", path.display());
    }
    for command in &p.commands {
        let _ = writeln!(s, "   $ aws {}", shell_words(command));
    }
    s
}
