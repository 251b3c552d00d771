//! `tl check FILE.tl`: parse and check a program without running it.

use super::report;
use super::run_command::read_program;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tl_lang::eval::check_source;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The program to check (`load` shapes are read from files relative to it).
    pub file: PathBuf,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let (source, base) = read_program(&args.file)?;
    let analysis = check_source(&source, &base);
    report(
        &analysis.diagnostics,
        &args.file.display().to_string(),
        &source,
    );
    if analysis.has_errors() {
        return Ok(ExitCode::FAILURE);
    }
    eprintln!(
        "{}: {} statements, no errors",
        args.file.display(),
        analysis.program.statements.len()
    );
    Ok(ExitCode::SUCCESS)
}
