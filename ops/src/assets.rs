//! The files a package installs beside the binaries, generated from the clap definitions
//! themselves so they cannot drift from the command lines: man pages (one per command and
//! subcommand, `salesapp.1`, `salesapp-upload.1`…) and shell completions (bash, zsh, fish).
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
    clap_mangen::generate_to(C::command(), &man)
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
