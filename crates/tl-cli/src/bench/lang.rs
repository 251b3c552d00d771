//! `tl bench lang`: the language's overhead on a dense equation against the same GEMM called
//! through `tl-tensor`, and the 20,000-person Ancestor closure on the sparse engine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Args;
use tl_lang::eval::{run_source, run_source_with_host, EvalOptions};
use tl_tensor::{DType, Device, UnaryOp};

use super::timing::median_time;
use crate::count_flags::{positive_count, thread_count};

#[derive(Args)]
pub struct LangArgs {
    /// CPU threads (all cores by default; at most 1024).
    #[arg(long, value_parser = thread_count)]
    threads: Option<usize>,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 7, value_parser = positive_count)]
    runs: usize,
    /// The Ancestor program to time (run `scripts/bench/ancestor_vs_clingo.py` for clingo's
    /// time on the same facts).
    #[arg(long, default_value = "examples/ancestor_20k.tl")]
    ancestor: PathBuf,
}

/// The MLP layer of the issue: b = 256 rows, i = o = 1024.
const MLP: &str = "H[b, o] = relu(W[o, i] X[b, i])\n";

pub fn run(args: &LangArgs) -> anyhow::Result<ExitCode> {
    let device = match args.threads {
        Some(threads) => Device::cpu_with_threads(threads),
        None => Device::cpu(),
    };
    println!("device: {}", device.name());
    let w = device.rand_normal(&[1024, 1024], DType::F32, 0.0, 0.03, 1)?;
    let x = device.rand_normal(&[256, 1024], DType::F32, 0.0, 1.0, 2)?;
    let host = [("W".to_string(), w.clone()), ("X".to_string(), x.clone())];
    let direct = median_time(args.runs, || {
        device.scoped(|| -> anyhow::Result<()> {
            x.matmul_t(&w, false, true)?
                .unary(UnaryOp::Relu)?
                .to_bytes()?;
            Ok(())
        })
    })?;
    let language = median_time(args.runs, || {
        let result = run_source_with_host(
            MLP,
            Path::new("."),
            device.clone(),
            EvalOptions::default(),
            0,
            &host,
        )
        .map_err(|failure| anyhow!("{failure:?}"))?;
        result
            .evaluator
            .tensor("H")
            .context("H was computed")?
            .to_bytes()?;
        Ok(())
    })?;
    let flops = 2.0 * 256.0 * 1024.0 * 1024.0;
    println!(
        "mlp  {}  tl run {:.2} ms ({:.1} GFLOP/s), tl-tensor matmul_t + relu {:.2} ms: {:.2}× the direct time",
        MLP.trim(),
        language.as_secs_f64() * 1e3,
        flops / language.as_secs_f64() / 1e9,
        direct.as_secs_f64() * 1e3,
        language.as_secs_f64() / direct.as_secs_f64()
    );
    match std::fs::read_to_string(&args.ancestor) {
        Ok(source) => {
            let base = args.ancestor.parent().unwrap_or(Path::new("."));
            let mut answers = 0;
            let time = median_time(args.runs.min(3), || {
                let result = run_source(&source, base, device.clone(), EvalOptions::default())
                    .map_err(|failure| anyhow!("{failure:?}"))?;
                answers = result.evaluator.log().output.len();
                Ok(())
            })?;
            println!(
                "ancestor  {}: parse, check and sparse closure in {:.1} ms ({answers} query answered)",
                args.ancestor.display(),
                time.as_secs_f64() * 1e3
            );
        }
        Err(e) => println!(
            "ancestor  skipped: cannot read {} ({e}); pass --ancestor",
            args.ancestor.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
