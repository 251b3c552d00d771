//! `tl run FILE.tl`: check a program, optionally print its plans, and run it.

use super::{program_device, report};
use crate::count_flags::thread_count;
use crate::device_choice::DeviceChoice;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tl_lang::eval::{explain_source, run_source, EvalOptions, RunFailure};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The program to run (`load` and `save` paths are relative to its directory).
    pub file: PathBuf,
    /// Where the tensors live.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Print each equation's plan of tensor ops before running.
    #[arg(long)]
    pub explain: bool,
    /// The most rounds a recursive real-valued definition may take to converge.
    #[arg(long, default_value_t = 1000)]
    pub max_iterations: usize,
    /// CPU worker threads (all cores if not given; at most 1024).
    #[arg(long, value_parser = thread_count)]
    pub threads: Option<usize>,
}

/// The program's text and the directory its paths are relative to.
pub fn read_program(file: &Path) -> anyhow::Result<(String, PathBuf)> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", file.display()))?;
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok((source, base))
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let (source, base) = read_program(&args.file)?;
    let name = args.file.display().to_string();
    if args.explain {
        match explain_source(&source, &base) {
            Ok(text) => print!("{text}"),
            Err(diagnostics) => {
                report(&diagnostics, &name, &source);
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let device = program_device(args.device, args.threads)?;
    let options = EvalOptions {
        max_iterations: args.max_iterations,
        ..EvalOptions::default()
    };
    match run_source(&source, &base, device, options) {
        Ok(result) => {
            let warnings: Vec<_> = result.analysis.diagnostics.clone();
            report(&warnings, &name, &source);
            for line in &result.evaluator.log().output {
                println!("{line}");
            }
            for note in &result.evaluator.log().notes {
                eprintln!("note: {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(RunFailure::Check(diagnostics)) => {
            report(&diagnostics, &name, &source);
            Ok(ExitCode::FAILURE)
        }
        Err(RunFailure::Run {
            diagnostic,
            evaluator,
        }) => {
            for line in &evaluator.log().output {
                println!("{line}");
            }
            report(&[diagnostic], &name, &source);
            Ok(ExitCode::FAILURE)
        }
    }
}
