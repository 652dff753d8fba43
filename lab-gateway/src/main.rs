//! `lab-gateway`: the local lab's gateway (started by `deploy/local/lab.sh`), and `why`, the
//! last denials in words.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "The local lab's gateway: the workshop's policies and network paths enforced in front of the emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the lab described by LAB (lab.json) until SIGTERM or SIGINT
    Serve {
        /// The lab's description, written by deploy/local/lab_setup.py
        #[arg(long, value_name = "LAB")]
        lab: PathBuf,
        /// Where listeners.json, decisions.jsonl and resource-policies.json live
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
    },
    /// Print the last N denials of a decision log in words
    Why {
        /// The decision log (decisions.jsonl)
        #[arg(long, value_name = "FILE")]
        log: PathBuf,
        /// How many
        #[arg(default_value_t = 10)]
        n: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { lab, state_dir } => serve(&lab, &state_dir),
        Command::Why { log, n } => why(&log, n),
    }
}

fn serve(lab: &std::path::Path, state_dir: &std::path::Path) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let description = match std::fs::read_to_string(lab)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lab-gateway: {}: {e}", lab.display());
            return ExitCode::from(78);
        }
    };
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("lab-gateway: cannot start the runtime: {e}");
                return ExitCode::from(71);
            }
        };
    let result = runtime.block_on(lab_gateway::server::run(description, state_dir, stop_signal()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab-gateway: {e:#}");
            ExitCode::from(69)
        }
    }
}

/// SIGTERM or SIGINT.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn why(log: &std::path::Path, n: usize) -> ExitCode {
    match lab_gateway::record::last_refusals(log, n) {
        Ok(records) if records.is_empty() => {
            println!("no denial so far ({})", log.display());
            ExitCode::SUCCESS
        }
        Ok(records) => {
            for r in records {
                println!("{}\n", r.sentence());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lab-gateway why: {}: {e}", log.display());
            ExitCode::from(66)
        }
    }
}
