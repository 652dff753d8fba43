//! What both binaries' command lines share: the global flags, loading the configuration
//! from them, and turning a failure into a message and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use common::config::{config_path, Config, Effective, LocalSettings, CONFIG_ENV};
use common::failure::{exit, Error};
use common::logging::{LogFormat, LogLevel, LogSettings};
use common::Program;

/// Flags accepted by both binaries, before or after the subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Configuration file [default: $VPCE_LAB_CONFIG, else /etc/vpce-lab/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Override one configuration key, e.g. --set reportsengine.concurrency=8 (repeatable;
    /// beats the file and VPCE_LAB_* variables; `configure` writes it into the file)
    #[arg(long = "set", global = true, value_name = "SECTION.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Log level [default: info]; RUST_LOG wins when set
    #[arg(long, global = true, value_name = "LEVEL", value_enum)]
    pub log_level: Option<LogLevel>,
    /// Where logs go: the systemd journal (auto: under systemd), JSON lines or text on stderr
    #[arg(long, global = true, value_name = "FORMAT", value_enum, default_value_t)]
    pub log_format: LogFormat,
    /// The journal's socket [default: /run/systemd/journal/socket]; for tests
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    pub journal_socket: Option<PathBuf>,
}

impl GlobalArgs {
    /// The configuration file's path, as chosen by the flags and environment.
    pub fn config_path(&self) -> PathBuf {
        config_path(self.config.as_deref(), &|name| std::env::var(name).ok())
    }

    /// What chose the configuration file's path, for people: the flag, the variable, or
    /// neither (the default path).
    pub fn config_path_chosen_by(&self) -> &'static str {
        self.config_path_named_by().unwrap_or("the default path")
    }

    /// The flag or the variable that names the configuration file, if one does.
    fn config_path_named_by(&self) -> Option<&'static str> {
        if self.config.is_some() {
            Some("--config")
        } else if std::env::var_os(CONFIG_ENV).is_some_and(|v| !v.is_empty()) {
            Some(CONFIG_ENV)
        } else {
            None
        }
    }

    /// Loads and validates the configuration (file, then `VPCE_LAB_*`, then `--set`).
    pub fn load_config(&self) -> Result<Config, Error> {
        self.load_effective().map(|effective| effective.config)
    }

    /// [`GlobalArgs::load_config`], with where each value came from (for `config`).
    pub fn load_effective(&self) -> Result<Effective, Error> {
        let (env, sets) = self.overrides()?;
        Effective::load(&self.config_path(), &env, &sets)
    }

    /// The limits and rates of the commands that need no AWS: from the configuration when
    /// one is named (`--config`, `$VPCE_LAB_CONFIG`) or the default file exists, else the
    /// defaults (with `VPCE_LAB_*` and `--set` applied all the same).
    pub fn local_settings(&self) -> Result<LocalSettings, Error> {
        let (env, sets) = self.overrides()?;
        let path = self.config_path();
        let file = self.config_path_named_by().is_some() || path.exists();
        LocalSettings::load(file.then_some(path.as_path()), &env, &sets)
    }

    /// The `VPCE_LAB_*` variables and the `--set` flags, in order.
    fn overrides(&self) -> Result<(Variables, Vec<String>), Error> {
        Ok((lab_variables(std::env::vars_os())?, self.sets()))
    }

    /// Every `--set` of the command line, in order (`configure` writes them into the file).
    pub fn sets(&self) -> Vec<String> {
        // `args_os`: a file name need not be UTF-8 (`std::env::args` panics on one). A `--set`
        // value that is not UTF-8 never gets here: clap refuses it first, as a usage error.
        let args = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned());
        let sets = sets_in_order(args);
        // clap keeps only the occurrences after the subcommand when a `global` flag is given
        // on both sides (`--set a=1 upload F --set b=2` yields just `b=2`), which would drop
        // settings silently; the command line itself is the authority, read in order.
        if sets.len() >= self.sets.len() {
            sets
        } else {
            self.sets.clone()
        }
    }
}

/// Environment variables as (name, value) pairs, in the order the environment holds them.
pub type Variables = Vec<(String, String)>;

/// The `VPCE_LAB_*` variables of an environment. One that is not UTF-8 is a configuration
/// error naming it (exit 78), not a panic (`std::env::vars` panics) and not a setting
/// silently dropped, which `VPCE_LAB_CONFIG` would turn into reading another file.
pub fn lab_variables(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Variables, Error> {
    let mut ours = Vec::new();
    for (name, value) in vars {
        if !name.as_encoded_bytes().starts_with(b"VPCE_LAB_") {
            continue;
        }
        match (name.into_string(), value.into_string()) {
            (Ok(name), Ok(value)) => ours.push((name, value)),
            (name, _) => {
                let name = name.unwrap_or_else(|n| n.to_string_lossy().into_owned());
                let name = sales_domain::text::escape_control(&name).into_owned();
                return Err(Error::config(format!(
                    "{name}: the variable's name or value is not UTF-8; set it to UTF-8 text or unset it"
                )));
            }
        }
    }
    Ok(ours)
}

/// Every `--set VALUE` / `--set=VALUE` of a command line, in order, up to a bare `--`.
pub fn sets_in_order(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut sets = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        } else if arg == "--set" {
            if let Some(value) = args.next() {
                sets.push(value);
            }
        } else if let Some(value) = arg.strip_prefix("--set=") {
            sets.push(value.to_string());
        }
    }
    sets
}

/// The opening and the end of both binaries' `main`: the command line (a usage error exits
/// 64; `--help` and `--version` print and exit 0), logging (a `RUST_LOG` that is not a filter
/// is a usage error too), then `run`, whose failure is printed once and turned into the exit
/// code the failure table gives it (docs/design.md, Exit codes).
pub fn main<C: clap::Parser>(
    program: Program,
    global: fn(&C) -> &GlobalArgs,
    run: impl FnOnce(C) -> anyhow::Result<u8>,
) -> ExitCode {
    let cli = match C::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let args = global(&cli);
    let settings = LogSettings {
        program: program.name(),
        level: args.log_level,
        format: args.log_format,
        journal_socket: args.journal_socket.clone(),
    };
    if let Err(e) = common::logging::init(&settings) {
        eprintln!("{}: {e}", program.name());
        return ExitCode::from(exit::USAGE as u8);
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => ExitCode::from(u8::try_from(report_failure(program.name(), &err)).unwrap_or(1)),
    }
}

/// The async runtime of the commands that talk to AWS.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Prints a failure for a person and returns the exit code the failure table assigns to it
/// (docs/design.md, What happens to a failure).
///
/// Our [`Error`]'s sentence already says what its cause said (the SDK's cause chain, the
/// I/O error), so the causes below it are not printed again.
pub fn report_failure(program: &str, err: &anyhow::Error) -> i32 {
    let ours = err.chain().find_map(|e| e.downcast_ref::<Error>());
    let code = ours
        .map(Error::exit_code)
        .or_else(|| {
            err.chain().find_map(|e| e.downcast_ref::<std::io::Error>()).map(|_| exit::IOERR)
        })
        .unwrap_or(1);
    // Validation errors are one located problem per line (`FILE:LINE: column: reason`):
    // print them bare under a one-line summary, so editors and grep can jump to them.
    if let Some(invalid) = ours.and_then(Error::validation) {
        eprintln!("{program}: {} is not a valid sales file:", invalid.file);
        eprintln!("{invalid}");
        return code;
    }
    let mut said = Vec::new();
    for cause in err.chain() {
        said.push(cause.to_string());
        if cause.downcast_ref::<Error>().is_some() {
            break;
        }
    }
    eprintln!("{program}: {}", said.join(": "));
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_variable_that_is_not_utf8_is_a_configuration_error() {
        use std::os::unix::ffi::OsStringExt;
        let os = |s: &[u8]| std::ffi::OsString::from_vec(s.to_vec());
        let kept = lab_variables([
            (os(b"VPCE_LAB_BUCKET"), os(b"b-b")),
            (os(b"HOME"), os(b"/\xff")),
            (os(b"OTHER\xff"), os(b"x")),
        ])
        .unwrap();
        assert_eq!(kept, [("VPCE_LAB_BUCKET".to_string(), "b-b".to_string())]);
        let err = lab_variables([(os(b"VPCE_LAB_CONFIG"), os(b"/etc/\xff.toml"))]).unwrap_err();
        assert_eq!(err.exit_code(), exit::CONFIG);
        assert!(
            err.to_string().contains("VPCE_LAB_CONFIG: the variable's name or value is not UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn sets_before_and_after_the_subcommand_are_all_kept_in_order() {
        let args = [
            "--set",
            "a.b=1",
            "upload",
            "f.csv",
            "--set=c.d=2",
            "--set",
            "a.b=3",
            "--",
            "--set",
            "x=y",
        ];
        assert_eq!(
            sets_in_order(args.iter().map(|s| s.to_string())),
            vec!["a.b=1".to_string(), "c.d=2".into(), "a.b=3".into()]
        );
    }
}
