//! Reading the workspace's own Rust sources for the code-shape tests (`code_policy.rs`):
//! the code with comments and literals blanked, each crate's module tree, and which files
//! import which.
//!
//! An import is a path that starts at `crate::`, `super::` or `self::` (in a `use` or in
//! code). A module reaching into its own descendants is not an import: a parent declares its
//! children with `mod`, and that link is the tree, not a dependency between files. Inline
//! modules (`mod tests { … }`) belong to their file; their imports are left out, since a test
//! module reaches up to the code it tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `text` with comments, string, byte-string and char literals replaced by spaces (line
/// breaks kept), so that what remains is code whose paths and braces can be read.
pub fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    // Blanks b[from..to], keeping line breaks.
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        out.extend(b[from..to].iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }));
    };
    while i < b.len() {
        let rest = &b[i..];
        let after_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            // Block comments nest in Rust.
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if !after_ident && raw_string_start(rest).is_some() {
            let (prefix, hashes) = raw_string_start(rest).unwrap_or((0, 0));
            let close: Vec<u8> = std::iter::once(b'"').chain(vec![b'#'; hashes]).collect();
            let body = i + prefix;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| body + p + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest[0] == b'"' || (!after_ident && rest.starts_with(b"b\"")) {
            let mut j = i + if rest[0] == b'"' { 1 } else { 2 };
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest[0] == b'\'' || (!after_ident && rest.starts_with(b"b'")) {
            // A char literal ('x', '\n', '\u{1F600}', 'é') or a lifetime ('a): a literal
            // closes within a few bytes, a lifetime does not.
            let start = i + if rest[0] == b'\'' { 1 } else { 2 };
            let len = if b.get(start) == Some(&b'\\') {
                b[start..].iter().skip(1).position(|&c| c == b'\'').map(|p| p + 2)
            } else {
                let ch = std::str::from_utf8(&b[start..(start + 4).min(b.len())])
                    .ok()
                    .or_else(|| std::str::from_utf8(&b[start..(start + 1).min(b.len())]).ok())
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (b.get(start + ch) == Some(&b'\'')).then_some(ch + 1)
            };
            match len {
                Some(len) if len <= 12 => {
                    blank(&mut out, i, start + len);
                    i = start + len;
                }
                _ => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `r"`, `r#"`, `br##"`…: the prefix's length and the number of `#`.
fn raw_string_start(rest: &[u8]) -> Option<(usize, usize)> {
    let skip = if rest.starts_with(b"br") {
        2
    } else if rest.starts_with(b"r") {
        1
    } else {
        0
    };
    if skip == 0 {
        return None;
    }
    let hashes = rest[skip..].iter().take_while(|&&c| c == b'#').count();
    (rest.get(skip + hashes) == Some(&b'"')).then_some((skip + hashes + 1, hashes))
}

/// One crate's modules: the module path (`["store", "ranged"]`) of each file.
#[derive(Debug, Default)]
pub struct ModuleTree {
    pub files: BTreeMap<Vec<String>, PathBuf>,
}

impl ModuleTree {
    /// The tree under a crate root (`src/lib.rs`, `src/main.rs`, `tests/main.rs`…), following
    /// `mod NAME;` declarations to `NAME.rs` or `NAME/mod.rs`.
    pub fn of(root: &Path) -> ModuleTree {
        let mut tree = ModuleTree::default();
        tree.visit(Vec::new(), root, true);
        tree
    }

    fn visit(&mut self, path: Vec<String>, file: &Path, is_root: bool) {
        let Ok(text) = std::fs::read_to_string(file) else { return };
        self.files.insert(path.clone(), file.to_path_buf());
        let own_dir = file.parent().unwrap_or(Path::new("."));
        let dir = if is_root || file.file_name().is_some_and(|n| n == "mod.rs") {
            own_dir.to_path_buf()
        } else {
            own_dir.join(file.file_stem().unwrap_or_default())
        };
        for name in declared_modules(&without_inline_modules(&code_only(&text))) {
            let candidates = [dir.join(format!("{name}.rs")), dir.join(&name).join("mod.rs")];
            if let Some(child) = candidates.iter().find(|c| c.is_file()) {
                let mut child_path = path.clone();
                child_path.push(name);
                self.visit(child_path, child, false);
            }
        }
    }

    /// The file a module path lands in: the longest prefix that is a file's module (the
    /// rest names items, or inline modules, inside it).
    fn file_of(&self, path: &[String]) -> Option<(&Vec<String>, &PathBuf)> {
        (0..=path.len()).rev().find_map(|n| self.files.get_key_value(&path[..n]))
    }

    /// Which files each file imports (see the module docs for what counts).
    pub fn imports(&self) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
        let mut graph = BTreeMap::new();
        for (module, file) in &self.files {
            let Ok(text) = std::fs::read_to_string(file) else { continue };
            let code = without_inline_modules(&code_only(&text));
            let mut targets = BTreeSet::new();
            for path in paths_in(&code) {
                let Some(absolute) = absolute(module, &path) else { continue };
                let Some((target_module, target_file)) = self.file_of(&absolute) else { continue };
                // Reaching into one's own descendants (or oneself) is the tree, not an import.
                if target_module.starts_with(module) {
                    continue;
                }
                targets.insert(target_file.clone());
            }
            graph.insert(file.clone(), targets);
        }
        graph
    }
}

/// The names of `mod NAME;` declarations (not inline `mod NAME { … }` blocks).
fn declared_modules(code: &str) -> Vec<String> {
    let words: Vec<&str> =
        code.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()).collect();
    words
        .windows(2)
        .filter(|w| w[0] == "mod" && w[1].ends_with(';'))
        .map(|w| w[1].trim_end_matches(';').to_string())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .collect()
}

/// `code` with every inline module's block (`mod NAME { … }`) blanked.
fn without_inline_modules(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(found) = find_word(&out, "mod", from) {
        let after = &out[found + 3..];
        let name_len = after.trim_start().find(|c: char| !(c.is_alphanumeric() || c == '_'));
        let skipped = after.len() - after.trim_start().len();
        let brace = name_len
            .map(|n| found + 3 + skipped + n)
            .filter(|&at| out[at..].trim_start().starts_with('{'));
        let Some(at) = brace else {
            from = found + 3;
            continue;
        };
        let open = at + out[at..].find('{').unwrap_or(0);
        let end = closing_brace(&out, open).map_or(out.len(), |close| close + 1);
        let blanked: String =
            out[open..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
        out.replace_range(open..end, &blanked);
        from = end;
    }
    out
}

/// The byte of the `}` that closes the `{` at byte `open` of `code`.
fn closing_brace(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(open + k);
                }
            }
            _ => {}
        }
    }
    None
}

/// The next occurrence of `word` as a whole word at or after `from`.
fn find_word(text: &str, word: &str, from: usize) -> Option<usize> {
    let is_ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut at = from;
    while let Some(p) = text[at..].find(word) {
        let start = at + p;
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        if !is_ident(before) && !is_ident(after) {
            return Some(start);
        }
        at = start + word.len();
    }
    None
}

/// Every path starting with `crate`, `super` or `self` in `code`, as segments, with the
/// groups of `use` trees (`use crate::{a::{b, c}, d}`) expanded.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for start in ["crate", "super", "self"] {
        let mut from = 0;
        while let Some(at) = find_word(code, start, from) {
            from = at + start.len();
            if !code[from..].trim_start().starts_with("::") {
                continue;
            }
            // `$crate` in macros is the crate too; a preceding `::` means another path's tail.
            if code[..at].trim_end().ends_with("::") {
                continue;
            }
            paths.extend(expand(code, at));
        }
    }
    paths
}

/// The path (or, at a `{`, the group of paths) starting at byte `at` of `code`.
fn expand(code: &str, at: usize) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut i = at;
    loop {
        let rest = &code[i..];
        let trimmed = rest.trim_start();
        i += rest.len() - trimmed.len();
        if trimmed.starts_with('{') {
            let inner_start = i + 1;
            let end = closing_brace(code, i).unwrap_or(code.len());
            return split_top_level(&code[inner_start..end])
                .into_iter()
                .flat_map(|part| {
                    let part_code = part.to_string();
                    let sub = if part_code.trim().is_empty() {
                        Vec::new()
                    } else {
                        expand(&part_code, 0)
                    };
                    sub.into_iter()
                        .map(|tail| segments.iter().cloned().chain(tail).collect())
                        .collect::<Vec<Vec<String>>>()
                })
                .collect();
        }
        let len =
            trimmed.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(trimmed.len());
        if len == 0 {
            break;
        }
        segments.push(trimmed[..len].to_string());
        i += len;
        let next = code[i..].trim_start();
        if !next.starts_with("::") {
            break;
        }
        i += code[i..].len() - next.len() + 2;
    }
    if segments.is_empty() {
        Vec::new()
    } else {
        vec![segments]
    }
}

/// `a, b::{c, d}, e` split at the commas outside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (k, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A path made absolute from inside `module`: `crate::a` → `[a]`, `super::b` → the parent's
/// `b`, `self::c` → `module::c`. `None` for a `super` above the crate root.
fn absolute(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        _ => module.to_vec(),
    };
    let mut rest = match path.first().map(String::as_str) {
        Some("crate") | Some("self") => &path[1..],
        _ => path,
    };
    while rest.first().map(String::as_str) == Some("super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
    Some(base)
}

/// The cycles of an import graph: each set of two or more files that import each other,
/// directly or through others (its strongly connected components), sorted.
pub fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    // Reachability by depth-first search from each file: small graphs (tens of files).
    let reach = |from: &PathBuf| -> BTreeSet<PathBuf> {
        let (mut seen, mut stack) = (BTreeSet::new(), vec![from.clone()]);
        while let Some(file) = stack.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&PathBuf, BTreeSet<PathBuf>> =
        graph.keys().map(|f| (f, reach(f))).collect();
    let mut found: BTreeSet<Vec<PathBuf>> = BTreeSet::new();
    for (file, from_here) in &reachable {
        let component: Vec<PathBuf> = from_here
            .iter()
            .filter(|other| reachable.get(other).is_some_and(|back| back.contains(*file)))
            .cloned()
            .collect();
        if component.len() > 1 {
            found.insert(component);
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_literals_are_blanked() {
        let code = code_only("let a = \"crate::x\"; // crate::y\nlet c = 'c'; fn f<'a>() {} /* crate::z */ r#\"crate::w\"#");
        assert!(!code.contains("crate::"), "{code}");
        assert!(code.contains("fn f<'a>()"), "{code}");
        assert_eq!(code.lines().count(), 2);
    }

    #[test]
    fn use_groups_expand() {
        let paths = paths_in("use crate::{a::{b, c}, d};\nuse super::e; let x = crate::f::g(1);");
        let names: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
        for want in ["crate::a::b", "crate::a::c", "crate::d", "super::e", "crate::f::g"] {
            assert!(names.contains(&want.to_string()), "{want}: {names:?}");
        }
        assert!(declared_modules("pub mod a;\nmod b;\nmod c {}").len() == 2);
    }

    #[test]
    fn cycles_are_found() {
        let p = |s: &str| PathBuf::from(s);
        let graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> =
            [(p("a"), [p("b")].into()), (p("b"), [p("a")].into()), (p("c"), [p("a")].into())]
                .into();
        assert_eq!(cycles(&graph), vec![vec![p("a"), p("b")]]);
    }
}
