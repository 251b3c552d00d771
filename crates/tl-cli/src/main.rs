//! The `tl` binary: command-line parsing and dispatch to the subcommands.

mod bench;
mod device_choice;
mod doctor;

use clap::{Parser, Subcommand};

/// TensorLogic: AI models as tensor equations, run on CPUs and NVIDIA GPUs.
#[derive(Parser)]
#[command(name = "tl", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checks every op on every device against the naive reference and prints a table.
    ///
    /// Exits with status 1 if any case fails. This is the check to run before trusting a
    /// new machine or GPU driver.
    Doctor(doctor::DoctorArgs),
    /// Measures speed and prints figures with their ratio to the machine's limits.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Doctor(args) => doctor::run(&args),
        Command::Bench(command) => bench::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
