//! The workshop, runnable on the local lab (docs/workshop.md).
//!
//! - `lab-gateway walkthrough` (`lab.sh walkthrough`): the workshop's checks, in its order
//!   ([`checks`]), each run as the `aws` command a person types on that host ([`observe`]),
//!   with the outcome the workshop's rules expect from the controls in place *now*
//!   ([`controls`] recognises them), the outcome observed, and what decided it (the gateway's
//!   decision log). Exit 0 when every outcome is the expected one.
//! - `lab-gateway secure` (`lab.sh secure`): the workshop's edits ([`edits`]), one at a time,
//!   the walkthrough after each, and what changed.
//!
//! The expectation and the observation come from different places on purpose: the
//! observation is the gateway's (its engine, its combination of policies, the CLI's reading
//! of its answers); the expectation is the workshop's rules applied to which of its controls
//! are in place, known by their documents. An expectation computed by the very code that
//! decides could only ever agree with it.

pub mod checks;
pub mod controls;
pub mod edits;
pub mod files;
pub mod observe;
pub mod oracle;
pub mod report;
pub mod walkthrough;

#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use controls::{recognise, Controls, Live};
use edits::{Planned, EDITS};
use files::LabFiles;
use observe::Aws;
use walkthrough::{walk, Walkthrough};

/// What both commands are given.
#[derive(Debug, Clone)]
pub struct Options {
    /// The lab's state directory.
    pub state_dir: PathBuf,
    /// The AWS CLI.
    pub aws: PathBuf,
    /// JSON on stdout instead of words.
    pub json: bool,
}

/// The commands' exit codes: every check as expected; a check differs (or cannot be told);
/// the lab cannot be read or an edit failed; a bad argument.
pub const OK: u8 = 0;
pub const DIFFERS: u8 = 1;
pub const UNAVAILABLE: u8 = 69;
pub const USAGE: u8 = 64;

struct Lab {
    files: LabFiles,
    aws: Aws,
    runtime: tokio::runtime::Runtime,
}

impl Lab {
    fn open(options: &Options) -> Result<Lab, String> {
        let files = LabFiles::read(&options.state_dir)
            .map_err(|e| format!("{e} (is the lab started? deploy/local/lab.sh start)"))?;
        let work = options.state_dir.join("walkthrough");
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let aws = Aws::new(options.aws.clone(), work, files.decisions());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        Ok(Lab { files, aws, runtime })
    }

    /// The controls now.
    fn controls(&self) -> Result<(Live, Controls), String> {
        let (live, _) = self.runtime.block_on(self.files.live())?;
        let controls = recognise(&live, &self.files.ids()?, &self.files.lab.hosts);
        Ok((live, controls))
    }

    fn walk(&self) -> Result<Walkthrough, String> {
        let (_, controls) = self.controls()?;
        walk(&self.files, &self.aws, controls)
    }
}

fn table(options: &Options) -> bool {
    !options.json && std::io::stdout().is_terminal()
}

fn fail(what: &str, e: &str) -> u8 {
    eprintln!("lab-gateway {what}: {e}");
    UNAVAILABLE
}

/// `walkthrough`.
pub fn walkthrough_command(options: &Options) -> u8 {
    let lab = match Lab::open(options) {
        Ok(l) => l,
        Err(e) => return fail("walkthrough", &e),
    };
    let w = match lab.walk() {
        Ok(w) => w,
        Err(e) => return fail("walkthrough", &e),
    };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&w).unwrap_or_default());
    } else {
        print!("{}", report::walkthrough(&w, table(options)));
    }
    if w.ok {
        OK
    } else {
        DIFFERS
    }
}

/// One step of `secure`: an edit (none for the walk before the first) and the walk after it.
#[derive(Debug, Serialize)]
struct Step {
    edit: Option<Planned>,
    /// `false` for an edit already in place (nothing was run, nor walked again).
    applied: bool,
    walkthrough: Option<Walkthrough>,
    /// The ids of the checks whose answer changed with this edit.
    changed: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct Secured {
    steps: Vec<Step>,
    ok: bool,
}

/// `secure [EDIT…]`: the named edits (all, in the workshop's order, by default); `--list`
/// prints them and applies nothing.
pub fn secure_command(options: &Options, only: &[String], list: bool) -> u8 {
    let mut chosen = Vec::new();
    for name in only {
        match edits::edit(name) {
            Some(e) => chosen.push(e),
            None => {
                let names: Vec<&str> = EDITS.iter().map(|e| e.name).collect();
                eprintln!("lab-gateway secure: no edit {name:?}: one of {}", names.join(", "));
                return USAGE;
            }
        }
    }
    if chosen.is_empty() {
        chosen = EDITS.iter().collect();
    }
    let lab = match Lab::open(options) {
        Ok(l) => l,
        Err(e) => return fail("secure", &e),
    };
    let documents = options.state_dir.join("workshop");
    let result = if list {
        list_edits(&lab, &chosen, &documents, options.json)
    } else {
        secure(&lab, &chosen, &documents, options)
    };
    match result {
        Ok(code) => code,
        Err(e) => fail("secure", &e),
    }
}

fn list_edits(
    lab: &Lab,
    chosen: &[&'static edits::Edit],
    documents: &std::path::Path,
    json: bool,
) -> Result<u8, String> {
    let (live, controls) = lab.controls()?;
    let mut planned = Vec::new();
    for (i, edit) in chosen.iter().enumerate() {
        let p = edits::plan(edit, &lab.files, &live, &controls, documents)?;
        if !json {
            print!("{}", report::edit_lines(&p, i + 1, chosen.len()));
            for (path, text) in &p.files {
                println!("   {}:\n{}", path.display(), indent(text, "     "));
            }
            if p.in_place {
                println!("   (already in place)");
            }
            println!();
        }
        planned.push(p);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&planned).unwrap_or_default());
    }
    Ok(OK)
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}")).collect::<Vec<_>>().join("\n")
}

fn secure(
    lab: &Lab,
    chosen: &[&'static edits::Edit],
    documents: &std::path::Path,
    options: &Options,
) -> Result<u8, String> {
    let say = |text: String| {
        if !options.json {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    };
    let (live, controls) = lab.controls()?;
    let mut to_do = Vec::new();
    for edit in chosen {
        to_do.push(!edits::plan(edit, &lab.files, &live, &controls, documents)?.in_place);
    }
    if !to_do.contains(&true) {
        say("every edit is in place already: nothing to do (`lab.sh walkthrough` runs the checks)\n".into());
        if options.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&Secured { steps: Vec::new(), ok: true })
                    .unwrap_or_default()
            );
        }
        return Ok(OK);
    }
    say("== before the edits: the walkthrough\n".into());
    let mut last = lab.walk()?;
    say(report::walkthrough(&last, table(options)));
    let mut ok = last.ok;
    let mut steps = vec![Step {
        edit: None,
        applied: false,
        walkthrough: Some(last.clone()),
        changed: Vec::new(),
    }];
    for (i, edit) in chosen.iter().enumerate() {
        let (live, controls) = lab.controls()?;
        let planned = edits::plan(edit, &lab.files, &live, &controls, documents)?;
        say(format!("\n{}", report::edit_lines(&planned, i + 1, chosen.len())));
        if planned.in_place {
            say("   already in place: nothing to do\n".into());
            steps.push(Step {
                edit: Some(planned),
                applied: false,
                walkthrough: None,
                changed: Vec::new(),
            });
            continue;
        }
        edits::apply(&planned, &lab.files, &lab.aws)?;
        let now = lab.walk()?;
        ok &= now.ok;
        say(format!(
            "   the walkthrough again: {}; what changed:\n{}",
            report::verdict(&now),
            report::changes_lines(&last, &now)
        ));
        if !now.ok {
            let differing: String =
                now.checks.iter().filter(|c| !c.matches).map(report::check_lines).collect();
            say(format!("   the checks not as expected:\n{differing}"));
        }
        let changed = report::changes(&last, &now).iter().map(|c| c.id).collect();
        steps.push(Step {
            edit: Some(planned),
            applied: true,
            walkthrough: Some(now.clone()),
            changed,
        });
        last = now;
    }
    say(format!(
        "\n== after the edits: the walkthrough\n{}",
        report::walkthrough(&last, table(options))
    ));
    say(if ok {
        "every walkthrough gave the answers expected from the controls in place\n".into()
    } else {
        "some checks did not give the answers expected from the controls in place (above)\n".into()
    });
    if options.json {
        let secured = Secured { steps, ok };
        println!("{}", serde_json::to_string_pretty(&secured).unwrap_or_default());
    }
    Ok(if ok { OK } else { DIFFERS })
}
