//! `salesapp configure` / `reportsengine configure`: the configuration file written from the
//! lab's CloudFormation outputs (docs/configuration.md, "Writing it from the stack").
//!
//! Operators already have the outputs (`aws cloudformation describe-stacks`), and copying a
//! bucket name or queue URL by hand is where typos come from. [`render`] is a pure function
//! from outputs to TOML text, so both JSON shapes, the original workshop's outputs and ours are
//! unit-tested without a file system; [`run`] is the thin shell (read, render, write 0600).
//!
//! It needs `RestrictedS3Bucket`, `SQSQueueURL` (or `SQSQueueName` + `AWSAccountID` + a region)
//! and a region (`--region`, else the queue URL's host, else `SQSQueueARN`), and reports every
//! one it did not find in one error (exit 78), so a wrong file is fixed in one go.
//!
//! The file sets only what the stack gave, what the lab requires and what the operator chose
//! (the `--set section.key=value` flags given to `configure`); every other key is written as
//! a comment at its default (`text.rs`), so a default changed by a later release reaches
//! every host configured before it.

use std::io::Write;
use std::path::{Path, PathBuf};

use common::config::{flag_setting, Key};
use common::failure::{Error, Result};

use outputs::StackValues;
pub use outputs::{parse_outputs, region_from_arn, region_from_queue_url, StackOutputs};
use text::config_text;

mod outputs;
#[cfg(test)]
mod tests;
mod text;

/// `configure`'s flags, shared by both binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigureArgs {
    /// JSON of `aws cloudformation describe-stacks` (Stacks[0].Outputs is used), its
    /// `Outputs` list alone, or a flat {"OutputKey": "value"} object; "-" reads stdin
    #[arg(long, value_name = "FILE")]
    pub stack_outputs: PathBuf,
    /// Write the configuration here (atomically, mode 0600) instead of printing it
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing file at --output
    #[arg(long)]
    pub force: bool,
    /// The stack's region, when neither SQSQueueURL nor SQSQueueARN tells it (it wins over both)
    #[arg(long)]
    pub region: Option<String>,
}

/// What [`render`] decided, for the summary printed after writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub toml: String,
    pub region: String,
    pub bucket: String,
    pub queue_url: String,
}

/// Turns the outputs into the configuration file's text, with the operator's `--set` flags
/// (`chosen`) written as settings. Pure: no clock, no environment. Every needed output that
/// is missing (or empty) is named in one [`Error::config`].
pub fn render(
    outputs: &StackOutputs,
    region_flag: Option<&str>,
    chosen: &[String],
) -> Result<Rendered> {
    let needed = StackValues::from(outputs, region_flag)?;
    let chosen = chosen_settings(chosen)?;
    let toml = config_text(outputs, &needed, &chosen);
    let StackValues { bucket, region, queue_url, .. } = needed;
    Ok(Rendered { toml, region, bucket, queue_url })
}

/// The keys `configure` takes from the stack: a `--set` of one of them would make the file
/// disagree with the stack it names.
const FROM_THE_STACK: [&str; 3] = ["region", "bucket", "queue_url"];

/// The `--set section.key=value` flags given to `configure`, each typed as its key is (an
/// unknown key or a wrong type is the same error as at run time).
fn chosen_settings(sets: &[String]) -> Result<Vec<(&'static Key, toml::Value)>> {
    sets.iter()
        .map(|set| {
            let (key, value) = flag_setting(set)?;
            let dotted = key.dotted();
            if FROM_THE_STACK.contains(&dotted.as_str()) {
                let instead = if dotted == "region" { "--region" } else { "the stack's outputs" };
                return Err(Error::config(format!(
                    "--set {dotted}: configure takes {dotted} from {instead}"
                )));
            }
            Ok((key, value))
        })
        .collect()
}

/// Writes `text` to `path` with mode 0600 (it names the lab's resources; nothing secret, but
/// no reason for others to read it either): a temporary file in the same directory, synced,
/// then linked into place. Without `force` an existing file is never replaced, and the
/// check cannot race (`link` fails when the name exists); with it, `rename` replaces it.
pub fn write_private(path: &Path, text: &str, force: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if !force && path.exists() {
        return Err(Error::config(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if force {
            std::fs::rename(&tmp, path)?;
        } else {
            std::fs::hard_link(&tmp, path)?;
            std::fs::remove_file(&tmp)?;
        }
        // The rename/link is durable only once the directory is synced.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(Error::config(format!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
        return Err(Error::write_io(path.display(), e));
    }
    Ok(())
}

/// The command: read FILE, render (with the `--set` flags, `sets`), then print or write.
/// Returns what was rendered.
pub fn run(program: &str, args: &ConfigureArgs, sets: &[String]) -> Result<Rendered> {
    let origin = args.stack_outputs.display().to_string();
    let text = if origin == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Error::read_io("stdin", e))?
    } else {
        std::fs::read_to_string(&args.stack_outputs).map_err(|e| {
            Error::config(format!(
                "cannot read stack outputs {origin}: {e} (save them with `aws cloudformation \
                 describe-stacks --stack-name STACK > outputs.json`)"
            ))
        })?
    };
    let outputs = parse_outputs(&origin, &text)?;
    let rendered =
        render(&outputs, args.region.as_deref(), sets).map_err(|e| e.context(&origin))?;
    match &args.output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.toml.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Error::write_io("stdout", e))?;
        }
        Some(path) => {
            write_private(path, &rendered.toml, args.force)?;
            eprintln!(
                "{program}: wrote {} (region {}, bucket {}, queue {}); check it with \
                 `{program} --config {} doctor`",
                path.display(),
                rendered.region,
                rendered.bucket,
                rendered.queue_url,
                path.display()
            );
        }
    }
    Ok(rendered)
}
