//! The table doctor prints: one row per check, PASS/WARN/FAIL/SKIP, a hint under each
//! failure, and the exit code of the first failing row.

use common::failure::{exit, Error, Kind};
use common::Program;

/// One row's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Works, but not as the lab intends (e.g. static keys instead of the instance profile).
    Warn,
    Fail,
    /// Not run: nothing to check, or an earlier failure makes it meaningless.
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a FAIL or WARN.
    pub hint: Option<String>,
    /// What a failing row stands for; its exit code comes from the failure table.
    pub kind: Kind,
}

impl Check {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, detail, None, Kind::Transient)
    }
    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, detail, None, Kind::Transient)
    }
    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Warn, detail, Some(hint.into()), Kind::Transient)
    }
    pub fn fail(
        name: impl Into<String>,
        kind: Kind,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Fail, detail, Some(hint.into()), kind)
    }
    /// A failing row that says what the failure model says of `e`: its sentence as the
    /// detail, its advice as the hint (`fallback` when it has none), its kind for the exit
    /// code. A command that meets the same cause says the same and exits alike.
    pub fn failed(name: impl Into<String>, e: &Error, fallback: impl Into<String>) -> Check {
        let hint = e.advice().map_or_else(|| fallback.into(), str::to_string);
        Check::fail(name, e.kind(), e.summary(), hint)
    }
    fn new(
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        hint: Option<String>,
        kind: Kind,
    ) -> Check {
        Check { name: name.into(), status, detail: detail.into(), hint, kind }
    }
}

/// The whole result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub checks: Vec<Check>,
    /// Notes printed under the table (e.g. "this is the emulator").
    pub notes: Vec<String>,
}

impl Table {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// An aligned text table: STATUS, CHECK, DETAIL, with each hint on its own line under
    /// its row, then a one-line count and the notes.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(5).max(5);
        let mut out = format!("{:<6}  {:<width$}  DETAIL\n", "STATUS", "CHECK");
        for c in &self.checks {
            out.push_str(&format!("{:<6}  {:<width$}  {}\n", c.status.label(), c.name, c.detail));
            if let Some(hint) = c.hint.as_ref().filter(|_| c.status != Status::Pass) {
                out.push_str(&format!("{:<6}  {:<width$}  hint: {hint}\n", "", ""));
            }
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "\ndoctor: {} PASS, {} WARN, {} FAIL, {} SKIP\n",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail),
            count(Status::Skip)
        ));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }

    /// The same rows as one JSON document, for SSM Run Command or a CI job to gate on:
    ///
    /// ```json
    /// {"program": "salesapp", "version": "0.1.0 (abc1234)",
    ///  "checks": [{"status": "PASS", "check": "config", "detail": "…", "hint": null}, …],
    ///  "notes": ["…"], "summary": {"pass": 11, "warn": 0, "fail": 0, "skip": 0},
    ///  "exit_code": 0}
    /// ```
    ///
    /// `status` is `PASS`, `WARN`, `FAIL` or `SKIP`; `hint` is null under a PASS, as in the
    /// table; `exit_code` is the command's own.
    pub fn to_json(&self, program: Program) -> String {
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let checks: Vec<serde_json::Value> = self
            .checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "status": c.status.label(),
                    "check": c.name,
                    "detail": c.detail,
                    "hint": c.hint.as_ref().filter(|_| c.status != Status::Pass),
                })
            })
            .collect();
        serde_json::json!({
            "program": program.name(),
            "version": common::VERSION,
            "checks": checks,
            "notes": self.notes,
            "summary": {
                "pass": count(Status::Pass),
                "warn": count(Status::Warn),
                "fail": count(Status::Fail),
                "skip": count(Status::Skip),
            },
            "exit_code": self.exit_code(),
        })
        .to_string()
    }

    /// 0, or the code of the first failing row (see the module doc).
    pub fn exit_code(&self) -> i32 {
        self.checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map_or(exit::OK, |c| c.kind.rule().exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_hints_and_exit_code_is_the_first_failure() {
        let mut t = Table::default();
        t.push(Check::pass("config", "/etc/vpce-lab/config.toml"));
        t.push(Check::warn("credentials", "environment variables", "use the instance profile"));
        t.push(Check::fail("sqs tcp", Kind::Transient, "timeout", "security group"));
        t.push(Check::fail("control: ListQueues denied", Kind::Denied, "allowed", "x"));
        t.push(Check::skip("s3 read", "nothing written"));
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("STATUS  CHECK"), "{text}");
        let col = lines[0].find("DETAIL").unwrap();
        for line in lines.iter().take(8).skip(1) {
            assert_eq!(line.len().min(col), col, "{text}");
            assert_eq!(&line[col - 2..col], "  ", "column aligned: {line:?}\n{text}");
        }
        assert!(text.contains("hint: security group"), "{text}");
        assert!(!text.contains("hint: /etc"), "no hint under a PASS");
        assert!(text.contains("1 PASS, 1 WARN, 2 FAIL, 1 SKIP"), "{text}");
        assert_eq!(t.exit_code(), 69, "the first failure decides");
        let json: serde_json::Value = serde_json::from_str(&t.to_json(Program::Salesapp)).unwrap();
        assert_eq!(json["exit_code"], 69);
        assert_eq!(json["checks"].as_array().unwrap().len(), 5);
        assert_eq!(json["checks"][2]["status"], "FAIL");
        assert_eq!(json["checks"][2]["hint"], "security group");
        assert!(json["checks"][0]["hint"].is_null());
        assert_eq!(json["summary"]["fail"], 2);

        let mut ok = Table::default();
        ok.push(Check::pass("config", "x"));
        ok.push(Check::warn("credentials", "env", "hint"));
        assert_eq!(ok.exit_code(), 0, "warnings do not fail");
    }
}
