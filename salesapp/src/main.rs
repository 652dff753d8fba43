//! `salesapp`: validates a day's sales file, uploads it to the restricted bucket, merges the
//! day into the compensation ledger and tells the reports engine (docs/design.md, salesapp
//! upload).
#![forbid(unsafe_code)]

mod upload;
mod validate;
mod watch;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use common::retry::Patience;
use common::Program;
use ops::cli::GlobalArgs;
use sales_domain::sales::{SalesDate, Shown};

#[derive(Debug, Parser)]
#[command(name = "salesapp", version = common::VERSION, about = "Uploads daily sales files for the reports engine")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate FILE, upload it, merge it into the ledger, and queue it for a report.
    Upload {
        /// The day's sales CSV.
        file: PathBuf,
        /// The day FILE must be for (every row's date must match).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<SalesDate>,
        /// Overwrite a different file already uploaded for the same day.
        #[arg(long)]
        replace: bool,
        /// Only validate FILE, as `salesapp validate` does: nothing is read from or written
        /// to AWS (no client is even built). Exit 0 when valid, 65 when not.
        #[arg(long)]
        dry_run: bool,
        /// How many lines of problems to print when FILE is not valid (problems that say the
        /// same thing are one line): a number, or `all` for every problem [default: 20]
        #[arg(long, value_name = "N|all")]
        max_errors: Option<Shown>,
    },
    /// Check FILE with the rules and limits of an upload and touch nothing (no AWS client is
    /// built): the same as `upload --dry-run`. Exit 0 when valid, 65 when not.
    Validate {
        /// The day's sales CSV.
        file: PathBuf,
        /// The day FILE must be for (every row's date must match).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<SalesDate>,
        /// How many lines of problems to print (problems that say the same thing are one
        /// line): a number, or `all` for every problem [default: 20]
        #[arg(long, value_name = "N|all")]
        max_errors: Option<Shown>,
    },
    /// Run as a daemon over [salesapp] spool_dir: upload each complete incoming/*.csv, then
    /// move it to done/ (or to failed/ with NAME.error.txt) until SIGTERM/SIGINT.
    Watch,
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
    /// Write deterministic, realistic sample sales data.
    Generate {
        /// The day every row is dated (YYYY-MM-DD).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: SalesDate,
        /// How many rows (orders) to write.
        #[arg(long, value_name = "N")]
        rows: u64,
        /// The seed: the same seed, date and rows give the same bytes.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// Output file [default: stdout]
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    ops::cli::main(Program::Salesapp, |cli: &Cli| &cli.global, run)
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Generate { date, rows, seed, output } => {
            generate(date, rows, seed, output)?;
            Ok(0)
        }
        Command::Assets(args) => {
            ops::assets::write::<Cli>(Program::Salesapp, &args)?;
            Ok(0)
        }
        Command::Configure(args) => {
            ops::configure::run("salesapp", &args, &cli.global.sets())?;
            Ok(0)
        }
        Command::Config => ops::effective::main(&cli.global),
        Command::Doctor(args) => {
            let code = ops::doctor::main(Program::Salesapp, &cli.global, &args);
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Command::Watch => {
            let config = cli.global.load_config()?;
            let stop = common::shutdown::Stop {
                program: Program::Salesapp,
                grace: config.salesapp.shutdown_grace,
                exit_code_if_stuck: 0,
            };
            common::shutdown::run(stop, |shutdown| watch::watch(config, shutdown))??;
            Ok(0)
        }
        Command::Validate { file, date, max_errors }
        | Command::Upload { file, date, dry_run: true, max_errors, .. } => {
            let shown = max_errors.unwrap_or(validate::DEFAULT_SHOWN);
            let settings = cli.global.local_settings()?;
            match validate::check(&file, date, &settings) {
                Ok(checked) => {
                    println!("{checked}");
                    Ok(0)
                }
                Err(err) => validate::print_problems(&err, shown).ok_or_else(|| err.into()),
            }
        }
        Command::Upload { file, date, replace, dry_run: false, max_errors } => {
            let shown = max_errors.unwrap_or(validate::DEFAULT_SHOWN);
            let config = cli.global.load_config()?;
            // The whole file is validated first, before any AWS client exists: a file that
            // is not valid is refused without a single request.
            // Opened once: what is validated is what is uploaded.
            let file = common::local::LocalFile::open_named(&file, &file.display().to_string())?;
            let day = match upload::validate_file(&file, date, config.limits) {
                Ok(day) => day,
                Err(err) => return validate::print_problems(&err, shown).ok_or_else(|| err.into()),
            };
            let summary = ops::cli::runtime()?.block_on(async {
                let (store, queue) = common::connect(&config, Program::Salesapp).await?;
                // One-shot: transient failures are retried, but only for so long (docs/design.md,
                // One-shot commands end).
                let mut patience = Patience::for_window(config.endpoints.give_up_after);
                let target = upload::Target { config, store, queue };
                upload::upload_valid(&target, &file, day, replace, &mut patience).await
            })?;
            println!("{summary}");
            Ok(0)
        }
    }
}

/// Writes to a temporary file beside OUTPUT and renames it into place, so a spool watcher
/// (or a person) never sees half a file.
fn generate(date: SalesDate, rows: u64, seed: u64, output: Option<PathBuf>) -> anyhow::Result<()> {
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            sales_domain::generate::generate(date, rows, seed, &mut out)?;
            out.flush()?;
        }
        Some(path) => {
            let tmp = path.with_extension("csv.partial");
            // Mode 0640 whatever the umask; a stale temporary (or a planted symlink) is
            // replaced, not followed.
            let file = common::local::create_new_file(&tmp, common::local::DATA_FILE_MODE)
                .map_err(|e| common::failure::Error::write_io(tmp.display(), e))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            sales_domain::generate::generate(date, rows, seed, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| common::failure::Error::write_io(tmp.display(), e))?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| common::failure::Error::write_io(path.display(), e))?;
        }
    }
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
