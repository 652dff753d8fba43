//! Records the commit the binaries are built from, for `--version` (`salesapp 0.1.0 (abc1234)`)
//! and `doctor --json`.
//!
//! `GIT_COMMIT` in the build's environment wins (a build from a tarball, or a CI that names
//! it); else `git rev-parse --short HEAD`; else `unknown` (no git, not a checkout). The script
//! runs again only when `HEAD`, the branch it points at or `packed-refs` change, so an
//! ordinary edit-and-build never runs git. Paths come from `git rev-parse --git-path`, which
//! knows where a worktree keeps its `HEAD` (its own git dir) and its refs (the shared one).
#![forbid(unsafe_code)]

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    let from_env = std::env::var("GIT_COMMIT").ok().filter(|c| !c.trim().is_empty());
    let commit = match from_env {
        Some(commit) => commit.trim().chars().take(12).collect(),
        None => {
            let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(git(&["rev-parse", "--git-path", &branch]));
            }
            watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
            for path in watched.into_iter().flatten() {
                // `git rev-parse --git-path` answers relative to the current directory.
                let path = std::path::Path::new(&path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
            git(&["rev-parse", "--short=7", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=VPCE_LAB_COMMIT={commit}");
}
