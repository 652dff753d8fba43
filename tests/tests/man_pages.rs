//! The man pages the package installs (`BIN assets DIR`, docs/packaging.md): one per command
//! and subcommand, each with the sections an operator looks for beyond the options (EXIT
//! STATUS from the failure table, ENVIRONMENT, FILES, EXAMPLES), the program and its version
//! in every footer, and help text for every option.

use e2e::{bin_path, run};

#[test]
fn every_page_has_exit_status_environment_files_and_examples() {
    let dir = std::env::temp_dir().join(format!("e2e-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (program, subcommands) in [
        (
            "salesapp",
            &["upload", "validate", "watch", "generate", "configure", "config", "doctor"][..],
        ),
        ("reportsengine", &["run", "once", "build", "configure", "config", "doctor"][..]),
    ] {
        run(std::process::Command::new(bin_path(program)).arg("assets").arg(&dir)).assert_ok();
        let version = run(std::process::Command::new(bin_path(program)).arg("--version"));
        let version = version.stdout.trim().to_string();
        assert!(version.starts_with(&format!("{program} 0.")), "{version}");
        let pages = std::iter::once(program.to_string())
            .chain(subcommands.iter().map(|s| format!("{program}-{s}")));
        for page in pages {
            let path = dir.join("man1").join(format!("{page}.1"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The footer (.TH's third argument) is the program and its version, on every page.
            let th = text.lines().find(|l| l.starts_with(".TH ")).expect(".TH");
            assert!(th.contains(&format!("\"{version}\"")), "{page}: {th}");
            for section in ["NAME", "SYNOPSIS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
                let found = text
                    .lines()
                    .any(|l| l == format!(".SH {section}") || l == format!(".SH \"{section}\""));
                assert!(found, "{page} has no {section} section");
            }
            let examples = text.split(".SH EXAMPLES").nth(1).unwrap_or_default();
            assert!(examples.contains(".TP"), "{page}: no example");
            for code in ["\\fB65\\fR", "\\fB69\\fR", "\\fB77\\fR", "\\fB78\\fR"] {
                assert!(text.contains(code), "{page}: exit status {code} missing");
            }
            assert!(text.contains("VPCE_LAB_CONFIG"), "{page}: ENVIRONMENT");
            assert!(text.contains("/etc/vpce\\-lab/config.toml"), "{page}: FILES");
        }
    }
    let generate = std::fs::read_to_string(dir.join("man1/salesapp-generate.1")).expect("page");
    for help in ["The day every row is dated", "How many rows", "The seed"] {
        assert!(generate.contains(help), "salesapp-generate.1 lacks {help:?}");
    }
    let doctor = std::fs::read_to_string(dir.join("man1/salesapp-doctor.1")).expect("page");
    assert!(doctor.contains("first failing"), "doctor's page says how it exits");
    let _ = std::fs::remove_dir_all(&dir);
}
