//! `reportsengine`: turns each queued day of sales into a report (docs/design.md,
//! reportsengine run and once).
//!
//! `run` is the daemon, `once` drains the queue and exits, `build` makes a report from a
//! local file without AWS. What happens to one message is in `consumer/` (the loop, the
//! slots, the index and the deletion) and `process.rs` (parse → guard → stream → build →
//! upload), the index of every reported day in `index.rs`, the report's files in `files.rs`.
#![forbid(unsafe_code)]

mod consumer;
mod files;
mod index;
mod process;
mod quarantine;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use common::config::{Compensation, Limits, LocalSettings};
use common::failure::{Error, Operation};
use common::Program;
use ops::cli::GlobalArgs;

#[derive(Debug, Parser)]
#[command(name = "reportsengine", version = common::VERSION, about = "Builds daily sales reports from the queue")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run as a daemon: long-poll the queue until SIGTERM/SIGINT.
    Run,
    /// Process messages until the queue answers empty, then exit.
    Once,
    /// Write the configuration file from the lab's CloudFormation stack outputs.
    Configure(ops::configure::ConfigureArgs),
    /// Show the configuration in effect: every key, its value, and where the value comes
    /// from (the file and line, a VPCE_LAB_* variable, --set, or the default).
    Config,
    /// Check configuration, credentials, endpoints (DNS, TCP) and a harmless read/write;
    /// --controls also verifies the lab's denials. Exit 0, or 78/77/69 on a FAIL.
    Doctor(ops::doctor::DoctorArgs),
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    Assets(ops::assets::AssetsArgs),
    /// Build the report of a local sales file into DIR (no AWS).
    Build {
        /// The day's sales CSV.
        file: PathBuf,
        /// Output directory.
        #[arg(short, long, default_value = ".")]
        output: PathBuf,
        /// A local copy of compensation/ledger.csv, for year-to-date commission.
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    ops::cli::main(Program::Reportsengine, |cli: &Cli| &cli.global, run)
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Assets(args) => {
            ops::assets::write::<Cli>(Program::Reportsengine, &args)?;
            Ok(0)
        }
        Command::Configure(args) => {
            ops::configure::run("reportsengine", &args, &cli.global.sets())?;
            Ok(0)
        }
        Command::Config => ops::effective::main(&cli.global),
        Command::Doctor(args) => {
            let code = ops::doctor::main(Program::Reportsengine, &cli.global, &args);
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Command::Build { file, output, ledger } => {
            let settings = local_settings(&cli.global)?;
            build(&file, &output, ledger.as_deref(), &settings)?;
            Ok(0)
        }
        Command::Run | Command::Once => {
            let mode = if matches!(cli.command, Command::Run) {
                consumer::Mode::Daemon
            } else {
                consumer::Mode::UntilEmpty
            };
            let config = cli.global.load_config()?;
            let stop = common::shutdown::Stop {
                program: Program::Reportsengine,
                grace: config.reportsengine.shutdown_grace,
                // `run` stopped by a signal exits 0; `once` ended at the deadline left work.
                exit_code_if_stuck: match mode {
                    consumer::Mode::Daemon => 0,
                    consumer::Mode::UntilEmpty => common::failure::exit::UNAVAILABLE,
                },
            };
            // The signal handlers are installed first: a SIGTERM while connecting is
            // graceful too.
            common::shutdown::run(stop, |shutdown| async move {
                let settings = consumer::Settings::from_config(&config);
                // Only the daemon is scraped; `once` ends before anyone would.
                let exporter = match mode {
                    consumer::Mode::Daemon => {
                        common::metrics::export(&config.metrics, Program::Reportsengine).await?
                    }
                    consumer::Mode::UntilEmpty => None,
                };
                let engine = Arc::new(process::Engine::connect(config).await?);
                let stats = consumer::consume(engine, settings, mode, shutdown).await?;
                if let Some(exporter) = exporter {
                    exporter.finish().await;
                }
                // `run` stopped by a signal exits 0 (docs/design.md, Exit codes), whatever failed;
                // `once` says whether it left messages behind.
                Ok(match mode {
                    consumer::Mode::Daemon => 0,
                    consumer::Mode::UntilEmpty => stats.exit_code(),
                })
            })?
        }
    }
}

/// `build` needs the commission rates and the limits: from the configuration when there is
/// one, else the documented defaults (said so, since a report's commission depends on them).
fn local_settings(global: &GlobalArgs) -> anyhow::Result<LocalSettings> {
    let settings = global.local_settings()?;
    if settings.file.is_none() {
        let bps = settings.compensation.commission_bps;
        let rate = format!("{}.{:02} %", bps / 100, bps % 100);
        if settings.compensation == Compensation::default() && settings.limits == Limits::default()
        {
            tracing::info!(
                "no configuration file: default commission rate of {rate}, default limits"
            );
        } else {
            tracing::info!("no configuration file: commission rate of {rate}; limits and rates from VPCE_LAB_* and --set over the defaults");
        }
    }
    Ok(settings)
}

fn build(
    file: &Path,
    out_dir: &Path,
    ledger: Option<&Path>,
    settings: &LocalSettings,
) -> anyhow::Result<()> {
    let label = file.display().to_string();
    let file = common::local::LocalFile::open_named(file, &label)?;
    let day = common::local::validate_file(&file, None, settings.limits, &mut |_| {})?;
    let comp = &settings.compensation;
    let ledger = match ledger {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::read_io(path.display(), e))?;
            sales_domain::ledger::Ledger::parse(&bytes).map_err(|e| {
                Error::bad_input(
                    Operation::ReadLedger,
                    path.display().to_string(),
                    format!("{}: {e}", path.display()),
                )
            })?
        }
        None => sales_domain::ledger::Ledger::default(),
    };
    let report = sales_domain::report::Report::build(
        &day,
        &label,
        &ledger,
        comp,
        &common::program_version("reportsengine"),
    );
    // Created 0750 whatever the umask (a world-writable report directory would let anyone
    // swap the files); an existing directory keeps its mode.
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(out_dir)
        .map_err(|e| Error::write_io(out_dir.display(), e))?;
    for (name, body) in files::render(&report) {
        common::local::write_atomically(&out_dir.join(name), body.as_bytes())?;
    }
    println!("{}", report.headline());
    println!("wrote {}", out_dir.join("report.{csv,json,html}").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `--help` and the man pages say something of every flag and argument.
    #[test]
    fn every_argument_has_help_text() {
        assert_eq!(ops::assets::undocumented_arguments_of::<super::Cli>(), Vec::<String>::new());
    }
}
