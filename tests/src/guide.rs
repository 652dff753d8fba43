//! A guide's commands, run as written: the fenced blocks of a Markdown page.
//!
//! - A ` ```sh ` block is commands, run in order in one bash (variables, functions and the
//!   working directory carry on from block to block), each block's output caught apart.
//! - The ` ```text ` block after it (before the next `sh` block) is what it shows: each of its
//!   lines must appear in the output, `…` standing for anything. A block whose text shows an
//!   error (`An error occurred`, `Connect timeout`, `fatal error`, `failed:`) is expected to
//!   fail: one of its commands must; in every other block none may.
//! - Other blocks (JSON, unlabelled illustrations) are not run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// One fenced block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The info string (`sh`, `text`, `` for none).
    pub lang: String,
    pub text: String,
    /// The line of its opening fence (1-based).
    pub line: usize,
}

/// The page's fenced blocks, in order.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                open =
                    Some(Block { lang: info.trim().to_string(), text: String::new(), line: i + 1 })
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => out.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// A command block and what it shows.
#[derive(Debug, Clone)]
pub struct Step {
    pub commands: Block,
    pub shows: Option<Block>,
}

/// The `sh` blocks, each with the `text` block that follows it, if any.
pub fn steps(markdown: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for block in blocks(markdown) {
        match block.lang.as_str() {
            "sh" | "bash" => out.push(Step { commands: block, shows: None }),
            "text" => {
                if let Some(last) = out.last_mut().filter(|s| s.shows.is_none()) {
                    last.shows = Some(block);
                }
            }
            _ => {}
        }
    }
    out
}

impl Step {
    /// Whether what it shows is an error.
    pub fn fails(&self) -> bool {
        self.shows.as_ref().is_some_and(|s| {
            ["An error occurred", "Connect timeout", "fatal error", "failed:"]
                .iter()
                .any(|m| s.text.contains(m))
        })
    }

    /// The lines it shows that `output` lacks (`…` matching anything).
    pub fn missing(&self, output: &str) -> Vec<String> {
        let Some(shows) = &self.shows else { return Vec::new() };
        shows
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "…")
            .filter(|want| !output.lines().any(|got| matches(want, got)))
            .map(str::to_string)
            .collect()
    }
}

/// Whether `line` holds `pattern`, each `…` of which stands for any text.
pub fn matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split('…');
    let first = parts.next().unwrap_or_default();
    let Some(mut at) = line.find(first) else { return false };
    at += first.len();
    for part in parts {
        match line[at..].find(part) {
            Some(i) => at += i + part.len(),
            None => return false,
        }
    }
    true
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct Done {
    pub output: String,
    /// The commands that failed (`STATUS\tCOMMAND`).
    pub failed: Vec<String>,
}

/// Runs the steps in one bash, in `cwd`, with nothing of the caller's environment but `env`
/// (and TMPDIR, LANG); each step's output and failing commands.
pub fn run(
    steps: &[Step],
    cwd: &Path,
    out_dir: &Path,
    env: &[(&str, String)],
    limit: Duration,
) -> Vec<Done> {
    let mut script = String::from(
        "set -o pipefail\ntrap 'printf \"%s\\t%s\\n\" \"$?\" \"$BASH_COMMAND\" >>\"$GUIDE_OUT/$GUIDE_STEP.failed\"' ERR\n",
    );
    for (i, step) in steps.iter().enumerate() {
        script.push_str(&format!(
            "GUIDE_STEP={i}\n{{\n{}\n}} >\"$GUIDE_OUT/{i}.out\" 2>&1 </dev/null\n",
            step.commands.text
        ));
    }
    let path = out_dir.join("guide.sh");
    std::fs::write(&path, script).expect("write the guide's script");
    let mut cmd = Command::new("bash");
    cmd.arg(&path).current_dir(cwd).env_clear().env("GUIDE_OUT", out_dir);
    for keep in ["TMPDIR", "LANG"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    // The script's own status is its last step's: each step is judged from its files.
    crate::run_within(&mut cmd, limit);
    (0..steps.len())
        .map(|i| {
            let read =
                |name: String| std::fs::read_to_string(out_dir.join(name)).unwrap_or_default();
            Done {
                output: read(format!("{i}.out")),
                failed: read(format!("{i}.failed")).lines().map(str::to_string).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_what_they_show() {
        let page = "# T\n\n```sh\necho a\n```\n\nprose\n\n```text\na\n```\n\n```json\n{}\n```\n\n```sh\nfalse\n```\n\n```text\nAn error occurred (X)\n```\n\n```\nillustration\n```\n";
        let steps = steps(page);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].commands.text, "echo a\n");
        assert_eq!(steps[0].commands.line, 3);
        assert_eq!(steps[0].shows.as_ref().map(|b| b.text.as_str()), Some("a\n"));
        assert!(!steps[0].fails() && steps[1].fails());
        assert!(steps[0].missing("x\na\n").is_empty());
        assert_eq!(steps[0].missing("b\n"), ["a"]);
    }

    #[test]
    fn an_ellipsis_stands_for_anything() {
        assert!(matches(
            "upload: …day.csv to s3://…/day.csv",
            "upload: ../tmp/x/day.csv to s3://b-1/day.csv"
        ));
        assert!(matches("\"MessageId\": \"…\"", "    \"MessageId\": \"abc\","));
        assert!(!matches("delete: s3://…/day.csv", "delete failed: s3://b/day.csv"));
        assert!(matches("17 of 17 as expected", "17 of 17 as expected"));
    }
}
