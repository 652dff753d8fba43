//! Headless Chromium for the page tests: the DOM and the layout it builds from a page at a
//! given width and colour scheme (through `tests/browser/check.html`, which inspects the
//! page in a frame and writes what it found), what the page logged to the console,
//! screenshots, and the page count of a print-out.
//!
//! Chromium is `$E2E_CHROMIUM`, else `chromium` on PATH (`deploy/local/test.sh` installs the
//! Debian package when missing). It only ever opens `file://` pages: background services are
//! off, and every host name resolves to nothing, so no request can leave the machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, workspace_root, Run};

static PROFILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One Chromium, with a fresh profile directory for each run.
pub struct Chromium {
    program: PathBuf,
    scratch: PathBuf,
}

/// How a reader sees a page: the width of the window in CSS pixels, and the colour scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub width: u32,
    pub dark: bool,
}

impl View {
    pub const PHONE: View = View { width: 390, dark: false };
    pub const PHONE_DARK: View = View { width: 390, dark: true };
    pub const DESKTOP: View = View { width: 1280, dark: false };
    pub const DESKTOP_DARK: View = View { width: 1280, dark: true };
    /// A phone and a desktop, each light and dark.
    pub const ALL: [View; 4] = [View::PHONE, View::PHONE_DARK, View::DESKTOP, View::DESKTOP_DARK];
    /// The extremes: the narrowest phone in use, and a 4K screen at one pixel per CSS pixel.
    pub const EXTREMES: [View; 2] =
        [View { width: 320, dark: false }, View { width: 3840, dark: true }];
}

impl std::fmt::Display for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} px {}", self.width, if self.dark { "dark" } else { "light" })
    }
}

/// What the check page reported about a page, and what was logged meanwhile.
#[derive(Debug)]
pub struct Checked {
    pub facts: BTreeMap<String, String>,
    /// Console messages (the page's and the check page's): uncaught errors included.
    pub console: Vec<String>,
    pub run: Run,
}

impl Checked {
    /// The fact `key`, or a panic naming what was reported.
    #[track_caller]
    pub fn fact(&self, key: &str) -> &str {
        self.facts
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in {:?}\n{}", self.facts, self.run.output()))
    }

    /// The fact `key` as a number.
    #[track_caller]
    pub fn number(&self, key: &str) -> u64 {
        let v = self.fact(key);
        v.parse().unwrap_or_else(|_| panic!("`{key}` = {v:?} is not a number"))
    }
}

impl Chromium {
    /// Finds Chromium; `scratch` holds the profiles and must be empty of anything else.
    #[track_caller]
    pub fn find(scratch: &Path) -> Chromium {
        let program = std::env::var_os("E2E_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| which("chromium"))
            .unwrap_or_else(|| {
                panic!(
                    "chromium not found: run deploy/local/test.sh (it installs the Debian \
                     package `chromium`), or set E2E_CHROMIUM"
                )
            });
        Chromium { program, scratch: scratch.to_path_buf() }
    }

    /// `chromium --headless` with everything that could reach the network switched off,
    /// in the dark colour scheme when `dark` (`prefers-color-scheme: dark`).
    fn command(&self, dark: bool) -> Command {
        let n = PROFILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut cmd = Command::new(&self.program);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-dev-shm-usage",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ]);
        cmd.arg(format!("--user-data-dir={}", self.scratch.join(format!("profile-{n}")).display()));
        if dark {
            cmd.arg("--force-dark-mode");
        }
        cmd
    }

    /// Opens `page` (a file under `dir`) in `dir/check.html` as `view` shows it and returns
    /// what it found. `texts`: strings the page must show as text (`found=1,0,…`).
    #[track_caller]
    pub fn check(&self, dir: &Path, page: &str, view: View, texts: &[&str]) -> Checked {
        let harness = dir.join("check.html");
        if !harness.exists() {
            std::fs::copy(workspace_root().join("tests/browser/check.html"), &harness)
                .expect("copy check.html");
        }
        let args = serde_json::json!({ "width": view.width, "texts": texts });
        let url =
            format!("file://{}?{}#{}", harness.display(), encode(page), encode(&args.to_string()));
        let mut cmd = self.command(view.dark);
        cmd.args(["--allow-file-access-from-files", "--enable-logging=stderr", "--v=0"]);
        cmd.arg("--dump-dom").arg(url);
        let run = run(&mut cmd);
        run.assert_ok();
        let facts = result_lines(&run.stdout);
        let console = run.stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string);
        Checked { facts, console: console.collect(), run }
    }

    /// A PNG of `page` as a window of `view.width`×`height` shows it.
    #[track_caller]
    pub fn screenshot(&self, page: &Path, png: &Path, view: View, height: u32) -> Run {
        let width = view.width;
        let _ = std::fs::remove_file(png);
        let mut cmd = self.command(view.dark);
        cmd.arg(format!("--screenshot={}", png.display()));
        cmd.arg(format!("--window-size={width},{height}"));
        cmd.arg(format!("file://{}", page.display()));
        let r = run(&mut cmd);
        r.assert_ok();
        assert!(png.is_file(), "no screenshot {}:\n{}", png.display(), r.output());
        r
    }
}

impl Chromium {
    /// Prints `page` to `pdf` as a reader's "Print" would (Chromium's default paper, US
    /// Letter, unless the page asks for another; no header or footer) and returns the
    /// number of pages.
    #[track_caller]
    pub fn print(&self, page: &Path, pdf: &Path) -> usize {
        let _ = std::fs::remove_file(pdf);
        let mut cmd = self.command(false);
        cmd.arg("--no-pdf-header-footer").arg(format!("--print-to-pdf={}", pdf.display()));
        cmd.arg(format!("file://{}", page.display()));
        let r = run(&mut cmd);
        r.assert_ok();
        let bytes = std::fs::read(pdf)
            .unwrap_or_else(|e| panic!("no PDF {}: {e}\n{}", pdf.display(), r.output()));
        pdf_pages(&bytes)
    }
}

/// The pages of a PDF: its page objects (`/Type /Page`, not the `/Type /Pages` nodes of
/// the page tree), which Chromium writes uncompressed. Checked against the tree's root,
/// whose `/Count` is the largest.
#[track_caller]
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let leaves = text
        .match_indices("/Type")
        .filter(|(at, m)| {
            let rest = text[at + m.len()..].trim_start();
            rest.starts_with("/Page") && !rest.starts_with("/Pages")
        })
        .count();
    let root = text
        .match_indices("/Count ")
        .filter_map(|(at, m)| {
            let digits: String =
                text[at + m.len()..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .max();
    assert_eq!(root, Some(leaves), "the PDF's page tree and its pages disagree");
    leaves
}

/// The `key=value` lines of `<pre id="result">` in a dumped DOM.
fn result_lines(dom: &str) -> BTreeMap<String, String> {
    let start = dom.find("<pre id=\"result\">").map(|i| i + "<pre id=\"result\">".len());
    let body = start.and_then(|s| dom[s..].find("</pre>").map(|e| &dom[s..s + e]));
    body.unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unescape(v)))
        .collect()
}

/// What Chromium escapes in text content.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

/// Percent-encodes everything but ASCII letters, digits and `-._/`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}
