//! The shape of the code: no unsafe code in any crate of ours, a dependency policy that is
//! committed and explained, no files that import each other, and documentation that stands
//! on its own. (`cargo deny check licenses bans sources` itself runs as a step
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

/// The repository stands on its own: no Markdown file, script, template or source file points
/// at a path outside it, at a contract file that is not in it, or at an issue number: what a
/// reader needs is in the repository's own docs (docs/), which the code cites.
#[test]
fn nothing_points_outside_the_repository() {
    let root = workspace_root();
    // Spelled in pieces, so that this file does not find itself.
    let outside = [concat!("..", "/shared"), concat!("SPEC", ".md"), concat!("SPEC", " §")];
    let mut found = Vec::new();
    let mut read = 0;
    for path in repository_text_files(&root) {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        read += 1;
        let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        for (n, line) in text.lines().enumerate() {
            let what = outside
                .iter()
                .find(|needle| line.contains(*needle))
                .map(|needle| needle.to_string())
                .or_else(|| issue_number(line));
            if let Some(what) = what {
                found.push(format!("{name}:{}: {what}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(read > 150, "only {read} files read");
    assert!(found.is_empty(), "references outside the repository:\n{}", found.join("\n"));
}

/// An issue number as a line cites one: the word, singular or plural, then a number, with or
/// without `#`.
fn issue_number(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("issue") {
        let start = from + at;
        from = start + "issue".len();
        let before = lower[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = lower[from..].strip_prefix('s').unwrap_or(&lower[from..]);
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let rest = rest.strip_prefix('#').unwrap_or(rest);
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(line[start..].chars().take(12).collect());
        }
    }
    None
}

/// The repository's own text files: Markdown, Rust, scripts, templates, units, configuration.
/// Build output, virtual environments and caches (dot directories but `.ci`) are not its own.
fn repository_text_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    const EXTENSIONS: [&str; 13] = [
        "md", "rs", "sh", "py", "toml", "yaml", "yml", "spec", "service", "timer", "json", "html",
        "sysusers",
    ];
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                let skipped = ["target", "dist", "node_modules", "out"].contains(&name.as_str())
                    || (name.starts_with('.') && name != ".ci");
                if !skipped {
                    dirs.push(path);
                }
            } else if kind.is_file() {
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if EXTENSIONS.contains(&ext) || (name == "run" && dir.ends_with(".ci")) {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

#[test]
fn issue_numbers_are_recognised() {
    assert!(issue_number(concat!("see issue", " 15")).is_some());
    assert!(issue_number(concat!("Issue", " #4, point 7")).is_some());
    assert!(issue_number(concat!("(issues", " 3 and 4)")).is_some());
    assert!(issue_number("an issue with the ledger").is_none());
    assert!(issue_number("tissue 3").is_none());
}

/// Where the code cites the documentation ("docs/design.md, The 403 rule"), the page exists
/// and has a heading that starts with the words cited: headings stay stable, or the
/// citations move with them.
#[test]
fn the_documentation_the_code_cites_exists() {
    let root = workspace_root();
    let mut found = Vec::new();
    let mut cited = 0;
    for path in repository_text_files(&root) {
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        for (n, line) in text.lines().enumerate() {
            for (page, heading) in citations(line) {
                cited += 1;
                let Ok(doc) = std::fs::read_to_string(root.join("docs").join(&page)) else {
                    found.push(format!("{name}:{}: docs/{page} does not exist", n + 1));
                    continue;
                };
                let headings: Vec<&str> = doc
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .map(|l| l.trim_start_matches('#').trim())
                    .collect();
                if !heading.is_empty() && !headings.iter().any(|h| h.starts_with(&heading)) {
                    found.push(format!("{name}:{}: docs/{page} has no heading {heading:?}", n + 1));
                }
            }
        }
    }
    assert!(cited > 20, "only {cited} citations found");
    assert!(
        found.is_empty(),
        "citations of the documentation that lead nowhere:\n{}",
        found.join("\n")
    );
}

/// The `docs/PAGE.md` a line cites, with the heading after a comma when it names one (up to
/// the line's end or a closing `)`, `.`, `:` or `;`: a heading wrapped onto the next line is
/// checked by its first words).
fn citations(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("docs/") {
        rest = &rest[at + "docs/".len()..];
        let page_len = rest.find(|c: char| !(c.is_ascii_lowercase() || c == '.' || c == '-'));
        let page = &rest[..page_len.unwrap_or(rest.len())];
        if !page.ends_with(".md") {
            continue;
        }
        let after = &rest[page.len()..];
        let heading = after
            .strip_prefix(", ")
            .map(|h| h.trim_start_matches('"'))
            .map(|h| h.split(['"', ')', ';', ':']).next().unwrap_or("").trim_end_matches('.'))
            .filter(|h| h.starts_with(|c: char| c.is_ascii_uppercase() || c == '`'))
            .unwrap_or("");
        out.push((page.to_string(), heading.trim().to_string()));
    }
    out
}
