//! The `tl` binary: command-line parsing and dispatch to the subcommands.

mod bench;
mod chat;
mod count_flags;
mod device_choice;
mod doctor;
mod generate;
mod info;
mod language;
mod logits;
mod model_args;

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
    /// Chat with a llama-family model using its own chat template.
    ///
    /// Without --model, uses SmolLM2-135M-Instruct (fetch it with scripts/fetch-model.sh).
    /// With --prompt, answers one message and exits. Interactively, /reset starts over,
    /// /exit (or Ctrl-D) leaves and /help lists the commands; a line starting with // sends
    /// a message that begins with /.
    Chat(chat::ChatArgs),
    /// Continue a raw prompt, streaming the text; prints prefill and decode speeds.
    Generate(generate::GenerateArgs),
    /// Write the next-token logits at every prompt position (.npy) and, optionally, the
    /// greedy continuation's token ids: for comparisons with other engines.
    Logits(logits::LogitsArgs),
    /// Describe a model file: architecture, sizes, quantization, tokenizer, chat template.
    Info(info::InfoArgs),
    /// Checks every op on every device against the naive reference and prints a table.
    ///
    /// Exits with status 1 if any case fails. This is the check to run before trusting a
    /// new machine or GPU driver.
    Doctor(doctor::DoctorArgs),
    /// Measures speed and prints figures with their ratio to the machine's limits.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run a TensorLogic program: equations, Datalog rules, queries.
    Run(language::run_command::RunArgs),
    /// Parse and check a TensorLogic program without running it.
    Check(language::check_command::CheckArgs),
    /// Type TensorLogic statements and queries interactively.
    Repl(language::repl_command::ReplArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Chat(args) => chat::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Logits(args) => logits::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Bench(command) => bench::run(&command),
        Command::Run(args) => language::run_command::run(&args),
        Command::Check(args) => language::check_command::run(&args),
        Command::Repl(args) => language::repl_command::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
