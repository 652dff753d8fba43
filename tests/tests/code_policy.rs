//! Issue 4, point 7: no unsafe code in any crate of ours, and a dependency policy that is
//! committed and explained. (`cargo deny check licenses bans sources` itself runs as a step
//! of deploy/local/test.sh.)

use std::process::Command;

use e2e::workspace_root;

/// Every target of every workspace member (libraries, binaries, tests, benches, examples)
/// says `#![forbid(unsafe_code)]` at its root, and the workspace lint forbids it as well, so
/// a file added later without the attribute is still covered.
#[test]
fn every_crate_root_forbids_unsafe_code() {
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut missing = Vec::new();
    let mut roots = 0;
    for package in meta["packages"].as_array().expect("packages") {
        let manifest = package["manifest_path"].as_str().expect("manifest_path");
        let text = std::fs::read_to_string(manifest).expect("Cargo.toml");
        let lints = text.split("[lints]").nth(1).unwrap_or("");
        if !lints.trim_start().starts_with("workspace = true") {
            missing.push(format!("{manifest}: no `[lints] workspace = true`"));
        }
        for target in package["targets"].as_array().expect("targets") {
            let src = target["src_path"].as_str().expect("src_path");
            roots += 1;
            let code = std::fs::read_to_string(src).expect("crate root");
            if !code.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]") {
                missing.push(format!("{src}: no #![forbid(unsafe_code)]"));
            }
        }
    }
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let lints = workspace.split("[workspace.lints.rust]").nth(1).unwrap_or("");
    if !lints
        .lines()
        .take_while(|l| !l.starts_with('['))
        .any(|l| l.trim() == "unsafe_code = \"forbid\"")
    {
        missing.push("Cargo.toml: no [workspace.lints.rust] unsafe_code = \"forbid\"".into());
    }
    assert!(roots >= 4, "only {roots} crate roots found");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// deny.toml denies duplicate versions and gives a reason for every exception.
#[test]
fn dependency_policy_is_committed_and_explained() {
    let text = std::fs::read_to_string(workspace_root().join("deny.toml")).expect("deny.toml");
    assert!(text.contains("multiple-versions = \"deny\""), "multiple-versions must be denied");
    assert!(
        text.contains("unknown-git = \"deny\"") && text.contains("unknown-registry = \"deny\"")
    );
    let skips: Vec<&str> =
        text.lines().filter(|l| l.trim_start().starts_with("{ crate =")).collect();
    assert!(!skips.is_empty());
    for s in skips {
        let reason = s.split("reason = \"").nth(1).unwrap_or("");
        assert!(reason.len() > 20, "a skip without a written reason: {s}");
    }
}

/// No two files import each other, directly or through others, in any crate of the
/// workspace: a file's imports are its `crate::`, `super::` and `self::` paths, a parent's
/// `mod` declarations of its children excepted (`e2e::code_shape`).
#[test]
fn no_file_imports_lead_back_to_it() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut files = 0;
    for crate_root in crate_roots() {
        let tree = e2e::code_shape::ModuleTree::of(&crate_root);
        let graph = tree.imports();
        files += graph.len();
        for cycle in e2e::code_shape::cycles(&graph) {
            let names: Vec<String> = cycle
                .iter()
                .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
                .collect();
            found.push(names.join(" ↔ "));
        }
    }
    assert!(files > 50, "only {files} files read");
    found.sort();
    found.dedup();
    assert!(found.is_empty(), "files that import each other:\n{}", found.join("\n"));
}

/// The root file of every target of every workspace member.
fn crate_roots() -> Vec<std::path::PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--offline", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut roots = Vec::new();
    for package in meta["packages"].as_array().expect("packages") {
        for target in package["targets"].as_array().expect("targets") {
            roots.push(std::path::PathBuf::from(target["src_path"].as_str().expect("src_path")));
        }
    }
    roots
}
