//! docs/workshop.md, run as written: every command of every `sh` block, in order, in one bash
//! from the repository's root against a lab of its own, each block showing what the page says
//! it shows and failing only where the page shows an error. The guide cannot drift from the
//! lab.

use std::time::Duration;

use e2e::guide::{self, Step};
use e2e::lab::Lab;
use e2e::workspace_root;

#[test]
fn every_command_of_the_workshop_guide() {
    let page =
        std::fs::read_to_string(workspace_root().join("docs/workshop.md")).expect("the guide");
    let steps: Vec<Step> = guide::steps(&page);
    assert!(steps.len() > 20, "the guide's command blocks: {}", steps.len());
    // The page starts the lab itself (`lab.sh start --state starting`); starting it here first
    // gives it a directory of its own, and stops it (and shows the gateway's log) whatever
    // happens.
    let lab = Lab::start("starting");
    let out = lab.dir().join("guide");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::create_dir_all(lab.dir().join("home")).expect("mkdir home");
    let done =
        guide::run(&steps, &workspace_root(), &out, &lab.script_env(), Duration::from_secs(900));

    let mut problems = Vec::new();
    for (step, done) in steps.iter().zip(&done) {
        let at = format!("docs/workshop.md:{}", step.commands.line);
        if step.fails() && done.failed.is_empty() {
            problems.push(format!(
                "{at}: shows an error, but every command succeeded:\n{}",
                done.output
            ));
        }
        if !step.fails() && !done.failed.is_empty() {
            problems.push(format!("{at}: failed: {:?}\n{}", done.failed, done.output));
        }
        for line in step.missing(&done.output) {
            problems.push(format!("{at}: does not show {line:?}; it showed:\n{}", done.output));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // The page ends with `lab.sh stop`.
    lab.script(&["status"]).assert_code(3);
}
