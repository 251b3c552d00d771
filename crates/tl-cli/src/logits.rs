//! `tl logits`: the next-token logits at every position of a prompt, written as `.npy`,
//! and the greedy continuation's token ids, for comparisons with other engines.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tl_llm::{SamplingParams, Session};

use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct LogitsArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The prompt (no chat template is applied).
    #[arg(long, short = 'p')]
    prompt: String,
    /// Where to write the f32 logits `[prompt tokens, vocab]` as a .npy file.
    #[arg(long)]
    out: PathBuf,
    /// Also generate this many greedy tokens and print their ids (one JSON array on stdout).
    #[arg(long, default_value_t = 0)]
    greedy: usize,
}

pub fn run(args: &LogitsArgs) -> anyhow::Result<ExitCode> {
    let (source, model) = args.model.load()?;
    let tokenizer = source.tokenizer();
    let prompt = tokenizer.encode(&args.prompt, tokenizer.add_bos(), true)?;
    let mut cache = model.new_cache(args.model.context)?;
    let logits = model.forward(&prompt, &mut cache, true)?;
    let values = logits.to_vec::<f32>()?;
    let bytes = tl_lang::eval::npy_file::write_npy(logits.shape(), &values);
    std::fs::write(&args.out, bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote logits {:?} of {} prompt tokens to {}",
        logits.shape(),
        prompt.len(),
        args.out.display()
    );
    if args.greedy > 0 {
        let mut session = Session::new(&model, args.model.context)?;
        session.set_graphs(!args.model.eager);
        let params = SamplingParams {
            temperature: 0.0,
            ignore_end_of_generation: true,
            ..SamplingParams::default()
        };
        session.generate(tokenizer, &prompt, args.greedy, &params, &[], |_| {})?;
        let generated = &session.tokens()[prompt.len()..];
        println!(
            "[{}]",
            generated
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
