//! The files a package installs beside the binaries, generated from the clap definitions
//! themselves so they cannot drift from the command lines: man pages (one per command and
//! subcommand, `salesapp.1`, `salesapp-upload.1`…) and shell completions (bash, zsh, fish).
//!
//! Each man page has, after what clap_mangen renders from the definitions (NAME, SYNOPSIS,
//! DESCRIPTION, OPTIONS, SUBCOMMANDS), the sections an operator looks for: EXIT STATUS (the
//! failure table's codes, from `Kind::rule` itself), ENVIRONMENT, FILES, EXAMPLES and SEE
//! ALSO; its footer names the program and its version on every page.
//!
//! Both binaries have a hidden `assets DIR` subcommand that calls [`write`];
//! `deploy/build-rpm.sh` runs it and installs the files in their standard places. It writes:
//!
//! ```text
//! DIR/man1/NAME.1 …                 → /usr/share/man/man1/ (gzipped there)
//! DIR/bash-completion/NAME          → /usr/share/bash-completion/completions/
//! DIR/zsh/_NAME                     → /usr/share/zsh/site-functions/
//! DIR/fish/NAME.fish                → /usr/share/fish/vendor_completions.d/
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap_complete::Shell;
use roff::{bold, italic, roman, Roff};

use common::failure::{exit, Kind};
use common::Program;

/// `assets`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetsArgs {
    /// Directory to write the man pages and completions into (created)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes the man pages and completions of `C` (the binary's whole command line) under
/// `args.dir`, in the layout of the module docs.
pub fn write<C: clap::CommandFactory>(program: Program, args: &AssetsArgs) -> anyhow::Result<()> {
    let name = program.name();
    let dir = |sub: &str| -> anyhow::Result<PathBuf> {
        let path = args.dir.join(sub);
        std::fs::create_dir_all(&path).with_context(|| format!("mkdir {}", path.display()))?;
        Ok(path)
    };
    let man = dir("man1")?;
    man_pages(C::command(), program, &man)
        .with_context(|| format!("man pages into {}", man.display()))?;
    // The completion generators offer hidden subcommands and flags too: give them only
    // what `--help` shows (of the built command, where the global flags have reached every
    // subcommand).
    let mut built = C::command();
    built.build();
    let mut cmd = visible(&built);
    for (shell, sub, file) in [
        (Shell::Bash, "bash-completion", name.to_string()),
        (Shell::Zsh, "zsh", format!("_{name}")),
        (Shell::Fish, "fish", format!("{name}.fish")),
    ] {
        let path = dir(sub)?.join(file);
        completion(shell, &mut cmd, name, &path)?;
    }
    Ok(())
}

fn completion(
    shell: Shell,
    cmd: &mut clap::Command,
    name: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, cmd, name, &mut out);
    std::fs::write(path, out).with_context(|| format!("write {}", path.display()))
}

/// A copy of a built command without its hidden subcommands and arguments (and without the
/// built-in `help` subcommand and `--help`/`--version` flags, which the copy gets again when
/// it is built).
fn visible(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    let builtin = |a: &clap::Arg| a.get_id() == "help" || a.get_id() == "version";
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !builtin(a)) {
        out = out.arg(arg.clone());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        out = out.subcommand(visible(sub));
    }
    out
}

/// One page per command and visible subcommand (`salesapp.1`, `salesapp-upload.1`…).
fn man_pages(cmd: clap::Command, program: Program, dir: &Path) -> anyhow::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![(None, cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push((Some(sub.get_name().to_string()), sub.clone()));
    }
    for (sub, page) in pages {
        let text = man_page(page, program, sub.as_deref())?;
        let name = match &sub {
            Some(sub) => format!("{}-{sub}.1", program.name()),
            None => format!("{}.1", program.name()),
        };
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// One page: clap_mangen's sections, then ours. The footer (`.TH`'s source) is the program
/// and its version on every page: clap_mangen would give a subcommand's page its own name.
pub fn man_page(cmd: clap::Command, program: Program, sub: Option<&str>) -> anyhow::Result<String> {
    let man = clap_mangen::Man::new(cmd)
        .source(format!("{} {}", program.name(), common::VERSION))
        .manual("vpce-lab");
    let mut out = Vec::new();
    man.render(&mut out)?;
    let mut page = String::from_utf8(out)?;
    page.push_str(&operator_sections(program, sub).render());
    Ok(page)
}

/// EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO of one page.
fn operator_sections(program: Program, sub: Option<&str>) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    if let Some(note) = exit_note(sub) {
        roff.text([roman(note)]);
    }
    for (code, meaning) in exit_statuses() {
        roff.control("TP", []).text([bold(code.to_string())]).text([roman(meaning)]);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in ENVIRONMENT {
        roff.control("TP", []).text([bold(*name)]).text([roman(*meaning)]);
    }

    roff.control("SH", ["FILES"]);
    for (path, meaning) in files(program) {
        roff.control("TP", []).text([italic(path)]).text([roman(meaning)]);
    }

    roff.control("SH", ["EXAMPLES"]);
    for (command, meaning) in examples(program, sub) {
        roff.control("TP", []).text([bold(command)]).text([roman(meaning)]);
    }

    roff.control("SH", ["SEE ALSO"]);
    let other = match program {
        Program::Salesapp => "reportsengine",
        Program::Reportsengine => "salesapp",
    };
    roff.text([roman(format!(
        "{}(1), {other}(1), systemctl(1), journalctl(1); the documentation in \
         /usr/share/doc/vpce-lab/ (docs/operating.md: the commands, doctor, what a denial means; \
         docs/configuration.md: every key).",
        program.name()
    ))]);
    roff
}

/// Every exit code and what gives it, from the failure table itself (`Kind::rule`): 0 and
/// 64 (usage) are not failures of a kind.
pub fn exit_statuses() -> Vec<(i32, String)> {
    let mut codes = vec![
        (exit::OK, "Success.".to_string()),
        (
            exit::USAGE,
            "Usage: a bad flag or subcommand, a --log-level, --log-format or RUST_LOG that is not \
             one of the accepted values."
                .to_string(),
        ),
    ];
    let mut by_code: Vec<(i32, Vec<Kind>)> = Vec::new();
    for kind in Kind::ALL {
        let code = kind.rule().exit_code;
        match by_code.iter_mut().find(|(c, _)| *c == code) {
            Some((_, kinds)) => kinds.push(kind),
            None => by_code.push((code, vec![kind])),
        }
    }
    by_code.sort_by_key(|(code, _)| *code);
    for (code, kinds) in by_code {
        let said: Vec<String> = kinds
            .iter()
            .map(|k| format!("{}: {}", k.label(), k.examples().replace('`', "")))
            .collect();
        let retried = if kinds.contains(&Kind::Transient) {
            " A transient failure is retried first, for endpoints.give_up_after (60 s); every \
             other failure ends the command at once."
        } else {
            ""
        };
        codes.push((code, format!("{}.{retried}", capitalized(&said.join("; ")))));
    }
    codes
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// What a page's command exits with, where that is not simply the table.
fn exit_note(sub: Option<&str>) -> Option<&'static str> {
    Some(match sub? {
        "doctor" => {
            "0 when no check FAILs (WARN and SKIP do not); otherwise the code of the first failing \
             row, from the same table as every command, so doctor and a command that meets the \
             same cause exit alike:"
        }
        "run" | "watch" => {
            "0 when stopped by SIGTERM or SIGINT, whatever failed on the way (130 at a second \
             signal); a failure an operator must fix is held and retried, not an exit. At start, \
             a configuration or usage error exits 78 or 64. The codes:"
        }
        "once" => {
            "0 when every message it took was reported or quarantined, else the code of the \
             worst failure it left on the queue:"
        }
        _ => return None,
    })
}

/// The environment both binaries read.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("VPCE_LAB_CONFIG", "The configuration file, when --config does not name one."),
    (
        "VPCE_LAB_SECTION_KEY",
        "Overrides one key of the configuration (VPCE_LAB_REPORTSENGINE_CONCURRENCY=8; \
         top-level keys: VPCE_LAB_BUCKET); --set beats it, it beats the file. The config \
         subcommand shows which source each value comes from.",
    ),
    (
        "AWS_REGION, AWS_PROFILE",
        "The SDK's region and profile; a region in the configuration wins over AWS_REGION.",
    ),
    (
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN",
        "Credentials from the environment. On the lab's instances leave them unset: the \
         instance profile (through IMDSv2) gives the role's credentials.",
    ),
    (
        "AWS_EC2_METADATA_DISABLED",
        "true: do not ask the instance metadata service for credentials.",
    ),
    (
        "AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SQS",
        "Endpoints, when endpoints.s3 / endpoints.sqs are unset.",
    ),
    ("AWS_MAX_ATTEMPTS, AWS_RETRY_MODE", "The SDK's attempts per call and retry mode."),
    (
        "HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY",
        "A proxy for the SDK's requests. Under the lab it takes S3 and SQS around the VPC \
         endpoints (writes then fail with 403): exclude them with NO_PROXY; doctor warns.",
    ),
    ("RUST_LOG", "A log filter (debug, or target=level directives); beats --log-level."),
    ("NO_COLOR", "No colour in text logs on a terminal."),
];

/// The files a program reads or writes.
fn files(program: Program) -> Vec<(&'static str, &'static str)> {
    let mut files = vec![(
        "/etc/vpce-lab/config.toml",
        "The configuration (root:vpce-lab, mode 0640). Refused when its group or everyone may \
         write it, or when another user than root or the one running the command owns it.",
    )];
    match program {
        Program::Salesapp => files.push((
            "/var/lib/salesapp/spool/",
            "The spool of salesapp watch (salesapp.spool_dir): incoming/, done/, failed/ with \
             NAME.error.txt.",
        )),
        Program::Reportsengine => files.push((
            "/var/lib/reportsengine/",
            "The engine's state directory (systemd's StateDirectory=); the engine keeps its \
             state in the bucket, not here.",
        )),
    }
    files.push((
        "/usr/lib/systemd/system/",
        "salesapp.service, reportsengine.service, salesapp-upload@.service and .timer.",
    ));
    files.push(("/usr/share/doc/vpce-lab/", "README.md and docs/: the documentation."));
    files
}

/// A few commands an operator types, for each page.
fn examples(program: Program, sub: Option<&str>) -> Vec<(String, &'static str)> {
    let p = program.name();
    let shared = |sub: &str| -> Vec<(String, &'static str)> {
        match sub {
            "configure" => vec![
                (
                    format!("{p} configure --stack-outputs outputs.json -o /etc/vpce-lab/config.toml"),
                    "Write the configuration from the lab's stack outputs (aws cloudformation \
                     describe-stacks > outputs.json).",
                ),
                (
                    format!("aws cloudformation describe-stacks --stack-name lab | {p} configure --stack-outputs -"),
                    "Print it instead.",
                ),
            ],
            "doctor" => vec![
                (format!("{p} doctor"), "Check this instance, from the configuration outwards."),
                (format!("{p} doctor --controls"), "Also verify that the lab's denials hold."),
                (
                    format!("{p} doctor --json | jq -e '.exit_code == 0'"),
                    "Gate a job on it (SSM Run Command, CI).",
                ),
            ],
            "config" => vec![
                (format!("{p} config"), "The configuration in effect, each value with its source."),
                (
                    format!("VPCE_LAB_ENDPOINTS_GIVE_UP_AFTER=10s {p} config"),
                    "See a variable win over the file.",
                ),
            ],
            _ => Vec::new(),
        }
    };
    match (program, sub) {
        (_, Some(s @ ("configure" | "doctor" | "config"))) => shared(s),
        (Program::Salesapp, sub) => salesapp_examples(sub),
        (Program::Reportsengine, sub) => engine_examples(sub),
    }
}

/// [`examples`] of salesapp's own pages.
fn salesapp_examples(sub: Option<&str>) -> Vec<(String, &'static str)> {
    match sub {
        None => vec![
            (
                "salesapp upload day.csv".into(),
                "Validate a day's file, upload it, merge the ledger, queue it.",
            ),
            ("salesapp validate day.csv".into(), "Check a file and touch nothing."),
            (
                "sudo systemctl enable --now salesapp".into(),
                "Run the spool daemon (salesapp watch).",
            ),
            ("salesapp doctor".into(), "Check this instance."),
            (
                "salesapp config".into(),
                "The configuration in effect and where each value comes from.",
            ),
        ],
        Some("upload") => vec![
            ("salesapp upload day.csv".into(), "Validate, upload, merge the ledger, queue."),
            (
                "salesapp upload --date 2026-01-15 --replace day.csv".into(),
                "Replace the file of a day already uploaded with a corrected one.",
            ),
            (
                "salesapp --set endpoints.give_up_after=10s upload day.csv".into(),
                "Give up sooner on endpoints that do not answer.",
            ),
            (
                "salesapp upload --dry-run --max-errors all day.csv".into(),
                "Only validate, and list every problem (no AWS client is built).",
            ),
        ],
        Some("validate") => vec![
            (
                "salesapp validate --date 2026-01-15 day.csv".into(),
                "Check a day's file with the rules and limits of an upload; nothing is sent.",
            ),
            (
                "salesapp validate --max-errors all day.csv > problems.txt".into(),
                "Every problem, grouped, for a file that is not valid.",
            ),
            (
                "salesapp --set limits.max_reps=20000 validate day.csv".into(),
                "Check under a tighter limit than the configuration's.",
            ),
        ],
        Some("watch") => vec![
            ("sudo systemctl enable --now salesapp".into(), "Run it under systemd."),
            (
                "sudo mv day.csv.tmp /var/lib/salesapp/spool/incoming/2026-01-15.csv".into(),
                "Drop a file by renaming it in (written on the same file system first).",
            ),
        ],
        Some("generate") => vec![(
            "salesapp generate --date 2026-01-15 --rows 5000 --seed 42 -o day.csv".into(),
            "A day of sample sales; the same seed gives the same bytes.",
        )],
        _ => Vec::new(),
    }
}

/// [`examples`] of reportsengine's own pages.
fn engine_examples(sub: Option<&str>) -> Vec<(String, &'static str)> {
    match sub {
        None => vec![
            (
                "sudo systemctl enable --now reportsengine".into(),
                "Run the daemon (reportsengine run).",
            ),
            ("reportsengine once".into(), "Drain the queue and exit."),
            ("reportsengine build day.csv -o out/".into(), "A report from a local file, no AWS."),
            ("reportsengine doctor".into(), "Check this instance."),
        ],
        Some("run") => vec![
            ("sudo systemctl enable --now reportsengine".into(), "Run it under systemd."),
            ("journalctl -u reportsengine -p warning".into(), "Its quarantines and holds."),
        ],
        Some("once") => {
            vec![("reportsengine once".into(), "Process what the queue holds, then exit.")]
        }
        Some("build") => vec![(
            "reportsengine build day.csv -o out/ --ledger ledger.csv".into(),
            "The day's report files, with the year so far from a copy of the ledger.",
        )],
        _ => Vec::new(),
    }
}

/// [`undocumented_arguments`] of a binary's whole command line `C`.
pub fn undocumented_arguments_of<C: clap::CommandFactory>() -> Vec<String> {
    undocumented_arguments(&C::command())
}

/// The arguments of `cmd` and its visible subcommands that `--help` and the man pages would
/// show without a word of help (`generate --rows`), as `SUBCOMMAND --flag`: none should be.
pub fn undocumented_arguments(cmd: &clap::Command) -> Vec<String> {
    let mut cmd = cmd.clone();
    cmd.build();
    let mut found = Vec::new();
    let mut visit = |path: String, c: &clap::Command| {
        for arg in c.get_arguments().filter(|a| !a.is_hide_set()) {
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                let name =
                    arg.get_long().map_or_else(|| arg.get_id().to_string(), |l| format!("--{l}"));
                found.push(format!("{path} {name}").trim().to_string());
            }
        }
    };
    visit(String::new(), &cmd);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        visit(sub.get_name().to_string(), sub);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(name = "salesapp", version = "9.9.9")]
    struct Fake {
        #[command(subcommand)]
        command: FakeCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum FakeCommand {
        /// Uploads.
        Upload {
            /// The file.
            file: PathBuf,
            #[arg(long)]
            quiet: bool,
        },
        Doctor,
    }

    #[test]
    fn every_page_has_the_operator_sections_and_the_version_in_its_footer() {
        use clap::CommandFactory;
        let cmd = Fake::command();
        let upload = cmd.find_subcommand("upload").expect("upload").clone();
        let page = man_page(upload, Program::Salesapp, Some("upload")).expect("renders");
        let footer = format!("\"salesapp {}\" vpce-lab", common::VERSION);
        assert!(page.lines().any(|l| l.starts_with(".TH ") && l.ends_with(&footer)), "{page}");
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"] {
            let heading = format!(".SH \"{section}\"");
            let plain = format!(".SH {section}");
            assert!(page.lines().any(|l| l == heading || l == plain), "{section}:\n{page}");
        }
        for code in ["64", "65", "69", "74", "77", "78"] {
            assert!(page.contains(&format!("\\fB{code}\\fR")), "exit {code}:\n{page}");
        }
        assert!(page.contains("no usable credentials") || page.contains("No usable credentials"));
        assert!(page.contains("salesapp upload \\-\\-date 2026\\-01\\-15"), "an example:\n{page}");
        assert_eq!(undocumented_arguments(&Fake::command()), vec!["upload --quiet".to_string()]);
    }

    /// The exit codes and what gives them are the failure table's own.
    #[test]
    fn exit_statuses_are_the_failure_table() {
        let statuses = exit_statuses();
        let codes: Vec<i32> = statuses.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, [0, 64, 65, 69, 74, 77, 78]);
        for kind in Kind::ALL {
            let (_, said) = statuses
                .iter()
                .find(|(c, _)| *c == kind.rule().exit_code)
                .expect("every kind's code is listed");
            let label = kind.label().to_lowercase();
            assert!(said.to_lowercase().contains(&label), "{kind:?}: {said}");
        }
    }
}
