//! `tl bench`: benchmarks that print figures and their ratio to a limit or a peer.

mod generate;
mod gpu_ops;
mod lang;
mod ops;
mod timing;

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Op throughput on the CPU: GEMM against the GEMM library called directly,
    /// elementwise ops, reductions and quantized mat-vec against measured memory bandwidth;
    /// with --device cuda, the mat-vecs (against copy bandwidth) and small ops of a GPU
    /// decode step, replayed from recorded graphs.
    Ops(ops::OpsArgs),
    /// Model load time, prefill tokens/s of a 512-token prompt and decode tokens/s of 128
    /// greedy tokens (medians of several runs); default model unless --model.
    Generate(generate::GenerateBenchArgs),
    /// The language: an MLP equation against the same GEMM through tl-tensor, and the
    /// 20,000-person Ancestor closure.
    Lang(lang::LangArgs),
}

pub fn run(command: &BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ops(args) => ops::run(args),
        BenchCommand::Generate(args) => generate::run(args),
        BenchCommand::Lang(args) => lang::run(args),
    }
}
